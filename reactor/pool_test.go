package reactor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolCoalescesPendingTasks(t *testing.T) {
	p := newPool(10, 1)
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	task := Task{Key: "outbox", Kind: KindSend, Run: func(context.Context) {
		started <- struct{}{}
		<-release
		runs.Add(1)
	}}

	// Nothing runs before start, so every submit after the first finds
	// the key pending.
	for range 5 {
		if err := p.Submit(task); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	if got := p.Depth(); got != 1 {
		t.Errorf("depth %d after five submits of one key, want 1", got)
	}
	p.start(context.Background(), 2)
	<-started
	// While the first run is under way, one more may wait.
	p.Submit(task)
	p.Submit(task)
	close(release)
	<-started
	p.stop()
	if got := runs.Load(); got != 2 {
		t.Errorf("%d runs, want 2: one for the burst, one submitted while it ran", got)
	}
}

func TestPoolDropsPastLimit(t *testing.T) {
	p := newPool(3, 1)
	noop := func(context.Context) {}
	for i := range 3 {
		if err := p.Submit(Task{Key: string(rune('a' + i)), Run: noop}); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	err := p.Submit(Task{Key: "d", Run: noop})
	if !errors.Is(err, errQueueFull) {
		t.Fatalf("fourth Submit: %v, want errQueueFull", err)
	}
	if got := p.Dropped(); got != 1 {
		t.Errorf("dropped %d, want 1", got)
	}
	p.start(context.Background(), 1)
	p.stop()
	if err := p.Submit(Task{Key: "e", Run: noop}); !errors.Is(err, errPoolStopped) {
		t.Errorf("Submit after stop: %v, want errPoolStopped", err)
	}
}

func TestPoolKeepsWorkersForSends(t *testing.T) {
	const workers, syncShare = 4, 2
	p := newPool(100, syncShare)
	var running, peak atomic.Int32
	block := make(chan struct{})
	syncTask := func(context.Context) {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		<-block
		running.Add(-1)
	}
	for i := range 6 {
		p.Submit(Task{Key: "sync" + string(rune('0'+i)), Kind: KindSync, Run: syncTask})
	}
	p.start(context.Background(), workers)

	// With the sync share taken, a send still gets a worker at once.
	sent := make(chan struct{})
	p.Submit(Task{Key: "send", Kind: KindSend, Run: func(context.Context) { close(sent) }})
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("send did not run while syncs held their share")
	}
	if got := peak.Load(); got > syncShare {
		t.Errorf("%d syncs ran at once, want at most %d", got, syncShare)
	}

	close(block)
	// The remaining syncs run two at a time until the queue is empty.
	deadline := time.Now().Add(5 * time.Second)
	for p.Depth() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Depth() != 0 {
		t.Errorf("%d syncs still waiting after their slots freed", p.Depth())
	}
	p.stop()
	if got := peak.Load(); got > syncShare {
		t.Errorf("%d syncs ran at once, want at most %d", got, syncShare)
	}
}
