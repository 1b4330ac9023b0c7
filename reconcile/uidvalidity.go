package reconcile

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// rematch counts what a UIDVALIDITY change did.
type rematch struct {
	matched, expunged, fetched int
}

// changeUIDValidity moves the folder to the server's new UIDVALIDITY
// without fetching again the bodies it already has. It reads every
// message's UID, envelope, size, internal date and flags, but not the body.
// Store.Rematch matches the stored rows of the old UIDVALIDITY to them by
// Message-ID, size and internal date or Date, and moves each matched row
// to its new UID in place, so its emsgid stays. Old rows without a match
// are marked expunged. Then the server's messages that matched nothing are
// fetched.
//
// The move is one transaction; an interrupted fetch afterwards resumes in
// the next sync, which skips what is stored.
func (s *Syncer) changeUIDValidity(ctx context.Context, c *imapclient.Client, folder store.Folder,
	uidValidity uint32, log *slog.Logger) (store.Folder, rematch, error) {
	var out rematch
	start := time.Now()
	old := folder.UIDValidity
	var res store.RematchResult
	for attempt := 1; ; attempt++ {
		var err error
		res, err = s.Store.Rematch(ctx, folder.ID, old, uidValidity, serverMessages(ctx, c))
		if err != nil {
			return folder, out, err
		}
		if res.Done {
			break
		}
		// Another sync changed the folder's UIDVALIDITY first: read it,
		// and match again from there unless it is the server's now.
		folder, err = s.Store.EnsureFolder(ctx, folder.AccountID, folder.Name, folder.Priority)
		if err != nil || folder.UIDValidity == uidValidity || folder.UIDValidity == 0 {
			return folder, out, err
		}
		if attempt == 3 {
			return folder, out, fmt.Errorf("stored UIDVALIDITY keeps changing under the sync (now %d, server %d)",
				folder.UIDValidity, uidValidity)
		}
		old = folder.UIDValidity
	}
	folder.UIDValidity, folder.LastUID = uidValidity, res.LastUID
	out.matched, out.expunged = res.Matched, res.Expunged
	log.Warn("UIDVALIDITY changed; stored messages matched to their new UIDs",
		"old_uidvalidity", old, "new_uidvalidity", uidValidity,
		"matched", res.Matched, "expunged", res.Expunged, "to_fetch", len(res.Unmatched),
		"duration", time.Since(start).Round(time.Millisecond))

	var err error
	out.fetched, err = s.fetchSet(ctx, c, &folder, setOf(res.Unmatched), log)
	return folder, out, err
}

// serverMessages streams UID, FLAGS, ENVELOPE, RFC822.SIZE and
// INTERNALDATE of every message of the selected mailbox. The FETCH starts
// at the first pull.
func serverMessages(ctx context.Context, c *imapclient.Client) iter.Seq2[store.ServerMessage, error] {
	return func(yield func(store.ServerMessage, error) bool) {
		watchdog := time.AfterFunc(fetchStallTimeout, func() { c.Close() })
		defer watchdog.Stop()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()

		all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
		cmd := c.Fetch(all, &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		})
		for {
			data := cmd.Next()
			if data == nil {
				break
			}
			watchdog.Reset(fetchStallTimeout)
			buf, err := data.Collect()
			if err != nil {
				cmd.Close()
				yield(store.ServerMessage{}, fmt.Errorf("read FETCH response: %w", err))
				return
			}
			if buf.UID == 0 {
				continue
			}
			if !yield(serverMessage(buf), nil) {
				cmd.Close()
				return
			}
		}
		if err := cmd.Close(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			yield(store.ServerMessage{}, fmt.Errorf("UID FETCH 1:* envelopes: %w", err))
		}
	}
}

func serverMessage(buf *imapclient.FetchMessageBuffer) store.ServerMessage {
	m := store.ServerMessage{
		UID:          uint32(buf.UID),
		Size:         buf.RFC822Size,
		InternalDate: buf.InternalDate,
		Flags:        storedFlags(buf.Flags),
	}
	if env := buf.Envelope; env != nil {
		m.MessageID = clean(env.MessageID)
		if !env.Date.IsZero() {
			date := env.Date
			m.Date = &date
		}
	}
	return m
}
