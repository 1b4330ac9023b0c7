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

const (
	// maxBatchBytes bounds the raw bytes held for one transaction, so a
	// batch of large messages does not take a lot of memory. A sync holds
	// at most six batches (see bodyFetch).
	maxBatchBytes = 8 << 20
	// fetchStallTimeout is how long a FETCH may go without delivering a
	// message before the connection is closed.
	fetchStallTimeout = 2 * time.Minute
	// progressEvery is how often a long sync logs its progress.
	progressEvery = 5 * time.Second
)

// Syncer copies messages from a selected IMAP mailbox into the store.
type Syncer struct {
	Store     *store.Store
	Log       *slog.Logger
	BatchSize int
	// IgnoreCondStore makes full syncs fetch every message's flags even
	// when the server offers CONDSTORE.
	IgnoreCondStore bool
	// Progress, when set, is called after each committed batch of a
	// fetch with the messages done and the total expected. Calls may come
	// from several goroutines, one at a time.
	Progress func(done, total int)
}

// defaultBatchSize is the batch size of a Syncer whose BatchSize is not
// set, the default of REACTOR_SYNC_BATCH_SIZE.
const defaultBatchSize = 200

func (s *Syncer) batchSize() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return defaultBatchSize
}

// Selected is the state of the mailbox that the client has selected.
type Selected struct {
	UIDValidity uint32
	NumMessages uint32
	// UIDNext, when known, lets the sync notice a highest stored UID that
	// the server never gave out.
	UIDNext imap.UID
}

// SyncRecent stores every message above folder.LastUID and returns the
// folder's new state and the count of stored messages. The client must have
// the folder's mailbox selected and must not be in IDLE. An error leaves
// the committed batches in place.
func (s *Syncer) SyncRecent(ctx context.Context, c *imapclient.Client, folder store.Folder, sel Selected) (store.Folder, int, error) {
	defer metrics.SyncDone(time.Now())
	log := s.Log.With("acntid", folder.AccountID, "emfdid", folder.ID)
	start := time.Now()
	stored := 0
	if folder.UIDValidity != 0 && folder.UIDValidity != sel.UIDValidity {
		var res rematch
		var err error
		folder, res, err = s.changeUIDValidity(ctx, c, folder, sel.UIDValidity, log)
		stored += res.fetched
		if err != nil {
			return folder, stored, fmt.Errorf("sync folder %d: %w", folder.ID, err)
		}
	}
	folder.UIDValidity = sel.UIDValidity

	if sel.UIDNext != 0 && folder.LastUID >= uint32(sel.UIDNext) {
		var res uidResult
		var err error
		folder, res, err = s.distrustLastUID(ctx, c, folder, sel.UIDNext, log)
		stored += res.fetched
		if err != nil {
			return folder, stored, fmt.Errorf("sync folder %d: %w", folder.ID, err)
		}
	}

	if sel.NumMessages > 0 {
		n, err := s.fetchAbove(ctx, c, &folder, int(sel.NumMessages), log)
		stored += n
		if err != nil {
			return folder, stored, fmt.Errorf("sync folder %d: %w", folder.ID, err)
		}
	}
	if stored == 0 {
		return folder, 0, s.Store.MarkSynced(ctx, folder.ID, folder.UIDValidity)
	}
	log.Info(fmt.Sprintf("received %d new messages in %.3fs", stored, time.Since(start).Seconds()),
		"count", stored, "duration", time.Since(start), "uid_last", folder.LastUID)
	return folder, stored, nil
}

// fetchAbove fetches the messages above folder.LastUID that are not
// stored yet; after an interrupted UIDVALIDITY change or full sync some
// above it may be.
func (s *Syncer) fetchAbove(ctx context.Context, c *imapclient.Client, folder *store.Folder, total int, log *slog.Logger) (int, error) {
	stored, err := s.Store.StoredUIDs(ctx, folder.ID, folder.UIDValidity, folder.LastUID)
	if err != nil {
		return 0, err
	}
	f := &bodyFetch{syncer: s, client: c, folder: *folder, log: log, total: total}
	err = f.run(ctx, notStoredFrom(folder.LastUID+1, stored))
	*folder = f.folder
	if err != nil || len(stored) == 0 || stored[len(stored)-1] <= folder.LastUID {
		return f.stored, err
	}
	// Every UID around the stored ones was fetched, so all up to the
	// highest stored one are stored now.
	highest := stored[len(stored)-1]
	if err := s.Store.AdvanceLastUID(ctx, folder.ID, highest); err != nil {
		return f.stored, err
	}
	folder.LastUID = highest
	return f.stored, nil
}

// fetchSet fetches the messages of a set without "*" and returns how many
// it stored.
func (s *Syncer) fetchSet(ctx context.Context, c *imapclient.Client, folder *store.Folder, set imap.UIDSet, log *slog.Logger) (int, error) {
	if len(set) == 0 {
		return 0, nil
	}
	f := &bodyFetch{syncer: s, client: c, folder: *folder, log: log, total: countUIDs(set)}
	err := f.run(ctx, set)
	*folder = f.folder
	return f.stored, err
}
