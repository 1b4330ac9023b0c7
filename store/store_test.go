package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailreactor/mailreactor/internal/testenv"
	reactorsql "github.com/mailreactor/mailreactor/sql"
	"github.com/mailreactor/mailreactor/store"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func insertAccount(t *testing.T, db testenv.DB) int64 {
	t.Helper()
	return db.InsertAccount(t, testenv.Account{Address: "owner@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1"})
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	// NewDB migrated once already.
	if err := db.Store.Migrate(ctx, discardLogger()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := db.Store.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after two migrations: %v", err)
	}
	var versions, latest int
	err := db.Store.Pool().QueryRow(ctx, "SELECT count(*), max(version) FROM reactor_schema_version").Scan(&versions, &latest)
	if err != nil {
		t.Fatalf("count schema versions: %v", err)
	}
	if versions != reactorsql.Version {
		t.Errorf("reactor_schema_version rows: got %d, want one per version (%d)", versions, reactorsql.Version)
	}
	if latest != reactorsql.Version {
		t.Errorf("latest schema version: got %d, want %d", latest, reactorsql.Version)
	}
	var triggers int
	err = db.Store.Pool().QueryRow(ctx, `
		SELECT count(*) FROM pg_trigger WHERE tgname = 'email_outbox_notify' AND tgrelid = 'email_outbox'::regclass`).Scan(&triggers)
	if err != nil {
		t.Fatalf("count outbox triggers: %v", err)
	}
	if triggers != 1 {
		t.Errorf("email_outbox_notify triggers: got %d, want 1", triggers)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- db.Store.Migrate(ctx, discardLogger()) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if err := db.Store.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema after concurrent migrations: %v", err)
	}
}

func TestCheckSchemaWithoutTrigger(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	db.Exec(t, "DROP TRIGGER email_outbox_notify ON email_outbox")
	err := db.Store.CheckSchema(ctx)
	if !errors.Is(err, store.ErrNotMigrated) {
		t.Fatalf("CheckSchema without the outbox trigger: got %v, want ErrNotMigrated", err)
	}
	if err := db.Store.Migrate(ctx, discardLogger()); err != nil {
		t.Fatalf("Migrate to restore the trigger: %v", err)
	}
	if err := db.Store.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema after Migrate restored the trigger: %v", err)
	}
}

func TestCheckSchemaEmptySchema(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	// A second store on a schema that exists but was never migrated.
	empty := db.Schema + "_empty"
	db.Exec(t, "CREATE SCHEMA "+pgx.Identifier{empty}.Sanitize())
	t.Cleanup(func() { db.Exec(t, "DROP SCHEMA "+pgx.Identifier{empty}.Sanitize()+" CASCADE") })
	st, err := store.Open(ctx, db.URL, empty)
	if err != nil {
		t.Fatalf("open store on schema %s: %v", empty, err)
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); !errors.Is(err, store.ErrNotMigrated) {
		t.Errorf("CheckSchema on an empty schema: got %v, want ErrNotMigrated", err)
	}
}

func TestCheckSchemaOldVersion(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	db.Exec(t, "DELETE FROM reactor_schema_version WHERE version = $1", reactorsql.Version)
	if err := db.Store.CheckSchema(ctx); !errors.Is(err, store.ErrNotMigrated) {
		t.Errorf("CheckSchema at version %d: got %v, want ErrNotMigrated", reactorsql.Version-1, err)
	}
}

func messagesFor(uids ...uint32) []store.Message {
	msgs := make([]store.Message, len(uids))
	for i, uid := range uids {
		date := time.Date(2024, 12, 3, 10, 0, int(uid), 0, time.UTC)
		msgs[i] = store.Message{
			UID:          uid,
			MessageID:    fmt.Sprintf("m%d@example.test", uid),
			Subject:      fmt.Sprintf("Wiadomość %d", uid),
			From:         "Jan <jan@example.test>",
			To:           "anna@example.test",
			Date:         &date,
			InternalDate: date,
			Flags:        []string{`\Seen`},
			Size:         int64(100 + uid),
			Raw:          []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\x00\xff\r\n", uid)),
		}
	}
	return msgs
}

func folderState(t *testing.T, db testenv.DB, folderID int64) (uidValidity, lastUID int64, messages int) {
	t.Helper()
	ctx := context.Background()
	err := db.Store.Pool().QueryRow(ctx, "SELECT uidvalidity, last_uid FROM email_folders WHERE emfdid = $1", folderID).
		Scan(&uidValidity, &lastUID)
	if err != nil {
		t.Fatalf("read folder %d: %v", folderID, err)
	}
	if err := db.Store.Pool().QueryRow(ctx, "SELECT count(*) FROM email_messages WHERE emfdid = $1", folderID).Scan(&messages); err != nil {
		t.Fatalf("count messages of folder %d: %v", folderID, err)
	}
	return uidValidity, lastUID, messages
}

func TestStoreMessagesBatch(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	folder, err := db.Store.EnsureFolder(ctx, insertAccount(t, db), "INBOX", "low")
	if err != nil {
		t.Fatalf("EnsureFolder: %v", err)
	}

	n, err := db.Store.InsertMessages(ctx, folder.ID, 777, 12, messagesFor(10, 11, 12))
	if err != nil {
		t.Fatalf("StoreMessages: %v", err)
	}
	if n != 3 {
		t.Errorf("StoreMessages: got %d new rows, want 3", n)
	}
	uidValidity, lastUID, count := folderState(t, db, folder.ID)
	if uidValidity != 777 || lastUID != 12 || count != 3 {
		t.Errorf("folder after first batch: got uidvalidity %d, last_uid %d, %d messages, want 777, 12, 3", uidValidity, lastUID, count)
	}

	var raw []byte
	var subject string
	err = db.Store.Pool().QueryRow(ctx, "SELECT raw, subject FROM email_messages WHERE emfdid = $1 AND uid = 11", folder.ID).Scan(&raw, &subject)
	if err != nil {
		t.Fatalf("read stored message 11: %v", err)
	}
	if want := "Subject: 11\r\n\r\nbody\x00\xff\r\n"; string(raw) != want {
		t.Errorf("raw of message 11: got %q, want %q", raw, want)
	}
	if subject != "Wiadomość 11" {
		t.Errorf("subject of message 11: got %q, want %q", subject, "Wiadomość 11")
	}

	n, err = db.Store.InsertMessages(ctx, folder.ID, 777, 12, messagesFor(10, 11, 12))
	if err != nil {
		t.Fatalf("repeated StoreMessages: %v", err)
	}
	if n != 0 {
		t.Errorf("repeated StoreMessages: got %d new rows, want 0", n)
	}
	if _, lastUID, count := folderState(t, db, folder.ID); lastUID != 12 || count != 3 {
		t.Errorf("folder after repeated batch: got last_uid %d, %d messages, want 12, 3", lastUID, count)
	}

	// An overlapping batch stores only the new UIDs, and an older lastUID
	// never moves last_uid back.
	n, err = db.Store.InsertMessages(ctx, folder.ID, 777, 14, messagesFor(12, 13, 14))
	if err != nil {
		t.Fatalf("overlapping StoreMessages: %v", err)
	}
	if n != 2 {
		t.Errorf("overlapping StoreMessages: got %d new rows, want 2", n)
	}
	if _, err := db.Store.InsertMessages(ctx, folder.ID, 777, 5, nil); err != nil {
		t.Fatalf("StoreMessages with an older last UID: %v", err)
	}
	if _, lastUID, count := folderState(t, db, folder.ID); lastUID != 14 || count != 5 {
		t.Errorf("folder after older last UID: got last_uid %d, %d messages, want 14, 5", lastUID, count)
	}
}

func TestStoreMessagesAtomic(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	folder, err := db.Store.EnsureFolder(ctx, insertAccount(t, db), "Archiwum", "low")
	if err != nil {
		t.Fatalf("EnsureFolder: %v", err)
	}
	if _, err := db.Store.InsertMessages(ctx, folder.ID, 9, 2, messagesFor(1, 2)); err != nil {
		t.Fatalf("first StoreMessages: %v", err)
	}

	// Postgres rejects a NUL byte in a text column, so the third message
	// fails the batch after the first two inserts went through.
	msgs := messagesFor(3, 4, 5)
	msgs[2].Subject = "bad\x00subject"
	if _, err := db.Store.InsertMessages(ctx, folder.ID, 9, 5, msgs); err == nil {
		t.Fatal("StoreMessages with a NUL in a subject: got no error, want the insert to fail")
	}
	if _, lastUID, count := folderState(t, db, folder.ID); lastUID != 2 || count != 2 {
		t.Errorf("folder after a failed batch: got last_uid %d, %d messages, want 2, 2 (nothing of the batch)", lastUID, count)
	}
}

// outboxListener is a connection of its own that listens on email_outbox.
type outboxListener struct {
	conn *pgx.Conn
}

func listenOutbox(t *testing.T, db testenv.DB) *outboxListener {
	t.Helper()
	ctx := testContext(t)
	conn, err := db.Store.ConnectListener(ctx)
	if err != nil {
		t.Fatalf("connect listener: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "LISTEN email_outbox"); err != nil {
		t.Fatalf("LISTEN email_outbox: %v", err)
	}
	return &outboxListener{conn: conn}
}

// until returns the payloads of ours, in order, up to and including stop.
// Channel names are database-wide, so notifications from other schemas
// are skipped.
func (l *outboxListener) until(t *testing.T, ours map[string]bool, stop string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		n, err := l.conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("wait for notification %q: got %q so far: %v", stop, got, err)
		}
		if n.Payload == stop {
			return append(got, n.Payload)
		}
		if ours[n.Payload] {
			got = append(got, n.Payload)
		}
	}
}

// startOutboxIDsAt moves the schema's outbox id sequence to a random high
// value, so that ids from schemas of tests that run in parallel do not
// collide with this test's.
func startOutboxIDsAt(t *testing.T, db testenv.DB) int64 {
	t.Helper()
	start := 1_000_000_000 + rand.Int64N(1_000_000_000_000)
	db.Exec(t, "SELECT setval('email_outbox_id_seq', $1)", start)
	return start
}

func TestOutboxTrigger(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	startOutboxIDsAt(t, db)
	account := insertAccount(t, db)
	listener := listenOutbox(t, db)

	insert := func() string {
		var id int64
		err := db.Store.Pool().QueryRow(ctx,
			"INSERT INTO email_outbox (acntid, raw) VALUES ($1, 'To: a@example.test\r\n\r\nx') RETURNING id", account).Scan(&id)
		if err != nil {
			t.Fatalf("insert outbox row: %v", err)
		}
		return strconv.FormatInt(id, 10)
	}
	first, second := insert(), insert()
	ours := map[string]bool{first: true, second: true}
	// A marker notification bounds each wait: notifications arrive in
	// commit order, so all that a statement sent come before a marker
	// sent after it.
	marker := func() string {
		m := "marker-" + strconv.FormatInt(rand.Int64(), 36)
		db.Exec(t, "SELECT pg_notify('email_outbox', $1)", m)
		return m
	}

	m := marker()
	if got := listener.until(t, ours, m); !slices.Equal(got, []string{first, second, m}) {
		t.Errorf("after two INSERTs: got %q, want %q", got, []string{first, second, m})
	}

	// Updates that do not return a row to queued stay silent.
	db.Exec(t, "UPDATE email_outbox SET status = 'sending', claimed_by = 'w', lease_until = now() WHERE id = $1", first)
	db.Exec(t, "UPDATE email_outbox SET last_error = 'x', attempts = attempts + 1 WHERE id = $1", first)
	db.Exec(t, "UPDATE email_outbox SET status = 'queued' WHERE id = $1", second) // queued to queued
	db.Exec(t, "UPDATE email_outbox SET next_attempt_at = now() + interval '1 hour' WHERE id = $1", second)
	db.Exec(t, "UPDATE email_outbox SET status = 'sent', sent_at = now() WHERE id = $1", first)
	m = marker()
	if got := listener.until(t, ours, m); !slices.Equal(got, []string{m}) {
		t.Errorf("after updates that keep a row out of the queue: got %q, want only the marker", got)
	}

	// Back to queued, from sending and from failed.
	db.Exec(t, "UPDATE email_outbox SET status = 'sending' WHERE id = $1", second)
	db.Exec(t, "UPDATE email_outbox SET status = 'queued' WHERE id = $1", second)
	db.Exec(t, "UPDATE email_outbox SET status = 'failed' WHERE id = $1", first)
	db.Exec(t, "UPDATE email_outbox SET status = 'queued' WHERE id = $1", first)
	m = marker()
	if got := listener.until(t, ours, m); !slices.Equal(got, []string{second, first, m}) {
		t.Errorf("after two rows went back to queued: got %q, want %q", got, []string{second, first, m})
	}
}

func TestOutboxTriggerOnMarkRetry(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	startOutboxIDsAt(t, db)
	account := insertAccount(t, db)
	db.Exec(t, "INSERT INTO email_outbox (acntid, raw) VALUES ($1, 'To: a@example.test\r\n\r\nx')", account)
	claimed, err := db.Store.ClaimOutbox(ctx, "w", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimOutbox: got %d rows, err %v, want 1 row", len(claimed), err)
	}
	id := strconv.FormatInt(claimed[0].ID, 10)
	listener := listenOutbox(t, db)

	if err := db.Store.MarkRetry(ctx, claimed[0], time.Now().Add(time.Minute), "451 later"); err != nil {
		t.Fatalf("MarkRetry: %v", err)
	}
	m := "marker-" + strconv.FormatInt(rand.Int64(), 36)
	db.Exec(t, "SELECT pg_notify('email_outbox', $1)", m)
	if got := listener.until(t, map[string]bool{id: true}, m); !slices.Equal(got, []string{id, m}) {
		t.Errorf("after MarkRetry: got %q, want %q", got, []string{id, m})
	}
}

func TestClaimOutboxConcurrent(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	account := insertAccount(t, db)
	const rows = 200
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw)
		SELECT $1, convert_to('To: a@example.test' || chr(13) || chr(10) || chr(13) || chr(10) || g, 'UTF8')
		FROM generate_series(1, $2::int) g`, account, rows)

	var mu sync.Mutex
	owners := make(map[int64][]string)
	var errs []error
	var wg sync.WaitGroup
	for w := range 4 {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				claimed, err := db.Store.ClaimOutbox(ctx, owner, time.Minute, 10)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", owner, err))
					mu.Unlock()
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				for _, row := range claimed {
					owners[row.ID] = append(owners[row.ID], owner)
					if row.ClaimedBy != owner || row.Attempts != 1 {
						errs = append(errs, fmt.Errorf("row %d claimed by %s: got claimed_by %q attempts %d, want %s and 1",
							row.ID, owner, row.ClaimedBy, row.Attempts, owner))
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	if len(owners) != rows {
		t.Errorf("claimed %d distinct rows, want %d", len(owners), rows)
	}
	for id, by := range owners {
		if len(by) != 1 {
			t.Errorf("row %d: claimed %d times, by %q, want once", id, len(by), by)
		}
	}
	var sending int
	if err := db.Store.Pool().QueryRow(ctx, "SELECT count(*) FROM email_outbox WHERE status = 'sending'").Scan(&sending); err != nil {
		t.Fatalf("count sending rows: %v", err)
	}
	if sending != rows {
		t.Errorf("rows in sending: got %d, want %d", sending, rows)
	}
}

func TestClaimOutboxDue(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := testContext(t)
	account := insertAccount(t, db)
	insert := func(status, extra string) int64 {
		var id int64
		err := db.Store.Pool().QueryRow(ctx, `
			INSERT INTO email_outbox (acntid, raw, status, next_attempt_at, lease_until)
			VALUES ($1, 'x', $2, `+extra+`) RETURNING id`, account, status).Scan(&id)
		if err != nil {
			t.Fatalf("insert %s row: %v", status, err)
		}
		return id
	}
	due := insert("queued", "now() - interval '1 minute', NULL")
	insert("queued", "now() + interval '1 hour', NULL")
	expired := insert("sending", "now() - interval '1 hour', now() - interval '1 second'")
	insert("sending", "now() - interval '1 hour', now() + interval '1 hour'")
	insert("sent", "now() - interval '1 hour', NULL")
	insert("failed", "now() - interval '1 hour', NULL")

	claimed, err := db.Store.ClaimOutbox(ctx, "w", time.Minute, 10)
	if err != nil {
		t.Fatalf("ClaimOutbox: %v", err)
	}
	var ids []int64
	for _, row := range claimed {
		ids = append(ids, row.ID)
	}
	// Rows come in next_attempt_at order: the expired lease is older.
	if len(ids) != 2 || ids[0] != expired || ids[1] != due {
		t.Errorf("ClaimOutbox: got rows %v, want [%d %d] (the expired lease, then the due row)", ids, expired, due)
	}
	next, ok, err := db.Store.NextOutboxDue(ctx)
	if err != nil {
		t.Fatalf("NextOutboxDue: %v", err)
	}
	if !ok {
		t.Fatal("NextOutboxDue: got nothing waiting, want the next lease expiry")
	}
	if until := time.Until(next); until < 50*time.Second || until > 61*time.Second {
		t.Errorf("NextOutboxDue: got %v from now, want the new one-minute lease", until)
	}
}
