package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// dbVars is the environment that points the reactor at the test's schema.
func dbVars(db testenv.DB, mail testenv.Mail) map[string]string {
	return map[string]string{
		"REACTOR_DATABASE_URL":    db.URL,
		"REACTOR_DATABASE_SCHEMA": db.Schema,
		"REACTOR_TLS_CA_FILE":     mail.CAFile,
	}
}

// runCheck runs reactor check and returns its lines and exit status.
func runCheck(t *testing.T, vars map[string]string) ([]string, int) {
	t.Helper()
	out, errOut, code := runIn(t, vars, "check", "-timeout", "10s")
	t.Logf("reactor check, exit %d:\n%s%s", code, out, errOut)
	return strings.Split(strings.TrimSpace(out), "\n"), code
}

// findLine returns the line that starts with prefix, failing the test
// when there is none.
func findLine(t *testing.T, lines []string, prefix string) string {
	t.Helper()
	for _, line := range lines {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return ""
}

// goodAccount adds a user and an account that passes every check,
// submitting over STARTTLS with a login.
func goodAccount(t *testing.T, db testenv.DB, mail testenv.Mail, prefix string) (int64, string) {
	t.Helper()
	address, password := mail.AddUser(t, prefix)
	id := db.InsertAccount(t, testenv.Account{
		Address: address, Password: password, IMAPAddr: mail.IMAPAddr,
		SMTPAddr: mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: address, SMTPPassword: password,
	})
	return id, address
}

func TestCheckAllPass(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	id, address := goodAccount(t, db, mail, "checkok")

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "ok   ") {
			t.Errorf("line %q does not pass", line)
		}
	}
	name := fmt.Sprintf("ok   account %d %s: ", id, address)
	for _, check := range []string{"IMAP " + mail.IMAPAddr + " reachable", "IMAP login", "INBOX selectable",
		`Sent folder: "Sent" (\Sent)`, "SMTP " + mail.SubmissionAddr + " reachable", "SMTP login"} {
		findLine(t, lines, name+check)
	}
	for _, check := range []string{"configuration", "database reachable", "database schema migrated",
		"database triggers installed", "database is a primary", "database LISTEN receives NOTIFY"} {
		findLine(t, lines, "ok   "+check)
	}
}

func TestCheckDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"REACTOR_DATABASE_URL": "postgres://reactor@" + closedPort(t) + "/dms?sslmode=disable&connect_timeout=5"}
	lines, code := runCheck(t, vars)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	line := findLine(t, lines, "FAIL database reachable: ")
	if !strings.Contains(line, "connection refused") || strings.Count(line, "check REACTOR_DATABASE_URL") != 1 {
		t.Errorf("line %q does not give the cause and, once, what to check", line)
	}
	if len(lines) != 2 {
		t.Errorf("got %d lines, want configuration and database only", len(lines))
	}
}

func TestCheckUnmigrated(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	db.Exec(t, "DROP TABLE reactor_schema_version")

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	line := findLine(t, lines, "FAIL database schema migrated: ")
	if !strings.Contains(line, "reactor_schema_version not found") || !strings.Contains(line, "run `reactor migrate`") {
		t.Errorf("line %q does not name the table and the fix", line)
	}
	findLine(t, lines, "ok   database reachable")
	findLine(t, lines, "skip accounts")
}

func TestCheckMissingTrigger(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	db.Exec(t, "DROP TRIGGER email_accounts_notify ON email_accounts")
	db.Exec(t, "ALTER TABLE email_outbox DISABLE TRIGGER email_outbox_notify")

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	line := findLine(t, lines, "FAIL database triggers installed: ")
	for _, want := range []string{"email_accounts_notify on email_accounts not found",
		"email_outbox_notify on email_outbox is disabled", "run `reactor migrate`"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q does not contain %q", line, want)
		}
	}
}

func TestCheckNotificationsDropped(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	vars := dbVars(db, mail)
	vars["REACTOR_DATABASE_URL"] = withHost(t, db.URL, dropNotifyProxy(t, u.Host))

	out, _, code := runIn(t, vars, "check", "-timeout", "2s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	line := findLine(t, lines, "FAIL database LISTEN receives NOTIFY: ")
	if !strings.Contains(line, "notification did not arrive") || !strings.Contains(line, "pgbouncer") {
		t.Errorf("line %q does not explain the lost notification", line)
	}
	findLine(t, lines, "ok   database schema migrated")
}

func TestCheckWrongPassword(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, _ := mail.AddUser(t, "checkpw")
	id := db.InsertAccount(t, testenv.Account{
		Address: address, Password: "wrong-password", IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr,
	})

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	name := fmt.Sprintf("account %d %s: ", id, address)
	findLine(t, lines, "ok   "+name+"IMAP "+mail.IMAPAddr+" reachable")
	line := findLine(t, lines, "FAIL "+name+"IMAP login")
	if !strings.Contains(line, "fix imap_username or imap_password") {
		t.Errorf("line %q does not say what to fix", line)
	}
	if strings.Contains(strings.Join(lines, "\n"), "wrong-password") {
		t.Errorf("the output shows the password")
	}
	findLine(t, lines, "ok   "+name+"SMTP greeting")
}

func TestCheckSMTPWrongPassword(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, password := mail.AddUser(t, "checksmtp")
	id := db.InsertAccount(t, testenv.Account{
		Address: address, Password: password, IMAPAddr: mail.IMAPAddr,
		SMTPAddr: mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: address, SMTPPassword: "wrong-smtp-password",
	})

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	name := fmt.Sprintf("account %d %s: ", id, address)
	findLine(t, lines, "ok   "+name+"IMAP login")
	line := findLine(t, lines, "FAIL "+name+"SMTP login")
	if !strings.Contains(line, "fix smtp_username or smtp_password") {
		t.Errorf("line %q does not say what to fix", line)
	}
}

func TestCheckIMAPPortClosed(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	closed := closedPort(t)
	id := db.InsertAccount(t, testenv.Account{
		Address: "closed@" + mail.Domain, Password: "x", IMAPAddr: closed, SMTPAddr: mail.SMTPAddr,
	})

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	name := fmt.Sprintf("account %d closed@%s: ", id, mail.Domain)
	line := findLine(t, lines, "FAIL "+name+"IMAP "+closed+" reachable")
	if !strings.Contains(line, "connection refused") || !strings.Contains(line, "check imap_host and imap_port") {
		t.Errorf("line %q does not give the cause and the fix", line)
	}
	for _, line := range lines {
		if strings.Contains(line, "IMAP login") {
			t.Errorf("login checked after the port failed: %q", line)
		}
	}
}

func TestCheckSentMissing(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	id, address := goodAccount(t, db, mail, "checksent")
	db.Exec(t, "UPDATE email_accounts SET sent_folder = 'Sent Items' WHERE acntid = $1", id)
	other, otherAddress := goodAccount(t, db, mail, "checknocopy")
	db.Exec(t, "UPDATE email_accounts SET sent_copy = false, sent_folder = 'Nowhere' WHERE acntid = $1", other)

	lines, code := runCheck(t, dbVars(db, mail))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	line := findLine(t, lines, fmt.Sprintf("FAIL account %d %s: Sent folder: ", id, address))
	if !strings.Contains(line, `sent_folder "Sent Items" not found`) || !strings.Contains(line, "fix sent_folder") {
		t.Errorf("line %q does not name the folder and the fix", line)
	}
	findLine(t, lines, fmt.Sprintf("ok   account %d %s: Sent folder: not needed", other, otherAddress))
}
