package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// scheduleFixture is one account with an INBOX, a high and a low folder,
// owned by user 7, with their sync times set relative to now.
func scheduleFixture(t *testing.T, now time.Time) (testenv.DB, map[string]int64) {
	db := testenv.NewDB(t)
	id := db.InsertAccount(t, testenv.Account{Address: "owner@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1"})
	db.Exec(t, "UPDATE email_accounts SET usr_id = 7 WHERE acntid = $1", id)
	folders := map[string]int64{}
	for _, f := range []struct {
		name, priority     string
		recentAgo, fullAgo time.Duration
	}{
		{"INBOX", "high", 20 * time.Minute, 90 * time.Minute},
		{"Projekty", "high", 5 * time.Minute, 5 * time.Minute},
		{"Archiwum", "low", 0, 30 * time.Hour},
	} {
		var fid int64
		err := db.Store.Pool().QueryRow(context.Background(), `
			INSERT INTO email_folders (acntid, name, priority, last_recent_sync_at, last_full_sync_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING emfdid`,
			id, f.name, f.priority, now.Add(-f.recentAgo), now.Add(-f.fullAgo)).Scan(&fid)
		if err != nil {
			t.Fatalf("insert folder %s: %v", f.name, err)
		}
		folders[f.name] = fid
	}
	return db, folders
}

func dueNames(t *testing.T, db testenv.DB, p store.ScheduleParams) []string {
	due, err := db.Store.DueSyncs(context.Background(), p)
	if err != nil {
		t.Fatalf("DueSyncs: %v", err)
	}
	var names []string
	for _, d := range due {
		kind := "recent"
		if d.Full {
			kind = "full"
		}
		names = append(names, d.Name+" "+kind)
	}
	slices.Sort(names)
	return names
}

func TestDueSyncsFollowPresence(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	db, _ := scheduleFixture(t, now)
	params := store.ScheduleParams{
		Now:      now,
		RecentLI: 10 * time.Minute, RecentNL: 30 * time.Minute,
		FullLI: time.Hour, FullNL: 80 * time.Minute,
		PresenceWindow: 15 * time.Minute,
		// Archiwum's last full sync (30 h ago) is before this.
		NightlyStart: now.Add(-14 * time.Hour),
	}

	// Not logged in: INBOX's recent sync (20 min) is within 30 min, its
	// full sync (90 min) is past 80 min.
	want := []string{"Archiwum full", "INBOX full"}
	if got := dueNames(t, db, params); !slices.Equal(got, want) {
		t.Errorf("owner away: due %v, want %v", got, want)
	}

	// Seen 5 minutes ago: the logged-in intervals apply.
	db.Exec(t, "INSERT INTO email_presence (usr_id, last_seen_at) VALUES (7, $1)", now.Add(-5*time.Minute))
	want = []string{"Archiwum full", "INBOX full", "INBOX recent"}
	if got := dueNames(t, db, params); !slices.Equal(got, want) {
		t.Errorf("owner logged in: due %v, want %v", got, want)
	}

	// Twelve minutes later the owner was last seen 17 minutes ago, past
	// the window: Projekty's recent sync (17 min ago) is due under the
	// logged-in 10 min but not under the away 30 min.
	params.Now = now.Add(12 * time.Minute)
	got := dueNames(t, db, params)
	if slices.Contains(got, "Projekty recent") {
		t.Errorf("owner away: Projekty recent due, want the 30 min interval; due %v", got)
	}
	db.Exec(t, "UPDATE email_presence SET last_seen_at = $1 WHERE usr_id = 7", params.Now)
	if got := dueNames(t, db, params); !slices.Contains(got, "Projekty recent") {
		t.Errorf("owner back: Projekty recent not due, want the 10 min interval; due %v", got)
	}
}

func TestDueSyncsNightlyLowFolders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	db, folders := scheduleFixture(t, now)
	params := store.ScheduleParams{
		Now: now, RecentLI: time.Hour, RecentNL: time.Hour, FullLI: 24 * time.Hour, FullNL: 24 * time.Hour,
		PresenceWindow: 15 * time.Minute, NightlyStart: now.Add(-time.Hour),
	}
	if got := dueNames(t, db, params); !slices.Contains(got, "Archiwum full") {
		t.Fatalf("low folder last synced 30 h ago not due after tonight's start: %v", got)
	}

	// Synced after tonight's start: not due until tomorrow's.
	db.Exec(t, "UPDATE email_folders SET last_full_sync_at = $2 WHERE emfdid = $1", folders["Archiwum"], now.Add(-30*time.Minute))
	if got := dueNames(t, db, params); slices.Contains(got, "Archiwum full") {
		t.Errorf("low folder synced after tonight's start is due again: %v", got)
	}
	// A gone folder is never due.
	db.Exec(t, "UPDATE email_folders SET gone_at = now(), last_full_sync_at = NULL WHERE emfdid = $1", folders["Archiwum"])
	if got := dueNames(t, db, params); slices.Contains(got, "Archiwum full") {
		t.Errorf("gone folder is due: %v", got)
	}
}

func TestWatchCandidatesSkipGoneFolders(t *testing.T) {
	t.Parallel()
	now := time.Now()
	db, folders := scheduleFixture(t, now)
	var acntid int64
	db.Store.Pool().QueryRow(context.Background(), "SELECT acntid FROM email_folders WHERE emfdid = $1", folders["INBOX"]).Scan(&acntid)
	names := func() []string {
		got, err := db.Store.WatchCandidates(context.Background(), acntid)
		if err != nil {
			t.Fatalf("WatchCandidates: %v", err)
		}
		var out []string
		for _, f := range got {
			out = append(out, f.Name)
		}
		return out
	}
	if got, want := names(), []string{"INBOX", "Projekty"}; !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	db.Exec(t, "UPDATE email_folders SET gone_at = now() WHERE emfdid = $1", folders["Projekty"])
	if got, want := names(), []string{"INBOX"}; !slices.Equal(got, want) {
		t.Errorf("candidates after Projekty vanished %v, want %v", got, want)
	}
}
