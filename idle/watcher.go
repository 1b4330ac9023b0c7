package idle

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// Timeouts are a watcher's liveness deadlines. Any deadline that passes
// closes the connection, and the watcher reconnects.
type Timeouts struct {
	// Command bounds SELECT, STATUS, NOOP, entering IDLE and leaving it.
	// Defaults to 30 s.
	Command time.Duration
	// ReconnectMin is the first reconnect delay. Defaults to 1 s.
	ReconnectMin time.Duration
}

func (t Timeouts) command() time.Duration { return cmp.Or(t.Command, 30*time.Second) }

const (
	// healthyAfter is how long a session must run before the reconnect
	// backoff starts over from its first interval.
	healthyAfter = time.Minute
	// authRetryMin and authRetryMax bound the retries of an account whose
	// login was rejected; only a fixed password helps, and a change to the
	// account row restarts the watcher at once.
	authRetryMin = 5 * time.Minute
	authRetryMax = time.Hour
)

// Slots bounds how many syncs run at once across the reactor.
type Slots interface {
	Acquire(ctx context.Context) error
	Release()
}

// Watcher watches one folder of one account. Create it with its fields
// set and call Run.
type Watcher struct {
	Account store.Account
	Mailbox string
	Store   *store.Store
	Syncer  *reconcile.Syncer
	Log     *slog.Logger
	Slots   Slots
	RootCAs *x509.CertPool

	// RestartInterval is how long one IDLE command runs before the
	// watcher ends it, checks the connection with NOOP and starts again.
	RestartInterval time.Duration
	// SyncInterval is the fallback recent sync, for servers that miss an
	// announcement. Zero disables it, for callers that request sweeps.
	SyncInterval time.Duration
	// ReconnectMax caps the delay between reconnects.
	ReconnectMax time.Duration
	// Timeouts are the liveness deadlines; zero values mean the defaults.
	Timeouts Timeouts

	// FullSync, when set, runs a full sync (flags, expunges) of the
	// selected folder; without it a full sync request runs a recent sync.
	FullSync func(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData) (store.Folder, error)

	// OnSynced, when set, is called after each sync with the count stored.
	OnSynced func(stored int)

	initOnce sync.Once
	requests chan Request
	state    *stateRecorder
}

// Request is a sync to run on a watcher's connection.
type Request struct {
	// Full requests a full sync (flags, expunges) instead of a recent one.
	Full bool
}

// Request queues a sync on the watcher's connection. It never blocks:
// when two requests already wait, the new one is dropped, and the next
// scheduled sweep makes it again.
func (w *Watcher) Request(r Request) {
	select {
	case w.requestChan() <- r:
	default:
	}
}

func (w *Watcher) requestChan() chan Request {
	w.initOnce.Do(func() { w.requests = make(chan Request, 2) })
	return w.requests
}

// Run watches the folder until ctx is cancelled, reconnecting after every
// error. It returns ctx's error, or a *NoIdleError at once when the server
// does not offer IDLE.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.Log.With("acntid", w.Account.ID, "mailbox", w.Mailbox)
	w.state = &stateRecorder{store: w.Store, log: log, acntid: w.Account.ID, mailbox: w.Mailbox}
	defer w.state.set(ctx, "")
	r := &reconnector{account: w.Account, store: w.Store, log: log, max: w.ReconnectMax,
		min: w.Timeouts.ReconnectMin, state: w.state}
	return r.run(ctx, func(ctx context.Context) error { return w.session(ctx, log) })
}

// reconnector runs sessions of one account one after another, with
// backoff between them and the account's status kept in the database.
type reconnector struct {
	account store.Account
	store   *store.Store
	log     *slog.Logger
	min     time.Duration
	max     time.Duration
	// state, when set, records backoffs and rejected logins.
	state *stateRecorder
}

func (r *reconnector) run(ctx context.Context, session func(context.Context) error) error {
	retry := newBackoff(cmp.Or(r.min, time.Second), r.max)
	authRetry := newBackoff(authRetryMin, authRetryMax)
	attempt := 0

	r.log.Debug("connection loop started")
	defer r.log.Debug("connection loop stopped")
	for {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			// The session ended on purpose.
			return nil
		}
		var noIdle *NoIdleError
		if errors.As(err, &noIdle) {
			return err
		}
		if time.Since(started) > healthyAfter || errors.Is(err, errClosedDuringIdle) {
			retry.Reset()
			attempt = 0
		}
		attempt++
		if errors.Is(err, errClosedDuringIdle) {
			metrics.Reconnect()
			r.log.Info("server closed the IDLE connection, reconnecting", "err", err)
			continue
		}

		var delay time.Duration
		var authErr *imapconn.AuthError
		state := store.WatchBackoff
		if errors.As(err, &authErr) {
			delay = authRetry.NextBackOff()
			state = store.WatchAuthFailed
			r.recordStatus(ctx, store.AccountAuthFailed, err)
		} else {
			authRetry.Reset()
			delay = retry.NextBackOff()
			r.recordStatus(ctx, store.AccountError, err)
		}
		if r.state != nil {
			r.state.set(ctx, state)
		}
		metrics.Reconnect()
		r.log.Warn("IMAP session failed, reconnecting", "attempt", attempt,
			"delay", delay.Round(time.Millisecond).String(), "err", err)

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func newBackoff(initial, max time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMaxInterval(max),
		backoff.WithMaxElapsedTime(0),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMultiplier(2),
	)
	return b
}

// recordStatus writes the account's status and logs it once per change.
func (r *reconnector) recordStatus(ctx context.Context, status string, cause error) {
	changed, err := r.store.SetAccountStatus(context.WithoutCancel(ctx), r.account.ID, status, cause)
	if err != nil {
		r.log.Error("record account status failed", "status", status, "err", err)
		return
	}
	if changed && status == store.AccountAuthFailed {
		r.log.Error("IMAP login rejected; the account is marked auth_failed until its password is fixed", "err", cause)
	}
}

// session runs one connection from dial to the first error.
func (w *Watcher) session(ctx context.Context, log *slog.Logger) error {
	w.state.set(ctx, store.WatchConnecting)
	signals := newSignals()
	c, err := imapconn.Dial(ctx, w.Account.IMAP, imapconn.Options{UnilateralDataHandler: signals.handler(), RootCAs: w.RootCAs})
	if err != nil {
		return err
	}
	defer logout(c)
	if !c.Caps().Has(imap.CapIdle) && !c.Caps().Has(imap.CapIMAP4rev2) {
		return &NoIdleError{Addr: w.Account.IMAP.Addr()}
	}

	folder, err := w.Store.EnsureFolder(ctx, w.Account.ID, w.Mailbox, "high")
	if err != nil {
		return err
	}
	log = log.With("emfdid", folder.ID)
	w.state.folderID.Store(folder.ID)

	var sel *imap.SelectData
	err = imapconn.Bound(ctx, c, w.Timeouts.command(), func() error {
		var err error
		sel, err = c.Select(w.Mailbox, selectOptions(c)).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("select %q: %w", w.Mailbox, err)
	}
	log.Debug("watching folder", "uidvalidity", sel.UIDValidity, "exists", sel.NumMessages)

	loop := &sessionLoop{watcher: w, client: c, folder: folder, log: log, signals: signals,
		uidValidity: sel.UIDValidity}
	return loop.run(ctx)
}

// NoIdleError means the server does not offer IDLE, so the folder must be
// polled instead of watched.
type NoIdleError struct{ Addr string }

func (e *NoIdleError) Error() string {
	return fmt.Sprintf("IMAP server %s does not offer IDLE", e.Addr)
}

// logout ends the session politely with a short deadline, then closes.
func logout(c *imapclient.Client) {
	imapconn.Bound(context.Background(), c, 5*time.Second, func() error { return c.Logout().Wait() })
	c.Close()
}
