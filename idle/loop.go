package idle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// sessionLoop alternates between sync and IDLE on one selected mailbox.
type sessionLoop struct {
	watcher     *Watcher
	client      *imapclient.Client
	folder      store.Folder
	log         *slog.Logger
	changed     <-chan struct{}
	uidValidity uint32
	synced      bool
}

// wakeReason is why the loop left IDLE.
type wakeReason int

const (
	wakeChanged wakeReason = iota
	wakeRestart
	wakeSyncDue
)

func (l *sessionLoop) run(ctx context.Context) error {
	syncTimer := time.NewTimer(l.watcher.SyncInterval)
	defer syncTimer.Stop()

	needSync := true
	for {
		if needSync {
			if err := l.sync(ctx); err != nil {
				return err
			}
			syncTimer.Reset(l.watcher.SyncInterval)
		}

		reason, err := l.idle(ctx, syncTimer.C)
		if err != nil {
			return err
		}
		switch reason {
		case wakeRestart:
			// A NOOP round trip under a deadline proves the connection
			// still carries responses before the next IDLE.
			err := imapconn.Bound(ctx, l.client, commandTimeout, func() error { return l.client.Noop().Wait() })
			if err != nil {
				return fmt.Errorf("NOOP after IDLE restart: %w", err)
			}
			needSync = false
		default:
			needSync = true
		}
	}
}

func (l *sessionLoop) sync(ctx context.Context) error {
	if err := l.watcher.Slots.Acquire(ctx); err != nil {
		return err
	}
	defer l.watcher.Slots.Release()

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
		l.watcher.recordStatus(ctx, l.log, store.AccountOK, nil)
	}
	if l.watcher.OnSynced != nil {
		l.watcher.OnSynced(stored)
	}
	return nil
}

// idle runs one IDLE command until the server announces a change, the
// restart interval passes, a sync is due or ctx ends, then leaves IDLE and
// waits for the server's tagged OK under a deadline.
func (l *sessionLoop) idle(ctx context.Context, syncDue <-chan time.Time) (wakeReason, error) {
	var cmd *imapclient.IdleCommand
	err := imapconn.Bound(ctx, l.client, commandTimeout, func() error {
		var err error
		cmd, err = l.client.Idle()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start IDLE: %w", err)
	}

	restart := time.NewTimer(l.watcher.RestartInterval)
	defer restart.Stop()

	var reason wakeReason
	select {
	case <-ctx.Done():
		cmd.Close()
		return 0, ctx.Err()
	case <-l.client.Closed():
		return 0, fmt.Errorf("connection closed during IDLE")
	case <-l.changed:
		reason = wakeChanged
	case <-restart.C:
		reason = wakeRestart
	case <-syncDue:
		reason = wakeSyncDue
	}

	err = imapconn.Bound(ctx, l.client, commandTimeout, func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	})
	if err != nil {
		return 0, fmt.Errorf("leave IDLE: %w", err)
	}
	return reason, nil
}
