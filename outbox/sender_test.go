package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/outbox"
	"github.com/mailreactor/mailreactor/store"
)

const senderAddress = "sender@example.test"

// delivery is one message as the test SMTP server received it.
type delivery struct {
	from  string
	rcpts []string
	data  []byte
}

// smtpScript sets the test server's reply to each command. A nil function
// accepts.
type smtpScript struct {
	mail func(from string) error
	rcpt func(to string) error
	// data runs after the final dot. Returning an *smtp.SMTPError with a
	// 2xx code sends that code and text as the success reply.
	data func(data []byte) error
	// dropAt names a recipient whose RCPT closes the connection at once.
	dropAt string
}

// smtpServer is an in-process SMTP server on loopback that records what
// it receives.
type smtpServer struct {
	addr   string
	script smtpScript

	connections atomic.Int32
	mu          sync.Mutex
	deliveries  []delivery
}

func startSMTP(t *testing.T, script smtpScript) *smtpServer {
	t.Helper()
	srv := &smtpServer{script: script}
	server := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{server: srv, conn: c}, nil
	}))
	server.Domain = "localhost"
	server.ReadTimeout = 30 * time.Second
	server.WriteTimeout = 30 * time.Second
	server.ErrorLog = testLogger{t}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	srv.addr = listener.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Serve(countingListener{Listener: listener, count: &srv.connections})
	}()
	t.Cleanup(func() {
		server.Close()
		<-done
	})
	return srv
}

func (s *smtpServer) received() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

type countingListener struct {
	net.Listener
	count *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		l.count.Add(1)
	}
	return conn, err
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

type smtpSession struct {
	server  *smtpServer
	conn    *smtp.Conn
	current delivery
}

func (s *smtpSession) Reset()        { s.current = delivery{} }
func (s *smtpSession) Logout() error { return nil }

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.script.mail != nil {
		if err := s.server.script.mail(from); err != nil {
			return err
		}
	}
	s.current = delivery{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == s.server.script.dropAt {
		s.conn.Close()
		return errors.New("connection closed by test server")
	}
	if s.server.script.rcpt != nil {
		if err := s.server.script.rcpt(to); err != nil {
			return err
		}
	}
	s.current.rcpts = append(s.current.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var reply error
	if s.server.script.data != nil {
		reply = s.server.script.data(data)
	}
	var smtpErr *smtp.SMTPError
	if reply == nil || errors.As(reply, &smtpErr) && smtpErr.Code/100 == 2 {
		d := s.current
		d.data = data
		s.server.mu.Lock()
		s.server.deliveries = append(s.server.deliveries, d)
		s.server.mu.Unlock()
	}
	return reply
}

func reject(code int, enhanced smtp.EnhancedCode, message string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: message}
}

// outboxState is the part of an email_outbox row that a send changes.
type outboxState struct {
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	ClaimedBy     *string
	LeaseUntil    *time.Time
	LastError     *string
	SMTPReply     *string
	SentAt        *time.Time
}

func readOutbox(t *testing.T, db testenv.DB, id int64) outboxState {
	t.Helper()
	var s outboxState
	err := db.Store.Pool().QueryRow(context.Background(), `
		SELECT status, attempts, next_attempt_at, claimed_by, lease_until, last_error, smtp_reply, sent_at
		FROM email_outbox WHERE id = $1`, id).
		Scan(&s.Status, &s.Attempts, &s.NextAttemptAt, &s.ClaimedBy, &s.LeaseUntil, &s.LastError, &s.SMTPReply, &s.SentAt)
	if err != nil {
		t.Fatalf("read outbox row %d: %v", id, err)
	}
	return s
}

func insertOutbox(t *testing.T, db testenv.DB, accountID int64, raw string, rcptTo []string) int64 {
	t.Helper()
	var id int64
	err := db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw, rcpt_to) VALUES ($1, $2, $3) RETURNING id",
		accountID, []byte(raw), rcptTo).Scan(&id)
	if err != nil {
		t.Fatalf("insert outbox row: %v", err)
	}
	return id
}

func insertAccount(t *testing.T, db testenv.DB, smtpAddr string) int64 {
	t.Helper()
	// The account has no IMAP server, so both addresses point at the test
	// SMTP server and the Sent copy is off.
	id := db.InsertAccount(t, testenv.Account{Address: senderAddress, IMAPAddr: smtpAddr, SMTPAddr: smtpAddr})
	db.Exec(t, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", id)
	return id
}

func newSender(t *testing.T, db testenv.DB) *outbox.Sender {
	log, _ := testenv.NewLogger(t)
	return &outbox.Sender{
		Store:     db.Store,
		Log:       log,
		Owner:     "sender-test",
		Lease:     time.Minute,
		BatchSize: 10,
		RetryMin:  time.Minute,
		RetryMax:  time.Hour,
		MaxAge:    24 * time.Hour,
	}
}

func sweep(t *testing.T, s *outbox.Sender, wantClaimed int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if n != wantClaimed {
		t.Errorf("Sweep: claimed %d rows, want %d", n, wantClaimed)
	}
}

func text(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestSweepSends(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		data: func([]byte) error { return reject(250, smtp.EnhancedCode{2, 0, 0}, "queued as 7F3A91") },
	})
	account := insertAccount(t, db, srv.addr)
	raw := "From: Jan <" + senderAddress + ">\r\n" +
		"To: Anna <anna@example.test>\r\n" +
		"Cc: piotr@example.test\r\n" +
		"Bcc: =?UTF-8?Q?Ukryty_=C5=81ukasz?= <lukasz@example.test>\r\n" +
		"Subject: =?UTF-8?Q?Umowa_=C5=BC=C3=B3=C5=82ta?=\r\n" +
		// With its own Message-ID and Date, the message goes out unchanged.
		"Message-ID: <umowa-42@example.test>\r\n" +
		"Date: Tue, 03 Dec 2024 10:00:00 +0100\r\n" +
		"\r\n" +
		"Dzień dobry,\r\n.kropka na początku\r\n"
	want := strings.Replace(raw, "Bcc: =?UTF-8?Q?Ukryty_=C5=81ukasz?= <lukasz@example.test>\r\n", "", 1)
	id := insertOutbox(t, db, account, raw, nil)

	before := time.Now()
	sweep(t, newSender(t, db), 1)

	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	d := got[0]
	if d.from != senderAddress {
		t.Errorf("MAIL FROM: got %q, want %q", d.from, senderAddress)
	}
	if wantRcpts := []string{"anna@example.test", "piotr@example.test", "lukasz@example.test"}; !slices.Equal(d.rcpts, wantRcpts) {
		t.Errorf("RCPT TO: got %q, want %q", d.rcpts, wantRcpts)
	}
	header, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(d.data)))
	if err != nil {
		t.Fatalf("read header of received data: %v", err)
	}
	if header.Has("Bcc") {
		t.Errorf("received data has a Bcc header: %q", header.Get("Bcc"))
	}
	if bytes.Contains(d.data, []byte("lukasz@example.test")) {
		t.Errorf("received data contains the Bcc address:\n%s", d.data)
	}
	if string(d.data) != want {
		t.Errorf("received data:\ngot  %q\nwant %q", d.data, want)
	}

	row := readOutbox(t, db, id)
	if row.Status != "sent" {
		t.Errorf("status: got %q, want sent (last_error %s)", row.Status, text(row.LastError))
	}
	if row.Attempts != 1 {
		t.Errorf("attempts: got %d, want 1", row.Attempts)
	}
	if reply := text(row.SMTPReply); !strings.Contains(reply, "queued as 7F3A91") {
		t.Errorf("smtp_reply: got %q, want the server's reply %q", reply, "queued as 7F3A91")
	}
	if row.LastError != nil {
		t.Errorf("last_error: got %q, want NULL", *row.LastError)
	}
	if row.SentAt == nil || row.SentAt.Before(before.Add(-time.Second)) {
		t.Errorf("sent_at: got %v, want a time after %v", row.SentAt, before)
	}
	if row.ClaimedBy != nil || row.LeaseUntil != nil {
		t.Errorf("claim: got claimed_by %s, lease_until %v, want both NULL", text(row.ClaimedBy), row.LeaseUntil)
	}
	if n := srv.connections.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1", n)
	}
}

func TestSweepRecipientRejected(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		rcpt: func(to string) error {
			if to == "nobody@example.test" {
				return reject(550, smtp.EnhancedCode{5, 1, 1}, "no such user here")
			}
			return nil
		},
	})
	account := insertAccount(t, db, srv.addr)
	id := insertOutbox(t, db, account, "To: anna@example.test\r\nSubject: s\r\n\r\nbody\r\n",
		[]string{"nobody@example.test", "anna@example.test"})

	sweep(t, newSender(t, db), 1)

	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if want := []string{"anna@example.test"}; !slices.Equal(got[0].rcpts, want) {
		t.Errorf("accepted RCPT TO: got %q, want %q", got[0].rcpts, want)
	}
	row := readOutbox(t, db, id)
	if row.Status != "sent" {
		t.Errorf("status: got %q, want sent (last_error %s)", row.Status, text(row.LastError))
	}
	reply := text(row.SMTPReply)
	if !strings.Contains(reply, "nobody@example.test") {
		t.Errorf("smtp_reply: got %q, want it to name the rejected nobody@example.test", reply)
	}
	if !strings.Contains(reply, "550") || !strings.Contains(reply, "no such user here") {
		t.Errorf("smtp_reply: got %q, want the rejection 550 no such user here", reply)
	}
	if strings.Contains(reply, "anna@example.test") {
		t.Errorf("smtp_reply: got %q, which names the accepted anna@example.test as rejected", reply)
	}
}

func TestSweepAllRecipientsRejected(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		rcpt: func(string) error { return reject(550, smtp.EnhancedCode{5, 1, 1}, "no such user here") },
	})
	account := insertAccount(t, db, srv.addr)
	id := insertOutbox(t, db, account, "To: a@example.test, b@example.test\r\n\r\nbody\r\n", nil)

	sweep(t, newSender(t, db), 1)

	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %d messages, want 0", len(got))
	}
	row := readOutbox(t, db, id)
	if row.Status != "failed" {
		t.Errorf("status: got %q, want failed", row.Status)
	}
	if msg := text(row.LastError); !strings.Contains(msg, "550") {
		t.Errorf("last_error: got %q, want the 550 reply", msg)
	}
}

func TestSweepMailRejected(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		mail: func(string) error { return reject(550, smtp.EnhancedCode{5, 7, 1}, "sender not allowed") },
	})
	account := insertAccount(t, db, srv.addr)
	id := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)

	sweep(t, newSender(t, db), 1)

	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %d messages, want 0", len(got))
	}
	row := readOutbox(t, db, id)
	if row.Status != "failed" {
		t.Errorf("status: got %q, want failed", row.Status)
	}
	msg := text(row.LastError)
	if !strings.Contains(msg, "550") || !strings.Contains(msg, "sender not allowed") {
		t.Errorf("last_error: got %q, want the reply 550 sender not allowed", msg)
	}
	if row.SMTPReply != nil {
		t.Errorf("smtp_reply: got %q, want NULL", *row.SMTPReply)
	}
	if row.SentAt != nil {
		t.Errorf("sent_at: got %v, want NULL", *row.SentAt)
	}
	if row.Attempts != 1 {
		t.Errorf("attempts: got %d, want 1", row.Attempts)
	}
}

func TestSweepDataDeferred(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		data: func([]byte) error { return reject(451, smtp.EnhancedCode{4, 3, 0}, "queue full, try later") },
	})
	account := insertAccount(t, db, srv.addr)
	id := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)

	before := time.Now()
	sweep(t, newSender(t, db), 1)
	after := time.Now()

	row := readOutbox(t, db, id)
	if row.Status != "queued" {
		t.Errorf("status: got %q, want queued", row.Status)
	}
	if row.Attempts != 1 {
		t.Errorf("attempts: got %d, want 1", row.Attempts)
	}
	// The first retry waits RetryMin (1 min) with up to 25% jitter.
	earliest, latest := before.Add(45*time.Second), after.Add(75*time.Second)
	if row.NextAttemptAt.Before(earliest) || row.NextAttemptAt.After(latest) {
		t.Errorf("next_attempt_at: got %v after the sweep, want 45 s to 75 s", row.NextAttemptAt.Sub(after))
	}
	msg := text(row.LastError)
	if !strings.Contains(msg, "451") || !strings.Contains(msg, "queue full, try later") {
		t.Errorf("last_error: got %q, want the reply 451 queue full, try later", msg)
	}
	if row.ClaimedBy != nil || row.LeaseUntil != nil {
		t.Errorf("claim: got claimed_by %s, lease_until %v, want both NULL", text(row.ClaimedBy), row.LeaseUntil)
	}
	if row.SentAt != nil {
		t.Errorf("sent_at: got %v, want NULL", *row.SentAt)
	}

	// The row is not due yet, so an immediate second sweep leaves it.
	sweep(t, newSender(t, db), 0)
}

func TestSweepConnectionRefused(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	// A port that was just free on loopback: nothing listens there.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := listener.Addr().String()
	listener.Close()
	account := insertAccount(t, db, addr)
	first := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)
	second := insertOutbox(t, db, account, "To: piotr@example.test\r\n\r\nbody\r\n", nil)

	before := time.Now()
	sweep(t, newSender(t, db), 2)

	for _, id := range []int64{first, second} {
		row := readOutbox(t, db, id)
		if row.Status != "queued" {
			t.Errorf("row %d status: got %q, want queued", id, row.Status)
		}
		if row.Attempts != 1 {
			t.Errorf("row %d attempts: got %d, want 1", id, row.Attempts)
		}
		if !row.NextAttemptAt.After(before.Add(30 * time.Second)) {
			t.Errorf("row %d next_attempt_at: got %v, want about a minute after %v", id, row.NextAttemptAt, before)
		}
		if msg := text(row.LastError); !strings.Contains(msg, addr) || !strings.Contains(msg, "refused") {
			t.Errorf("row %d last_error: got %q, want a refused connection to %s", id, msg, addr)
		}
	}
}

func TestSweepReusesConnection(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{})
	account := insertAccount(t, db, srv.addr)
	var ids []int64
	for _, to := range []string{"a@example.test", "b@example.test", "c@example.test"} {
		ids = append(ids, insertOutbox(t, db, account, "To: "+to+"\r\nSubject: "+to+"\r\n\r\nbody\r\n", nil))
	}

	sweep(t, newSender(t, db), 3)

	if n := srv.connections.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1 for three rows of one account", n)
	}
	got := srv.received()
	if len(got) != 3 {
		t.Fatalf("server received %d messages, want 3", len(got))
	}
	for i, to := range []string{"a@example.test", "b@example.test", "c@example.test"} {
		if !slices.Equal(got[i].rcpts, []string{to}) {
			t.Errorf("message %d RCPT TO: got %q, want [%s]", i, got[i].rcpts, to)
		}
	}
	for _, id := range ids {
		if row := readOutbox(t, db, id); row.Status != "sent" {
			t.Errorf("row %d status: got %q, want sent (last_error %s)", id, row.Status, text(row.LastError))
		}
	}
}

func TestSweepContinuesAfterRejection(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{
		rcpt: func(to string) error {
			if to == "nobody@example.test" {
				return reject(550, smtp.EnhancedCode{5, 1, 1}, "no such user here")
			}
			return nil
		},
	})
	account := insertAccount(t, db, srv.addr)
	rejected := insertOutbox(t, db, account, "To: nobody@example.test\r\n\r\nbody\r\n", nil)
	accepted := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)

	sweep(t, newSender(t, db), 2)

	if row := readOutbox(t, db, rejected); row.Status != "failed" {
		t.Errorf("rejected row status: got %q, want failed", row.Status)
	}
	if row := readOutbox(t, db, accepted); row.Status != "sent" {
		t.Errorf("accepted row status: got %q, want sent (last_error %s)", row.Status, text(row.LastError))
	}
	if n := srv.connections.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1", n)
	}
}

func TestSweepConnectionDropped(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startSMTP(t, smtpScript{dropAt: "drop@example.test"})
	account := insertAccount(t, db, srv.addr)
	sent := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)
	dropped := insertOutbox(t, db, account, "To: drop@example.test\r\n\r\nbody\r\n", nil)
	waiting := insertOutbox(t, db, account, "To: piotr@example.test\r\n\r\nbody\r\n", nil)

	before := time.Now()
	sweep(t, newSender(t, db), 3)
	after := time.Now()

	if row := readOutbox(t, db, sent); row.Status != "sent" {
		t.Errorf("first row status: got %q, want sent (last_error %s)", row.Status, text(row.LastError))
	}
	row := readOutbox(t, db, dropped)
	if row.Status != "queued" {
		t.Errorf("dropped row status: got %q, want queued", row.Status)
	}
	if !row.NextAttemptAt.After(before.Add(30 * time.Second)) {
		t.Errorf("dropped row next_attempt_at: got %v, want about a minute after %v", row.NextAttemptAt, before)
	}
	// The row after the broken connection was never tried, so it is due
	// again at once.
	row = readOutbox(t, db, waiting)
	if row.Status != "queued" {
		t.Errorf("waiting row status: got %q, want queued", row.Status)
	}
	if row.NextAttemptAt.After(after) {
		t.Errorf("waiting row next_attempt_at: got %v, want at most %v", row.NextAttemptAt, after)
	}
	if msg := text(row.LastError); !strings.Contains(msg, "not attempted") {
		t.Errorf("waiting row last_error: got %q, want it marked not attempted", msg)
	}
	if got := srv.received(); len(got) != 1 {
		t.Errorf("server received %d messages, want 1", len(got))
	}
}

func TestMarkAfterClaimLost(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	account := insertAccount(t, db, "127.0.0.1:1")
	id := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)

	claimed, err := db.Store.ClaimOutbox(ctx, "worker-a", time.Minute, 10)
	if err != nil {
		t.Fatalf("claim as worker-a: %v", err)
	}
	if len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claim as worker-a: got %d rows, want row %d", len(claimed), id)
	}
	first := claimed[0]
	if first.ClaimedBy != "worker-a" || first.Attempts != 1 {
		t.Errorf("first claim: got claimed_by %q attempts %d, want worker-a and 1", first.ClaimedBy, first.Attempts)
	}

	// While the lease holds, no other worker can claim the row.
	if again, err := db.Store.ClaimOutbox(ctx, "worker-b", time.Minute, 10); err != nil || len(again) != 0 {
		t.Fatalf("claim as worker-b during the lease: got %d rows, err %v, want 0 rows", len(again), err)
	}

	db.Exec(t, "UPDATE email_outbox SET lease_until = now() - interval '1 second' WHERE id = $1", id)
	reclaimed, err := db.Store.ClaimOutbox(ctx, "worker-b", time.Minute, 10)
	if err != nil {
		t.Fatalf("claim as worker-b: %v", err)
	}
	if len(reclaimed) != 1 || reclaimed[0].ID != id {
		t.Fatalf("claim as worker-b after the lease expired: got %d rows, want row %d", len(reclaimed), id)
	}
	second := reclaimed[0]
	if second.ClaimedBy != "worker-b" || second.Attempts != 2 {
		t.Errorf("second claim: got claimed_by %q attempts %d, want worker-b and 2", second.ClaimedBy, second.Attempts)
	}
	held := readOutbox(t, db, id)

	stale := []struct {
		name string
		mark func() error
	}{
		{"MarkSent", func() error { return db.Store.MarkSent(ctx, first, "250 ok") }},
		{"MarkRetry", func() error { return db.Store.MarkRetry(ctx, first, time.Now().Add(time.Hour), "451 later") }},
		{"MarkFailed", func() error { return db.Store.MarkFailed(ctx, first, "550 no") }},
	}
	for _, s := range stale {
		if err := s.mark(); !errors.Is(err, store.ErrClaimLost) {
			t.Errorf("%s with the expired claim: got %v, want ErrClaimLost", s.name, err)
		}
		if got := readOutbox(t, db, id); !sameState(got, held) {
			t.Errorf("%s with the expired claim changed the row:\ngot  %+v\nwant %+v", s.name, got, held)
		}
	}

	if err := db.Store.MarkSent(ctx, second, "250 ok"); err != nil {
		t.Fatalf("MarkSent with the current claim: %v", err)
	}
	if row := readOutbox(t, db, id); row.Status != "sent" || text(row.SMTPReply) != "250 ok" {
		t.Errorf("after MarkSent with the current claim: got status %q reply %q, want sent and 250 ok", row.Status, text(row.SMTPReply))
	}
}

// A reactor that reclaims its own row after the lease expired holds a new
// claim, which the attempt count distinguishes from the first.
func TestMarkAfterOwnClaimExpired(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	account := insertAccount(t, db, "127.0.0.1:1")
	id := insertOutbox(t, db, account, "To: anna@example.test\r\n\r\nbody\r\n", nil)

	claimed, err := db.Store.ClaimOutbox(ctx, "worker-a", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("first claim: got %d rows, err %v, want 1 row", len(claimed), err)
	}
	db.Exec(t, "UPDATE email_outbox SET lease_until = now() - interval '1 second' WHERE id = $1", id)
	reclaimed, err := db.Store.ClaimOutbox(ctx, "worker-a", time.Minute, 10)
	if err != nil || len(reclaimed) != 1 {
		t.Fatalf("second claim: got %d rows, err %v, want 1 row", len(reclaimed), err)
	}
	held := readOutbox(t, db, id)

	if err := db.Store.MarkFailed(ctx, claimed[0], "550 no"); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("MarkFailed with the first claim: got %v, want ErrClaimLost", err)
	}
	if got := readOutbox(t, db, id); !sameState(got, held) {
		t.Errorf("MarkFailed with the first claim changed the row:\ngot  %+v\nwant %+v", got, held)
	}
	if err := db.Store.MarkRetry(ctx, reclaimed[0], time.Now(), "451 later"); err != nil {
		t.Errorf("MarkRetry with the second claim: %v", err)
	}
}

func sameState(a, b outboxState) bool {
	return a.Status == b.Status && a.Attempts == b.Attempts && a.NextAttemptAt.Equal(b.NextAttemptAt) &&
		text(a.ClaimedBy) == text(b.ClaimedBy) && equalTime(a.LeaseUntil, b.LeaseUntil) &&
		text(a.LastError) == text(b.LastError) && text(a.SMTPReply) == text(b.SMTPReply) &&
		equalTime(a.SentAt, b.SentAt)
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
