package idle_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/idle"
	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/reconcile"
	"github.com/mailreactor/mailreactor/store"
)

// freeSlots never limits syncs.
type freeSlots struct{}

func (freeSlots) Acquire(context.Context) error { return nil }
func (freeSlots) Release()                      {}

// fixture is one test's mail user, account row and database.
type fixture struct {
	mail     testenv.Mail
	db       testenv.DB
	address  string
	password string
	acntid   int64
	logs     *testenv.Logs
}

func newFixture(t *testing.T, imapAddr func(testenv.Mail) string) *fixture {
	f := &fixture{mail: testenv.MailEnv(t), db: testenv.NewDB(t)}
	f.address, f.password = f.mail.AddUser(t, "watch")
	f.acntid = f.db.InsertAccount(t, testenv.Account{
		Address: f.address, Password: f.password, IMAPAddr: imapAddr(f.mail), SMTPAddr: f.mail.SMTPAddr,
	})
	return f
}

// watch runs a watcher on INBOX until the test ends.
func (f *fixture) watch(t *testing.T, configure func(*idle.Watcher)) {
	account, err := f.db.Store.Account(context.Background(), f.acntid)
	if err != nil {
		t.Fatalf("read account: %v", err)
	}
	log, logs := testenv.NewLogger(t)
	f.logs = logs
	w := &idle.Watcher{
		Account:         account,
		Mailbox:         "INBOX",
		Store:           f.db.Store,
		Syncer:          &reconcile.Syncer{Store: f.db.Store, Log: log, BatchSize: 100},
		Log:             log,
		Slots:           freeSlots{},
		RestartInterval: time.Minute,
		SyncInterval:    24 * time.Hour,
		ReconnectMax:    2 * time.Second,
		Timeouts:        idle.Timeouts{Command: 2 * time.Second, ReconnectMin: 100 * time.Millisecond},
	}
	if configure != nil {
		configure(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("watcher did not stop within 20s")
		}
	})
}

func (f *fixture) stored(t *testing.T, subject string) bool {
	var n int
	err := f.db.Store.Pool().QueryRow(context.Background(), `
		SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1 AND m.subject = $2`, f.acntid, subject).Scan(&n)
	if err != nil {
		t.Fatalf("count stored messages: %v", err)
	}
	return n == 1
}

func (f *fixture) append(t *testing.T, subject string) {
	c := f.mail.Dial(t, f.address, f.password)
	f.mail.Append(t, c, "INBOX", []byte("Subject: "+subject+"\r\n\r\nbody\r\n"))
	c.Logout().Wait()
}

func (f *fixture) waitStored(t *testing.T, subject string, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, fmt.Sprintf("message %q stored", subject), func() bool { return f.stored(t, subject) })
}

func (f *fixture) waitSynced(t *testing.T) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "first sync", func() bool {
		var n int
		f.db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_folders
			WHERE acntid = $1 AND last_recent_sync_at IS NOT NULL`, f.acntid).Scan(&n)
		return n == 1
	})
}

func TestWatcherStoresAnnouncedMail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(m testenv.Mail) string { return m.IMAPAddr })
	f.append(t, "before start")
	f.watch(t, nil)
	f.waitStored(t, "before start", 20*time.Second)
	f.append(t, "while idling")
	f.waitStored(t, "while idling", 10*time.Second)
	if n := f.logs.Count("leaving IDLE"); n > 5 {
		t.Errorf("left IDLE %d times for one message, want at most a few", n)
	}
}

func TestWatcherSurvivesBlackhole(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	proxy := testenv.NewProxy(t, mail.IMAPAddr)
	f := newFixture(t, func(testenv.Mail) string { return proxy.Addr })
	f.watch(t, func(w *idle.Watcher) { w.RestartInterval = time.Second })
	f.waitSynced(t)

	// Both sockets stay open and nothing flows: no error reaches the
	// watcher, only its own deadlines can tell.
	proxy.Blackhole()
	f.append(t, "during outage")
	testenv.WaitFor(t, 20*time.Second, "watcher to notice the dead connection", func() bool {
		return f.logs.Count("IMAP session failed") >= 1
	})
	proxy.Heal()
	f.waitStored(t, "during outage", 30*time.Second)
}

func TestWatcherBacksOffWhileRefused(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	proxy := testenv.NewProxy(t, mail.IMAPAddr)
	f := newFixture(t, func(testenv.Mail) string { return proxy.Addr })
	proxy.Refuse()
	started := time.Now()
	f.watch(t, func(w *idle.Watcher) { w.ReconnectMax = 10 * time.Second })

	testenv.WaitFor(t, 30*time.Second, "five failed attempts", func() bool {
		return f.logs.Count("attempt=5 ") >= 1
	})
	elapsed := time.Since(started)
	delays := retryDelays(t, f.logs.String())
	for attempt := 1; attempt <= 5; attempt++ {
		if _, ok := delays[attempt]; !ok {
			t.Errorf("no log line for attempt %d", attempt)
		}
	}
	// Doubling from 100 ms with at most 50% jitter: the fifth delay is at
	// least 0.8 s, the first at most 0.15 s.
	if delays[5] <= delays[1] {
		t.Errorf("delay did not grow: attempt 1 %v, attempt 5 %v", delays[1], delays[5])
	}
	if delays[5] < 800*time.Millisecond {
		t.Errorf("fifth delay %v, want at least 800ms", delays[5])
	}
	// A busy loop would make dozens of attempts in this time.
	if n := f.logs.Count("IMAP session failed"); n > 8 {
		t.Errorf("%d attempts in %v: retrying too often", n, elapsed)
	}

	proxy.Accept()
	f.waitSynced(t)
}

var retryLine = regexp.MustCompile(`attempt=(\d+) delay=(\S+)`)

// retryDelays reads the delay of each attempt from the retry log lines.
func retryDelays(t *testing.T, logs string) map[int]time.Duration {
	delays := map[int]time.Duration{}
	for _, line := range strings.Split(logs, "\n") {
		m := retryLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		attempt, _ := strconv.Atoi(m[1])
		d, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatalf("parse delay %q: %v", m[2], err)
		}
		delays[attempt] = d
	}
	return delays
}

func TestWatcherCatchesUpAfterRestart(t *testing.T) {
	t.Parallel()
	dovecot := testenv.StartDovecot(t)
	f := newFixture(t, func(testenv.Mail) string { return dovecot.IMAPAddr })
	f.watch(t, nil)
	f.waitSynced(t)

	dovecot.Stop()
	f.append(t, "while the server was down")
	testenv.WaitFor(t, 20*time.Second, "a failed reconnect", func() bool {
		return f.logs.Count("IMAP session failed") >= 2
	})
	dovecot.Start()
	f.waitStored(t, "while the server was down", 30*time.Second)
}

func TestWatcherStoresMailDuringLongSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(m testenv.Mail) string { return m.IMAPAddr })
	c := f.mail.Dial(t, f.address, f.password)
	for i := range 1500 {
		f.mail.Append(t, c, "INBOX", []byte(fmt.Sprintf("Subject: old %d\r\n\r\n%s\r\n", i, strings.Repeat("x", 2000))))
	}

	var mu sync.Mutex
	syncs := 0
	f.watch(t, func(w *idle.Watcher) {
		w.Syncer.BatchSize = 20
		w.OnSynced = func(int) {
			mu.Lock()
			syncs++
			mu.Unlock()
		}
	})
	// Append while the first sync is still running.
	testenv.WaitFor(t, 20*time.Second, "first sync under way", func() bool {
		var n int
		f.db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_messages m
			JOIN email_folders f USING (emfdid) WHERE f.acntid = $1`, f.acntid).Scan(&n)
		return n > 0
	})
	f.mail.Append(t, c, "INBOX", []byte("Subject: during sync\r\n\r\nbody\r\n"))
	f.waitStored(t, "during sync", 30*time.Second)
	f.waitStored(t, "old 1499", 5*time.Second)
}

var _ = store.AccountOK

func TestWatcherReconnectsQuietlyWhenServerEndsIdle(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	proxy := testenv.NewProxy(t, mail.IMAPAddr)
	proxy.DropAfter(1500 * time.Millisecond)
	f := newFixture(t, func(testenv.Mail) string { return proxy.Addr })
	f.watch(t, nil)
	f.waitSynced(t)

	// Each message goes in after another reconnect, so every one crosses
	// a connection the server ended.
	for i := range 4 {
		before := len(proxy.Accepts())
		testenv.WaitFor(t, 10*time.Second, "the next reconnect", func() bool { return len(proxy.Accepts()) > before })
		subject := fmt.Sprintf("between drops %d", i)
		f.append(t, subject)
		f.waitStored(t, subject, 10*time.Second)
	}
	if n := f.logs.Count("level=WARN"); n != 0 {
		t.Errorf("%d warnings for routine disconnects, want none", n)
	}
	// Four messages and a few reconnects need a handful of IDLE exits; a
	// loop that keeps waking itself makes thousands.
	if n := f.logs.Count("leaving IDLE"); n > 30 {
		t.Errorf("left IDLE %d times, want a few per message", n)
	}
}
