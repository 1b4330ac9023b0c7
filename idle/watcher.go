package idle

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

const (
	// commandTimeout bounds SELECT, NOOP, entering IDLE and leaving it.
	commandTimeout = 30 * time.Second
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
	// announcement.
	SyncInterval time.Duration
	// ReconnectMax caps the delay between reconnects.
	ReconnectMax time.Duration

	// OnSynced, when set, is called after each sync with the count stored.
	OnSynced func(stored int)
}

// Run watches the folder until ctx is cancelled, reconnecting after every
// error. It returns ctx's error.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.Log.With("acntid", w.Account.ID, "mailbox", w.Mailbox)
	retry := newBackoff(time.Second, w.ReconnectMax)
	authRetry := newBackoff(authRetryMin, authRetryMax)
	attempt := 0

	log.Debug("watcher started")
	defer log.Debug("watcher stopped")
	for {
		started := time.Now()
		err := w.session(ctx, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(started) > healthyAfter {
			retry.Reset()
			attempt = 0
		}
		attempt++

		var delay time.Duration
		var authErr *imapconn.AuthError
		if errors.As(err, &authErr) {
			delay = authRetry.NextBackOff()
			w.recordStatus(ctx, log, store.AccountAuthFailed, err)
		} else {
			authRetry.Reset()
			delay = retry.NextBackOff()
			w.recordStatus(ctx, log, store.AccountError, err)
		}
		log.Warn("IMAP session failed, reconnecting", "attempt", attempt, "delay", delay.Round(time.Millisecond), "err", err)

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
	)
	return b
}

// recordStatus writes the account's status and logs it once per change.
func (w *Watcher) recordStatus(ctx context.Context, log *slog.Logger, status string, cause error) {
	changed, err := w.Store.SetAccountStatus(context.WithoutCancel(ctx), w.Account.ID, status, cause)
	if err != nil {
		log.Error("record account status failed", "status", status, "err", err)
		return
	}
	if changed && status == store.AccountAuthFailed {
		log.Error("IMAP login rejected; the account is marked auth_failed until its password is fixed", "err", cause)
	}
}

// session runs one connection from dial to the first error.
func (w *Watcher) session(ctx context.Context, log *slog.Logger) error {
	changed := make(chan struct{}, 1)
	signal := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := &imapclient.UnilateralDataHandler{
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				signal()
			}
		},
		// TODO: record expunges and flag changes instead of only
		// re-running the recent sync.
		Expunge: func(uint32) { signal() },
	}

	c, err := imapconn.Dial(ctx, w.Account.IMAP, imapconn.Options{UnilateralDataHandler: handler, RootCAs: w.RootCAs})
	if err != nil {
		return err
	}
	defer w.logout(c)

	folder, err := w.Store.EnsureFolder(ctx, w.Account.ID, w.Mailbox, "high")
	if err != nil {
		return err
	}
	log = log.With("emfdid", folder.ID)

	var sel *imap.SelectData
	err = imapconn.Bound(ctx, c, commandTimeout, func() error {
		var err error
		sel, err = c.Select(w.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("select %q: %w", w.Mailbox, err)
	}
	log.Debug("watching folder", "uidvalidity", sel.UIDValidity, "exists", sel.NumMessages)

	loop := &sessionLoop{watcher: w, client: c, folder: folder, log: log, changed: changed,
		uidValidity: sel.UIDValidity}
	return loop.run(ctx)
}

// logout ends the session politely with a short deadline, then closes.
func (w *Watcher) logout(c *imapclient.Client) {
	imapconn.Bound(context.Background(), c, 5*time.Second, func() error { return c.Logout().Wait() })
	c.Close()
}
