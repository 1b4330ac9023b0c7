package reconcile

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mailreactor/mailreactor/metrics"
)

// commitBatches stores batches, each with the highest UID it may record.
func (f *bodyFetch) commitBatches(ctx context.Context, in <-chan *batch, order *commitOrder) error {
	for b := range in {
		ceiling := order.ceiling(b.seq, b.lastUID)
		n, err := f.syncer.Store.InsertMessages(ctx, f.folder.ID, f.folder.UIDValidity, ceiling, b.msgs)
		if err != nil {
			return err
		}
		order.committed(b.seq, b.lastUID)
		metrics.MessagesStored(n)
		f.mu.Lock()
		f.stored += n
		f.seen += len(b.msgs)
		f.progress.report(f.log, f.seen)
		f.mu.Unlock()
	}
	return nil
}

// commitOrder tracks which batches have committed. Batches are numbered
// from 0 in UID order.
type commitOrder struct {
	mu sync.Mutex
	// next is the lowest batch not committed; last is the highest UID
	// that batches before next may record.
	next int
	last uint32
	// done holds the batches above next that committed, by number.
	done map[int]uint32
	// recorded is the highest ceiling handed out.
	recorded uint32
}

func newCommitOrder(floor uint32) *commitOrder {
	return &commitOrder{last: floor, recorded: floor, done: map[int]uint32{}}
}

// ceiling returns the highest UID that batch seq may record in its own
// transaction: its lastUID, or a later committed batch's, when every
// earlier batch has committed; otherwise what those earlier ones allow.
func (o *commitOrder) ceiling(seq int, lastUID uint32) uint32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq != o.next {
		return o.last
	}
	for s := seq + 1; ; s++ {
		u, ok := o.done[s]
		if !ok {
			break
		}
		lastUID = u
	}
	o.recorded = max(o.recorded, lastUID)
	return lastUID
}

func (o *commitOrder) committed(seq int, lastUID uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[seq] = lastUID
	for {
		u, ok := o.done[o.next]
		if !ok {
			return
		}
		delete(o.done, o.next)
		o.last = max(o.last, u)
		o.next++
	}
}

// prefix returns the highest UID that the committed batches allow, and
// the highest that a batch recorded.
func (o *commitOrder) prefix() (last, recorded uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last, o.recorded
}

// progress logs a long sync every progressEvery, and calls the caller's
// Progress function after every commit.
type progress struct {
	total      int
	begin      time.Time
	lastReport time.Time
	notify     func(done, total int)
}

func (p *progress) start(total int, notify func(done, total int)) {
	p.total = total
	p.begin = time.Now()
	p.notify = notify
}

func (p *progress) report(log *slog.Logger, done int) {
	if p.notify != nil {
		p.notify(done, p.total)
	}
	now := time.Now()
	if now.Sub(p.begin) < progressEvery || now.Sub(p.lastReport) < progressEvery {
		return
	}
	p.lastReport = now
	rate := float64(done) / now.Sub(p.begin).Seconds()
	attrs := []any{"done", done, "total", p.total, "rate_per_s", int(rate)}
	if left := p.total - done; rate > 0 && left > 0 {
		attrs = append(attrs, "eta", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
	}
	log.Info("sync progress", attrs...)
}
