package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the logger of a listener goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func captureLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		want    Event
		warn    bool
	}{
		{"Empty", "", Event{Channel: ChannelOutbox, All: true}, false},
		{"ID", "123", Event{Channel: ChannelOutbox, ID: 123}, false},
		{"MaxID", "9223372036854775807", Event{Channel: ChannelOutbox, ID: 9223372036854775807}, false},
		{"Word", "abc", Event{Channel: ChannelOutbox, All: true}, true},
		{"Negative", "-1", Event{Channel: ChannelOutbox, All: true}, true},
		{"Zero", "0", Event{Channel: ChannelOutbox, All: true}, true},
		{"Spaces", " 12 ", Event{Channel: ChannelOutbox, All: true}, true},
		{"Fraction", "1.5", Event{Channel: ChannelOutbox, All: true}, true},
		{"Overflow", "9223372036854775808", Event{Channel: ChannelOutbox, All: true}, true},
		{"IDList", "1,2", Event{Channel: ChannelOutbox, All: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, buf := captureLog()
			if got := parse(log, ChannelOutbox, tt.payload); got != tt.want {
				t.Errorf("parse(%q): got %+v, want %+v", tt.payload, got, tt.want)
			}
			logged := buf.String()
			if !tt.warn {
				if logged != "" {
					t.Errorf("parse(%q): got log %q, want none", tt.payload, logged)
				}
				return
			}
			if !strings.Contains(logged, "level=WARN") {
				t.Errorf("parse(%q): got log %q, want a warning", tt.payload, logged)
			}
			if !strings.Contains(logged, "channel="+ChannelOutbox) {
				t.Errorf("parse(%q): got log %q, want it to name channel %s", tt.payload, logged, ChannelOutbox)
			}
			if want := "payload=" + quoteLogValue(tt.payload); !strings.Contains(logged, want) {
				t.Errorf("parse(%q): got log %q, want it to contain %s", tt.payload, logged, want)
			}
		})
	}
}

// quoteLogValue formats s as slog's text handler writes a string value.
func quoteLogValue(s string) string {
	if s == "" || strings.ContainsAny(s, " =\"\\") || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) {
		return strconv.Quote(s)
	}
	return s
}

func TestParseTruncatesLongPayload(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat("x", 64) + strings.Repeat("y", 200)
	log, buf := captureLog()
	if got := parse(log, ChannelAccounts, payload); !got.All || got.ID != 0 {
		t.Errorf("parse(long payload): got %+v, want All", got)
	}
	logged := strings.TrimSuffix(buf.String(), "\n")
	_, value, found := strings.Cut(logged, " payload=")
	if !found {
		t.Fatalf("log %q: want a payload attribute", logged)
	}
	if want := strings.Repeat("x", 64) + "..."; value != want {
		t.Errorf("logged payload: got %q, want the first 64 bytes and ...: %q", value, want)
	}
}

func TestParseTruncatesAtRune(t *testing.T) {
	t.Parallel()
	// "a" then 2-byte runes: byte 64 falls inside a rune.
	payload := "a" + strings.Repeat("ż", 100)
	buf := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	parse(log, ChannelOutbox, payload)
	logged := buf.String()
	if !strings.Contains(logged, `"payload":"a`+strings.Repeat("ż", 31)) {
		t.Errorf("log %q: want the payload's leading characters", logged)
	}
	if strings.Contains(logged, `\ufffd`) || strings.ContainsRune(logged, utf8.RuneError) {
		t.Errorf("log %q: the payload was cut inside a UTF-8 character", logged)
	}
}

// event receives the next event that keep accepts, or fails the test after
// a deadline.
func event(t *testing.T, events <-chan Event, what string, keep func(Event) bool) Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-events:
			if keep(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type runningListener struct {
	events chan Event
	logs   *syncBuffer
	// pid is the backend process id of the current LISTEN connection.
	pid  atomic.Uint32
	done chan error
}

func startListener(t *testing.T, db testenv.DB, channels ...string) *runningListener {
	t.Helper()
	log, logs := captureLog()
	r := &runningListener{events: make(chan Event, 1000), logs: logs, done: make(chan error, 1)}
	l := &Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			conn, err := db.Store.ConnectListener(ctx)
			if err == nil {
				r.pid.Store(conn.PgConn().PID())
			}
			return conn, err
		},
		Log:      log,
		OnEvent:  func(e Event) { r.events <- e },
		Channels: channels,
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run after cancel: got %v, want context.Canceled", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return within 15 s of cancel")
		}
	})
	return r
}

// randomID returns an id far above what the tests that run in parallel
// create, so their notifications never match it.
func randomID() int64 { return 1_000_000_000_000 + rand.Int64N(1_000_000_000_000) }

func TestListenerEvents(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	account := db.InsertAccount(t, testenv.Account{Address: "owner@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1"})
	r := startListener(t, db, ChannelOutbox)

	first := event(t, r.events, "the backlog event", func(Event) bool { return true })
	if want := (Event{Channel: ChannelOutbox, All: true, Backlog: true}); first != want {
		t.Fatalf("first event: got %+v, want %+v", first, want)
	}

	notified := randomID()
	db.Exec(t, "SELECT pg_notify('email_outbox', $1)", strconv.FormatInt(notified, 10))
	got := event(t, r.events, "the NOTIFY event", func(e Event) bool { return e.ID == notified })
	if want := (Event{Channel: ChannelOutbox, ID: notified}); got != want {
		t.Errorf("NOTIFY with id: got %+v, want %+v", got, want)
	}

	// A row queued by the trigger in sql/triggers.sql.
	queued := randomID()
	if _, err := db.Store.Pool().Exec(ctx, "INSERT INTO email_outbox (id, acntid, raw) VALUES ($1, $2, 'x')", queued, account); err != nil {
		t.Fatalf("insert outbox row %d: %v", queued, err)
	}
	got = event(t, r.events, "the trigger's event", func(e Event) bool { return e.ID == queued })
	if want := (Event{Channel: ChannelOutbox, ID: queued}); got != want {
		t.Errorf("INSERT into email_outbox: got %+v, want %+v", got, want)
	}

	// A bare NOTIFY, then an id that marks the end. The All event must come
	// between them, because notifications arrive in commit order.
	end := randomID()
	db.Exec(t, "NOTIFY email_outbox")
	db.Exec(t, "SELECT pg_notify('email_outbox', $1)", strconv.FormatInt(end, 10))
	got = event(t, r.events, "the bare NOTIFY event", func(e Event) bool { return e.All || e.ID == end })
	if want := (Event{Channel: ChannelOutbox, All: true}); got != want {
		t.Errorf("bare NOTIFY: got %+v, want %+v", got, want)
	}
	event(t, r.events, "the event after the bare NOTIFY", func(e Event) bool { return e.ID == end })
}

func TestListenerChannels(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	r := startListener(t, db, ChannelOutbox, ChannelAccounts)

	backlogs := map[string]bool{}
	for range 2 {
		e := event(t, r.events, "backlog events", func(e Event) bool { return e.Backlog })
		backlogs[e.Channel] = true
	}
	if !backlogs[ChannelOutbox] || !backlogs[ChannelAccounts] {
		t.Errorf("backlog events: got channels %v, want %s and %s", backlogs, ChannelOutbox, ChannelAccounts)
	}

	id := randomID()
	db.Exec(t, "SELECT setval('email_accounts_acntid_seq', $1)", id)
	account := db.InsertAccount(t, testenv.Account{Address: "owner@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: "127.0.0.1:1"})
	if account != id+1 {
		t.Fatalf("InsertAccount: got acntid %d, want %d", account, id+1)
	}
	got := event(t, r.events, "the account event", func(e Event) bool { return e.ID == account })
	if want := (Event{Channel: ChannelAccounts, ID: account}); got != want {
		t.Errorf("INSERT into email_accounts: got %+v, want %+v", got, want)
	}
}

func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	r := startListener(t, db, ChannelOutbox)
	event(t, r.events, "the first backlog event", func(e Event) bool { return e.Backlog })
	pid := r.pid.Load()

	db.Exec(t, "SELECT pg_terminate_backend($1)", int64(pid))
	got := event(t, r.events, "the backlog event after reconnect", func(e Event) bool { return e.Backlog })
	if want := (Event{Channel: ChannelOutbox, All: true, Backlog: true}); got != want {
		t.Errorf("after reconnect: got %+v, want %+v", got, want)
	}
	if r.pid.Load() == pid {
		t.Errorf("after reconnect: backend pid is still %d, want a new connection", pid)
	}
	if logged := r.logs.String(); !strings.Contains(logged, "LISTEN connection failed, reconnecting") {
		t.Errorf("log %q: want a warning about the lost connection", logged)
	}

	// The new connection listens too.
	id := randomID()
	db.Exec(t, "SELECT pg_notify('email_outbox', $1)", strconv.FormatInt(id, 10))
	event(t, r.events, "a NOTIFY after reconnect", func(e Event) bool { return e.ID == id })
}
