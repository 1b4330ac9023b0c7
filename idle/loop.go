package idle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// sessionLoop alternates between sync and IDLE on one selected mailbox.
type sessionLoop struct {
	watcher     *Watcher
	client      *imapclient.Client
	folder      store.Folder
	log         *slog.Logger
	signals     *signals
	uidValidity uint32
	synced      bool
}

// errClosedDuringIdle means the server closed a healthy connection while
// it was in IDLE, as servers with an inactivity timeout do. It is routine:
// the watcher reconnects at once and catches up.
var errClosedDuringIdle = errors.New("server closed the connection during IDLE")

// syncKind is the kind of sync the loop runs after leaving IDLE.
type syncKind int

const (
	syncNone syncKind = iota
	syncRecent
	syncFull
)

func (k syncKind) String() string {
	switch k {
	case syncRecent:
		return "recent sync"
	case syncFull:
		return "full sync"
	}
	return "restart"
}

func (l *sessionLoop) run(ctx context.Context) error {
	// A zero SyncInterval leaves the timer stopped: the caller requests
	// the sweeps instead.
	syncTimer := time.NewTimer(l.watcher.SyncInterval)
	if l.watcher.SyncInterval <= 0 {
		syncTimer.Stop()
	}
	defer syncTimer.Stop()

	// Every session starts with a recent sync, which catches up on what
	// arrived while the watcher was disconnected.
	next := syncRecent
	for {
		switch next {
		case syncRecent:
			if err := l.syncRecent(ctx); err != nil {
				return err
			}
			if l.watcher.SyncInterval > 0 {
				syncTimer.Reset(l.watcher.SyncInterval)
			}
		case syncFull:
			if err := l.syncFull(ctx); err != nil {
				return err
			}
		}

		var err error
		next, err = l.idle(ctx, syncTimer.C)
		if err != nil {
			return err
		}
		if next == syncNone {
			// A NOOP round trip under a deadline proves the connection
			// still carries responses before the next IDLE.
			err := imapconn.Bound(ctx, l.client, l.watcher.Timeouts.command(), func() error { return l.client.Noop().Wait() })
			if err != nil {
				return fmt.Errorf("NOOP after IDLE restart: %w", err)
			}
		}
	}
}

func (l *sessionLoop) syncRecent(ctx context.Context) error {
	if err := l.watcher.Slots.Acquire(ctx); err != nil {
		return err
	}
	defer l.watcher.Slots.Release()
	l.watcher.state.set(ctx, store.WatchSyncing)
	announced := l.signals.takeAnnounced()

	numMessages := uint32(0)
	if mbox := l.client.Mailbox(); mbox != nil {
		numMessages = mbox.NumMessages
	}
	folder, stored, err := l.watcher.Syncer.SyncRecent(ctx, l.client, l.folder,
		reconcile.Selected{UIDValidity: l.uidValidity, NumMessages: numMessages})
	l.folder = folder
	if err != nil {
		l.watcher.Store.SetFolderError(context.WithoutCancel(ctx), l.folder.ID, err)
		return err
	}
	if !l.synced {
		l.synced = true
		r := &reconnector{account: l.watcher.Account, store: l.watcher.Store, log: l.log}
		r.recordStatus(ctx, store.AccountOK, nil)
	}
	if stored > 0 {
		metrics.ExistsToStored(announced)
	}
	if l.watcher.OnSynced != nil {
		l.watcher.OnSynced(stored)
	}
	return nil
}

// syncFull selects the mailbox again, for a current HIGHESTMODSEQ and
// UIDNEXT, and runs the full sync; without a FullSync function it falls
// back to a recent sync.
func (l *sessionLoop) syncFull(ctx context.Context) error {
	if l.watcher.FullSync == nil {
		return l.syncRecent(ctx)
	}
	if err := l.watcher.Slots.Acquire(ctx); err != nil {
		return err
	}
	defer l.watcher.Slots.Release()
	l.watcher.state.set(ctx, store.WatchSyncing)

	var sel *imap.SelectData
	err := imapconn.Bound(ctx, l.client, l.watcher.Timeouts.command(), func() error {
		var err error
		sel, err = l.client.Select(l.watcher.Mailbox, selectOptions(l.client)).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("select %q: %w", l.watcher.Mailbox, err)
	}
	l.uidValidity = sel.UIDValidity
	folder, err := l.watcher.FullSync(ctx, l.client, l.folder, sel)
	l.folder = folder
	if err != nil {
		l.watcher.Store.SetFolderError(context.WithoutCancel(ctx), l.folder.ID, err)
		return err
	}
	return nil
}

// selectOptions requests HIGHESTMODSEQ when the server offers CONDSTORE.
func selectOptions(c *imapclient.Client) *imap.SelectOptions {
	return &imap.SelectOptions{ReadOnly: true, CondStore: c.Caps().Has(imap.CapCondStore)}
}

// idle runs one IDLE command until the server announces a change, a sync
// is requested or due, the restart interval passes, or ctx ends. Then it
// leaves IDLE, waits for the server's tagged OK under a deadline, and
// returns what to sync; syncNone means the restart interval passed.
func (l *sessionLoop) idle(ctx context.Context, syncDue <-chan time.Time) (syncKind, error) {
	var cmd *imapclient.IdleCommand
	err := imapconn.Bound(ctx, l.client, l.watcher.Timeouts.command(), func() error {
		var err error
		cmd, err = l.client.Idle()
		return err
	})
	if err != nil {
		return syncNone, fmt.Errorf("start IDLE: %w", err)
	}

	restart := time.NewTimer(l.watcher.RestartInterval)
	defer restart.Stop()
	l.watcher.state.set(ctx, store.WatchIdle)

	next := syncNone
	select {
	case <-ctx.Done():
		cmd.Close()
		return syncNone, ctx.Err()
	case <-l.client.Closed():
		if l.synced {
			return syncNone, errClosedDuringIdle
		}
		return syncNone, fmt.Errorf("connection closed during IDLE")
	case <-l.signals.exists:
		next = syncRecent
	case <-l.signals.changed:
		next = syncFull
	case req := <-l.watcher.requestChan():
		next = syncRecent
		if req.Full {
			next = syncFull
		}
	case <-syncDue:
		next = syncRecent
	case <-restart.C:
	}

	l.log.Debug("leaving IDLE", "next", next)
	err = imapconn.Bound(ctx, l.client, l.watcher.Timeouts.command(), func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	})
	if err != nil {
		return syncNone, fmt.Errorf("leave IDLE: %w", err)
	}
	return next, nil
}
