package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// adminAccount inserts an account that no server backs, because these
// tests only read and write rows.
func adminAccount(t *testing.T, db testenv.DB) int64 {
	t.Helper()
	return db.InsertAccount(t, testenv.Account{Address: "admin@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1"})
}

func TestWatchStateSince(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	folder, err := db.Store.EnsureFolder(ctx, adminAccount(t, db), "INBOX", "high")
	if err != nil {
		t.Fatalf("EnsureFolder: %v", err)
	}
	read := func() (string, time.Time) {
		var state string
		var at time.Time
		err := db.Store.Pool().QueryRow(ctx, "SELECT watch_state, watch_state_at FROM email_folders WHERE emfdid = $1",
			folder.ID).Scan(&state, &at)
		if err != nil {
			t.Fatalf("read watch state: %v", err)
		}
		return state, at
	}

	if err := db.Store.SetWatchState(ctx, folder.ID, store.WatchConnecting); err != nil {
		t.Fatalf("SetWatchState: %v", err)
	}
	if err := db.Store.SetWatchState(ctx, folder.ID, store.WatchIdle); err != nil {
		t.Fatalf("SetWatchState: %v", err)
	}
	state, since := read()
	if err := db.Store.SetWatchState(ctx, folder.ID, store.WatchIdle); err != nil {
		t.Fatalf("SetWatchState again: %v", err)
	}
	again, sinceAgain := read()
	if state != store.WatchIdle || again != store.WatchIdle {
		t.Errorf("states %q and %q, want idle", state, again)
	}
	if !sinceAgain.Equal(since) {
		t.Errorf("watch_state_at moved from %s to %s with the state unchanged", since, sinceAgain)
	}
}

func TestReleaseClaimsOwnerOnly(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	acntid := adminAccount(t, db)
	rows := []struct{ status, owner string }{
		{"sending", "me"}, {"sending", "me"}, {"sending", "other"}, {"sent", "me"}, {"queued", ""}, {"failed", "me"},
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		var owner *string
		if r.owner != "" {
			owner = &r.owner
		}
		err := db.Store.Pool().QueryRow(ctx, `
			INSERT INTO email_outbox (acntid, raw, status, claimed_by, lease_until, next_attempt_at, attempts)
			VALUES ($1, 'x', $2, $3, now() + interval '5 minutes', now() + interval '1 hour', 1) RETURNING id`,
			acntid, r.status, owner).Scan(&ids[i])
		if err != nil {
			t.Fatalf("insert outbox row: %v", err)
		}
	}

	n, err := db.Store.ReleaseClaims(ctx, "me")
	if err != nil {
		t.Fatalf("ReleaseClaims: %v", err)
	}
	if n != 2 {
		t.Errorf("released %d rows, want 2", n)
	}
	want := []string{"queued", "queued", "sending", "sent", "queued", "failed"}
	for i, id := range ids {
		var status string
		var owner *string
		var due bool
		err := db.Store.Pool().QueryRow(ctx, `
			SELECT status, claimed_by, next_attempt_at <= now() FROM email_outbox WHERE id = $1`, id).Scan(&status, &owner, &due)
		if err != nil {
			t.Fatalf("read row %d: %v", id, err)
		}
		if status != want[i] {
			t.Errorf("row %d (%s by %q): status %s, want %s", i, rows[i].status, rows[i].owner, status, want[i])
		}
		if i < 2 && (owner != nil || !due) {
			t.Errorf("released row %d: claimed_by %v, due now %t; want no owner and due now", i, owner, due)
		}
	}
}

func TestStatusQueries(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	acntid := adminAccount(t, db)
	folder, err := db.Store.EnsureFolder(ctx, acntid, "INBOX", "high")
	if err != nil {
		t.Fatalf("EnsureFolder: %v", err)
	}
	msgs := []store.Message{
		{UID: 1, InternalDate: time.Now(), Flags: []string{}, Raw: []byte("Subject: one\r\n\r\n1\r\n")},
		{UID: 2, InternalDate: time.Now(), Flags: []string{}, Raw: []byte("Subject: two\r\n\r\n2\r\n")},
	}
	if _, err := db.Store.InsertMessages(ctx, folder.ID, 7, 2, msgs); err != nil {
		t.Fatalf("StoreMessages: %v", err)
	}
	db.Exec(t, "UPDATE email_messages SET expunged_at = now() WHERE uid = 2")
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, created_at) VALUES ($1, 'x', now() - interval '90 seconds'), ($1, 'y', now())`, acntid)
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, status) VALUES ($1, 'z', 'failed')`, acntid)

	accounts, err := db.Store.AccountStatuses(ctx)
	if err != nil || len(accounts) != 1 || accounts[0].ID != acntid || accounts[0].Status != "new" {
		t.Errorf("AccountStatuses = %+v, %v; want the one account, status new", accounts, err)
	}
	folders, err := db.Store.FolderStatuses(ctx)
	if err != nil || len(folders) != 1 || folders[0].Messages != 1 || folders[0].LastRecentSync == nil {
		t.Errorf("FolderStatuses = %+v, %v; want INBOX with 1 message and a recent sync", folders, err)
	}
	sum, err := db.Store.OutboxStatus(ctx)
	if err != nil {
		t.Fatalf("OutboxStatus: %v", err)
	}
	if sum.Counts["queued"] != 2 || sum.Counts["failed"] != 1 || sum.Counts["sending"] != 0 {
		t.Errorf("outbox counts %v, want 2 queued and 1 failed", sum.Counts)
	}
	if sum.OldestQueued < 90*time.Second || sum.OldestQueued > 10*time.Minute {
		t.Errorf("oldest queued %s, want about 90s", sum.OldestQueued)
	}
}

func TestReadGauges(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	acntid := adminAccount(t, db)
	db.Exec(t, "UPDATE email_accounts SET status = 'auth_failed' WHERE acntid = $1", acntid)
	disabled := adminAccount(t, db)
	db.Exec(t, "UPDATE email_accounts SET enabled = false WHERE acntid = $1", disabled)
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, next_attempt_at) VALUES
		($1, 'due', now() - interval '2 minutes'),
		($1, 'retry later', now() + interval '1 hour')`, acntid)
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, status, claimed_by) VALUES ($1, 'claimed', 'sending', 'r1')`, acntid)
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, status) VALUES ($1, 'done', 'sent')`, acntid)

	g, err := db.Store.ReadGauges(ctx)
	if err != nil {
		t.Fatalf("ReadGauges: %v", err)
	}
	if len(g.Accounts) != 1 || g.Accounts["auth_failed"] != 1 {
		t.Errorf("accounts %v, want the enabled one, auth_failed", g.Accounts)
	}
	if g.OutboxQueued != 2 || g.OutboxSending != 1 {
		t.Errorf("queued %d, sending %d; want 2 and 1", g.OutboxQueued, g.OutboxSending)
	}
	if g.OldestDueSince < 2*time.Minute || g.OldestDueSince > 5*time.Minute {
		t.Errorf("oldest due since %s, want about 2m", g.OldestDueSince)
	}
}
