package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// specialUses are the RFC 6154 and RFC 8457 attributes stored in
// special_use.
var specialUses = []imap.MailboxAttr{
	imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts, imap.MailboxAttrFlagged,
	imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash, imap.MailboxAttrImportant,
}

// DiscoverFolders makes the account's folder rows follow the server's
// mailboxes (LIST "" "*", with RETURN (SPECIAL-USE) where offered) and
// returns the folders that are not gone, INBOX first. \Noselect mailboxes
// get no row. A new folder is low priority, INBOX high; an existing row
// keeps its priority. A folder the server no longer lists is marked gone
// (gone_at), with its messages, and becomes current again if it comes
// back.
//
// The name column is the mailbox name as go-imap decodes it from modified
// UTF-7, the same string that SELECT takes. display_name is that full path
// with the server's hierarchy delimiter shown as "/": "Archiwum.Faktury"
// on a server whose delimiter is "." reads "Archiwum/Faktury".
func (s *Syncer) DiscoverFolders(ctx context.Context, c *imapclient.Client, accountID int64) ([]store.Folder, error) {
	log := s.Log.With("acntid", accountID)

	caps := c.Caps()
	specialUse := caps.Has(imap.CapSpecialUse) && (caps.Has(imap.CapListExtended) || caps.Has(imap.CapIMAP4rev2))
	var opts *imap.ListOptions
	if specialUse {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	var list []*imap.ListData
	err := bound(ctx, c, func() error {
		var err error
		list, err = c.List("", "*", opts).Collect()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list mailboxes of account %d: %w", accountID, err)
	}

	boxes := selectable(list)
	if len(boxes) == 0 {
		// Every server has an INBOX: an empty list is a server fault, and
		// taken at its word it would mark every folder gone.
		return nil, errors.New("server listed no selectable mailbox")
	}

	changes, folders, err := s.Store.SyncFolders(ctx, accountID, boxes, specialUse)
	if err != nil {
		return nil, err
	}

	for _, f := range changes.Created {
		log.Info("folder found on the server", "emfdid", f.ID, "name", f.Name, "priority", f.Priority)
	}
	for _, f := range changes.Returned {
		log.Info("folder listed by the server again", "emfdid", f.ID, "name", f.Name)
	}
	for _, f := range changes.Gone {
		log.Info("folder no longer on the server; marked gone, its messages kept", "emfdid", f.ID, "name", f.Name)
	}
	return folders, nil
}

// selectable returns the listed mailboxes that can be selected.
func selectable(list []*imap.ListData) []store.Mailbox {
	var boxes []store.Mailbox
	for _, data := range list {
		if slices.Contains(data.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(data.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		box := store.Mailbox{Name: data.Mailbox, DisplayName: displayName(data.Mailbox, data.Delim)}
		for _, attr := range data.Attrs {
			if slices.Contains(specialUses, attr) {
				box.SpecialUse = string(attr)
				break
			}
		}
		boxes = append(boxes, box)
	}
	return boxes
}

// displayName shows the hierarchy delimiter of a mailbox name as "/".
func displayName(name string, delim rune) string {
	if delim == 0 || delim == '/' {
		return clean(name)
	}
	return clean(strings.ReplaceAll(name, string(delim), "/"))
}
