package reactor

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/mailreactor/mailreactor/idle"
	"github.com/mailreactor/mailreactor/store"
)

// inboxName is the one mailbox name that every IMAP server has.
const inboxName = "INBOX"

// accountRunner owns the IMAP connections of one account: a watcher per
// watched folder and one poller for the rest, within the account's
// connection cap.
type accountRunner struct {
	engine  *Engine
	account store.Account
	log     *slog.Logger

	// names are the high-priority folders the runner started with, INBOX
	// first.
	names []string

	mu       sync.Mutex
	watchers map[string]*idle.Watcher
	poller   *idle.Poller
}

// watchNames returns the account's high-priority folder names, INBOX
// first.
func (e *Engine) watchNames(ctx context.Context, acntid int64) ([]string, error) {
	candidates, err := e.Store.WatchCandidates(ctx, acntid)
	if err != nil {
		return []string{inboxName}, err
	}
	names := []string{inboxName}
	for _, f := range candidates {
		if !strings.EqualFold(f.Name, inboxName) {
			names = append(names, f.Name)
		}
	}
	return names, nil
}

// plan splits the account's high-priority folders into watched and polled
// ones. One connection of the cap stays for the poller, which also serves
// requested syncs of folders without a watcher.
func plan(folders []string, maxConnections int) (watched, polled []string) {
	n := min(len(folders), maxConnections-1)
	if n < 0 {
		n = 0
	}
	return folders[:n], folders[n:]
}

// run starts the account's watchers and poller and blocks until ctx ends.
// When the server turns out not to offer IDLE, it polls every folder.
func (r *accountRunner) run(ctx context.Context) {
	e := r.engine
	names := r.names

	watched, polled := plan(names, e.Config.MaxConnections)
	if len(polled) > 0 {
		r.log.Info("folders over the connection cap are polled instead of watched",
			"max_connections", e.Config.MaxConnections, "watched", watched, "polled", polled,
			"poll_interval", e.Config.PollInterval)
	}
	if !r.runWatched(ctx, watched, polled) {
		return
	}

	r.log.Warn("IMAP server does not offer IDLE; polling every folder",
		"folders", names, "poll_interval", e.Config.PollInterval)
	r.runPoller(ctx, names)
}

// runWatched runs the watchers and the poller until ctx ends, and returns
// true when a watcher found that the server has no IDLE.
func (r *accountRunner) runWatched(ctx context.Context, watched, polled []string) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var noIdle bool
	var wg sync.WaitGroup
	for _, mailbox := range watched {
		w := r.newWatcher(mailbox)
		r.mu.Lock()
		r.watchers[mailbox] = w
		r.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var noIdleErr *idle.NoIdleError
			if err := w.Run(ctx); errors.As(err, &noIdleErr) {
				r.mu.Lock()
				noIdle = true
				r.mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.runPoller(ctx, polled)
	}()
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.watchers = map[string]*idle.Watcher{}
	return noIdle && context.Cause(ctx) == context.Canceled && r.engine.running()
}

func (r *accountRunner) newWatcher(mailbox string) *idle.Watcher {
	e := r.engine
	return &idle.Watcher{
		Account:         r.account,
		Mailbox:         mailbox,
		Store:           e.Store,
		Syncer:          e.syncer,
		Log:             e.Log,
		Slots:           e.pool,
		RootCAs:         e.RootCAs,
		FullSync:        e.fullSync,
		RestartInterval: e.Config.IdleRestartInterval,
		// The scheduler requests the fallback sweeps.
		SyncInterval: 0,
		ReconnectMax: e.Config.ReconnectMax,
	}
}

// runPoller runs the account's poller for mailboxes until ctx ends.
func (r *accountRunner) runPoller(ctx context.Context, mailboxes []string) {
	e := r.engine
	p := idle.NewPoller()
	p.Account = r.account
	p.Mailboxes = mailboxes
	p.Store, p.Syncer, p.Log, p.Slots, p.RootCAs = e.Store, e.syncer, e.Log, e.pool, e.RootCAs
	p.FullSync = e.fullSync
	p.Discover = e.discover
	p.Interval = e.Config.PollInterval
	p.ReconnectMax = e.Config.ReconnectMax
	r.mu.Lock()
	r.poller = p
	r.mu.Unlock()
	p.Run(ctx)
}

// discover requests a refresh of the account's folder list from the poller.
func (r *accountRunner) discover() bool {
	r.mu.Lock()
	p := r.poller
	r.mu.Unlock()
	return p != nil && p.Request(idle.FolderRequest{Discover: true})
}

// request routes a sync of one folder to its watcher, or to the poller
// when the folder has none. It returns false when the request was dropped.
func (r *accountRunner) request(mailbox string, full bool) bool {
	r.mu.Lock()
	w, p := r.watchers[mailbox], r.poller
	r.mu.Unlock()
	if w != nil {
		w.Request(idle.Request{Full: full})
		return true
	}
	if p != nil {
		return p.Request(idle.FolderRequest{Mailbox: mailbox, Full: full})
	}
	return false
}
