package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// The reactor runs with JSON debug logs against an account whose IMAP and
// SMTP passwords are wrong and one that works and sends a message over
// SMTP AUTH. No password appears in its output, in clear or as AUTH PLAIN
// base64; every line is JSON, and errors are under the key err.
func TestLogsNoSecrets(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)

	goodAddress, goodPassword := mail.AddUser(t, "logsgood")
	badAddress, realBadPassword := mail.AddUser(t, "logsbad")
	wrongIMAP := "wrong-imap-" + realBadPassword[:12]
	wrongSMTP := "wrong-smtp-" + realBadPassword[12:24]
	good := db.InsertAccount(t, testenv.Account{
		Address: goodAddress, Password: goodPassword, IMAPAddr: mail.IMAPAddr,
		SMTPAddr: mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: goodAddress, SMTPPassword: goodPassword,
	})
	bad := db.InsertAccount(t, testenv.Account{
		Address: badAddress, Password: wrongIMAP, IMAPAddr: mail.IMAPAddr,
		SMTPAddr: mail.SubmissionAddr, SMTPSec: store.SecurityStartTLS,
		SMTPUsername: badAddress, SMTPPassword: wrongSMTP,
	})
	for _, id := range []int64{good, bad} {
		raw := fmt.Sprintf("To: %s\r\nSubject: logs\r\n\r\nhello\r\n", goodAddress)
		db.Exec(t, "INSERT INTO email_outbox (acntid, raw) VALUES ($1, convert_to($2, 'UTF8'))", id, raw)
	}

	vars := dbVars(db, mail)
	vars["REACTOR_LOG_FORMAT"] = "json"
	vars["REACTOR_LOG_LEVEL"] = "debug"
	vars["REACTOR_HTTP_ADDR"] = "127.0.0.1:0"
	cmd, logPath := launch(t, bin, reactorEnv(vars), "run")
	testenv.WaitFor(t, 60*time.Second, "the good send, the failed send and the rejected login", func() bool {
		var sent, tried int
		var badStatus string
		err := db.Store.Pool().QueryRow(context.Background(), `
			SELECT (SELECT count(*) FROM email_outbox WHERE acntid = $1 AND status = 'sent'),
			       (SELECT count(*) FROM email_outbox WHERE acntid = $2 AND last_error IS NOT NULL),
			       (SELECT status FROM email_accounts WHERE acntid = $2)`, good, bad).Scan(&sent, &tried, &badStatus)
		return err == nil && sent == 1 && tried == 1 && badStatus == store.AccountAuthFailed
	})
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, 40*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	secrets := map[string]string{"good password": goodPassword, "wrong IMAP password": wrongIMAP, "wrong SMTP password": wrongSMTP}
	plain := func(user, password string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	}
	secrets["good AUTH PLAIN"] = plain(goodAddress, goodPassword)
	secrets["wrong AUTH PLAIN"] = plain(badAddress, wrongSMTP)
	for label, secret := range secrets {
		if strings.Contains(string(data), secret) {
			t.Errorf("the output contains the %s", label)
		}
	}
	checkLogKeys(t, logRecords(t, logPath))
}

// checkLogKeys requires errors under err alone, and at least one warning
// or error that carries one.
func checkLogKeys(t *testing.T, records []map[string]any) {
	t.Helper()
	withErr := 0
	for _, rec := range records {
		for key := range rec {
			if key != "err" && strings.Contains(strings.ToLower(key), "err") {
				t.Errorf("record %q has the error key %q, want err", rec["msg"], key)
			}
		}
		if _, ok := rec["err"]; ok && (rec["level"] == "WARN" || rec["level"] == "ERROR") {
			withErr++
		}
	}
	if withErr == 0 {
		t.Errorf("no warning or error with an err among %d records", len(records))
	}
	if len(records) < 5 {
		t.Errorf("only %d log records; the reactor logged less than expected", len(records))
	}
}
