package reactor

import (
	"context"
	"errors"
	"sync"
)

var (
	// errQueueFull means the task was dropped; a later sweep recovers it.
	errQueueFull = errors.New("task queue full")
	// errPoolStopped means the pool takes no more tasks.
	errPoolStopped = errors.New("worker pool stopped")
)

// Kind is the share of the workers a task may use.
type Kind int

const (
	// KindSend tasks may use every worker.
	KindSend Kind = iota
	// KindSync tasks may hold at most the pool's sync share, so sends
	// never wait behind a large sync.
	KindSync
)

// Task is one unit of work. Tasks with the same Key coalesce: while one
// waits, submitting another with that key does nothing.
type Task struct {
	Key  string
	Kind Kind
	Run  func(ctx context.Context)
}

// pool runs tasks on a fixed number of workers from one bounded,
// coalescing queue.
type pool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Task
	pending map[string]bool
	limit   int
	closed  bool
	dropped int

	// syncSlots is a semaphore shared by sync tasks and by watchers that
	// sync on their own connection.
	syncSlots chan struct{}

	wg sync.WaitGroup
}

func newPool(limit, syncShare int) *pool {
	p := &pool{
		pending:   make(map[string]bool),
		limit:     limit,
		syncSlots: make(chan struct{}, syncShare),
	}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// start launches the workers; they stop once stop is called and the tasks
// that are running finish.
func (p *pool) start(ctx context.Context, workers int) {
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.work(ctx)
		}()
	}
}

// Submit queues a task. A task whose key is already pending counts as
// queued. It returns errQueueFull when the queue is at its limit and
// errPoolStopped after stop.
func (p *pool) Submit(t Task) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPoolStopped
	}
	if p.pending[t.Key] {
		return nil
	}
	if len(p.queue) >= p.limit {
		p.dropped++
		return errQueueFull
	}
	p.pending[t.Key] = true
	p.queue = append(p.queue, t)
	p.cond.Signal()
	return nil
}

// Dropped returns how many tasks were dropped because the queue was full.
func (p *pool) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Depth returns the number of waiting tasks.
func (p *pool) Depth() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func (p *pool) work(ctx context.Context) {
	for {
		t, ok := p.next()
		if !ok {
			return
		}
		t.Run(ctx)
		if t.Kind == KindSync {
			p.Release()
		}
	}
}

// next blocks until a runnable task waits or the pool stops. A sync task
// is runnable only while a sync slot is free.
func (p *pool) next() (Task, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return Task{}, false
		}
		for i, t := range p.queue {
			if t.Kind == KindSync && !p.tryAcquire() {
				continue
			}
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			delete(p.pending, t.Key)
			return t, true
		}
		p.cond.Wait()
	}
}

func (p *pool) tryAcquire() bool {
	select {
	case p.syncSlots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Acquire takes a sync slot, waiting until one is free or ctx ends.
func (p *pool) Acquire(ctx context.Context) error {
	select {
	case p.syncSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release returns a sync slot and wakes the workers, since a waiting sync
// task may now run.
func (p *pool) Release() {
	<-p.syncSlots
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// stop ends the workers after their current tasks, dropping what waits;
// the next start's sweeps find that work again in the database.
func (p *pool) stop() {
	p.mu.Lock()
	p.closed = true
	p.queue = nil
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}
