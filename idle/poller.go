package idle

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// pollRequestBuffer bounds the sync requests waiting for a poller; past it
// requests are dropped, and the next poll or sweep finds the change.
const pollRequestBuffer = 64

// lingerTimeout is how long a poller with no folders to poll keeps its
// connection open after the last request.
const lingerTimeout = time.Minute

// Poller serves the folders of one account that are not watched: the
// folders over the account's connection cap, every folder of a server
// without IDLE, and requested syncs of any folder without a watcher. It
// uses one connection, checks the polled folders with STATUS every
// Interval and syncs those that changed.
type Poller struct {
	Account   store.Account
	Mailboxes []string
	Store     *store.Store
	Syncer    *reconcile.Syncer
	Log       *slog.Logger
	Slots     Slots
	RootCAs   *x509.CertPool
	FullSync  func(ctx context.Context, c *imapclient.Client, folder store.Folder, sel *imap.SelectData) (store.Folder, error)
	// Discover, when set, refreshes the account's folder rows from LIST.
	Discover func(ctx context.Context, c *imapclient.Client, accountID int64) error

	// Interval is the time between two STATUS rounds.
	Interval     time.Duration
	ReconnectMax time.Duration
	Timeouts     Timeouts

	requests chan FolderRequest
	// pending are requests taken from the channel before a session
	// started; the session serves them first.
	pending []FolderRequest
}

// FolderRequest is a sync of one folder for a poller, or with Discover
// set a refresh of the account's folder list.
type FolderRequest struct {
	Mailbox  string
	Full     bool
	Discover bool
}

// NewPoller returns a poller ready to take requests; set its fields before
// calling Run.
func NewPoller() *Poller {
	return &Poller{requests: make(chan FolderRequest, pollRequestBuffer)}
}

// Request queues a sync without blocking. It returns false when the queue
// is full and the request was dropped.
func (p *Poller) Request(r FolderRequest) bool {
	select {
	case p.requests <- r:
		return true
	default:
		return false
	}
}

// Run polls until ctx is cancelled, reconnecting after errors, and
// returns ctx's error. With no folders to poll it connects only while it
// has requests to serve.
func (p *Poller) Run(ctx context.Context) error {
	log := p.Log.With("acntid", p.Account.ID, "poller", true)
	r := &reconnector{account: p.Account, store: p.Store, log: log, max: p.ReconnectMax, min: p.Timeouts.ReconnectMin}
	for {
		if len(p.Mailboxes) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case req := <-p.requests:
				p.pending = append(p.pending, req)
			}
		}
		if err := r.run(ctx, func(ctx context.Context) error { return p.session(ctx, log) }); err != nil {
			return err
		}
	}
}

func (p *Poller) session(ctx context.Context, log *slog.Logger) error {
	c, err := imapconn.Dial(ctx, p.Account.IMAP, imapconn.Options{RootCAs: p.RootCAs})
	if err != nil {
		return err
	}
	defer logout(c)

	timer := time.NewTimer(0)
	defer timer.Stop()
	linger := time.NewTimer(lingerTimeout)
	defer linger.Stop()
	idleSince := time.Now()
	statusOK := false
	for len(p.pending) > 0 {
		if err := p.serve(ctx, c, log, p.pending[0]); err != nil {
			return err
		}
		p.pending = p.pending[1:]
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Closed():
			return fmt.Errorf("connection closed")
		case req := <-p.requests:
			if err := p.serve(ctx, c, log, req); err != nil {
				return err
			}
			idleSince = time.Now()
		case <-linger.C:
			if len(p.Mailboxes) == 0 && time.Since(idleSince) >= lingerTimeout {
				// Nothing to poll: free the connection until the next request.
				return nil
			}
			linger.Reset(lingerTimeout)
		case <-timer.C:
			if err := p.pollRound(ctx, c, log); err != nil {
				return err
			}
			if !statusOK {
				statusOK = true
				r := &reconnector{account: p.Account, store: p.Store, log: log}
				r.recordStatus(ctx, store.AccountOK, nil)
			}
			timer.Reset(p.Interval)
		}
	}
}

// serve runs one request. A folder the server rejects is logged and
// skipped; other errors end the session.
func (p *Poller) serve(ctx context.Context, c *imapclient.Client, log *slog.Logger, req FolderRequest) error {
	if req.Discover {
		if p.Discover == nil {
			return nil
		}
		if err := p.Slots.Acquire(ctx); err != nil {
			return err
		}
		defer p.Slots.Release()
		if err := p.Discover(ctx, c, p.Account.ID); err != nil {
			return fmt.Errorf("list folders: %w", err)
		}
		return nil
	}
	if err := p.sync(ctx, c, log, req.Mailbox, req.Full); err != nil {
		return p.folderOnly(ctx, log, req.Mailbox, err)
	}
	return nil
}

// pollRound checks every polled folder with STATUS and syncs the ones whose
// UIDNEXT or UIDVALIDITY moved past what is stored.
func (p *Poller) pollRound(ctx context.Context, c *imapclient.Client, log *slog.Logger) error {
	for _, mailbox := range p.Mailboxes {
		folder, err := p.Store.EnsureFolder(ctx, p.Account.ID, mailbox, "high")
		if err != nil {
			return err
		}
		if err := p.Store.SetWatchState(ctx, folder.ID, store.WatchPolling); err != nil {
			log.Warn("record watcher state failed", "emfdid", folder.ID, "err", err)
		}
		var status *imap.StatusData
		err = imapconn.Bound(ctx, c, p.Timeouts.command(), func() error {
			var err error
			status, err = c.Status(mailbox, &imap.StatusOptions{UIDNext: true, UIDValidity: true}).Wait()
			return err
		})
		if err != nil {
			if err := p.folderOnly(ctx, log, mailbox, err); err != nil {
				return fmt.Errorf("STATUS %q: %w", mailbox, err)
			}
			continue
		}
		changed := status.UIDValidity != folder.UIDValidity || uint32(status.UIDNext) > folder.LastUID+1
		if !changed {
			continue
		}
		log.Debug("polled folder changed", "mailbox", mailbox, "uidnext", status.UIDNext, "last_uid", folder.LastUID)
		if err := p.sync(ctx, c, log, mailbox, false); err != nil {
			if err := p.folderOnly(ctx, log, mailbox, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// sync selects mailbox on the poller's connection and syncs it.
func (p *Poller) sync(ctx context.Context, c *imapclient.Client, log *slog.Logger, mailbox string, full bool) error {
	if err := p.Slots.Acquire(ctx); err != nil {
		return err
	}
	defer p.Slots.Release()

	folder, err := p.Store.EnsureFolder(ctx, p.Account.ID, mailbox, "low")
	if err != nil {
		return err
	}
	var sel *imap.SelectData
	err = imapconn.Bound(ctx, c, p.Timeouts.command(), func() error {
		var err error
		sel, err = c.Select(mailbox, selectOptions(c)).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("select %q: %w", mailbox, err)
	}
	if full && p.FullSync != nil {
		_, err = p.FullSync(ctx, c, folder, sel)
	} else {
		_, _, err = p.Syncer.SyncRecent(ctx, c, folder, reconcile.Selected{UIDValidity: sel.UIDValidity, NumMessages: sel.NumMessages})
	}
	if err != nil {
		p.Store.SetFolderError(context.WithoutCancel(ctx), folder.ID, err)
		log.Warn("folder sync failed", "emfdid", folder.ID, "mailbox", mailbox, "err", err)
		return err
	}
	return nil
}

// folderOnly turns a server's NO or BAD about one folder into a logged
// folder error, so one broken folder does not cost the connection; other
// errors are returned.
func (p *Poller) folderOnly(ctx context.Context, log *slog.Logger, mailbox string, err error) error {
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) {
		return err
	}
	if folder, ferr := p.Store.EnsureFolder(ctx, p.Account.ID, mailbox, "low"); ferr == nil {
		p.Store.SetFolderError(context.WithoutCancel(ctx), folder.ID, err)
	}
	log.Warn("folder cannot be synced", "mailbox", mailbox, "err", err)
	return nil
}
