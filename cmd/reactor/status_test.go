package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// columnGap separates the columns that tabwriter aligns.
var columnGap = regexp.MustCompile(`\s{2,}`)

// parseStatus reads the sections of reactor status: a title line, a header
// line and rows, each row as a map from header to cell. Lines of a section
// without a header row, such as "oldest queued: 5m0s", go under "".
func parseStatus(t *testing.T, out string) map[string][]map[string]string {
	t.Helper()
	sections := map[string][]map[string]string{}
	for _, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		lines := strings.Split(block, "\n")
		if len(lines) < 2 {
			t.Fatalf("section %q has no header", block)
		}
		title, header := lines[0], columnGap.Split(strings.TrimSpace(lines[1]), -1)
		for _, line := range lines[2:] {
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.Contains(k, "  ") {
				sections[title] = append(sections[title], map[string]string{"": k, "value": v})
				continue
			}
			cells := columnGap.Split(strings.TrimSpace(line), len(header))
			if len(cells) != len(header) {
				t.Fatalf("%s row %q has %d cells, header %d", title, line, len(cells), len(header))
			}
			row := map[string]string{}
			for i, h := range header {
				row[h] = cells[i]
			}
			sections[title] = append(sections[title], row)
		}
	}
	return sections
}

func TestStatusRunningReactor(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)
	address, password := mail.AddUser(t, "status")
	acntid := db.InsertAccount(t, testenv.Account{Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr})
	c := mail.Dial(t, address, password)
	for i := range 3 {
		mail.Append(t, c, "INBOX", fmt.Appendf(nil, "Subject: status %d\r\nMessage-ID: <status-%d@example.test>\r\n\r\nbody\r\n", i, i))
	}
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, created_at)
		VALUES ($1, 'x', now() - interval '5 minutes'), ($1, 'y', now())`, acntid)
	db.Exec(t, `INSERT INTO email_outbox (acntid, raw, status) VALUES ($1, 'z', 'failed')`, acntid)

	vars := dbVars(db, mail)
	vars["REACTOR_HTTP_ADDR"] = ""
	vars["EMAIL_OUTBOX_ENABLED"] = "false"
	env := reactorEnv(vars)
	cmd, _ := launch(t, bin, env, "run")
	testenv.WaitFor(t, 60*time.Second, "3 messages stored and the account ok", func() bool {
		var n int
		var status string
		err := db.Store.Pool().QueryRow(context.Background(), `
			SELECT (SELECT count(*) FROM email_messages), status FROM email_accounts WHERE acntid = $1`, acntid).Scan(&n, &status)
		return err == nil && n == 3 && status == "ok"
	})

	status := exec.Command(bin, "status")
	status.Env = env
	out, err := status.CombinedOutput()
	if err != nil {
		t.Fatalf("reactor status: %v\n%s", err, out)
	}
	t.Logf("reactor status:\n%s", out)
	sections := parseStatus(t, string(out))

	accounts := sections["ACCOUNTS"]
	if len(accounts) != 1 || accounts[0]["ID"] != strconv.FormatInt(acntid, 10) ||
		accounts[0]["ADDRESS"] != address || accounts[0]["STATUS"] != "ok" || accounts[0]["LAST_ERROR"] != "-" {
		t.Errorf("accounts %v, want account %d %s ok without error", accounts, acntid, address)
	}
	// The account's full sync also lists the server's other folders.
	folders := map[string]map[string]string{}
	for _, row := range sections["FOLDERS"] {
		folders[row["FOLDER"]] = row
	}
	inbox := folders["INBOX"]
	if inbox == nil || inbox["MESSAGES"] != "3" || !strings.HasSuffix(inbox["RECENT_SYNC"], " ago") {
		t.Errorf("INBOX row %v, want 3 messages and a recent sync", inbox)
	}
	if folders["Sent"] == nil {
		t.Errorf("folders %v, want the server's Sent folder listed", sections["FOLDERS"])
	}
	checkOutboxSection(t, sections["OUTBOX"])

	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, 40*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("reactor exit status %d after SIGTERM, want 0", code)
	}
}

// checkOutboxSection requires 2 queued rows, the oldest 5 minutes old, and
// 1 failed.
func checkOutboxSection(t *testing.T, rows []map[string]string) {
	t.Helper()
	counts := map[string]string{}
	var oldest string
	for _, row := range rows {
		if row[""] == "oldest queued" {
			oldest = row["value"]
			continue
		}
		counts[row["STATUS"]] = row["ROWS"]
	}
	want := map[string]string{"queued": "2", "sending": "0", "sent": "0", "failed": "1"}
	for s, n := range want {
		if counts[s] != n {
			t.Errorf("outbox %s: %q rows, want %s", s, counts[s], n)
		}
	}
	if age, err := time.ParseDuration(oldest); err != nil || age < 5*time.Minute || age > 10*time.Minute {
		t.Errorf("oldest queued %q, want about 5m", oldest)
	}
}
