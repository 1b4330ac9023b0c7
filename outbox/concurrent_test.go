package outbox_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// rowIDHeader carries the outbox id in the messages of the load tests.
const rowIDHeader = "X-Row-Id: "

// countingSink is a sink that counts the messages it accepted per row id.
type countingSink struct {
	*testenv.Sink
	mu     sync.Mutex
	counts map[int64]int
	total  int
}

func newCountingSink(t *testing.T) *countingSink {
	s := &countingSink{counts: make(map[int64]int)}
	s.Sink = testenv.NewSink(t, func(m testenv.Received) {
		i := bytes.Index(m.Data, []byte(rowIDHeader))
		if i < 0 {
			return
		}
		line := m.Data[i+len(rowIDHeader):]
		line = line[:bytes.IndexByte(line, '\r')]
		id, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.counts[id]++
		s.total++
		s.mu.Unlock()
	})
	return s
}

func (s *countingSink) snapshot() (map[int64]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[int64]int, len(s.counts))
	for id, n := range s.counts {
		counts[id] = n
	}
	return counts, s.total
}

// queueBurst inserts rows whose messages carry their id.
func queueBurst(t *testing.T, db testenv.DB, account int64, rows int) {
	t.Helper()
	_, err := db.Store.Pool().Exec(context.Background(), `
		INSERT INTO email_outbox (id, acntid, raw)
		SELECT n, $1, convert_to(E'To: sink@example.test\r\nSubject: row ' || n || E'\r\n`+rowIDHeader+`' || n || E'\r\n\r\nbody\r\n', 'UTF8')
		FROM generate_series(1, $2) AS n`, account, rows)
	if err != nil {
		t.Fatalf("insert %d rows: %v", rows, err)
	}
}

// Two senders with their own owner names sweep one queue at once: every
// row goes out exactly once.
func TestTwoSenders(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	sink := newCountingSink(t)
	const rows = 2000
	// Two accounts, so batches of both interleave.
	accounts := []int64{sinkAccount(t, db, sink.Addr), sinkAccount(t, db, sink.Addr)}
	queueBurst(t, db, accounts[0], rows/2)
	_, err := db.Store.Pool().Exec(context.Background(), `
		INSERT INTO email_outbox (id, acntid, raw)
		SELECT n, $1, convert_to(E'To: sink@example.test\r\n`+rowIDHeader+`' || n || E'\r\n\r\nbody\r\n', 'UTF8')
		FROM generate_series($2::bigint + 1, $2::bigint * 2) AS n`, accounts[1], rows/2)
	if err != nil {
		t.Fatalf("insert rows of the second account: %v", err)
	}

	logs := runSenders(t, db, sink, rows, "sender-a", "sender-b")

	counts, total := sink.snapshot()
	if total != rows || len(counts) != rows {
		t.Fatalf("sink accepted %d messages for %d rows, want %d for %d", total, len(counts), rows, rows)
	}
	for id := int64(1); id <= rows; id++ {
		if counts[id] != 1 {
			t.Errorf("row %d sent %d times, want once", id, counts[id])
		}
	}
	var sent, first, duplicates int
	db.Store.Pool().QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE attempts = 1 AND status = 'sent'),
		       count(*) FILTER (WHERE possible_duplicate) FROM email_outbox`).Scan(&sent, &first, &duplicates)
	if sent != rows || first != rows || duplicates != 0 {
		t.Errorf("rows: %d sent, %d at the first attempt, %d flagged; want %d, %d, 0", sent, first, duplicates, rows, rows)
	}
	a, b := logs[0].Count("outbox message sent"), logs[1].Count("outbox message sent")
	if a+b != rows || a == 0 || b == 0 {
		t.Errorf("sender-a sent %d rows and sender-b %d, want %d between both, each some", a, b, rows)
	}
	t.Logf("sender-a sent %d rows, sender-b %d", a, b)
}

// runSenders runs one sender per owner, each sweeping in a loop until the
// sink has accepted rows messages, and returns each sender's logs.
func runSenders(t *testing.T, db testenv.DB, sink *countingSink, rows int, owners ...string) []*testenv.Logs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var logs []*testenv.Logs
	for _, owner := range owners {
		s := fastSender(t, db, owner)
		s.Now = nil
		s.BatchSize = 25
		var l *testenv.Logs
		s.Log, l = testenv.NewLogger(t)
		logs = append(logs, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, total := sink.snapshot(); total >= rows {
					return
				}
				if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("%s: Sweep: %v", owner, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return logs
}
