package reactor

import (
	"context"
	"errors"

	"github.com/mailreactor/mailreactor/idle"
	"github.com/mailreactor/mailreactor/store"
)

// inboxName is the one mailbox name that every IMAP server has.
const inboxName = "INBOX"

// startWatchers starts a watcher on the INBOX of every enabled account.
func (e *Engine) startWatchers(ctx context.Context) error {
	accounts, err := e.Store.EnabledAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		e.startWatcher(ctx, a)
	}
	e.Log.Info("watchers started", "accounts", len(accounts))
	return nil
}

func (e *Engine) startWatcher(parent context.Context, a store.Account) {
	ctx, cancel := context.WithCancel(parent)
	rw := &runningWatcher{cancel: cancel, done: make(chan struct{})}
	e.mu.Lock()
	e.watchers[a.ID] = rw
	e.mu.Unlock()

	w := &idle.Watcher{
		Account:         a,
		Mailbox:         inboxName,
		Store:           e.Store,
		Syncer:          e.syncer,
		Log:             e.Log,
		Slots:           e.pool,
		RootCAs:         e.RootCAs,
		RestartInterval: e.Config.IdleRestartInterval,
		SyncInterval:    e.Config.HiRecentSyncIntervalNL,
		ReconnectMax:    e.Config.ReconnectMax,
	}
	e.goRun(func() {
		defer close(rw.done)
		w.Run(ctx)
	})
}

// reloadAccount stops the account's watcher, if any, and starts a new one
// with the account's current row when it is enabled.
func (e *Engine) reloadAccount(id int64) {
	e.mu.Lock()
	rw := e.watchers[id]
	delete(e.watchers, id)
	ctx := e.runCtx
	e.mu.Unlock()
	if rw != nil {
		rw.cancel()
		<-rw.done
	}
	if ctx == nil || ctx.Err() != nil {
		return
	}

	a, err := e.Store.Account(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		e.Log.Info("account removed, watcher stopped", "acntid", id)
		return
	}
	if err != nil {
		e.Log.Error("reload account failed", "acntid", id, "err", err)
		return
	}
	if !a.Enabled {
		e.Log.Info("account disabled, watcher stopped", "acntid", id)
		return
	}
	e.Log.Info("account changed, watcher restarted", "acntid", id)
	e.startWatcher(ctx, a)
}

// reloadAllAccounts restarts the watchers of every account.
func (e *Engine) reloadAllAccounts() {
	e.mu.Lock()
	ids := make(map[int64]bool, len(e.watchers))
	for id := range e.watchers {
		ids[id] = true
	}
	ctx := e.runCtx
	e.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}
	accounts, err := e.Store.EnabledAccounts(ctx)
	if err != nil {
		e.Log.Error("reload accounts failed", "err", err)
		return
	}
	for _, a := range accounts {
		ids[a.ID] = true
	}
	for id := range ids {
		e.reloadAccount(id)
	}
}

// stopWatchers cancels every watcher and waits until each has logged out.
func (e *Engine) stopWatchers() {
	e.mu.Lock()
	watchers := e.watchers
	e.watchers = make(map[int64]*runningWatcher)
	e.runCtx = nil
	e.mu.Unlock()
	for _, rw := range watchers {
		rw.cancel()
	}
	for _, rw := range watchers {
		<-rw.done
	}
}
