package reactor

import (
	"context"
	"errors"
	"reflect"
	"slices"

	"github.com/mailreactor/mailreactor/idle"
	"github.com/mailreactor/mailreactor/store"
)

// runningAccount is an account runner and how to stop it.
type runningAccount struct {
	runner *accountRunner
	cancel context.CancelFunc
	done   chan struct{}
}

// startAccounts starts a runner for every enabled account.
func (e *Engine) startAccounts(ctx context.Context) error {
	accounts, err := e.Store.EnabledAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		e.startAccount(ctx, a)
	}
	e.Log.Info("accounts started", "accounts", len(accounts))
	return nil
}

func (e *Engine) startAccount(parent context.Context, a store.Account) {
	ctx, cancel := context.WithCancel(parent)
	if _, err := e.Store.EnsureFolder(ctx, a.ID, inboxName, "high"); err != nil {
		e.Log.Error("create INBOX folder row failed", "acntid", a.ID, "err", err)
	}
	names, err := e.watchNames(ctx, a.ID)
	if err != nil {
		e.Log.Error("list folders failed; watching INBOX only", "acntid", a.ID, "err", err)
	}
	runner := &accountRunner{engine: e, account: a, log: e.Log.With("acntid", a.ID), names: names,
		watchers: make(map[string]*idle.Watcher)}
	ra := &runningAccount{runner: runner, cancel: cancel, done: make(chan struct{})}
	e.mu.Lock()
	e.accounts[a.ID] = ra
	e.mu.Unlock()

	e.goRun(func() {
		defer close(ra.done)
		runner.run(ctx)
	})
}

// running reports whether Run is between start and shutdown.
func (e *Engine) running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runCtx != nil && e.runCtx.Err() == nil
}

// reloadAccount restarts the account's runner with the account's current
// row and folders, starts one for a newly enabled account, or stops the
// runner of a removed or disabled one. Notifications are hints, so an
// account whose row and watched folders did not change keeps running.
func (e *Engine) reloadAccount(id int64) {
	e.mu.Lock()
	ra := e.accounts[id]
	ctx := e.runCtx
	e.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}

	a, err := e.Store.Account(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.Log.Error("reload account failed", "acntid", id, "err", err)
		return
	}
	found := err == nil
	if ra != nil && found && a.Enabled && reflect.DeepEqual(ra.runner.account, a) {
		names, err := e.watchNames(ctx, id)
		if err == nil && slices.Equal(names, ra.runner.names) {
			return
		}
	}

	e.mu.Lock()
	delete(e.accounts, id)
	e.mu.Unlock()
	if ra != nil {
		ra.cancel()
		<-ra.done
	}
	switch {
	case !found:
		if ra != nil {
			e.Log.Info("account removed, its connections closed", "acntid", id)
		}
	case !a.Enabled:
		if ra != nil {
			e.Log.Info("account disabled, its connections closed", "acntid", id)
		}
	default:
		e.Log.Info("account changed, its connections restarted", "acntid", id)
		e.startAccount(ctx, a)
	}
}

// reloadAllAccounts restarts every account's runner.
func (e *Engine) reloadAllAccounts() {
	e.mu.Lock()
	ids := make(map[int64]bool, len(e.accounts))
	for id := range e.accounts {
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

// stopAccounts cancels every runner and waits until each has logged out.
func (e *Engine) stopAccounts() {
	e.mu.Lock()
	accounts := e.accounts
	e.accounts = make(map[int64]*runningAccount)
	e.runCtx = nil
	e.mu.Unlock()
	for _, ra := range accounts {
		ra.cancel()
	}
	for _, ra := range accounts {
		<-ra.done
	}
}

// requestSync requests a sync of one folder from the account's runner.
func (e *Engine) requestSync(acntid int64, mailbox string, full bool) bool {
	e.mu.Lock()
	ra := e.accounts[acntid]
	e.mu.Unlock()
	if ra == nil {
		return false
	}
	return ra.runner.request(mailbox, full)
}
