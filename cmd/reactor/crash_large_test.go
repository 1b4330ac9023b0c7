package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// A first sync of 20,000 messages, killed with SIGKILL at random points
// while batches commit on two connections, ends with exactly the server's
// messages stored and the highest stored UID at the server's last.
func TestKillDuringLargeFirstSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a mailbox with 20,000 messages")
	}
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)

	address, password := mail.AddUser(t, "crash-large")
	acntid := db.InsertAccount(t, testenv.Account{
		Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr,
	})
	const total = 20000
	body := strings.Repeat("Treść wiadomości do archiwum dokumentów.\r\n", 25)
	date := time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	mail.FillMaildir(t, address, password, total, func(i int) ([]byte, time.Time) {
		d := date.Add(time.Duration(i) * time.Minute)
		raw := fmt.Sprintf("From: sender%d@example.test\r\nTo: %s\r\nSubject: large %d\r\n"+
			"Date: %s\r\nMessage-ID: <large-%d@example.test>\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\n\r\n%s", i%23, address, i, d.Format(time.RFC1123Z), i, body)
		return []byte(raw), d
	})

	env := append(os.Environ(),
		"REACTOR_DATABASE_URL="+db.URL,
		"REACTOR_DATABASE_SCHEMA="+db.Schema,
		"EMAIL_OUTBOX_ENABLED=false",
		"REACTOR_HTTP_ADDR=127.0.0.1:0",
	)
	stored := storedCounter(t, db, acntid)
	killDuringSync(t, bin, env, stored, total, killPlan{rounds: 10, maxStep: 2500, minKills: 4, roundTimeout: 120 * time.Second})

	cmd := startReactor(t, bin, env)
	testenv.WaitFor(t, 5*time.Minute, "all messages stored", func() bool { return stored() >= total })
	var lastUID int64
	testenv.WaitFor(t, 30*time.Second, "highest stored UID at the server's last", func() bool {
		err := db.Store.Pool().QueryRow(context.Background(),
			`SELECT last_uid FROM email_folders WHERE acntid = $1 AND name = 'INBOX'`, acntid).Scan(&lastUID)
		return err == nil && lastUID == total
	})
	cmd.Process.Kill()
	cmd.Wait()

	checkStoredEqualsServer(t, db, mail, acntid, address, password)
}
