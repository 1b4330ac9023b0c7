package reactor

import (
	"context"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// Rows queued while the LISTEN connection is down are sent once it is
// back, by the sweep after the reconnect, even with the fallback sweep a
// day away. The database restart is simulated by ending the listener's
// backend alone, so the shared PostgreSQL keeps running.
func TestListenerLossSweeps(t *testing.T) {
	h := newHarness(t)
	accepted := make(chan struct{}, 100)
	sink := testenv.NewSink(t, func(testenv.Received) { accepted <- struct{}{} })
	acntid := h.db.InsertAccount(t, testenv.Account{Address: "office@example.test", IMAPAddr: "127.0.0.1:1", SMTPAddr: sink.Addr})
	h.db.Exec(t, "UPDATE email_accounts SET sent_copy = false WHERE acntid = $1", acntid)
	cfg := testConfig(t)
	cfg.SyncEnabled = false
	h.start(t, cfg)

	// The listener names its connection after the instance.
	name := "mailreactor listen " + cfg.InstanceID
	name = name[:min(len(name), 63)]
	backend := func() int64 {
		var pid int64
		h.db.Store.Pool().QueryRow(context.Background(),
			"SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = $1", name).Scan(&pid)
		return pid
	}
	var pid int64
	testenv.WaitFor(t, 20*time.Second, "the LISTEN connection", func() bool { pid = backend(); return pid != 0 })

	h.db.Exec(t, "SELECT pg_terminate_backend($1)", pid)
	const rows = 20
	for range rows {
		h.db.Exec(t, "INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2)", acntid,
			[]byte("To: sink@example.test\r\nSubject: while the listener is down\r\n\r\nbody\r\n"))
	}
	deadline := time.After(30 * time.Second)
	for i := range rows {
		select {
		case <-accepted:
		case <-deadline:
			t.Fatalf("%d of %d rows queued while the listener was down were sent within 30 s", i, rows)
		}
	}
	if now := backend(); now == pid || now == 0 {
		t.Errorf("LISTEN backend after the loss: got pid %d, want a new one (was %d)", now, pid)
	}
	testenv.WaitFor(t, 10*time.Second, "every row marked sent", func() bool {
		return h.queryInt(t, "SELECT count(*) FROM email_outbox WHERE status = 'sent'") == rows
	})
}
