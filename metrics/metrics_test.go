package metrics_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/metrics"
)

// The tests share the package's one set of metrics, so none runs in
// parallel and each compares values before and after.

func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return families
}

// value returns the value of the metric whose labels include labels, or
// NaN when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := families[name]
	if !ok {
		return math.NaN()
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return math.NaN()
}

func TestMetricsCounters(t *testing.T) {
	before := scrape(t)
	metrics.MessagesStored(3)
	metrics.MessagesStored(0)
	metrics.OutboxSent(time.Now().Add(-50*time.Millisecond), 1)
	metrics.OutboxSent(time.Now().Add(-time.Hour), 2)
	metrics.OutboxRetry()
	metrics.OutboxFailed()
	metrics.OutboxFailed()
	metrics.Reconnect()
	metrics.SyncDone(time.Now().Add(-time.Second))
	metrics.ExistsToStored(time.Now().Add(-10 * time.Millisecond))
	after := scrape(t)

	checks := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"mailreactor_messages_stored_total", nil, 3},
		{"mailreactor_outbox_sends_total", []string{"outcome", "sent"}, 2},
		{"mailreactor_outbox_sends_total", []string{"outcome", "retry"}, 1},
		{"mailreactor_outbox_sends_total", []string{"outcome", "failed"}, 2},
		{"mailreactor_imap_reconnects_total", nil, 1},
		{"mailreactor_sync_duration_seconds", nil, 1},
		// Only the first attempt counts toward the reaction time.
		{"mailreactor_outbox_notify_to_send_seconds", nil, 1},
		{"mailreactor_exists_to_stored_seconds", nil, 1},
	}
	for _, c := range checks {
		got := value(after, c.name, c.labels...) - value(before, c.name, c.labels...)
		if got != c.delta {
			t.Errorf("%s%v grew by %v, want %v", c.name, c.labels, got, c.delta)
		}
	}
}

func TestMetricsQueueGauges(t *testing.T) {
	metrics.WatchQueue(func() int { return 7 }, func() int { return 12 })
	families := scrape(t)
	if got := value(families, "mailreactor_task_queue_depth"); got != 7 {
		t.Errorf("task_queue_depth = %v, want 7", got)
	}
	if got := value(families, "mailreactor_tasks_dropped_total"); got != 12 {
		t.Errorf("tasks_dropped_total = %v, want 12", got)
	}
}

func TestMetricsWatcherStates(t *testing.T) {
	metrics.WatcherState(101, "INBOX", "connecting")
	metrics.WatcherState(102, "INBOX", "connecting")
	metrics.WatcherState(101, "INBOX", "idle")
	metrics.WatcherState(101, "INBOX", "idle")
	metrics.WatcherState(103, "Sent", "backoff")
	metrics.WatcherState(103, "Sent", "")
	families := scrape(t)
	want := map[string]float64{"connecting": 1, "idle": 1, "backoff": 0}
	for state, n := range want {
		if got := value(families, "mailreactor_watchers", "state", state); got != n {
			t.Errorf("watchers{state=%q} = %v, want %v", state, got, n)
		}
	}
	metrics.WatcherState(101, "INBOX", "")
	metrics.WatcherState(102, "INBOX", "")
}

func TestMetricsBuildInfo(t *testing.T) {
	metrics.SetVersion("1.2.3")
	metrics.SetVersion("1.2.4")
	f := scrape(t)["mailreactor_build_info"]
	if f == nil || len(f.Metric) != 1 {
		t.Fatalf("build_info = %v, want one series", f)
	}
	if got := value(scrape(t), "mailreactor_build_info", "version", "1.2.4"); got != 1 {
		t.Errorf("build_info{version=1.2.4} = %v, want 1", got)
	}
}

func TestMetricsNotificationQueue(t *testing.T) {
	metrics.WatchNotificationQueue(func(context.Context) (float64, error) { return 0, errors.New("database down") })
	if got := value(scrape(t), "mailreactor_pg_notification_queue_usage_ratio"); !math.IsNaN(got) {
		t.Errorf("usage with a failing query = %v, want NaN", got)
	}

	db := testenv.NewDB(t)
	metrics.WatchNotificationQueue(db.Store.NotificationQueueUsage)
	got := value(scrape(t), "mailreactor_pg_notification_queue_usage_ratio")
	if math.IsNaN(got) || got < 0 || got > 1 {
		t.Errorf("usage from the database = %v, want 0 to 1", got)
	}
}

func TestMetricsListenerTracked(t *testing.T) {
	db := testenv.NewDB(t)
	if metrics.ListenerUp() {
		t.Fatal("listener up before any connection")
	}
	connect := metrics.TrackListener(db.Store.ConnectListener)
	conn, err := connect(context.Background())
	if err != nil {
		t.Fatalf("connect listener: %v", err)
	}
	if !metrics.ListenerUp() {
		t.Error("listener down after connecting")
	}
	if got := value(scrape(t), "mailreactor_listener_up"); got != 1 {
		t.Errorf("listener_up = %v, want 1", got)
	}
	conn.Close(context.Background())
	testenv.WaitFor(t, 5*time.Second, "listener down after close", func() bool { return !metrics.ListenerUp() })
	if got := value(scrape(t), "mailreactor_listener_up"); got != 0 {
		t.Errorf("listener_up after close = %v, want 0", got)
	}
}

func TestMetricsDatabaseStats(t *testing.T) {
	metrics.WatchDatabase(func(context.Context) (metrics.DatabaseStats, error) {
		return metrics.DatabaseStats{Accounts: map[string]int{"ok": 3, "auth_failed": 1},
			OutboxQueued: 5, OutboxSending: 2, OldestDue: 90 * time.Second}, nil
	})
	families := scrape(t)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailreactor_accounts", []string{"status", "ok"}, 3},
		{"mailreactor_accounts", []string{"status", "auth_failed"}, 1},
		{"mailreactor_accounts", []string{"status", "error"}, 0},
		{"mailreactor_outbox_rows", []string{"status", "queued"}, 5},
		{"mailreactor_outbox_rows", []string{"status", "sending"}, 2},
		{"mailreactor_outbox_oldest_due_seconds", nil, 90},
		{"mailreactor_database_stats_up", nil, 1},
	}
	for _, c := range checks {
		if got := value(families, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	metrics.WatchDatabase(func(context.Context) (metrics.DatabaseStats, error) {
		return metrics.DatabaseStats{}, errors.New("database down")
	})
	families = scrape(t)
	if got := value(families, "mailreactor_database_stats_up"); got != 0 {
		t.Errorf("database_stats_up with a failing query = %v, want 0", got)
	}
	if _, ok := families["mailreactor_outbox_rows"]; ok {
		t.Error("outbox_rows exported although the query failed")
	}
}
