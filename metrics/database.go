package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// databaseTimeout bounds the queries behind the database gauges.
const databaseTimeout = 3 * time.Second

// DatabaseStats contains the counts of work to do, read from the database
// at each scrape. Every reactor on one database exports the same values.
type DatabaseStats struct {
	// Accounts counts the enabled accounts by status (ok, error,
	// auth_failed, new).
	Accounts map[string]int
	// OutboxQueued and OutboxSending count the outbox rows in each status.
	OutboxQueued, OutboxSending int
	// OldestDue is the age of the oldest queued row whose attempt is due,
	// zero when none is due. A row waiting for its retry is not counted.
	OldestDue time.Duration
}

var databaseFunc atomic.Pointer[func(context.Context) (DatabaseStats, error)]

// WatchDatabase makes the database gauges run query at each scrape.
func WatchDatabase(query func(context.Context) (DatabaseStats, error)) {
	databaseFunc.Store(&query)
}

var (
	accountsDesc = prometheus.NewDesc(namespace+"_accounts",
		"Enabled accounts by status, from email_accounts.", []string{"status"}, nil)
	outboxRowsDesc = prometheus.NewDesc(namespace+"_outbox_rows",
		"Outbox rows waiting (queued) or claimed (sending), from email_outbox.", []string{"status"}, nil)
	oldestDueDesc = prometheus.NewDesc(namespace+"_outbox_oldest_due_seconds",
		"Seconds since the oldest queued outbox row became due; 0 when none is due.", nil, nil)
	databaseUpDesc = prometheus.NewDesc(namespace+"_database_stats_up",
		"1 when the queries behind the accounts and outbox gauges succeeded at this scrape, else 0.", nil, nil)
)

// databaseCollector runs the database query once per scrape.
type databaseCollector struct{}

func (databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- accountsDesc
	ch <- outboxRowsDesc
	ch <- oldestDueDesc
	ch <- databaseUpDesc
}

func (databaseCollector) Collect(ch chan<- prometheus.Metric) {
	fn := databaseFunc.Load()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
	defer cancel()
	stats, err := (*fn)(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(databaseUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(databaseUpDesc, prometheus.GaugeValue, 1)
	for _, status := range []string{"ok", "error", "auth_failed", "new"} {
		if _, ok := stats.Accounts[status]; !ok {
			ch <- prometheus.MustNewConstMetric(accountsDesc, prometheus.GaugeValue, 0, status)
		}
	}
	for status, n := range stats.Accounts {
		ch <- prometheus.MustNewConstMetric(accountsDesc, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(outboxRowsDesc, prometheus.GaugeValue, float64(stats.OutboxQueued), "queued")
	ch <- prometheus.MustNewConstMetric(outboxRowsDesc, prometheus.GaugeValue, float64(stats.OutboxSending), "sending")
	ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, stats.OldestDue.Seconds())
}

func init() {
	registry.MustRegister(databaseCollector{})
}
