package reconcile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/sync/errgroup"

	"github.com/mailreactor/mailreactor/store"
)

// committers is how many batches commit at once, on their own database
// connections. The server's work on one batch (COPY, compression, index
// updates) is single-threaded; two overlap it with the next batch.
const committers = 2

// bodyFetch streams the messages of a UID set into the store. The stages
// overlap: one goroutine reads the FETCH responses into batches, one
// parses a batch on a few workers, two commit batches. At most six
// batches are held at once, each bounded by BatchSize and maxBatchBytes,
// so memory does not grow with the mailbox.
//
// A batch records the folder's highest stored UID only as far as every
// earlier batch has committed (commitOrder), so a crash at any point
// resumes with nothing skipped.
type bodyFetch struct {
	syncer *Syncer
	client *imapclient.Client
	folder store.Folder
	log    *slog.Logger
	// total is the number of messages the progress log counts towards.
	total    int
	progress progress

	mu      sync.Mutex // guards stored, seen and progress for the committers
	stored  int
	seen    int
	maxSeen uint32
	// missing are UIDs whose response came without a body.
	missing []uint32
}

// batch is a run of messages in UID order that commits at once.
type batch struct {
	seq     int
	msgs    []store.Message
	bytes   int
	lastUID uint32
}

// run fetches uids, then once more the UIDs whose bodies did not arrive.
// go-imap hands a UID FETCH every FETCH response whose UID is in the
// requested set. So a flag change that the server announces during the
// fetch arrives without a body, and go-imap may then take the message's
// own response for an unsolicited one.
func (f *bodyFetch) run(ctx context.Context, uids imap.UIDSet) error {
	f.progress.start(f.total, f.syncer.Progress)
	if err := f.pass(ctx, uids, true); err != nil {
		return err
	}
	if len(f.missing) == 0 {
		return nil
	}
	retry := setOf(f.missing)
	f.missing = nil
	if err := f.pass(ctx, retry, false); err != nil {
		return err
	}
	if len(f.missing) > 0 {
		return fmt.Errorf("server returned no body for UIDs %s", setOf(f.missing))
	}
	// The batches so far held back the highest UID; advance it now.
	if err := f.syncer.Store.AdvanceLastUID(ctx, f.folder.ID, f.maxSeen); err != nil {
		return err
	}
	f.folder.LastUID = max(f.folder.LastUID, f.maxSeen)
	return nil
}

// pass runs the three stages over one UID set. With advance false the
// batches keep the folder's highest stored UID where it is.
func (f *bodyFetch) pass(ctx context.Context, uids imap.UIDSet, advance bool) error {
	g, gctx := errgroup.WithContext(ctx)
	parse := make(chan *batch, 1)
	commit := make(chan *batch, 1)
	g.Go(func() error {
		defer close(parse)
		r := &reader{fetch: f, out: parse, advance: advance, floor: f.folder.LastUID}
		return r.readAll(gctx, uids)
	})
	g.Go(func() error {
		defer close(commit)
		return parseBatches(gctx, parse, commit)
	})
	order := newCommitOrder(f.folder.LastUID)
	for range committers {
		g.Go(func() error { return f.commitBatches(gctx, commit, order) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// A batch that committed before its predecessor left the highest UID
	// behind; every batch is stored now.
	last, recorded := order.prefix()
	if advance && last > recorded {
		if err := f.syncer.Store.AdvanceLastUID(ctx, f.folder.ID, last); err != nil {
			return err
		}
	}
	f.folder.LastUID = max(f.folder.LastUID, last)
	return nil
}

// parseBatches parses each batch on a few workers and passes it on.
func parseBatches(ctx context.Context, in <-chan *batch, out chan<- *batch) error {
	workers := max(1, min(4, runtime.GOMAXPROCS(0)))
	for b := range in {
		var g errgroup.Group
		g.SetLimit(workers)
		for i := range b.msgs {
			g.Go(func() error {
				parseInto(&b.msgs[i])
				return nil
			})
		}
		g.Wait()
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// reader reads FETCH responses into batches.
type reader struct {
	fetch   *bodyFetch
	out     chan<- *batch
	advance bool
	// floor is the folder's highest stored UID when the pass began.
	floor uint32
	cur   *batch
	// watchdog closes the connection when no message arrives for
	// fetchStallTimeout while the reader waits for the server.
	watchdog *time.Timer
}

func (r *reader) readAll(ctx context.Context, uids imap.UIDSet) error {
	c := r.fetch.client
	r.watchdog = time.AfterFunc(fetchStallTimeout, func() { c.Close() })
	defer r.watchdog.Stop()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	r.cur = &batch{}
	for _, set := range chunks(uids) {
		if err := r.readSet(ctx, set); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	return r.send(ctx)
}

func (r *reader) readSet(ctx context.Context, set imap.UIDSet) error {
	cmd := r.fetch.client.Fetch(set, &imap.FetchOptions{
		UID:          true,
		Flags:        true,
		InternalDate: true,
		RFC822Size:   true,
		BodySection:  []*imap.FetchItemBodySection{{Peek: true}},
	})
	for {
		data := cmd.Next()
		if data == nil {
			break
		}
		r.watchdog.Reset(fetchStallTimeout)
		m, hasBody, err := readMessage(data)
		if err != nil {
			cmd.Close()
			return fmt.Errorf("read FETCH response: %w", err)
		}
		// "n:*" always includes the last message, even when its UID is
		// below n.
		if !set.Contains(imap.UID(m.UID)) {
			continue
		}
		r.fetch.maxSeen = max(r.fetch.maxSeen, m.UID)
		if !hasBody {
			r.fetch.missing = append(r.fetch.missing, m.UID)
			continue
		}
		r.cur.msgs = append(r.cur.msgs, m)
		r.cur.bytes += len(m.Raw)
		if len(r.cur.msgs) >= r.fetch.syncer.batchSize() || r.cur.bytes >= maxBatchBytes {
			if err := r.send(ctx); err != nil {
				cmd.Close()
				return err
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("UID FETCH %s: %w", abbreviate(set), err)
	}
	return nil
}

// send hands the current batch on, with the highest UID below which every
// message is stored once it commits.
func (r *reader) send(ctx context.Context) error {
	b := r.cur
	if len(b.msgs) == 0 {
		return nil
	}
	b.lastUID = r.floor
	if r.advance {
		b.lastUID = max(b.lastUID, b.msgs[len(b.msgs)-1].UID)
		if len(r.fetch.missing) > 0 {
			b.lastUID = max(r.floor, min(b.lastUID, slices.Min(r.fetch.missing)-1))
		}
	}
	r.cur = &batch{seq: b.seq + 1, msgs: make([]store.Message, 0, len(b.msgs))}
	// The wait for the parser is not the server's stall.
	r.watchdog.Stop()
	defer r.watchdog.Reset(fetchStallTimeout)
	select {
	case r.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readMessage reads one FETCH response, the body into a buffer of the
// literal's size. hasBody is false when the response held no body.
func readMessage(data *imapclient.FetchMessageData) (m store.Message, hasBody bool, err error) {
	for {
		item := data.Next()
		if item == nil {
			break
		}
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			m.UID = uint32(item.UID)
		case imapclient.FetchItemDataFlags:
			m.Flags = storedFlags(item.Flags)
		case imapclient.FetchItemDataInternalDate:
			m.InternalDate = item.Time
		case imapclient.FetchItemDataRFC822Size:
			m.Size = item.Size
		case imapclient.FetchItemDataBodySection:
			if item.Literal == nil {
				continue
			}
			m.Raw = make([]byte, item.Literal.Size())
			if _, err := io.ReadFull(item.Literal, m.Raw); err != nil {
				return m, false, err
			}
			hasBody = true
		}
	}
	if m.Flags == nil {
		m.Flags = []string{}
	}
	return m, hasBody, nil
}

// storedFlags returns the flags to store, sorted, without \Recent: that
// one belongs to a session, not to the message.
func storedFlags(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if f != flagRecent {
			out = append(out, string(f))
		}
	}
	slices.Sort(out)
	return out
}

// abbreviate shortens a long UID set for an error message.
func abbreviate(set imap.UIDSet) string {
	if len(set) <= 4 {
		return set.String()
	}
	return fmt.Sprintf("%s,...,%s (%d ranges)", set[:2], set[len(set)-1:], len(set))
}

// flagRecent is the IMAP4rev1 session flag, which go-imap v2 leaves out.
const flagRecent imap.Flag = `\Recent`
