package testenv_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// deliveryTimeout bounds the wait for a message sent over SMTP to appear in
// the INBOX. Postfix hands it to Dovecot's LMTP at once, so this only matters
// on a slow or overloaded machine.
const deliveryTimeout = 15 * time.Second

func TestSMTPDeliveryReachesINBOX(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "delivery")
	c := m.Dial(t, address, password)

	before, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX: %v", err)
	}
	if before.NumMessages == nil || *before.NumMessages != 0 {
		t.Fatalf("STATUS INBOX of new user: messages = %v, want 0", before.NumMessages)
	}

	subject := "delivery " + address
	messageID := fmt.Sprintf("<%d.delivery@%s>", time.Now().UnixNano(), m.Domain)
	raw := testMessage("sender@"+m.Domain, address, subject, messageID)
	sent := time.Now()
	sendMail(t, m, m.SMTPAddr, nil, "sender@"+m.Domain, address, raw)

	waitForMessages(t, c, "INBOX", 1)
	t.Logf("SMTP to IMAP delivery took %v", time.Since(sent).Round(time.Millisecond))

	selected, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}
	if selected.NumMessages != 1 {
		t.Errorf("SELECT INBOX: EXISTS = %d, want 1", selected.NumMessages)
	}
	if selected.UIDValidity == 0 {
		t.Errorf("SELECT INBOX: UIDVALIDITY = 0, want non-zero")
	}
	if selected.UIDValidity != before.UIDValidity && before.UIDValidity != 0 {
		t.Errorf("SELECT INBOX: UIDVALIDITY = %d, STATUS returned %d", selected.UIDValidity, before.UIDValidity)
	}

	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, UID: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1 (ENVELOPE UID): %v", err)
	}
	if len(msgs) != 1 || msgs[0].Envelope == nil {
		t.Fatalf("FETCH 1 (ENVELOPE UID): got %d messages, want 1 with an envelope", len(msgs))
	}
	if got := msgs[0].Envelope.Subject; got != subject {
		t.Errorf("delivered Subject = %q, want %q", got, subject)
	}
	if got, want := msgs[0].Envelope.MessageID, strings.Trim(messageID, "<>"); got != want {
		t.Errorf("delivered Message-ID = %q, want %q", got, want)
	}
	if msgs[0].UID != before.UIDNext {
		t.Errorf("delivered UID = %d, want UIDNEXT from STATUS %d", msgs[0].UID, before.UIDNext)
	}
}

func TestSubmissionAuthDelivers(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "submission")
	c := m.Dial(t, address, password)

	host, _, err := net.SplitHostPort(m.SubmissionAddr)
	if err != nil {
		t.Fatalf("MAILREACTOR_TEST_SUBMISSION %q: %v", m.SubmissionAddr, err)
	}
	auth := smtp.PlainAuth("", address, password, host)
	raw := testMessage(address, address, "submission "+address, "<submission."+address+">")
	sendMail(t, m, m.SubmissionAddr, auth, address, address, raw)

	waitForMessages(t, c, "INBOX", 1)
}

func TestSubmissionRejectsWrongPassword(t *testing.T) {
	m := testenv.MailEnv(t)
	address, _ := m.AddUser(t, "subwrong")

	client := dialSMTP(t, m, m.SubmissionAddr)
	host, _, _ := net.SplitHostPort(m.SubmissionAddr)
	err := client.Auth(smtp.PlainAuth("", address, "wrong-password", host))
	if code := smtpCode(err); code != 535 {
		t.Fatalf("AUTH PLAIN with a wrong password: error %v (code %d), want code 535", err, code)
	}
}

func TestSubmissionRequiresAuth(t *testing.T) {
	m := testenv.MailEnv(t)
	address, _ := m.AddUser(t, "subnoauth")

	client := dialSMTP(t, m, m.SubmissionAddr)
	if err := client.Mail(address); err != nil {
		t.Fatalf("MAIL FROM:<%s>: %v", address, err)
	}
	err := client.Rcpt(address)
	if code := smtpCode(err); code < 500 {
		t.Fatalf("RCPT TO:<%s> without AUTH: error %v (code %d), want a 5xx rejection", address, err, code)
	}
}

// Mail for other domains must never leave this machine, so Postfix rejects
// it at RCPT on both SMTP services.
func TestForeignDomainRejected(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "foreign")
	const foreign = "someone@example.org"

	t.Run("smtp", func(t *testing.T) {
		client := dialSMTP(t, m, m.SMTPAddr)
		if err := client.Mail(address); err != nil {
			t.Fatalf("MAIL FROM:<%s>: %v", address, err)
		}
		err := client.Rcpt(foreign)
		if code := smtpCode(err); code < 500 {
			t.Fatalf("RCPT TO:<%s>: error %v (code %d), want a 5xx rejection", foreign, err, code)
		}
	})

	t.Run("submission", func(t *testing.T) {
		client := dialSMTP(t, m, m.SubmissionAddr)
		host, _, _ := net.SplitHostPort(m.SubmissionAddr)
		if err := client.Auth(smtp.PlainAuth("", address, password, host)); err != nil {
			t.Fatalf("AUTH PLAIN as %s: %v", address, err)
		}
		if err := client.Mail(address); err != nil {
			t.Fatalf("MAIL FROM:<%s>: %v", address, err)
		}
		err := client.Rcpt(foreign)
		if code := smtpCode(err); code < 500 {
			t.Fatalf("RCPT TO:<%s> after AUTH: error %v (code %d), want a 5xx rejection", foreign, err, code)
		}
	})
}

func TestIMAPCapabilities(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "caps")
	c := m.Dial(t, address, password)

	caps := c.Caps()
	for _, want := range []imap.Cap{imap.CapIdle, imap.CapCondStore, imap.CapQResync, imap.CapSpecialUse, imap.CapUIDPlus} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing after login", want)
		}
	}
}

func TestSpecialUseMailboxesExist(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "specialuse")
	c := m.Dial(t, address, password)

	mailboxes, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("LIST \"\" * RETURN (SPECIAL-USE): %v", err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, mbox := range mailboxes {
		attrs[mbox.Mailbox] = mbox.Attrs
	}
	want := map[string]imap.MailboxAttr{
		"Sent":   imap.MailboxAttrSent,
		"Drafts": imap.MailboxAttrDrafts,
		"Trash":  imap.MailboxAttrTrash,
		"Junk":   imap.MailboxAttrJunk,
	}
	for name, attr := range want {
		got, ok := attrs[name]
		if !ok {
			t.Errorf("mailbox %s not listed; LIST returned %v", name, attrs)
			continue
		}
		if !hasAttr(got, attr) {
			t.Errorf("mailbox %s attributes = %v, want %s", name, got, attr)
		}
	}
}

func TestAppendReturnsUID(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "append")
	c := m.Dial(t, address, password)

	first := m.Append(t, c, "Drafts", testMessage(address, address, "draft 1", "<draft1."+address+">"))
	second := m.Append(t, c, "Drafts", testMessage(address, address, "draft 2", "<draft2."+address+">"))
	if second <= first {
		t.Errorf("second APPEND UID = %d, want greater than first %d", second, first)
	}

	status, err := c.Status("Drafts", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS Drafts: %v", err)
	}
	if status.NumMessages == nil || *status.NumMessages != 2 {
		t.Errorf("STATUS Drafts: messages = %v, want 2", status.NumMessages)
	}
	if status.UIDNext != second+1 {
		t.Errorf("STATUS Drafts: UIDNEXT = %d, want %d", status.UIDNext, second+1)
	}
}

func TestIMAPSVerifiesWithCAFile(t *testing.T) {
	m := testenv.MailEnv(t)
	address, password := m.AddUser(t, "imaps")
	roots := loadCA(t, m.CAFile)

	// The certificate names both localhost and 127.0.0.1, so either verifies.
	for _, serverName := range []string{"", "localhost"} {
		c, err := imapclient.DialTLS(m.IMAPSAddr, &imapclient.Options{
			TLSConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
		})
		if err != nil {
			t.Fatalf("IMAPS %s with server name %q: %v", m.IMAPSAddr, serverName, err)
		}
		err = c.Login(address, password).Wait()
		c.Close()
		if err != nil {
			t.Fatalf("IMAPS login as %s: %v", address, err)
		}
	}

	c, err := imapclient.DialStartTLS(m.IMAPAddr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatalf("IMAP STARTTLS on %s: %v", m.IMAPAddr, err)
	}
	err = c.Login(address, password).Wait()
	c.Close()
	if err != nil {
		t.Fatalf("IMAP login after STARTTLS as %s: %v", address, err)
	}

	// Without the CA file, the system roots must not trust the certificate.
	c, err = imapclient.DialTLS(m.IMAPSAddr, nil)
	if err == nil {
		c.Close()
		t.Fatalf("IMAPS %s verified without the CA file, want an unknown authority error", m.IMAPSAddr)
	}
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Errorf("IMAPS without the CA file: %v, want x509.UnknownAuthorityError", err)
	}
}

func TestIMAPRejectsWrongPassword(t *testing.T) {
	m := testenv.MailEnv(t)
	address, _ := m.AddUser(t, "wrongpw")

	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", address, "wrong-password"},
		{"unknown user", "nobody-" + address, "wrong-password"},
	} {
		c, err := imapclient.DialInsecure(m.IMAPAddr, nil)
		if err != nil {
			t.Fatalf("dial IMAP %s: %v", m.IMAPAddr, err)
		}
		start := time.Now()
		err = c.Login(tc.username, tc.password).Wait()
		elapsed := time.Since(start)
		c.Close()

		var imapErr *imap.Error
		if !errors.As(err, &imapErr) {
			t.Errorf("%s: LOGIN error = %v, want a NO response", tc.name, err)
			continue
		}
		if imapErr.Code != imap.ResponseCodeAuthenticationFailed {
			t.Errorf("%s: LOGIN response code = %q, want %q", tc.name, imapErr.Code, imap.ResponseCodeAuthenticationFailed)
		}
		// Dovecot's default auth_failure_delay is 2 s; the environment sets 0.
		if elapsed > 1500*time.Millisecond {
			t.Errorf("%s: LOGIN failure took %v, want under 1.5s", tc.name, elapsed)
		}
	}
}

func TestAddUserInParallel(t *testing.T) {
	m := testenv.MailEnv(t)
	const users = 8
	var mu sync.Mutex
	added := map[string]string{}
	t.Run("group", func(t *testing.T) {
		for i := range users {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				address, password := m.AddUser(t, "parallel")
				mu.Lock()
				added[address] = password
				mu.Unlock()
			})
		}
	})
	if len(added) != users {
		t.Fatalf("added %d distinct users, want %d", len(added), users)
	}

	// Every line must have survived the concurrent appends intact.
	data, err := os.ReadFile(m.UsersFile)
	if err != nil {
		t.Fatalf("read users file: %v", err)
	}
	lines := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		lines[line] = true
	}
	for address, password := range added {
		if want := address + ":{PLAIN}" + password; !lines[want] {
			t.Errorf("users file %s has no line %q", m.UsersFile, want)
		}
	}
}

func testMessage(from, to, subject, messageID string) []byte {
	return []byte(strings.Join([]string{
		"From: " + from,
		"To: " + to,
		"Subject: " + subject,
		"Message-ID: " + messageID,
		"Date: " + time.Now().Format(time.RFC1123Z),
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Body of " + subject + ".",
		"",
	}, "\r\n"))
}

func loadCA(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read CA file: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("CA file %s contains no PEM certificate", file)
	}
	return roots
}

// dialSMTP connects to addr and upgrades the session with STARTTLS, verifying
// the server against the CA file. The client is closed when the test ends.
func dialSMTP(t *testing.T, m testenv.Mail, addr string) *smtp.Client {
	t.Helper()
	client, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("dial SMTP %s: %v", addr, err)
	}
	t.Cleanup(func() { client.Close() })
	if ok, _ := client.Extension("STARTTLS"); !ok {
		t.Fatalf("SMTP %s does not offer STARTTLS", addr)
	}
	if err := client.StartTLS(&tls.Config{RootCAs: loadCA(t, m.CAFile), ServerName: "localhost"}); err != nil {
		t.Fatalf("SMTP STARTTLS on %s: %v", addr, err)
	}
	return client
}

// sendMail sends one message over SMTP with STARTTLS, and with auth when it
// is not nil.
func sendMail(t *testing.T, m testenv.Mail, addr string, auth smtp.Auth, from, to string, raw []byte) {
	t.Helper()
	client := dialSMTP(t, m, addr)
	if auth != nil {
		if err := client.Auth(auth); err != nil {
			t.Fatalf("SMTP AUTH on %s: %v", addr, err)
		}
	}
	if err := client.Mail(from); err != nil {
		t.Fatalf("MAIL FROM:<%s>: %v", from, err)
	}
	if err := client.Rcpt(to); err != nil {
		t.Fatalf("RCPT TO:<%s>: %v", to, err)
	}
	w, err := client.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatalf("write message: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	if err := client.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

// waitForMessages polls STATUS until mailbox holds want messages.
func waitForMessages(t *testing.T, c *imapclient.Client, mailbox string, want uint32) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	interval := 10 * time.Millisecond
	for {
		status, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("STATUS %s: %v", mailbox, err)
		}
		if *status.NumMessages >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d messages after %v, want %d (see .testenv/log/postfix.log and dovecot.log)",
				mailbox, *status.NumMessages, deliveryTimeout, want)
		}
		time.Sleep(interval)
		interval = min(2*interval, 200*time.Millisecond)
	}
}

func smtpCode(err error) int {
	var protoErr *textproto.Error
	if errors.As(err, &protoErr) {
		return protoErr.Code
	}
	return 0
}

func hasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	for _, attr := range attrs {
		if strings.EqualFold(string(attr), string(want)) {
			return true
		}
	}
	return false
}
