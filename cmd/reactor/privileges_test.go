package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// docsGrants returns the GRANT block of docs/operations.md for role, in
// schema and database instead of dms.
func docsGrants(t *testing.T, role, schema, database string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- grants:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- grants:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/operations.md has no grants:begin and grants:end markers")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```sql"), "```")
	r := strings.NewReplacer("reactor_app", role, "dms.", schema+".", "SCHEMA dms", "SCHEMA "+schema,
		"DATABASE dms", "DATABASE "+database)
	return r.Replace(block)
}

// The runtime role of the docs can run, check and show status, and
// cannot migrate.
func TestPrivilegesFromDocs(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	suffix := make([]byte, 5)
	rand.Read(suffix)
	role := "test_app_" + hex.EncodeToString(suffix)
	ctx := context.Background()
	t.Cleanup(func() {
		pool := db.Store.Pool()
		pool.Exec(ctx, "DROP OWNED BY "+role)
		pool.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	})
	db.Exec(t, docsGrants(t, role, db.Schema, strings.TrimPrefix(u.Path, "/")))
	u.User = url.User(role)

	address, password := mail.AddUser(t, "grants")
	acntid := db.InsertAccount(t, testenv.Account{Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr})
	c := mail.Dial(t, address, password)
	mail.Append(t, c, "INBOX", []byte("Subject: before\r\nMessage-ID: <grants-1@example.test>\r\n\r\nbody\r\n"))
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: grants send\r\n\r\nbody\r\n", address, address)
	db.Exec(t, "INSERT INTO email_outbox (acntid, raw) VALUES ($1, convert_to($2, 'UTF8'))", acntid, raw)

	vars := dbVars(db, mail)
	vars["REACTOR_DATABASE_URL"] = u.String()
	vars["REACTOR_HTTP_ADDR"] = ""
	cmd, logPath := launch(t, bin, reactorEnv(vars), "run")
	testenv.WaitFor(t, 60*time.Second, "the send, its arrival and the account ok", func() bool {
		var stored, sent int
		var status string
		err := db.Store.Pool().QueryRow(ctx, `
			SELECT (SELECT count(*) FROM email_messages), (SELECT count(*) FROM email_outbox WHERE status = 'sent'),
			       (SELECT status FROM email_accounts WHERE acntid = $1)`, acntid).Scan(&stored, &sent, &status)
		return err == nil && stored == 2 && sent == 1 && status == "ok"
	})

	if out, errOut, code := runIn(t, vars, "status"); code != 0 {
		t.Errorf("status as %s: exit %d\n%s%s", role, code, out, errOut)
	}
	if out, errOut, code := runIn(t, vars, "check", "-timeout", "10s"); code != 0 {
		t.Errorf("check as %s: exit %d\n%s%s", role, code, out, errOut)
	}
	_, errOut, code := runIn(t, vars, "migrate")
	if code == 0 || !strings.Contains(errOut, "must be owner") && !strings.Contains(errOut, "permission denied") {
		t.Errorf("migrate as %s: exit %d, stderr %q; want a privilege error", role, code, errOut)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, 40*time.Second)
	logs, _ := os.ReadFile(logPath)
	if strings.Contains(string(logs), "permission denied") {
		t.Errorf("the reactor lacked a privilege:\n%s", logs)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}
