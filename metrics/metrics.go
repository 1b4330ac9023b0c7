// Package metrics defines the reactor's Prometheus collectors and small
// typed functions that record them. Every function is safe to call from
// any goroutine, and before Handler is served. A process has one set of
// metrics, so the functions are package-level.
package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "mailreactor"

// Outcomes of an outbox send, the values of the outcome label.
const (
	OutcomeSent   = "sent"
	OutcomeRetry  = "retry"
	OutcomeFailed = "failed"
)

// latencyBuckets span the reactor's reaction times, from a few
// milliseconds (a send right after its NOTIFY) to minutes (a retry).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

var (
	registry = prometheus.NewRegistry()

	messagesStored = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "messages_stored_total",
		Help: "Messages stored in email_messages, counted when their transaction commits.",
	})
	sends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "outbox_sends_total",
		Help: "Outbox send attempts by outcome: sent, retry (a temporary failure) or failed (given up).",
	}, []string{"outcome"})
	reconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "imap_reconnects_total",
		Help: "IMAP sessions that failed and were started again after a backoff.",
	})
	syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "sync_duration_seconds",
		Help:    "Duration of one folder sync, in seconds, from its start to its last commit or error.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
	})
	notifyToSend = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "outbox_notify_to_send_seconds",
		Help:    "Seconds from queueing an outbox row (its created_at, when the trigger notifies) to the server accepting it, for first attempts.",
		Buckets: latencyBuckets,
	})
	existsToStored = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "exists_to_stored_seconds",
		Help:    "Seconds from an IMAP EXISTS announcement to the commit of the new messages.",
		Buckets: latencyBuckets,
	})
	listenerUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "listener_up",
		Help: "1 while the Postgres LISTEN connection is established, else 0.",
	})
	buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1, labelled with the reactor's version and the Go version that built it.",
	}, []string{"version", "goversion"})
)

func init() {
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		messagesStored, sends, reconnects, syncDuration, notifyToSend, existsToStored,
		listenerUp, buildInfo, watchers, queueDepth, tasksDropped, notificationQueue,
	)
	// Every outcome is exported from the start, so a rate over it is
	// defined before the first failure.
	for _, outcome := range []string{OutcomeSent, OutcomeRetry, OutcomeFailed} {
		sends.WithLabelValues(outcome)
	}
}

// Handler serves every metric in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
}

// SetVersion records the reactor's version in mailreactor_build_info.
func SetVersion(version string) {
	buildInfo.Reset()
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
}

// MessagesStored counts n messages committed to the store.
func MessagesStored(n int) {
	if n > 0 {
		messagesStored.Add(float64(n))
	}
}

// OutboxSent counts a send the server accepted. The latency from queuedAt
// is recorded for a first attempt only, since a retry waits on purpose.
func OutboxSent(queuedAt time.Time, attempt int) {
	sends.WithLabelValues(OutcomeSent).Inc()
	if attempt <= 1 && !queuedAt.IsZero() {
		notifyToSend.Observe(time.Since(queuedAt).Seconds())
	}
}

// OutboxRetry counts a send that failed for now and will be retried.
func OutboxRetry() { sends.WithLabelValues(OutcomeRetry).Inc() }

// OutboxFailed counts a send given up for good.
func OutboxFailed() { sends.WithLabelValues(OutcomeFailed).Inc() }

// Reconnect counts an IMAP session that failed and will be started again.
func Reconnect() { reconnects.Inc() }

// SyncDone records the duration of a folder sync that started at start.
// Call it as defer metrics.SyncDone(time.Now()).
func SyncDone(start time.Time) { syncDuration.Observe(time.Since(start).Seconds()) }

// ExistsToStored records the time from an EXISTS announcement, received
// at announced, to the commit of the messages it announced.
func ExistsToStored(announced time.Time) {
	if !announced.IsZero() {
		existsToStored.Observe(time.Since(announced).Seconds())
	}
}
