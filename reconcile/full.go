package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/store"
)

// FullResult counts what a full sync changed.
type FullResult struct {
	// FlagsUpdated counts stored messages whose flags changed.
	FlagsUpdated int
	// Expunged counts stored messages marked expunged.
	Expunged int
	// Fetched counts messages stored: gaps, new mail, and after a
	// UIDVALIDITY change the messages that matched no stored row.
	Fetched int
	// Rematched counts stored messages moved to a new UIDVALIDITY.
	Rematched int
}

func (r FullResult) changed() bool {
	return r.FlagsUpdated+r.Expunged+r.Fetched+r.Rematched > 0
}

// uidResult counts what reconcileUIDs changed.
type uidResult struct {
	expunged, fetched int
}

// SyncFull makes the stored folder equal to the selected mailbox: flags,
// expunges, and every message not stored yet. sel is the SELECT response
// for the mailbox, selected with CONDSTORE when the server offers it. The
// client must not be in IDLE. It returns the folder's new state.
func (s *Syncer) SyncFull(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData) (store.Folder, FullResult, error) {
	defer metrics.SyncDone(time.Now())
	log := s.Log.With("acntid", folder.AccountID, "emfdid", folder.ID)
	start := time.Now()
	var res FullResult
	folder, err := s.syncFull(ctx, c, folder, sel, log, &res)
	if err != nil {
		return folder, res, fmt.Errorf("sync folder %d in full: %w", folder.ID, err)
	}
	attrs := []any{"flags_updated", res.FlagsUpdated, "expunged", res.Expunged, "fetched", res.Fetched,
		"rematched", res.Rematched, "duration", time.Since(start).Round(time.Millisecond), "uid_last", folder.LastUID}
	if res.changed() {
		log.Info("full sync changed the folder", attrs...)
	} else {
		log.Debug("full sync found no change", attrs...)
	}
	return folder, res, nil
}

func (s *Syncer) syncFull(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData,
	log *slog.Logger, res *FullResult) (store.Folder, error) {
	if folder.UIDValidity != 0 && folder.UIDValidity != sel.UIDValidity {
		var rm rematch
		var err error
		folder, rm, err = s.changeUIDValidity(ctx, c, folder, sel.UIDValidity, log)
		res.Rematched, res.Expunged, res.Fetched = rm.matched, rm.expunged, rm.fetched
		if err != nil {
			return folder, err
		}
	}
	folder.UIDValidity = sel.UIDValidity
	// Rows stored before this moment cannot be mail that arrived after the
	// server listed its UIDs.
	begin, err := s.Store.Now(ctx)
	if err != nil {
		return folder, err
	}

	server, flags, err := s.syncFlags(ctx, c, folder, sel, log)
	res.FlagsUpdated += flags
	if err != nil {
		return folder, err
	}

	distrust := sel.UIDNext != 0 && folder.LastUID >= uint32(sel.UIDNext)
	if distrust {
		log.Warn("highest stored UID is not below the server's UIDNEXT; comparing UIDs instead of trusting it",
			"last_uid", folder.LastUID, "uidnext", sel.UIDNext)
	}
	below := max(uint32(sel.UIDNext), maxUID(server)+1)
	var ur uidResult
	folder, ur, err = s.reconcileUIDs(ctx, c, folder, server, below, begin, log)
	res.Expunged += ur.expunged
	res.Fetched += ur.fetched
	if err != nil {
		return folder, err
	}

	highest := maxUID(server)
	if err := s.Store.FinishFullSync(ctx, folder.ID, folder.UIDValidity, sel.HighestModSeq, highest, distrust); err != nil {
		return folder, err
	}
	if distrust {
		folder.LastUID = highest
	} else {
		folder.LastUID = max(folder.LastUID, highest)
	}
	return folder, nil
}

// reconcileUIDs compares the server's UIDs with the stored ones. Stored
// messages that the server no longer has are marked expunged (below and
// begin as in Store.MarkExpunged). Server messages that are not stored are
// fetched, whatever the folder's highest stored UID is.
func (s *Syncer) reconcileUIDs(ctx context.Context, c *imapclient.Client, folder store.Folder, server imap.UIDSet,
	below uint32, begin time.Time, log *slog.Logger) (store.Folder, uidResult, error) {
	var res uidResult
	stored, err := s.Store.StoredUIDs(ctx, folder.ID, folder.UIDValidity, 0)
	if err != nil {
		return folder, res, err
	}
	missing, gone := difference(server, stored)
	if len(gone) > 0 {
		res.expunged, err = s.Store.MarkExpunged(ctx, folder.ID, folder.UIDValidity, gone, below, begin)
		if err != nil {
			return folder, res, err
		}
	}
	res.fetched, err = s.fetchSet(ctx, c, &folder, missing, log)
	return folder, res, err
}

// distrustLastUID reconciles a folder whose highest stored UID is at or
// above the server's UIDNEXT, for SyncRecent: it compares UIDs as a full
// sync does, then sets the highest stored UID to the server's highest.
func (s *Syncer) distrustLastUID(ctx context.Context, c *imapclient.Client, folder store.Folder, uidNext imap.UID,
	log *slog.Logger) (store.Folder, uidResult, error) {
	log.Warn("highest stored UID is not below the server's UIDNEXT; comparing UIDs instead of trusting it",
		"last_uid", folder.LastUID, "uidnext", uidNext)
	begin, err := s.Store.Now(ctx)
	if err != nil {
		return folder, uidResult{}, err
	}
	server, err := searchUIDs(ctx, c)
	if err != nil {
		return folder, uidResult{}, err
	}
	folder, res, err := s.reconcileUIDs(ctx, c, folder, server, max(uint32(uidNext), maxUID(server)+1), begin, log)
	if err != nil {
		return folder, res, err
	}
	if err := s.Store.ResetLastUID(ctx, folder.ID, folder.UIDValidity, maxUID(server)); err != nil {
		return folder, res, err
	}
	folder.LastUID = maxUID(server)
	return folder, res, nil
}
