package outbox_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// mailboxAccount inserts an account whose IMAP is a real Dovecot user and
// whose SMTP is smtpAddr, and returns its id.
func mailboxAccount(t *testing.T, db testenv.DB, m testenv.Mail, address, imapPassword, smtpAddr string) int64 {
	t.Helper()
	return db.InsertAccount(t, testenv.Account{
		Address: address, Password: imapPassword, IMAPAddr: m.IMAPSAddr, IMAPSec: store.SecurityTLS, SMTPAddr: smtpAddr,
	})
}

// copiedMessage is a message of a folder as IMAP returns it.
type copiedMessage struct {
	flags []imap.Flag
	data  []byte
}

func fetchFolder(t *testing.T, c *imapclient.Client, mailbox string) []copiedMessage {
	t.Helper()
	selected, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", mailbox, err)
	}
	if selected.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, selected.NumMessages), &imap.FetchOptions{
		Flags: true, BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatalf("FETCH %s: %v", mailbox, err)
	}
	var out []copiedMessage
	for _, m := range msgs {
		out = append(out, copiedMessage{flags: m.Flags, data: m.FindBodySection(section)})
	}
	return out
}

func loadCA(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read CA file: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", file)
	}
	return roots
}

func sentAccepted(srv *scriptedServer) int {
	_, _, accepted := srv.snapshot()
	return len(accepted)
}

func TestSentCopy(t *testing.T) {
	t.Parallel()
	m := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, password := m.AddUser(t, "sentcopy")
	srv := startScripted(t, func(stage, int, string) act { return act{} })
	account := mailboxAccount(t, db, m, address, password, srv.addr)
	id := queueComposed(t, db, account, polishRow)
	sender := fastSender(t, db, "copy")
	sender.RootCAs = loadCA(t, m.CAFile)

	sweepAll(t, sender)
	row := readRow(t, db, id)
	if row.Status != "sent" || str(row.CopyStatus) != "done" || row.CopyAttempts != 1 {
		t.Fatalf("row: got %s, sent copy %s after %d attempts (%s), want sent and done after 1",
			row.Status, str(row.CopyStatus), row.CopyAttempts, str(row.CopyError))
	}
	copies := fetchFolder(t, m.Dial(t, address, password), "Sent")
	if len(copies) != 1 {
		t.Fatalf("Sent has %d messages, want 1", len(copies))
	}
	if !slices.Contains(copies[0].flags, imap.FlagSeen) {
		t.Errorf("Sent copy flags %v, want \\Seen", copies[0].flags)
	}
	p := parseReceived(t, copies[0].data)
	if got, _ := p.header.MessageID(); got != str(row.MessageID) {
		t.Errorf("Sent copy Message-ID %q, want the sent %s", got, str(row.MessageID))
	}
	// The sender's own copy shows whom the message went to in secret.
	if bcc := addressList(t, p.header, "Bcc"); len(bcc) != 1 || !strings.Contains(bcc[0], "archiwum@example.test") {
		t.Errorf("Sent copy Bcc %q, want the Bcc recipient", bcc)
	}
	_, _, accepted := srv.snapshot()
	if len(accepted) != 1 || bytes.Contains(accepted[0].data, []byte("archiwum@")) {
		t.Errorf("server accepted %d messages, want 1 without the Bcc recipient", len(accepted))
	}
}

// A failed append is retried on its own schedule; the message is not sent
// again.
func TestSentCopyRetry(t *testing.T) {
	t.Parallel()
	m := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, password := m.AddUser(t, "copyretry")
	srv := startScripted(t, func(stage, int, string) act { return act{} })
	account := mailboxAccount(t, db, m, address, "wrong-password", srv.addr)
	id := queueRaw(t, db, account, "one@example.test", "body")
	sender := fastSender(t, db, "retry")
	sender.RootCAs = loadCA(t, m.CAFile)

	sweepAll(t, sender)
	row := readRow(t, db, id)
	if row.Status != "sent" || str(row.CopyStatus) != "pending" || row.CopyAttempts != 1 {
		t.Fatalf("row: got %s, sent copy %s after %d attempts, want sent, pending after 1", row.Status, str(row.CopyStatus), row.CopyAttempts)
	}
	if !strings.Contains(str(row.CopyError), "rejected") {
		t.Errorf("sent_copy_error %q, want the rejected login", str(row.CopyError))
	}
	var next time.Time
	db.Store.Pool().QueryRow(context.Background(), "SELECT sent_copy_next_at FROM email_outbox WHERE id = $1", id).Scan(&next)
	if d := next.Sub(testClock); d < 45*time.Second || d > 75*time.Second {
		t.Errorf("sent copy retry %v after the sender's clock, want 45 s to 75 s", d)
	}

	// A sweep before the retry time sends nothing and appends nothing.
	if n := sweepAll(t, sender); n != 0 || readRow(t, db, id).CopyAttempts != 1 {
		t.Fatalf("early sweep: claimed %d rows, copy attempts %d, want 0 and 1", n, readRow(t, db, id).CopyAttempts)
	}

	db.Exec(t, "UPDATE email_accounts SET imap_password = $2 WHERE acntid = $1", account, password)
	db.Exec(t, "UPDATE email_outbox SET sent_copy_next_at = now() WHERE id = $1", id)
	if n := sweepAll(t, sender); n != 0 {
		t.Errorf("retry sweep claimed %d rows for sending, want 0", n)
	}
	row = readRow(t, db, id)
	if str(row.CopyStatus) != "done" || row.CopyAttempts != 2 || row.CopyError != nil {
		t.Errorf("sent copy: got %s after %d attempts (%s), want done after 2", str(row.CopyStatus), row.CopyAttempts, str(row.CopyError))
	}
	if n := sentAccepted(srv); n != 1 {
		t.Errorf("server accepted %d messages, want 1: the copy must not send again", n)
	}
	if copies := fetchFolder(t, m.Dial(t, address, password), "Sent"); len(copies) != 1 {
		t.Errorf("Sent has %d messages, want 1", len(copies))
	}
}

// An IMAP server that never replies holds the copy for Timeouts.Copy at
// most, after the row is already marked sent.
func TestSentCopyStall(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	smtpSrv := startScripted(t, func(stage, int, string) act { return act{} })
	imapSrv := startScripted(t, func(stage, int, string) act { return act{stall: true} })
	account := db.InsertAccount(t, testenv.Account{Address: "office@example.test", IMAPAddr: imapSrv.addr, SMTPAddr: smtpSrv.addr})
	id := queueRaw(t, db, account, "one@example.test", "body")
	sender := fastSender(t, db, "stall")
	sender.Timeouts.Copy = 500 * time.Millisecond

	start := time.Now()
	sweepAll(t, sender)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("sweep took %v with a stalled IMAP server, want about the 500 ms copy timeout", elapsed)
	}
	row := readRow(t, db, id)
	if row.Status != "sent" || str(row.CopyStatus) != "pending" {
		t.Errorf("row: got %s, sent copy %s (%s), want sent and pending", row.Status, str(row.CopyStatus), str(row.CopyError))
	}
}

// sent_folder names the folder; with sent_copy off nothing is appended.
func TestSentFolder(t *testing.T) {
	t.Parallel()
	m := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, password := m.AddUser(t, "sentfolder")
	c := m.Dial(t, address, password)
	const folder = "Wysłane/Biuro"
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatalf("CREATE %s: %v", folder, err)
	}
	srv := startScripted(t, func(stage, int, string) act { return act{} })
	account := mailboxAccount(t, db, m, address, password, srv.addr)
	db.Exec(t, "UPDATE email_accounts SET sent_folder = $2 WHERE acntid = $1", account, folder)
	sender := fastSender(t, db, "folder")
	sender.RootCAs = loadCA(t, m.CAFile)

	first := queueRaw(t, db, account, "one@example.test", "first")
	sweepAll(t, sender)
	db.Exec(t, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", account)
	second := queueRaw(t, db, account, "two@example.test", "second")
	sweepAll(t, sender)

	if row := readRow(t, db, first); str(row.CopyStatus) != "done" {
		t.Errorf("first row sent copy %s (%s), want done", str(row.CopyStatus), str(row.CopyError))
	}
	if row := readRow(t, db, second); row.Status != "sent" || str(row.CopyStatus) != "off" {
		t.Errorf("second row: got %s with sent copy %s, want sent and off", row.Status, str(row.CopyStatus))
	}
	if copies := fetchFolder(t, c, folder); len(copies) != 1 || !bytes.Contains(copies[0].data, []byte("first")) {
		t.Errorf("%s has %d messages, want the first one alone", folder, len(copies))
	}
	if copies := fetchFolder(t, c, "Sent"); len(copies) != 0 {
		t.Errorf("Sent has %d messages, want 0", len(copies))
	}
}
