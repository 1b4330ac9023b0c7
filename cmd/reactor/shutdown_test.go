package main

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// SIGTERM during a burst of sends to a slow SMTP server leaves no row in
// 'sending' and the process exits 0 within REACTOR_SHUTDOWN_TIMEOUT.
func TestShutdownDuringSends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rows    int
		delay   time.Duration
		timeout time.Duration
		// deadline is whether the shutdown timeout passes with a send
		// still running.
		deadline bool
	}{
		// One send outlasts the timeout.
		{"DeadlinePasses", 5, 6 * time.Second, 2 * time.Second, true},
		// The send on the wire finishes and the rest of the batch goes
		// back to the queue untried, long before the timeout.
		{"BurstStops", 40, 400 * time.Millisecond, 20 * time.Second, false},
		{"TasksFinish", 3, 300 * time.Millisecond, 20 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := testenv.NewDB(t)
			bin := sharedReactor(t)
			var received atomic.Int64
			sink := testenv.NewSink(t, func(testenv.Received) {
				received.Add(1)
				time.Sleep(tt.delay)
			})
			acntid := db.InsertAccount(t, testenv.Account{Address: "burst@example.test", IMAPAddr: closedPort(t), SMTPAddr: sink.Addr})
			db.Exec(t, `INSERT INTO email_outbox (acntid, raw)
				SELECT $1, convert_to('To: someone@example.test' || chr(13) || chr(10) || 'Subject: burst ' || i
					|| chr(13) || chr(10) || chr(13) || chr(10) || 'body' || chr(13) || chr(10), 'UTF8')
				FROM generate_series(1, $2::int) AS i`, acntid, tt.rows)

			vars := map[string]string{
				"REACTOR_DATABASE_URL":          db.URL,
				"REACTOR_DATABASE_SCHEMA":       db.Schema,
				"EMAIL_BACKGROUND_SYNC_ENABLED": "false",
				"REACTOR_HTTP_ADDR":             "",
				"REACTOR_SHUTDOWN_TIMEOUT":      tt.timeout.String(),
			}
			cmd, logPath := launch(t, bin, reactorEnv(vars), "run")
			testenv.WaitFor(t, 30*time.Second, "the burst to start", func() bool { return received.Load() >= 1 })

			cmd.Process.Signal(syscall.SIGTERM)
			took := waitExit(t, cmd, tt.timeout+15*time.Second)
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			if took > tt.timeout+2*time.Second {
				t.Errorf("exit took %s, want within the shutdown timeout %s", took.Round(time.Millisecond), tt.timeout)
			}
			if tt.name == "BurstStops" && took > 5*time.Second {
				t.Errorf("exit took %s, want the sweep to stop after the send on the wire", took.Round(time.Millisecond))
			}
			// A send that outlasts the timeout is released unconfirmed.
			minSent := 1
			if tt.deadline {
				minSent = 0
			}
			checkNoneSending(t, db, tt.rows, minSent)

			logs, _ := os.ReadFile(logPath)
			if passed := strings.Contains(string(logs), "shutdown timeout passed"); passed != tt.deadline {
				t.Errorf("shutdown timeout passed: %t, want %t", passed, tt.deadline)
			}
		})
	}
}

// checkNoneSending requires every row to be sent or queued again, and at
// least minSent sent.
func checkNoneSending(t *testing.T, db testenv.DB, total, minSent int) {
	t.Helper()
	counts := map[string]int{}
	rows, err := db.Store.Pool().Query(context.Background(), "SELECT status, count(*) FROM email_outbox GROUP BY status")
	if err != nil {
		t.Fatalf("count outbox rows: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatalf("scan: %v", err)
		}
		counts[status] = n
	}
	if counts["sending"] != 0 {
		t.Errorf("%d rows left in sending", counts["sending"])
	}
	if counts["sent"] < minSent || counts["sent"]+counts["queued"] != total {
		t.Errorf("outbox %v, want %d rows sent or queued, at least %d sent", counts, total, minSent)
	}
}
