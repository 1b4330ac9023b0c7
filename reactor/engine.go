package reactor

import (
	"context"

	"crypto/x509"
	"errors"
	"fmt"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/notify"
	"github.com/mailreactor/mailreactor/outbox"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

const (
	// outboxBatchSize is how many rows one sweep claims; a full batch
	// submits the next sweep at once, so several workers send in parallel.
	outboxBatchSize = 50
	// dropLogEvery rate-limits the warning about dropped tasks.
	dropLogEvery   = time.Minute
	outboxSweepKey = "outbox"
)

// Engine runs the reactor's main job. Set the fields, then call Run once.
type Engine struct {
	Config config.Config
	Store  *store.Store
	Log    *slog.Logger
	// RootCAs, when set, replaces the system's trusted roots for IMAP and
	// SMTP connections.
	RootCAs *x509.CertPool
	// Now returns the current time for the scheduler; nil means time.Now.
	Now func() time.Time

	pool  *pool
	sched *scheduler
	// scheduleWake makes the scheduler look for due sweeps at once.
	scheduleWake chan struct{}
	sender       *outbox.Sender
	syncer       *reconcile.Syncer
	// fullSync runs a full sync of a selected folder.
	fullSync func(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData) (store.Folder, error)
	// discover refreshes an account's folder rows from LIST.
	discover func(ctx context.Context, c *imapclient.Client, accountID int64) error
	wake     chan struct{}

	mu       sync.Mutex
	reloadMu sync.Mutex
	// listenedBefore is set after the listener's first connect, so only
	// a reconnect reloads every account.
	listenedBefore atomic.Bool
	// ticks counts the scheduler's looks for due sweeps.
	ticks atomic.Int64
	// runCtx is the context of Run while it runs; watchers started after
	// an account notification derive from it.
	runCtx   context.Context
	accounts map[int64]*runningAccount
	lastDrop time.Time
	wg       sync.WaitGroup
}

// Run checks the database, starts the watchers, the listener and the
// workers, and blocks until ctx is cancelled. Then it stops taking events,
// lets running tasks finish, logs out the watchers and returns nil. It
// returns an error at once when the database is not usable.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Store.CheckSchema(ctx); err != nil {
		return err
	}
	cfg := e.Config
	e.pool = newPool(cfg.QueueLimit(), cfg.SyncWorkers())
	metrics.WatchQueue(e.pool.Depth, e.pool.Dropped)
	e.wake = make(chan struct{}, 1)
	e.scheduleWake = make(chan struct{}, 1)
	e.sched = &scheduler{engine: e, dispatched: map[sweepKey]time.Time{}, presenceSeen: map[int64]time.Time{}}
	e.accounts = make(map[int64]*runningAccount)
	e.syncer = &reconcile.Syncer{Store: e.Store, Log: e.Log, BatchSize: cfg.SyncBatchSize}
	e.fullSync = func(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData) (store.Folder, error) {
		folder, _, err := e.syncer.SyncFull(ctx, c, folder, sel)
		return folder, err
	}
	e.discover = func(ctx context.Context, c *imapclient.Client, accountID int64) error {
		_, err := e.syncer.DiscoverFolders(ctx, c, accountID)
		return err
	}
	e.sender = &outbox.Sender{
		Store: e.Store, Log: e.Log, Owner: cfg.InstanceID, Lease: cfg.OutboxLease,
		BatchSize: outboxBatchSize, RetryMin: cfg.OutboxRetryMin, RetryMax: cfg.OutboxRetryMax,
		MaxAge: cfg.OutboxMaxAge, RootCAs: e.RootCAs,
		Stopping: ctx.Done(),
	}

	e.Log.Info("reactor started", "instance", cfg.InstanceID, "workers", cfg.MaxThreads,
		"sync_workers", cfg.SyncWorkers(), "outbox", cfg.OutboxEnabled, "sync", cfg.SyncEnabled)

	// Workers get a context that outlives ctx, so a send in progress at
	// shutdown finishes and records its outcome.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	e.pool.start(workCtx, cfg.MaxThreads)

	e.mu.Lock()
	e.runCtx = ctx
	e.mu.Unlock()
	if cfg.SyncEnabled {
		if err := e.startAccounts(ctx); err != nil {
			e.pool.stop()
			return err
		}
	}

	listenCtx, stopListen := context.WithCancel(ctx)
	e.goRun(func() { e.listen(listenCtx) })
	if cfg.OutboxEnabled {
		e.goRun(func() { e.outboxTimer(listenCtx) })
	}
	if cfg.SyncEnabled {
		e.goRun(func() { e.scheduleLoop(listenCtx) })
	}

	<-ctx.Done()
	e.Log.Info("reactor stopping")
	stopListen()
	e.stopAccounts()
	e.pool.stop()
	e.wg.Wait()
	e.Log.Info("reactor stopped")
	return nil
}

func (e *Engine) goRun(fn func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
}

// listen runs the Postgres listener until ctx ends.
func (e *Engine) listen(ctx context.Context) {
	channels := []string{notify.ChannelAccounts}
	if e.Config.SyncEnabled {
		channels = append(channels, notify.ChannelPresence, notify.ChannelSync)
	}
	if e.Config.OutboxEnabled {
		channels = append(channels, notify.ChannelOutbox)
	}
	l := &notify.Listener{
		Connect:  metrics.TrackListener(e.Store.ConnectListener),
		Log:      e.Log,
		Channels: channels,
		OnEvent:  e.handleEvent,

		Ping:         e.Store.Notify,
		PingInterval: e.Config.ListenPingInterval,
		Instance:     e.Config.InstanceID,
	}
	if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		e.Log.Error("listener stopped", "err", err)
	}
}

func (e *Engine) handleEvent(ev notify.Event) {
	switch ev.Channel {
	case notify.ChannelOutbox:
		e.submitSweep()
	case notify.ChannelPresence:
		e.goRun(func() { e.handlePresence(e.eventContext(), ev) })
	case notify.ChannelSync:
		e.goRun(func() { e.handleSyncRequest(e.eventContext(), ev) })
	case notify.ChannelAccounts:
		if !e.Config.SyncEnabled {
			return
		}
		if ev.Backlog && !e.listenedBefore.Swap(true) {
			// The watchers started from the current rows a moment ago.
			return
		}
		// A reload waits for the old watcher to log out, so it runs off the
		// listener's goroutine; reloadMu keeps reloads in order.
		e.goRun(func() {
			e.reloadMu.Lock()
			defer e.reloadMu.Unlock()
			if ev.All {
				e.reloadAllAccounts()
			} else {
				e.reloadAccount(ev.ID)
			}
		})
	}
}

// eventContext returns the context of Run for work started by an event.
func (e *Engine) eventContext() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runCtx == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return e.runCtx
}

// submitSweep queues the outbox sweep unless one already waits.
func (e *Engine) submitSweep() {
	e.submit(Task{Key: outboxSweepKey, Kind: KindSend, Run: e.sweepOutbox})
}

func (e *Engine) submit(t Task) {
	if err := e.pool.Submit(t); !errors.Is(err, errQueueFull) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.lastDrop) >= dropLogEvery {
		e.lastDrop = time.Now()
		e.Log.Warn("task queue full, dropping tasks; the next sweep recovers them",
			"task", t.Key, "limit", e.Config.QueueLimit(), "dropped_total", e.pool.Dropped())
	}
}

func (e *Engine) sweepOutbox(ctx context.Context) {
	n, err := e.sender.Sweep(ctx)
	if err != nil {
		e.Log.Error("outbox sweep failed", "err", err)
		return
	}
	if n == outboxBatchSize {
		e.submitSweep()
	}
	// Let the timer recompute the earliest retry or lease expiry.
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// outboxTimer runs the fallback sweep every OutboxSweepInterval, and sooner
// when a retry or an expired lease comes due.
func (e *Engine) outboxTimer(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			e.submitSweep()
		case <-e.wake:
		}
		timer.Reset(e.nextSweepDelay(ctx))
	}
}

func (e *Engine) nextSweepDelay(ctx context.Context) time.Duration {
	delay := e.Config.OutboxSweepInterval
	next, ok, err := e.Store.NextOutboxDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Warn("find next outbox retry failed", "err", err)
		}
		return delay
	}
	if ok {
		delay = min(delay, max(time.Until(next), 10*time.Millisecond))
	}
	return delay
}

// String describes the engine for logs.
func (e *Engine) String() string { return fmt.Sprintf("reactor %s", e.Config.InstanceID) }
