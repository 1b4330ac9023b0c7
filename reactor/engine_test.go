package reactor

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/mail"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/internal/mailgen"
	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// testConfig returns the defaults with the fallback sweeps far in the
// future, so a test sees only what IDLE and LISTEN deliver.
func testConfig(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.HiRecentSyncInterval = 24 * time.Hour
	cfg.HiRecentSyncIntervalNL = 24 * time.Hour
	cfg.OutboxSweepInterval = 24 * time.Hour
	cfg.ReconnectMax = 2 * time.Second
	cfg.InstanceID = "test-" + t.Name()
	return cfg
}

// harness is a running engine with its database and logs.
type harness struct {
	db     testenv.DB
	mail   testenv.Mail
	logs   *testenv.Logs
	now    func() time.Time
	engine *Engine
}

func newHarness(t *testing.T) *harness {
	return &harness{mail: testenv.MailEnv(t), db: testenv.NewDB(t)}
}

// start runs an engine until the test ends, logging at debug level.
func (h *harness) start(t testing.TB, cfg config.Config) {
	log, logs := testenv.NewLogger(t)
	h.logs = logs
	h.run(t, cfg, log)
}

// startWithClock runs an engine whose scheduler reads the time from now.
func (h *harness) startWithClock(t testing.TB, cfg config.Config, now func() time.Time) {
	log, logs := testenv.NewLogger(t)
	h.logs = logs
	h.now = now
	h.run(t, cfg, log)
}

// waitTicks waits until the scheduler has looked for due sweeps n more
// times.
func waitTicks(t *testing.T, h *harness, n int) {
	t.Helper()
	start := h.engine.ticks.Load()
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("%d scheduler ticks", n), func() bool {
		return h.engine.ticks.Load() >= start+int64(n)
	})
}

// run runs an engine with the given logger until the test ends.
func (h *harness) run(t testing.TB, cfg config.Config, log *slog.Logger) {
	pem, err := os.ReadFile(h.mail.CAFile)
	if err != nil {
		t.Fatalf("read CA file: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	e := &Engine{Config: cfg, Store: h.db.Store, Log: log, RootCAs: roots, Now: h.now}
	h.engine = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("engine returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("engine did not stop within 30s of cancel")
		}
	})
}

// account adds a mail user and its email_accounts row: IMAP over implicit
// TLS, SMTP submission with STARTTLS and AUTH.
func (h *harness) account(t *testing.T, prefix string) (id int64, address, password string) {
	address, password = h.mail.AddUser(t, prefix)
	id = h.db.InsertAccount(t, testenv.Account{
		Address: address, Password: password,
		IMAPAddr: h.mail.IMAPSAddr, IMAPSec: store.SecurityTLS,
		SMTPAddr: h.mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: address, SMTPPassword: password,
	})
	return id, address, password
}

func (h *harness) queryInt(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := h.db.Store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return n
}

// waitSynced waits until the account's INBOX finished its first recent
// and full sync, so later messages can only arrive through IDLE or a
// requested sync.
func (h *harness) waitSynced(t *testing.T, acntid int64) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("first sync of account %d", acntid), func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_folders
			WHERE acntid = $1 AND name = 'INBOX' AND last_recent_sync_at IS NOT NULL
			  AND last_full_sync_at IS NOT NULL`, acntid) == 1
	})
}

func TestOutboxToIdleEndToEnd(t *testing.T) {
	h := newHarness(t)
	idA, addrA, _ := h.account(t, "alice")
	idB, addrB, _ := h.account(t, "bob")
	h.start(t, testConfig(t))
	h.waitSynced(t, idB)

	subject := "Zamówienie nr 42 – żółć i gęślą jaźń"
	body := "Dzień dobry,\r\nproszę o potwierdzenie zamówienia.\r\nŁukasz\r\n"
	raw := "From: Łukasz Żółkiewski <" + addrA + ">\r\n" +
		"To: " + addrB + "\r\n" +
		"Subject: =?UTF-8?B?WmFtw7N3aWVuaWUgbnIgNDIg4oCTIMW8w7PFgsSHIGkgZ8SZxZtsxIUgamHFusWE?=\r\n" +
		"Message-ID: <e2e-" + t.Name() + "@example.test>\r\n" +
		"Date: Fri, 04 Dec 2026 10:00:00 +0100\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
	var outboxID int64
	err := h.db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2) RETURNING id", idA, []byte(raw)).Scan(&outboxID)
	if err != nil {
		t.Fatalf("insert outbox row: %v", err)
	}

	testenv.WaitFor(t, 20*time.Second, "outbox row sent", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_outbox WHERE id = $1 AND status = 'sent'", outboxID) == 1
	})
	testenv.WaitFor(t, 30*time.Second, "message stored in B's INBOX", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.subject = $2`, idB, subject) == 1
	})

	var from string
	var stored []byte
	var parseErr *string
	err = h.db.Store.Pool().QueryRow(context.Background(), `
		SELECT m.from_addr, m.raw, m.parse_error FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1`, idB).Scan(&from, &stored, &parseErr)
	if err != nil {
		t.Fatalf("read stored message: %v", err)
	}
	if want := "Łukasz Żółkiewski <" + addrA + ">"; from != want {
		t.Errorf("from_addr = %q, want %q", from, want)
	}
	if parseErr != nil {
		t.Errorf("parse_error = %q, want none", *parseErr)
	}
	if got := bodyText(t, stored); got != body {
		t.Errorf("body = %q, want %q", got, body)
	}
	if h.logs.Count("received 1 new messages") == 0 {
		t.Errorf("log has no \"received 1 new messages\" line")
	}
}

// bodyText returns the decoded first text part of a raw message.
func bodyText(t *testing.T, raw []byte) string {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse stored message: %v", err)
	}
	part, err := r.NextPart()
	if err != nil {
		t.Fatalf("read stored message body: %v", err)
	}
	b, err := io.ReadAll(part.Body)
	if err != nil {
		t.Fatalf("read stored message body: %v", err)
	}
	return string(b)
}

func TestWrongPasswordIsolatedAndRecovers(t *testing.T) {
	h := newHarness(t)
	goodID, goodAddr, goodPass := h.account(t, "good")
	badAddr, badPass := h.mail.AddUser(t, "bad")
	badID := h.db.InsertAccount(t, testenv.Account{
		Address: badAddr, Password: "wrong-" + badPass,
		IMAPAddr: h.mail.IMAPAddr, SMTPAddr: h.mail.SMTPAddr,
	})
	h.start(t, testConfig(t))

	testenv.WaitFor(t, 20*time.Second, "bad account marked auth_failed", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_accounts WHERE acntid = $1 AND status = 'auth_failed'", badID) == 1
	})
	h.waitSynced(t, goodID)
	c := h.mail.Dial(t, goodAddr, goodPass)
	h.mail.Append(t, c, "INBOX", []byte("Subject: still working\r\n\r\nbody\r\n"))
	testenv.WaitFor(t, 20*time.Second, "good account's message stored", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.subject = 'still working'`, goodID) == 1
	})

	// Fixing the password fires the account trigger; the watcher restarts
	// at once instead of waiting out its long auth backoff.
	h.db.Exec(t, "UPDATE email_accounts SET imap_password = $2 WHERE acntid = $1", badID, badPass)
	testenv.WaitFor(t, 20*time.Second, "fixed account back to ok", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_accounts WHERE acntid = $1 AND status = 'ok'", badID) == 1
	})

	logs := h.logs.String()
	for _, secret := range []string{badPass, goodPass} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a password")
		}
	}
	if n := h.logs.Count("marked auth_failed"); n != 1 {
		t.Errorf("auth failure logged at error level %d times, want once per change", n)
	}
}

func TestRunFailsWhenNotMigrated(t *testing.T) {
	db := testenv.NewDB(t)
	db.Exec(t, "DROP TABLE reactor_schema_version")
	log, _ := testenv.NewLogger(t)
	e := &Engine{Config: testConfig(t), Store: db.Store, Log: log}
	err := e.Run(context.Background())
	if !errors.Is(err, store.ErrNotMigrated) {
		t.Fatalf("Run = %v, want ErrNotMigrated", err)
	}
}

func TestBareNotifySweepsOutbox(t *testing.T) {
	h := newHarness(t)
	idA, addrA, _ := h.account(t, "notifier")
	h.start(t, testConfig(t))
	h.waitSynced(t, idA)

	// With the trigger off, only the administrator's bare NOTIFY can wake
	// the reactor, since the fallback sweep is a day away.
	h.db.Exec(t, "ALTER TABLE email_outbox DISABLE TRIGGER email_outbox_notify")
	var id int64
	raw := "From: " + addrA + "\r\nTo: " + addrA + "\r\nSubject: swept\r\n\r\nbody\r\n"
	err := h.db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2) RETURNING id", idA, []byte(raw)).Scan(&id)
	if err != nil {
		t.Fatalf("insert outbox row: %v", err)
	}
	h.db.Exec(t, "NOTIFY email_outbox")
	testenv.WaitFor(t, 20*time.Second, "row sent after bare NOTIFY", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_outbox WHERE id = $1 AND status = 'sent'", id) == 1
	})
}

func TestUnreachableServerDoesNotStopOthers(t *testing.T) {
	h := newHarness(t)
	goodID, goodAddr, goodPass := h.account(t, "reachable")
	// Port 1 on loopback has no listener, so every dial is refused.
	downID := h.db.InsertAccount(t, testenv.Account{
		Address: "down@example.test", Password: "x", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1",
	})
	h.start(t, testConfig(t))

	testenv.WaitFor(t, 20*time.Second, "unreachable account retried twice", func() bool {
		return h.logs.Count("attempt=2") >= 1
	})
	if got := h.queryInt(t, "SELECT count(*) FROM email_accounts WHERE acntid = $1 AND status = 'error' AND last_error LIKE '%127.0.0.1:1%'", downID); got != 1 {
		t.Errorf("unreachable account has no error status naming its server")
	}
	h.waitSynced(t, goodID)
	c := h.mail.Dial(t, goodAddr, goodPass)
	h.mail.Append(t, c, "INBOX", []byte("Subject: unaffected\r\n\r\nbody\r\n"))
	testenv.WaitFor(t, 20*time.Second, "reachable account's message stored", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.subject = 'unaffected'`, goodID) == 1
	})
}

func TestMalformedMessageStoredRaw(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "malformed")
	bad := mailgen.Malformed(7)
	c := h.mail.Dial(t, addr, pass)
	h.mail.Append(t, c, "INBOX", bad.Raw)
	h.start(t, testConfig(t))

	testenv.WaitFor(t, 20*time.Second, "malformed message stored", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1`, id) == 1
	})
	var raw []byte
	var parseErr *string
	err := h.db.Store.Pool().QueryRow(context.Background(), `
		SELECT m.raw, m.parse_error FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1`, id).Scan(&raw, &parseErr)
	if err != nil {
		t.Fatalf("read stored message: %v", err)
	}
	if !bytes.Equal(raw, bad.Raw) {
		t.Errorf("stored raw differs from the appended message (%d bytes, want %d)", len(raw), len(bad.Raw))
	}
	if parseErr == nil || *parseErr == "" {
		t.Errorf("parse_error is empty for a malformed message")
	}
}

func TestHighFolderChangeStartsWatcher(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "folders")
	c := h.mail.Dial(t, addr, pass)
	if err := c.Create("Projekty", nil).Wait(); err != nil {
		t.Fatalf("create mailbox: %v", err)
	}
	h.start(t, testConfig(t))
	h.waitSynced(t, id)

	// Marking the folder high priority restarts the account with a
	// watcher on it, so its mail arrives through IDLE.
	h.db.Exec(t, `INSERT INTO email_folders (acntid, name, priority) VALUES ($1, 'Projekty', 'high')
		ON CONFLICT (acntid, name) DO UPDATE SET priority = 'high'`, id)
	testenv.WaitFor(t, 20*time.Second, "watcher on the new high folder", func() bool {
		return h.logs.Count("watching folder") >= 2 && h.logs.Count("mailbox=Projekty") >= 1
	})
	h.mail.Append(t, c, "Projekty", []byte("Subject: projekt\r\n\r\nbody\r\n"))
	testenv.WaitFor(t, 20*time.Second, "message stored in the high folder", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND f.name = 'Projekty' AND m.subject = 'projekt'`, id) == 1
	})
}

func TestServerWithoutIdleIsPolled(t *testing.T) {
	h := newHarness(t)
	server := testenv.NewMemServer(t, false)
	id := h.db.InsertAccount(t, testenv.Account{
		Address: server.User, Password: server.Password, IMAPAddr: server.Addr, SMTPAddr: h.mail.SMTPAddr,
	})
	cfg := testConfig(t)
	cfg.PollInterval = 200 * time.Millisecond
	h.start(t, cfg)

	testenv.WaitFor(t, 20*time.Second, "switch to polling", func() bool {
		return h.logs.Count("does not offer IDLE; polling every folder") == 1
	})
	server.Append(t, "INBOX", []byte("Subject: polled\r\n\r\nbody\r\n"))
	testenv.WaitFor(t, 20*time.Second, "polled message stored", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.subject = 'polled'`, id) == 1
	})
	testenv.WaitFor(t, 10*time.Second, "polled account status ok", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_accounts WHERE acntid = $1 AND status = 'ok'", id) == 1
	})
}

// pollOnlyConfig makes every folder polled, once a day, so only a
// requested sync can store new mail.
func pollOnlyConfig(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.MaxConnections = 1
	cfg.PollInterval = 24 * time.Hour
	cfg.HiFullSyncInterval = 24 * time.Hour
	cfg.HiFullSyncIntervalNL = 24 * time.Hour
	cfg.ScheduleTick = 100 * time.Millisecond
	return cfg
}

func (h *harness) storedSubject(t *testing.T, acntid int64, subject string) bool {
	return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1 AND m.subject = $2`, acntid, subject) == 1
}

func TestSyncNotifySyncsAccount(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "ondemand")
	h.start(t, pollOnlyConfig(t))
	h.waitSynced(t, id)

	c := h.mail.Dial(t, addr, pass)
	h.mail.Append(t, c, "INBOX", []byte("Subject: on demand\r\n\r\nbody\r\n"))
	h.db.Exec(t, fmt.Sprintf("NOTIFY email_sync, '%d'", id))
	testenv.WaitFor(t, 20*time.Second, "message stored after NOTIFY email_sync", func() bool {
		return h.storedSubject(t, id, "on demand")
	})

	var inbox int64
	h.db.Store.Pool().QueryRow(context.Background(),
		"SELECT emfdid FROM email_folders WHERE acntid = $1 AND name = 'INBOX'", id).Scan(&inbox)
	h.mail.Append(t, c, "INBOX", []byte("Subject: one folder\r\n\r\nbody\r\n"))
	h.db.Exec(t, fmt.Sprintf("NOTIFY email_sync, '%d,%d'", id, inbox))
	testenv.WaitFor(t, 20*time.Second, "message stored after NOTIFY email_sync for one folder", func() bool {
		return h.storedSubject(t, id, "one folder")
	})
}

func TestPresenceSyncsOwnerFolders(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "present")
	h.db.Exec(t, "UPDATE email_accounts SET usr_id = 4242 WHERE acntid = $1", id)
	h.start(t, pollOnlyConfig(t))
	h.waitSynced(t, id)

	c := h.mail.Dial(t, addr, pass)
	h.mail.Append(t, c, "INBOX", []byte("Subject: owner back\r\n\r\nbody\r\n"))
	h.db.Exec(t, "INSERT INTO email_presence (usr_id, last_seen_at) VALUES (4242, now())")
	testenv.WaitFor(t, 20*time.Second, "message stored after the owner logged in", func() bool {
		return h.storedSubject(t, id, "owner back")
	})
	if h.logs.Count("owner logged in") != 1 {
		t.Errorf("log has no line for the owner logging in")
	}
}

func TestScheduledRecentSyncUsesClock(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "clock")
	cfg := pollOnlyConfig(t)
	cfg.HiRecentSyncIntervalNL = 30 * time.Minute
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	h.startWithClock(t, cfg, clock)
	h.waitSynced(t, id)

	c := h.mail.Dial(t, addr, pass)
	h.mail.Append(t, c, "INBOX", []byte("Subject: scheduled\r\n\r\nbody\r\n"))
	// Ten minutes on, nothing is due yet.
	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	waitTicks(t, h, 5)
	if h.storedSubject(t, id, "scheduled") {
		t.Fatalf("message stored before its recent sync was due")
	}
	// Thirty-one minutes on, the recent sync of INBOX is due.
	mu.Lock()
	now = now.Add(21 * time.Minute)
	mu.Unlock()
	testenv.WaitFor(t, 20*time.Second, "message stored by the scheduled recent sync", func() bool {
		return h.storedSubject(t, id, "scheduled")
	})
}

func TestFlagsAndExpungesWhileIdling(t *testing.T) {
	h := newHarness(t)
	id, addr, pass := h.account(t, "flags")
	c := h.mail.Dial(t, addr, pass)
	keep := h.mail.Append(t, c, "INBOX", []byte("Subject: keep\r\n\r\nbody\r\n"))
	drop := h.mail.Append(t, c, "INBOX", []byte("Subject: drop\r\n\r\nbody\r\n"))
	h.start(t, testConfig(t))
	h.waitSynced(t, id)

	// Another client flags one message and expunges the other; the
	// watcher hears both in IDLE and runs a full sync.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select: %v", err)
	}
	flag := c.Store(imap.UIDSetNum(keep), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil)
	if err := flag.Close(); err != nil {
		t.Fatalf("STORE \\Flagged: %v", err)
	}
	testenv.WaitFor(t, 20*time.Second, "flag stored", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.uid = $2 AND '\Flagged' = ANY (m.flags)`, id, int64(keep)) == 1
	})

	del := c.Store(imap.UIDSetNum(drop), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
	if err := del.Close(); err != nil {
		t.Fatalf("STORE \\Deleted: %v", err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(drop)).Close(); err != nil {
		t.Fatalf("UID EXPUNGE: %v", err)
	}
	testenv.WaitFor(t, 20*time.Second, "expunge recorded", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
			WHERE f.acntid = $1 AND m.uid = $2 AND m.expunged_at IS NOT NULL`, id, int64(drop)) == 1
	})
	if n := h.queryInt(t, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1 AND m.expunged_at IS NULL`, id); n != 1 {
		t.Errorf("%d messages not expunged, want 1", n)
	}
}

func TestWrongSMTPPasswordRetriesRow(t *testing.T) {
	h := newHarness(t)
	addr, pass := h.mail.AddUser(t, "smtpauth")
	id := h.db.InsertAccount(t, testenv.Account{
		Address: addr, Password: pass,
		IMAPAddr: h.mail.IMAPSAddr, IMAPSec: store.SecurityTLS,
		SMTPAddr: h.mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: addr, SMTPPassword: "wrong-" + pass,
	})
	h.db.Exec(t, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", id)
	h.start(t, testConfig(t))

	var row int64
	raw := "From: " + addr + "\r\nTo: " + addr + "\r\nSubject: after the fix\r\n\r\nbody\r\n"
	err := h.db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2) RETURNING id", id, []byte(raw)).Scan(&row)
	if err != nil {
		t.Fatalf("insert outbox row: %v", err)
	}
	// A rejected AUTH is the account's problem: the row waits for a retry
	// instead of failing for good.
	testenv.WaitFor(t, 20*time.Second, "row queued again after the rejected AUTH", func() bool {
		return h.queryInt(t, `SELECT count(*) FROM email_outbox WHERE id = $1 AND status = 'queued'
			AND attempts = 1 AND last_error LIKE '%authenticate%'`, row) == 1
	})

	h.db.Exec(t, "UPDATE email_accounts SET smtp_password = $2 WHERE acntid = $1", id, pass)
	h.db.Exec(t, "UPDATE email_outbox SET next_attempt_at = now() WHERE id = $1", row)
	h.db.Exec(t, "NOTIFY email_outbox")
	testenv.WaitFor(t, 20*time.Second, "row sent after the password was fixed", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_outbox WHERE id = $1 AND status = 'sent'", row) == 1
	})
	if strings.Contains(h.logs.String(), pass) {
		t.Errorf("log contains the SMTP password")
	}
}
