package reactor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// Each benchmark measures a fixed number of events, whatever b.N is, and
// reports percentiles; run them with -benchtime=1x (scripts/bench.sh does).

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func reportLatency(b *testing.B, name string, samples []time.Duration) {
	slices.Sort(samples)
	p50, p99 := percentile(samples, 0.50), percentile(samples, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
	b.Logf("%s over %d samples: p50 %v, p99 %v, max %v", name, len(samples), p50, p99, samples[len(samples)-1])
}

// benchOutbox starts an engine whose only account sends to an in-process
// sink, and returns the account id and the channel of accepted row ids.
func benchOutbox(b *testing.B) (*harness, int64, <-chan int64) {
	h := &harness{mail: testenv.MailEnv(b), db: testenv.NewDB(b)}
	accepted := make(chan int64, 20000)
	sink := testenv.NewSink(b, func(m testenv.Received) {
		i := bytes.Index(m.Data, []byte("X-Bench-Id: "))
		if i < 0 {
			return
		}
		line := m.Data[i+len("X-Bench-Id: "):]
		line = line[:bytes.IndexByte(line, '\r')]
		id, _ := strconv.ParseInt(string(line), 10, 64)
		accepted <- id
	})
	id := h.db.InsertAccount(b, testenv.Account{
		Address: "bench@example.test", Password: "x", IMAPAddr: h.mail.IMAPAddr, SMTPAddr: sink.Addr,
	})
	// The account has no IMAP login, so a Sent copy would only measure
	// failed logins.
	h.db.Exec(b, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", id)
	cfg := testConfig(b)
	cfg.SyncEnabled = false
	h.run(b, cfg, quietLogger(b))
	return h, id, accepted
}

func BenchmarkOutboxLatency(b *testing.B) {
	h, acntid, accepted := benchOutbox(b)
	const rows = 1000
	samples := make([]time.Duration, 0, rows)
	ctx := context.Background()
	for i := range rows {
		raw := fmt.Sprintf("To: sink@example.test\r\nSubject: latency %d\r\nX-Bench-Id: %d\r\n\r\nbody\r\n", i, i+1)
		start := time.Now()
		if _, err := h.db.Store.Pool().Exec(ctx, "INSERT INTO email_outbox (id, acntid, raw) VALUES ($1, $2, $3)",
			i+1, acntid, []byte(raw)); err != nil {
			b.Fatalf("insert row: %v", err)
		}
		select {
		case id := <-accepted:
			if id != int64(i+1) {
				b.Fatalf("sink accepted row %d, want %d", id, i+1)
			}
		case <-time.After(10 * time.Second):
			b.Fatalf("row %d not accepted within 10s", i+1)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatency(b, "insert-to-accept", samples)
}

func BenchmarkOutboxBurst(b *testing.B) {
	h, acntid, accepted := benchOutbox(b)
	const rows = 10000
	start := time.Now()
	_, err := h.db.Store.Pool().Exec(context.Background(), `
		INSERT INTO email_outbox (acntid, raw)
		SELECT $1, convert_to(E'To: sink@example.test\r\nSubject: burst ' || n || E'\r\nX-Bench-Id: ' || n || E'\r\n\r\nbody\r\n', 'UTF8')
		FROM generate_series(1, $2) AS n`, acntid, rows)
	if err != nil {
		b.Fatalf("insert burst: %v", err)
	}
	seen := make(map[int64]bool, rows)
	deadline := time.After(5 * time.Minute)
	for len(seen) < rows {
		select {
		case id := <-accepted:
			seen[id] = true
		case <-deadline:
			b.Fatalf("only %d of %d rows accepted within 5 minutes", len(seen), rows)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.Logf("burst of %d rows drained in %v (%.0f rows/s)", rows, elapsed, float64(rows)/elapsed.Seconds())
}

// BenchmarkNewMailLatency measures APPEND by another client to the row
// visible in Postgres, next to the moment a bare IDLE client on the same
// mailbox sees the EXISTS: Dovecot's own notification delay is the floor.
func BenchmarkNewMailLatency(b *testing.B) {
	h := &harness{mail: testenv.MailEnv(b), db: testenv.NewDB(b)}
	address, password := h.mail.AddUser(b, "latency")
	acntid := h.db.InsertAccount(b, testenv.Account{
		Address: address, Password: password, IMAPAddr: h.mail.IMAPAddr, SMTPAddr: h.mail.SMTPAddr,
	})
	cfg := testConfig(b)
	cfg.OutboxEnabled = false
	h.run(b, cfg, quietLogger(b))
	waitSyncedB(b, h, acntid)

	exists := make(chan time.Time, 16)
	bare := dialIdle(b, h.mail.IMAPAddr, address, password, exists)
	defer bare.Close()
	appender := h.mail.Dial(b, address, password)

	const messages = 200
	var reactorSamples, floorSamples []time.Duration
	ctx := context.Background()
	for i := range messages {
		raw := fmt.Sprintf("Subject: latency %d\r\nMessage-ID: <lat-%d@example.test>\r\n\r\nbody\r\n", i, i)
		start := time.Now()
		uid := h.mail.Append(b, appender, "INBOX", []byte(raw))

		var floor time.Time
		select {
		case floor = <-exists:
		case <-time.After(10 * time.Second):
			b.Fatalf("bare IDLE client saw no EXISTS for message %d", i)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			err := h.db.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid)
				WHERE f.acntid = $1 AND m.uid = $2`, acntid, int64(uid)).Scan(&n)
			if err != nil {
				b.Fatalf("poll stored message: %v", err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("message %d not stored within 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		reactorSamples = append(reactorSamples, time.Since(start))
		floorSamples = append(floorSamples, floor.Sub(start))
	}
	reportLatency(b, "append-to-row", reactorSamples)
	reportLatency(b, "append-to-exists", floorSamples)
}

// dialIdle logs in, selects INBOX and stays in IDLE, sending the time of
// each EXISTS to exists.
func dialIdle(b *testing.B, addr, address, password string, exists chan<- time.Time) *imapclient.Client {
	var mu sync.Mutex
	ready := false
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				mu.Lock()
				defer mu.Unlock()
				if data.NumMessages != nil && ready {
					exists <- time.Now()
				}
			},
		},
	})
	if err != nil {
		b.Fatalf("dial bare IDLE client: %v", err)
	}
	if err := c.Login(address, password).Wait(); err != nil {
		b.Fatalf("login bare IDLE client: %v", err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatalf("select: %v", err)
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	if _, err := c.Idle(); err != nil {
		b.Fatalf("IDLE: %v", err)
	}
	return c
}

func waitSyncedB(b *testing.B, h *harness, acntid int64) {
	testenv.WaitFor(b, 20*time.Second, "first sync", func() bool {
		var n int
		h.db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_folders
			WHERE acntid = $1 AND last_recent_sync_at IS NOT NULL`, acntid).Scan(&n)
		return n == 1
	})
}

// quietLogger logs warnings and errors only, so that logging every send
// does not weigh on what a benchmark measures.
func quietLogger(b *testing.B) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
