package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailreactor/mailreactor/internal/mailgen"
)

const (
	testUser     = "anna.nowak@example.test"
	testPassword = "Tajne-Has\u0142o-42"
)

// testServer is an in-memory IMAP server on loopback.
type testServer struct {
	addr string
	// quota, when positive, is how many APPENDs the server accepts before
	// it responds NO [OVERQUOTA].
	quota    atomic.Int32
	appended atomic.Int32
	// hang, when set, makes APPEND wait for the end of the test.
	hang    atomic.Bool
	release chan struct{}
}

// startServer serves one user with an empty INBOX, over TLS when tlsConf
// is set.
func startServer(t testing.TB, tlsConf *tls.Config) *testServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPassword)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)

	ts := &testServer{release: make(chan struct{})}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &quotaSession{Session: mem.NewSession(), ts: ts}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapLiteralPlus: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		close(ts.release)
		srv.Close()
		<-served
	})
	ts.addr = ln.Addr().String()
	return ts
}

// quotaSession rejects APPEND once the server's quota is used up, and
// blocks it while the server's hang is set.
type quotaSession struct {
	imapserver.Session
	ts *testServer
}

func (s *quotaSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if s.ts.hang.Load() {
		<-s.ts.release
	}
	if q := s.ts.quota.Load(); q > 0 && s.ts.appended.Add(1) > q {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded"}
	}
	return s.Session.Append(mailbox, r, options)
}

// testConfig is a run against ts with fast progress and stall timers.
func testConfig(ts *testServer, count int) config {
	return config{
		addr: ts.addr, user: testUser, password: testPassword, mailbox: "INBOX",
		count: count, seed: 7, parallel: 3, window: 8,
		progressEvery: time.Hour, stallAfter: time.Hour, greetTimeout: 10 * time.Second,
	}
}

// stored returns the messages of the test user's INBOX on the in-memory
// server, with their internal dates.
func stored(t *testing.T, addr string, tlsConf *tls.Config) map[string]time.Time {
	t.Helper()
	var c *imapclient.Client
	var err error
	if tlsConf != nil {
		c, err = imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: tlsConf})
	} else {
		c, err = imapclient.DialInsecure(addr, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	return inbox(t, c)
}

// inbox returns the raw messages of INBOX with their internal dates.
func inbox(t *testing.T, c *imapclient.Client) map[string]time.Time {
	t.Helper()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	if sel.NumMessages == 0 {
		return out
	}
	body := &imap.FetchItemBodySection{Peek: true}
	var all imap.SeqSet
	all.AddRange(1, sel.NumMessages)
	bufs, err := c.Fetch(all, &imap.FetchOptions{InternalDate: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bufs {
		out[string(b.FindBodySection(body))] = b.InternalDate
	}
	return out
}

func TestFillAppendsGeneratedMessages(t *testing.T) {
	for _, size := range []int{0, 10 << 10} {
		ts := startServer(t, nil)
		cfg := testConfig(ts, 300)
		cfg.size = size
		n, err := fill(context.Background(), cfg, &syncBuffer{})
		if err != nil || n != cfg.count {
			t.Fatalf("size %d: fill appended %d, err %v; want %d", size, n, err, cfg.count)
		}
		checkStored(t, stored(t, ts.addr, nil), cfg)
	}
}

// checkStored compares the mailbox with the messages cfg generates.
func checkStored(t *testing.T, got map[string]time.Time, cfg config) {
	t.Helper()
	if len(got) != cfg.count {
		t.Fatalf("mailbox contains %d distinct messages, want %d", len(got), cfg.count)
	}
	g := mailgen.New(mailgen.Options{Seed: cfg.seed, Size: cfg.size, From: cfg.from, To: cfg.to})
	for i := range cfg.count {
		m := g.Next()
		date, ok := got[string(m.Raw)]
		if !ok {
			t.Fatalf("message %d <%s> is not in the mailbox byte for byte", i, m.MessageID)
		}
		if !date.Equal(m.Date) {
			t.Fatalf("message %d <%s>: internal date %v, want its Date %v", i, m.MessageID, date, m.Date)
		}
	}
}

func TestRunPrintsResultAndNeverThePassword(t *testing.T) {
	ts := startServer(t, nil)
	var out syncBuffer
	env := map[string]string{passwordEnv: testPassword}
	code := run([]string{"-addr", ts.addr, "-user", testUser, "-count", "120", "-parallel", "2", "-seed", "3"},
		func(k string) string { return env[k] }, &out)
	if code != 0 {
		t.Fatalf("exit status %d, output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "appended 120 messages to INBOX in ") {
		t.Errorf("no final line in:\n%s", out.String())
	}
	if strings.Contains(out.String(), testPassword) {
		t.Errorf("output shows the password:\n%s", out.String())
	}
	if got := len(stored(t, ts.addr, nil)); got != 120 {
		t.Errorf("mailbox contains %d messages, want 120", got)
	}
}

func TestFillFailures(t *testing.T) {
	ts := startServer(t, nil)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		name   string
		change func(*config)
		want   string
	}{
		{"wrong password", func(c *config) { c.password = "wrong-" + testPassword }, "check -user and the password"},
		{"unknown user", func(c *config) { c.user = "nobody@example.test" }, "logging in to"},
		{"missing mailbox", func(c *config) { c.mailbox = "Archiwum" }, "create it first"},
		{"nothing listening", func(c *config) { c.addr = closedAddr }, "check -addr"},
		{"TLS to a plain port", func(c *config) { c.tls = true }, "drop -tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(ts, 10)
			tt.change(&cfg)
			n, err := fill(context.Background(), cfg, &syncBuffer{})
			if err == nil || n != 0 {
				t.Fatalf("fill appended %d, err %v; want an error", n, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	if got := len(stored(t, ts.addr, nil)); got != 0 {
		t.Errorf("failed runs left %d messages", got)
	}
}

func TestFillStopsWhenServerRefuses(t *testing.T) {
	ts := startServer(t, nil)
	ts.quota.Store(100)
	var out syncBuffer
	cfg := testConfig(ts, 400)
	n, err := fill(context.Background(), cfg, &out)
	if err == nil || !strings.Contains(err.Error(), "over quota") {
		t.Fatalf("err %v, want the quota named", err)
	}
	if n != 100 {
		t.Errorf("fill reports %d appended, the server accepted 100", n)
	}
	if got := len(stored(t, ts.addr, nil)); got != 100 {
		t.Errorf("mailbox contains %d messages, want 100", got)
	}
}

func TestFillGivesUpOnSilentServer(t *testing.T) {
	ts := startServer(t, nil)
	ts.hang.Store(true)
	cfg := testConfig(ts, 50)
	cfg.progressEvery, cfg.stallAfter = 10*time.Millisecond, 200*time.Millisecond
	result := make(chan error, 1)
	go func() {
		_, err := fill(context.Background(), cfg, &syncBuffer{})
		result <- err
	}()
	select {
	case err := <-result:
		if err == nil || !strings.Contains(err.Error(), "stopped responding") {
			t.Fatalf("err %v, want the silence named", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("fill still waits for a server that stopped responding")
	}
}

func TestWatchReportsProgressAndStalls(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var done atomic.Int64
	done.Store(5)
	var out syncBuffer
	cfg := config{addr: "127.0.0.1:1", count: 10, progressEvery: time.Millisecond, stallAfter: 20 * time.Millisecond}
	stop := watch(ctx, cfg, &done, &out, cancel)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not give up on a run that stopped")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "stopped responding") {
		t.Errorf("cause %v, want a stall", cause)
	}
	if !strings.Contains(out.String(), "mailfill: 5/10 appended, ") {
		t.Errorf("no progress line in %q", out.String())
	}
}

// BenchmarkFill measures the append rate against the in-memory server, which
// leaves the client and the generator as the limit.
func BenchmarkFill(b *testing.B) {
	for _, size := range []int{0, 10 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			ts := startServer(b, nil)
			cfg := testConfig(ts, 2000)
			cfg.size, cfg.parallel, cfg.window = size, 4, 32
			for b.Loop() {
				if _, err := fill(context.Background(), cfg, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cfg.count*b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}
