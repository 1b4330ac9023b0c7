package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

const (
	// maxBatchBytes bounds the raw bytes held for one transaction, so a
	// batch of large messages does not take a lot of memory.
	maxBatchBytes = 16 << 20
	// fetchStallTimeout is how long a FETCH may go without delivering a
	// message before the connection is closed.
	fetchStallTimeout = 2 * time.Minute
	// progressEvery is how often a long sync logs its progress.
	progressEvery = 5 * time.Second
)

// Syncer copies new messages from a selected IMAP mailbox into the store.
type Syncer struct {
	Store     *store.Store
	Log       *slog.Logger
	BatchSize int
}

// Selected is the state of the mailbox that the client has selected.
type Selected struct {
	UIDValidity uint32
	NumMessages uint32
}

// SyncRecent stores every message above folder.LastUID and returns the
// folder's new state and the count of stored messages. The client must have
// the folder's mailbox selected and must not be in IDLE. An error leaves
// the committed batches in place.
func (s *Syncer) SyncRecent(ctx context.Context, c *imapclient.Client, folder store.Folder, sel Selected) (store.Folder, int, error) {
	log := s.Log.With("acntid", folder.AccountID, "emfdid", folder.ID)
	if folder.UIDValidity != 0 && folder.UIDValidity != sel.UIDValidity {
		// TODO: re-match stored rows by Message-ID, size and date before
		// fetching the folder again under the new UIDVALIDITY.
		log.Warn("UIDVALIDITY changed, fetching the folder again",
			"old_uidvalidity", folder.UIDValidity, "new_uidvalidity", sel.UIDValidity)
		if err := s.Store.ResetFolder(ctx, folder.ID, sel.UIDValidity); err != nil {
			return folder, 0, err
		}
		folder.LastUID = 0
	}
	folder.UIDValidity = sel.UIDValidity

	if sel.NumMessages == 0 {
		return folder, 0, s.Store.MarkSynced(ctx, folder.ID, folder.UIDValidity)
	}

	start := time.Now()
	run := &recentRun{syncer: s, client: c, folder: folder, log: log, total: sel.NumMessages, start: start}
	if err := run.fetchAll(ctx); err != nil {
		return run.folder, run.stored, fmt.Errorf("sync folder %d: %w", folder.ID, err)
	}
	if run.stored == 0 {
		return run.folder, 0, s.Store.MarkSynced(ctx, folder.ID, folder.UIDValidity)
	}
	log.Info(fmt.Sprintf("received %d new messages in %.3fs", run.stored, time.Since(start).Seconds()),
		"count", run.stored, "duration", time.Since(start), "uid_last", run.folder.LastUID)
	return run.folder, run.stored, nil
}

// recentRun is the state of one SyncRecent call.
type recentRun struct {
	syncer *Syncer
	client *imapclient.Client
	folder store.Folder
	log    *slog.Logger

	batch      []store.Message
	batchBytes int
	// missing are UIDs whose response came without a body; the folder's
	// highest UID must not pass them until they are stored.
	missing    []uint32
	retrying   []uint32
	maxSeen    uint32
	stored     int
	seen       int
	total      uint32
	start      time.Time
	lastReport time.Time
}

// fetchAll fetches everything above the highest stored UID, then once more
// the UIDs whose bodies did not arrive.
func (r *recentRun) fetchAll(ctx context.Context) error {
	from := r.folder.LastUID + 1
	if err := r.fetch(ctx, imap.UIDSet{imap.UIDRange{Start: imap.UID(from), Stop: 0}}); err != nil {
		return err
	}
	if len(r.missing) == 0 {
		return nil
	}
	var retry imap.UIDSet
	for _, uid := range r.missing {
		retry.AddNum(imap.UID(uid))
	}
	r.retrying, r.missing = r.missing, nil
	if err := r.fetch(ctx, retry); err != nil {
		return err
	}
	if len(r.missing) > 0 {
		return fmt.Errorf("server returned no body for UIDs %v", r.missing)
	}
	// The batches so far held back the highest UID; advance it now.
	if err := r.syncer.Store.AdvanceLastUID(ctx, r.folder.ID, r.maxSeen); err != nil {
		return err
	}
	r.folder.LastUID = max(r.folder.LastUID, r.maxSeen)
	return nil
}

func (r *recentRun) fetch(ctx context.Context, uids imap.UIDSet) error {
	cmd := r.client.Fetch(uids, &imap.FetchOptions{
		UID:          true,
		Flags:        true,
		InternalDate: true,
		RFC822Size:   true,
		BodySection:  []*imap.FetchItemBodySection{{Peek: true}},
	})

	// A stalled server would block Next forever: the watchdog closes the
	// connection when no message arrives for fetchStallTimeout.
	watchdog := time.AfterFunc(fetchStallTimeout, func() { r.client.Close() })
	defer watchdog.Stop()
	stop := context.AfterFunc(ctx, func() { r.client.Close() })
	defer stop()

	for {
		data := cmd.Next()
		if data == nil {
			break
		}
		watchdog.Reset(fetchStallTimeout)
		buf, err := data.Collect()
		if err != nil {
			cmd.Close()
			return fmt.Errorf("read FETCH response: %w", err)
		}
		// "n:*" always includes the last message, even when its UID is
		// below n, so filter what is already stored.
		if uint32(buf.UID) <= r.folder.LastUID && !slices.Contains(r.retrying, uint32(buf.UID)) {
			continue
		}
		r.maxSeen = max(r.maxSeen, uint32(buf.UID))
		r.add(buf)
		if len(r.batch) >= r.syncer.BatchSize || r.batchBytes >= maxBatchBytes {
			if err := r.flush(ctx); err != nil {
				cmd.Close()
				return err
			}
		}
	}
	if err := cmd.Close(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("UID FETCH %s: %w", uids, err)
	}
	return r.flush(ctx)
}

func (r *recentRun) add(buf *imapclient.FetchMessageBuffer) {
	m := store.Message{
		UID:          uint32(buf.UID),
		InternalDate: buf.InternalDate,
		Size:         buf.RFC822Size,
		Flags:        make([]string, len(buf.Flags)),
	}
	for i, f := range buf.Flags {
		m.Flags[i] = string(f)
	}
	if len(buf.BodySection) > 0 {
		m.Raw = buf.BodySection[0].Bytes
	}
	if m.Raw == nil {
		// go-imap hands a UID FETCH every FETCH response whose UID is in
		// the requested range, so a flag change announced by the server
		// during the fetch arrives here without a body. The message's own
		// response may already have been consumed; fetch it again.
		r.missing = append(r.missing, m.UID)
		return
	}
	parseInto(&m)
	r.batch = append(r.batch, m)
	r.batchBytes += len(m.Raw)
}

// flush commits the batch with the highest UID it contains.
func (r *recentRun) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	lastUID := r.folder.LastUID
	for _, m := range r.batch {
		lastUID = max(lastUID, m.UID)
	}
	for _, uid := range r.missing {
		lastUID = min(lastUID, uid-1)
	}
	lastUID = max(lastUID, r.folder.LastUID)
	n, err := r.syncer.Store.StoreMessages(ctx, r.folder.ID, r.folder.UIDValidity, lastUID, r.batch)
	if err != nil {
		return err
	}
	r.stored += n
	r.seen += len(r.batch)
	r.folder.LastUID = lastUID
	r.batch = r.batch[:0]
	r.batchBytes = 0
	r.reportProgress()
	return nil
}

func (r *recentRun) reportProgress() {
	now := time.Now()
	if now.Sub(r.start) < progressEvery || now.Sub(r.lastReport) < progressEvery {
		return
	}
	r.lastReport = now
	elapsed := now.Sub(r.start).Seconds()
	rate := float64(r.seen) / elapsed
	attrs := []any{"done", r.seen, "total", r.total, "rate_per_s", int(rate)}
	if left := int(r.total) - r.seen; rate > 0 && left > 0 {
		attrs = append(attrs, "eta", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
	}
	r.log.Info("sync progress", attrs...)
}
