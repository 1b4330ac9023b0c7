package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/outbox"
)

// rowState is what the outbox tests read back from a row.
type rowState struct {
	Status            string
	Attempts          int
	NextAttemptAt     time.Time
	LastError         *string
	SMTPReply         *string
	MessageID         *string
	PossibleDuplicate bool
	Refused           *string
	RcptTo            []string
	CopyStatus        *string
	CopyAttempts      int
	CopyError         *string
}

func readRow(t *testing.T, db testenv.DB, id int64) rowState {
	t.Helper()
	var s rowState
	err := db.Store.Pool().QueryRow(context.Background(), `
		SELECT status, attempts, next_attempt_at, last_error, smtp_reply, message_id, possible_duplicate,
		       refused_recipients, rcpt_to, sent_copy_status, sent_copy_attempts, sent_copy_error
		FROM email_outbox WHERE id = $1`, id).
		Scan(&s.Status, &s.Attempts, &s.NextAttemptAt, &s.LastError, &s.SMTPReply, &s.MessageID,
			&s.PossibleDuplicate, &s.Refused, &s.RcptTo, &s.CopyStatus, &s.CopyAttempts, &s.CopyError)
	if err != nil {
		t.Fatalf("read outbox row %d: %v", id, err)
	}
	return s
}

// sinkAccount inserts an account that sends to smtpAddr and keeps no Sent
// copy.
func sinkAccount(t *testing.T, db testenv.DB, smtpAddr string) int64 {
	t.Helper()
	id := db.InsertAccount(t, testenv.Account{Address: "office@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: smtpAddr})
	db.Exec(t, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", id)
	return id
}

func queueRaw(t *testing.T, db testenv.DB, account int64, to, body string) int64 {
	t.Helper()
	raw := "From: office@example.test\r\nTo: " + to + "\r\nSubject: test\r\n\r\n" + body + "\r\n"
	var id int64
	err := db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2) RETURNING id", account, []byte(raw)).Scan(&id)
	if err != nil {
		t.Fatalf("insert outbox row: %v", err)
	}
	return id
}

// testClock is an hour ahead of the database, so the retry times that the
// sender computes differ from the database's now().
var testClock = time.Now().Add(time.Hour)

// fastSender returns a sender with timeouts short enough that a stalled
// server fails a test in well under a second.
func fastSender(t *testing.T, db testenv.DB, owner string) *outbox.Sender {
	log, _ := testenv.NewLogger(t)
	return &outbox.Sender{
		Store: db.Store, Log: log, Owner: owner, Lease: time.Minute, BatchSize: 50,
		RetryMin: time.Minute, RetryMax: time.Hour, MaxAge: 24 * time.Hour,
		Timeouts: outbox.Timeouts{Dial: time.Second, Command: 300 * time.Millisecond, Submit: 300 * time.Millisecond, Copy: 5 * time.Second},
		Now:      func() time.Time { return testClock },
	}
}

func sweepAll(t *testing.T, s *outbox.Sender) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return n
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// checkRetry checks a row that waits for its second attempt after a
// temporary failure that the server reported with want in the error.
func checkRetry(t *testing.T, row rowState, want string, duplicate bool) {
	t.Helper()
	if row.Status != "queued" || row.Attempts != 1 {
		t.Errorf("got status %s after %d attempts, want queued after 1 (last_error %s)", row.Status, row.Attempts, str(row.LastError))
	}
	// The first retry waits RetryMin (1 min) from the sender's clock, with
	// up to 25% jitter.
	if d := row.NextAttemptAt.Sub(testClock); d < 45*time.Second || d > 75*time.Second {
		t.Errorf("next attempt %v after the sender's clock, want 45 s to 75 s", d)
	}
	if !strings.Contains(str(row.LastError), want) {
		t.Errorf("last_error %q, want it to contain %q", str(row.LastError), want)
	}
	if row.PossibleDuplicate != duplicate {
		t.Errorf("possible_duplicate %v, want %v", row.PossibleDuplicate, duplicate)
	}
}

// Each stage replies with each code to the first message. A second message
// of the account follows on the same connection unless the reply was 421.
func TestStage(t *testing.T) {
	t.Parallel()
	for _, at := range []stage{atConnect, atMail, atRcpt, atData, atDot} {
		for _, code := range []int{421, 451, 452, 550, 554} {
			t.Run(fmt.Sprintf("%s_%d", at, code), func(t *testing.T) {
				t.Parallel()
				testStage(t, at, code)
			})
		}
	}
}

func testStage(t *testing.T, at stage, code int) {
	db := testenv.NewDB(t)
	srv := startScripted(t, func(s stage, tx int, _ string) act {
		if s == at && (at == atConnect || tx == 1) {
			return act{code: code}
		}
		return act{}
	})
	account := sinkAccount(t, db, srv.addr)
	first := queueRaw(t, db, account, "one@example.test", "first")
	second := queueRaw(t, db, account, "two@example.test", "second")

	if n := sweepAll(t, fastSender(t, db, "stage")); n != 2 {
		t.Fatalf("claimed %d rows, want 2", n)
	}
	row1, row2 := readRow(t, db, first), readRow(t, db, second)
	reply := fmt.Sprintf("scripted %d", code)
	switch {
	case code/100 == 5 && at == atConnect:
		// A rejected greeting is the server's problem, not the message's.
		checkRetry(t, row1, reply, false)
	case code/100 == 5:
		if row1.Status != "failed" || !strings.Contains(str(row1.LastError), reply) {
			t.Errorf("first row: got %s with last_error %q, want failed with %q", row1.Status, str(row1.LastError), reply)
		}
	default:
		checkRetry(t, row1, reply, false)
	}
	conns, _, accepted := srv.snapshot()
	switch {
	case at == atConnect:
		// Both rows met the same greeting, and each counts an attempt.
		if row2.Status != row1.Status || row2.Attempts != 1 || str(row2.LastError) != str(row1.LastError) {
			t.Errorf("second row: got %+v, want the first row's outcome %+v", row2, row1)
		}
	case code == 421:
		if row2.Status != "queued" || row2.NextAttemptAt.After(testClock) || !strings.Contains(str(row2.LastError), "not attempted") {
			t.Errorf("second row: got %s due %v (%s), want queued, due at once, not attempted", row2.Status, row2.NextAttemptAt, str(row2.LastError))
		}
	default:
		if row2.Status != "sent" || str(row2.SMTPReply) != "2.0.0 queued as TX2" {
			t.Errorf("second row: got %s with reply %q, want sent with 2.0.0 queued as TX2 (last_error %s)", row2.Status, str(row2.SMTPReply), str(row2.LastError))
		}
		if conns != 1 {
			t.Errorf("connections: got %d, want 1", conns)
		}
	}
	for _, m := range accepted {
		if strings.Contains(string(m.data), "first") {
			t.Errorf("server accepted the first message although it replied %d", code)
		}
	}
	if row1.PossibleDuplicate || row2.PossibleDuplicate {
		t.Errorf("possible_duplicate set after a definite reply")
	}
}

// bigBody is larger than what loopback sockets buffer, so a server that
// stops reading makes the client's write fail before the final dot.
var bigBody = strings.Repeat("Zażółć gęślą jaźń, zdanie do wypełnienia wiadomości.\r\n", 400_000)

// A dropped or stalled connection is retried. Only a fault after the final
// dot leaves the outcome unknown and flags the row.
func TestFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		at        stage
		fault     act
		want      string
		duplicate bool
	}{
		{"drop_connect", atConnect, act{drop: true}, "EOF", false},
		{"drop_mail", atMail, act{drop: true}, "MAIL FROM", false},
		{"drop_rcpt", atRcpt, act{drop: true}, "RCPT TO", false},
		{"drop_data", atData, act{drop: true}, "DATA", false},
		{"drop_body", atBody, act{drop: true}, "write message", false},
		{"drop_dot", atDot, act{drop: true}, "may have been delivered", true},
		{"stall_connect", atConnect, act{stall: true}, "timeout", false},
		{"stall_mail", atMail, act{stall: true}, "timeout", false},
		{"stall_rcpt", atRcpt, act{stall: true}, "timeout", false},
		{"stall_data", atData, act{stall: true}, "timeout", false},
		{"stall_body", atBody, act{stall: true}, "write message", false},
		{"stall_dot", atDot, act{stall: true}, "may have been delivered", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testenv.NewDB(t)
			var healthy atomic.Bool
			srv := startScripted(t, func(s stage, tx int, _ string) act {
				if !healthy.Load() && s == tc.at {
					return tc.fault
				}
				return act{}
			})
			account := sinkAccount(t, db, srv.addr)
			body := "short"
			if tc.at == atBody {
				body = bigBody
			}
			id := queueRaw(t, db, account, "one@example.test", body)
			sender := fastSender(t, db, "fault")

			start := time.Now()
			sweepAll(t, sender)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("the faulty attempt took %v, want the 300 ms timeouts to end it", elapsed)
			}
			checkRetry(t, readRow(t, db, id), tc.want, tc.duplicate)

			// The retry on a healthy server sends the message and keeps the
			// flag.
			healthy.Store(true)
			// A large message takes longer than 300 ms to write when the
			// machine is busy.
			sender.Timeouts.Submit = 10 * time.Second
			db.Exec(t, "UPDATE email_outbox SET next_attempt_at = now() WHERE id = $1", id)
			sweepAll(t, sender)
			row := readRow(t, db, id)
			if row.Status != "sent" || row.Attempts != 2 || row.PossibleDuplicate != tc.duplicate {
				t.Errorf("after the retry: got %s after %d attempts, possible_duplicate %v; want sent after 2, %v (last_error %s)",
					row.Status, row.Attempts, row.PossibleDuplicate, tc.duplicate, str(row.LastError))
			}
		})
	}
}

// Recipients rejected with 4xx while others were accepted stay queued for
// themselves alone; those rejected with 5xx are recorded.
func TestRecipientsMixed(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	var deferredOK atomic.Bool
	srv := startScripted(t, func(s stage, _ int, rcpt string) act {
		switch {
		case s == atRcpt && rcpt == "gone@example.test":
			return act{code: 550}
		case s == atRcpt && rcpt == "busy@example.test" && !deferredOK.Load():
			return act{code: 451}
		}
		return act{}
	})
	account := sinkAccount(t, db, srv.addr)
	id := queueRaw(t, db, account, "anna@example.test, gone@example.test, busy@example.test", "body")
	sender := fastSender(t, db, "mixed")

	sweepAll(t, sender)
	row := readRow(t, db, id)
	if row.Status != "queued" || !slices.Equal(row.RcptTo, []string{"busy@example.test"}) || row.NextAttemptAt.After(time.Now().Add(time.Second)) {
		t.Errorf("after the first attempt: got %s for %q due %v, want queued for busy@example.test alone, due at once",
			row.Status, row.RcptTo, row.NextAttemptAt)
	}
	if refused := str(row.Refused); !strings.HasPrefix(refused, "gone@example.test: ") || !strings.Contains(refused, "550") ||
		!strings.Contains(str(row.SMTPReply), "gone@example.test") {
		t.Errorf("refused_recipients %q, smtp_reply %q; want both to name gone@example.test with its 550", str(row.Refused), str(row.SMTPReply))
	}

	deferredOK.Store(true)
	sweepAll(t, sender)
	row = readRow(t, db, id)
	if row.Status != "sent" || row.Attempts != 2 || row.PossibleDuplicate {
		t.Errorf("after the second attempt: got %s after %d attempts, possible_duplicate %v; want sent after 2, false",
			row.Status, row.Attempts, row.PossibleDuplicate)
	}
	_, _, accepted := srv.snapshot()
	if len(accepted) != 2 || !slices.Equal(accepted[0].rcpts, []string{"anna@example.test"}) ||
		!slices.Equal(accepted[1].rcpts, []string{"busy@example.test"}) {
		t.Errorf("server accepted %d messages, want one to anna@example.test, then one to busy@example.test", len(accepted))
	}
}

// A row whose lease expired is sent by the next claim and flagged, since
// the reactor that held it may have sent it.
func TestReclaimFlags(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startScripted(t, func(stage, int, string) act { return act{} })
	account := sinkAccount(t, db, srv.addr)
	id := queueRaw(t, db, account, "one@example.test", "body")
	if _, err := db.Store.ClaimOutbox(context.Background(), "stopped-reactor", time.Minute, 10); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if n := sweepAll(t, fastSender(t, db, "next")); n != 0 {
		t.Fatalf("claimed %d rows during the lease, want 0", n)
	}
	db.Exec(t, "UPDATE email_outbox SET lease_until = now() - interval '1 second' WHERE id = $1", id)
	sweepAll(t, fastSender(t, db, "next"))
	if row := readRow(t, db, id); row.Status != "sent" || row.Attempts != 2 || !row.PossibleDuplicate {
		t.Errorf("got %s after %d attempts, possible_duplicate %v; want sent after 2, true", row.Status, row.Attempts, row.PossibleDuplicate)
	}
}

// A batch that outlasts half its lease renews it, so a second sender does
// not take rows that the first is still sending.
func TestLeaseRenewed(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startScripted(t, func(s stage, _ int, _ string) act {
		if s == atDot {
			return act{delay: 200 * time.Millisecond}
		}
		return act{}
	})
	account := sinkAccount(t, db, srv.addr)
	const rows = 8
	for i := range rows {
		queueRaw(t, db, account, "one@example.test", fmt.Sprint("row ", i))
	}
	slow := fastSender(t, db, "slow")
	slow.Lease, slow.Now = time.Second, nil
	slow.Timeouts.Submit = 5 * time.Second
	other := fastSender(t, db, "other")
	other.Now = nil

	done := make(chan struct{})
	go func() {
		defer close(done)
		slow.Sweep(context.Background())
	}()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-time.After(50 * time.Millisecond):
			if n, err := other.Sweep(context.Background()); err != nil || n != 0 {
				t.Errorf("second sender claimed %d rows (err %v) while the first held them", n, err)
			}
		}
	}
	_, _, accepted := srv.snapshot()
	if len(accepted) != rows {
		t.Errorf("server accepted %d messages, want %d", len(accepted), rows)
	}
}
