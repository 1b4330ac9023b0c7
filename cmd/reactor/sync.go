package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// syncCommandTimeout bounds SELECT; the sync itself is bounded by its own
// stall deadline.
const syncCommandTimeout = time.Minute

// cmdSync syncs one account's folders, or one folder, from the shell, on
// a connection of its own. It works beside a running reactor: both write
// through the same idempotent store.
func cmdSync(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	account := fs.Int64("account", 0, "acntid of the account to sync (required)")
	folder := fs.String("folder", "", "mailbox name to sync; default every folder of the account")
	full := fs.Bool("full", false, "full sync: flags and expunges too, not only new messages")
	if err := fs.Parse(e.args); err != nil {
		return exitError(2)
	}
	if *account <= 0 {
		fmt.Fprintln(e.stderr, "reactor sync: -account is required: give the acntid from email_accounts")
		return exitError(2)
	}

	cfg, log, st, err := setup(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}
	a, err := st.Account(ctx, *account)
	if err != nil {
		return err
	}
	roots, err := loadRoots(cfg.TLSCAFile)
	if err != nil {
		return err
	}
	c, err := imapconn.Dial(ctx, a.IMAP, imapconn.Options{RootCAs: roots})
	if err != nil {
		return err
	}
	defer func() {
		imapconn.Bound(context.Background(), c, 5*time.Second, func() error { return c.Logout().Wait() })
		c.Close()
	}()

	bar := newProgressBar(e.stderr)
	syncer := &reconcile.Syncer{Store: st, Log: log, BatchSize: cfg.SyncBatchSize}
	if bar != nil {
		syncer.Progress = bar.update
		// The bar and the lines on stdout show the progress; info lines
		// would break the bar.
		if cfg.LogLevel == "info" {
			syncer.Log = newLogger(e.stderr, "warn", cfg.LogFormat)
		}
	}
	folders, err := syncTargets(ctx, syncer, st, c, a.ID, *folder)
	if err != nil {
		return err
	}

	var failed []string
	for _, f := range folders {
		if bar != nil {
			bar.begin(f.Name)
		}
		summary, err := syncOne(ctx, syncer, c, f, *full)
		if bar != nil {
			bar.end()
		}
		if err != nil {
			fmt.Fprintf(e.stdout, "FAIL %s: %v\n", f.Name, err)
			failed = append(failed, f.Name)
			var imapErr *imap.Error
			if !errors.As(err, &imapErr) {
				// The connection is gone; the other folders cannot go on.
				break
			}
			continue
		}
		fmt.Fprintf(e.stdout, "ok   %s: %s\n", f.Name, summary)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d folders failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// syncTargets returns the one named folder, or every folder of the
// account after refreshing the list from the server.
func syncTargets(ctx context.Context, syncer *reconcile.Syncer, st *store.Store, c *imapclient.Client,
	acntid int64, name string) ([]store.Folder, error) {
	if name != "" {
		f, err := st.EnsureFolder(ctx, acntid, name, "low")
		if err != nil {
			return nil, err
		}
		return []store.Folder{f}, nil
	}
	return syncer.DiscoverFolders(ctx, c, acntid)
}

func syncOne(ctx context.Context, syncer *reconcile.Syncer, c *imapclient.Client, f store.Folder, full bool) (string, error) {
	var sel *imap.SelectData
	err := imapconn.Bound(ctx, c, syncCommandTimeout, func() error {
		var err error
		opts := &imap.SelectOptions{ReadOnly: true, CondStore: c.Caps().Has(imap.CapCondStore)}
		sel, err = c.Select(f.Name, opts).Wait()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("select: %w", err)
	}
	if full {
		_, res, err := syncer.SyncFull(ctx, c, f, sel)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d fetched, %d flags updated, %d expunged, %d re-matched",
			res.Fetched, res.FlagsUpdated, res.Expunged, res.Rematched), nil
	}
	_, stored, err := syncer.SyncRecent(ctx, c, f, reconcile.Selected{
		UIDValidity: sel.UIDValidity, NumMessages: sel.NumMessages, UIDNext: sel.UIDNext})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d new messages", stored), nil
}

// progressBar draws one line on a terminal: folder, bar, count, rate and
// time left.
type progressBar struct {
	w      io.Writer
	mu     sync.Mutex
	name   string
	start  time.Time
	drawn  bool
	lastAt time.Time
}

// newProgressBar returns nil unless w is a terminal; elsewhere the sync
// logs its progress every few seconds instead.
func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: w}
}

func (b *progressBar) begin(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.name, b.start, b.drawn = name, time.Now(), false
}

func (b *progressBar) update(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.lastAt) < 100*time.Millisecond && done < total {
		return
	}
	b.lastAt = now
	const width = 30
	filled := width
	if total > 0 {
		filled = min(width, width*done/total)
	}
	rate := float64(done) / max(now.Sub(b.start).Seconds(), 0.001)
	left := ""
	if rate > 0 && total > done {
		left = " " + (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String() + " left"
	}
	fmt.Fprintf(b.w, "\r%-20.20s [%s%s] %d/%d %.0f/s%s\033[K",
		b.name, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total, rate, left)
	b.drawn = true
}

func (b *progressBar) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
