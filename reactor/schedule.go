package reactor

import (
	"context"
	"strings"
	"time"

	"github.com/mailreactor/mailreactor/notify"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// redispatchAfter is how long the scheduler waits before it requests a
// sweep again that it requested before and that has not finished, so a
// slow or failing folder is not flooded with requests.
const redispatchAfter = 5 * time.Minute

type sweepKey struct {
	folderID int64
	full     bool
}

// scheduler turns the old system's intervals into requested sweeps. It
// reads the due folders from the database on every tick, so the times
// stored per folder carry the rhythm across restarts.
type scheduler struct {
	engine     *Engine
	dispatched map[sweepKey]time.Time
	// presenceSeen is when each owner's presence last triggered a sync.
	presenceSeen map[int64]time.Time
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// scheduleLoop runs the scheduler until ctx ends.
func (e *Engine) scheduleLoop(ctx context.Context) {
	ticker := time.NewTicker(e.Config.ScheduleTick)
	defer ticker.Stop()
	for {
		e.sched.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-e.scheduleWake:
		}
	}
}

func (s *scheduler) tick(ctx context.Context) {
	e := s.engine
	defer e.ticks.Add(1)
	cfg := e.Config
	now := e.now()
	nightly, err := reconcile.NightlyStart(now, cfg.LoFoldersSyncStart, cfg.Location())
	if err != nil {
		e.Log.Error("compute nightly start failed", "err", err)
		return
	}
	due, err := e.Store.DueSyncs(ctx, store.ScheduleParams{
		Now:      now,
		RecentLI: cfg.HiRecentSyncInterval, RecentNL: cfg.HiRecentSyncIntervalNL,
		FullLI: cfg.HiFullSyncInterval, FullNL: cfg.HiFullSyncIntervalNL,
		PresenceWindow: cfg.PresenceWindow,
		NightlyStart:   nightly,
	})
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Warn("find due sweeps failed", "err", err)
		}
		return
	}

	requested := 0
	for _, d := range due {
		key := sweepKey{d.FolderID, d.Full}
		if at, ok := s.dispatched[key]; ok && now.Sub(at) < redispatchAfter {
			continue
		}
		if !e.requestSync(d.AccountID, d.Name, d.Full) {
			continue
		}
		s.dispatched[key] = now
		requested++
		// The full sweep of INBOX is the account's full sync, which also
		// refreshes the folder list.
		if d.Full && strings.EqualFold(d.Name, inboxName) {
			e.requestDiscover(d.AccountID)
		}
	}
	for key, at := range s.dispatched {
		if now.Sub(at) >= redispatchAfter {
			delete(s.dispatched, key)
		}
	}
	if requested > 0 {
		e.Log.Debug("sweeps requested", "count", requested)
	}
}

// requestDiscover requests a refresh of the account's folder list.
func (e *Engine) requestDiscover(acntid int64) {
	e.mu.Lock()
	ra := e.accounts[acntid]
	e.mu.Unlock()
	if ra != nil {
		ra.runner.discover()
	}
}

// handlePresence gives an owner who just came back an immediate recent
// sync of the high-priority folders; the due query switches their
// intervals by itself. Updates within the presence window are repeats.
func (e *Engine) handlePresence(ctx context.Context, ev notify.Event) {
	if ev.All || !e.Config.SyncEnabled {
		return
	}
	now := e.now()
	e.mu.Lock()
	last, seen := e.sched.presenceSeen[ev.ID]
	if seen && now.Sub(last) < e.Config.PresenceWindow {
		e.mu.Unlock()
		return
	}
	e.sched.presenceSeen[ev.ID] = now
	e.mu.Unlock()

	accounts, err := e.Store.OwnerAccounts(ctx, ev.ID)
	if err != nil {
		e.Log.Warn("read accounts of present user failed", "usr_id", ev.ID, "err", err)
		return
	}
	for _, acntid := range accounts {
		e.syncAccount(ctx, acntid, true)
	}
	if len(accounts) > 0 {
		e.Log.Info("owner logged in, syncing their folders", "usr_id", ev.ID, "accounts", accounts)
	}
}

// handleSyncRequest serves NOTIFY email_sync: "acntid" syncs every folder
// of the account, "acntid,emfdid" one folder.
func (e *Engine) handleSyncRequest(ctx context.Context, ev notify.Event) {
	if ev.All || !e.Config.SyncEnabled {
		if !ev.Backlog {
			e.Log.Warn("sync request needs an account id: NOTIFY email_sync, 'acntid' or 'acntid,emfdid'")
		}
		return
	}
	if ev.FolderID == 0 {
		e.syncAccount(ctx, ev.ID, false)
		return
	}
	folders, err := e.Store.AccountFolders(ctx, ev.ID, false)
	if err != nil {
		e.Log.Warn("read folders for sync request failed", "acntid", ev.ID, "err", err)
		return
	}
	for _, f := range folders {
		if f.ID == ev.FolderID {
			e.requestSync(ev.ID, f.Name, false)
			return
		}
	}
	e.Log.Warn("sync request names a folder the account does not have", "acntid", ev.ID, "emfdid", ev.FolderID)
}

// syncAccount requests a recent sync of the account's folders, the
// high-priority ones only when highOnly is set.
func (e *Engine) syncAccount(ctx context.Context, acntid int64, highOnly bool) {
	folders, err := e.Store.AccountFolders(ctx, acntid, highOnly)
	if err != nil {
		e.Log.Warn("read folders for sync failed", "acntid", acntid, "err", err)
		return
	}
	for _, f := range folders {
		e.requestSync(acntid, f.Name, false)
	}
}
