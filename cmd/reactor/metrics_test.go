package main

import (
	"context"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// The reactor syncs two messages, sends one to its own address through
// Postfix and stores it when it arrives; the metrics show all of it.
func TestMetricsAfterSyncAndSend(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)
	address, password := mail.AddUser(t, "metrics")
	acntid := db.InsertAccount(t, testenv.Account{Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr})
	c := mail.Dial(t, address, password)
	for i := range 2 {
		mail.Append(t, c, "INBOX", fmt.Appendf(nil, "Subject: metrics %d\r\nMessage-ID: <metrics-%d@example.test>\r\n\r\nbody\r\n", i, i))
	}

	vars := dbVars(db, mail)
	vars["REACTOR_HTTP_ADDR"] = "127.0.0.1:0"
	vars["REACTOR_LOG_FORMAT"] = "json"
	cmd, logPath := launch(t, bin, reactorEnv(vars), "run")
	addr := httpAddr(t, logPath)
	if code := httpStatus("http://" + addr + "/healthz"); code != 200 {
		t.Errorf("GET /healthz: status %d, want 200", code)
	}
	testenv.WaitFor(t, 30*time.Second, "GET /readyz to return 200", func() bool {
		return httpStatus("http://"+addr+"/readyz") == 200
	})

	count := func(query string, args ...any) int {
		var n int
		if err := db.Store.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	testenv.WaitFor(t, 60*time.Second, "the first sync", func() bool {
		return count("SELECT count(*) FROM email_messages") == 2
	})
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: metrics send\r\n\r\nsent by the reactor\r\n", address, address)
	db.Exec(t, "INSERT INTO email_outbox (acntid, raw) VALUES ($1, convert_to($2, 'UTF8'))", acntid, raw)
	testenv.WaitFor(t, 60*time.Second, "the send and its arrival", func() bool {
		return count("SELECT count(*) FROM email_outbox WHERE status = 'sent'") == 1 &&
			count("SELECT count(*) FROM email_messages") == 3
	})

	checkScrape(t, scrape(t, addr))

	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, 40*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// checkScrape requires the metrics of one sync of two messages, one send
// and the arrival of the sent message.
func checkScrape(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	checks := []struct {
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"mailreactor_messages_stored_total", nil, func(v float64) bool { return v == 3 }, "3"},
		{"mailreactor_outbox_sends_total", []string{"outcome", "sent"}, func(v float64) bool { return v == 1 }, "1"},
		{"mailreactor_outbox_sends_total", []string{"outcome", "failed"}, func(v float64) bool { return v == 0 }, "0"},
		{"mailreactor_outbox_notify_to_send_seconds", nil, func(v float64) bool { return v == 1 }, "1 sample"},
		{"mailreactor_sync_duration_seconds", nil, func(v float64) bool { return v >= 2 }, "2 samples or more"},
		{"mailreactor_listener_up", nil, func(v float64) bool { return v == 1 }, "1"},
		{"mailreactor_task_queue_depth", nil, func(v float64) bool { return v >= 0 }, "present"},
		{"mailreactor_tasks_dropped_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"mailreactor_pg_notification_queue_usage_ratio", nil, func(v float64) bool { return v >= 0 && v <= 1 }, "0 to 1"},
		{"mailreactor_build_info", []string{"version", "dev"}, func(v float64) bool { return v == 1 }, "1"},
		{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 0 }, "positive"},
		{"mailreactor_accounts", []string{"status", "ok"}, func(v float64) bool { return v == 1 }, "1"},
		{"mailreactor_accounts", []string{"status", "auth_failed"}, func(v float64) bool { return v == 0 }, "0"},
		{"mailreactor_outbox_rows", []string{"status", "queued"}, func(v float64) bool { return v == 0 }, "0"},
		{"mailreactor_outbox_oldest_due_seconds", nil, func(v float64) bool { return v == 0 }, "0"},
		{"mailreactor_database_stats_up", nil, func(v float64) bool { return v == 1 }, "1"},
	}
	for _, c := range checks {
		if v := metricValue(families, c.name, c.labels...); math.IsNaN(v) || !c.ok(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.want)
		}
	}
}
