package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// flagBatch is how many flag lists one UPDATE writes.
const flagBatch = 1000

// syncFlags brings the stored flags up to date and returns the server's
// UIDs. With CONDSTORE and a stored HIGHESTMODSEQ it fetches only the
// flags changed since, then lists the UIDs with UID SEARCH; otherwise it
// fetches every message's flags, which lists the UIDs too.
func (s *Syncer) syncFlags(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData,
	log *slog.Logger) (imap.UIDSet, int, error) {
	stored, err := s.Store.HighestModSeq(ctx, folder.ID)
	if err != nil {
		return nil, 0, err
	}
	// A stored value above the server's means the server's counter went
	// back, and CHANGEDSINCE would miss changes.
	condStore := !s.IgnoreCondStore && c.Caps().Has(imap.CapCondStore) &&
		stored != 0 && sel.HighestModSeq != 0 && stored <= sel.HighestModSeq
	if !condStore {
		log.Debug("fetching the flags of every message", "highest_modseq", stored)
		return s.fetchFlags(ctx, c, folder, 0)
	}
	updated := 0
	if stored < sel.HighestModSeq {
		if _, updated, err = s.fetchFlags(ctx, c, folder, stored); err != nil {
			return nil, updated, err
		}
	}
	server, err := searchUIDs(ctx, c)
	return server, updated, err
}

// fetchFlags streams UID FETCH 1:* (FLAGS), with CHANGEDSINCE when
// changedSince is not 0, into the store in batches. It returns the UIDs
// of the responses and how many rows changed.
func (s *Syncer) fetchFlags(ctx context.Context, c *imapclient.Client, folder store.Folder,
	changedSince uint64) (imap.UIDSet, int, error) {
	if mbox := c.Mailbox(); mbox != nil && mbox.NumMessages == 0 {
		return nil, 0, nil
	}
	watchdog := time.AfterFunc(fetchStallTimeout, func() { c.Close() })
	defer watchdog.Stop()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	cmd := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}},
		&imap.FetchOptions{UID: true, Flags: true, ChangedSince: changedSince})
	var seen imap.UIDSet
	var changes []store.FlagChange
	updated := 0
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		n, err := s.Store.UpdateFlags(ctx, folder.ID, folder.UIDValidity, changes)
		updated += n
		changes = changes[:0]
		return err
	}
	for {
		data := cmd.Next()
		if data == nil {
			break
		}
		watchdog.Reset(fetchStallTimeout)
		uid, flags, ok := readFlags(data)
		if uid == 0 {
			continue
		}
		seen = appendUID(seen, uid)
		if !ok {
			continue
		}
		changes = append(changes, store.FlagChange{UID: uint32(uid), Flags: flags})
		if len(changes) >= flagBatch {
			if err := flush(); err != nil {
				cmd.Close()
				return nil, updated, err
			}
		}
	}
	if err := cmd.Close(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, updated, fmt.Errorf("UID FETCH 1:* flags: %w", err)
	}
	return seen, updated, flush()
}

// readFlags reads the UID and flags of one FETCH response; ok is false
// when it held no FLAGS.
func readFlags(data *imapclient.FetchMessageData) (uid imap.UID, flags []string, ok bool) {
	for {
		item := data.Next()
		if item == nil {
			return uid, flags, ok
		}
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = item.UID
		case imapclient.FetchItemDataFlags:
			flags, ok = storedFlags(item.Flags), true
		}
	}
}

// appendUID adds uid to a set of ascending ranges.
func appendUID(set imap.UIDSet, uid imap.UID) imap.UIDSet {
	n := len(set)
	switch {
	case n > 0 && set[n-1].Stop+1 == uid:
		set[n-1].Stop = uid
	case n == 0 || set[n-1].Stop < uid:
		set = append(set, imap.UIDRange{Start: uid, Stop: uid})
	default:
		set.AddNum(uid)
	}
	return set
}
