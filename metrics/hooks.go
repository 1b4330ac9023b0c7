package metrics

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// notificationQueueTimeout bounds the query behind the notification queue
// gauge, so a slow database does not hold up a scrape.
const notificationQueueTimeout = 2 * time.Second

var (
	watchers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "watchers",
		Help: "Folder watchers of this process by state (connecting, idle, syncing, backoff, auth_failed, ...).",
	}, []string{"state"})

	queueDepthFunc   atomic.Pointer[func() int]
	droppedFunc      atomic.Pointer[func() int]
	notificationFunc atomic.Pointer[func(context.Context) (float64, error)]

	queueDepth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "task_queue_depth",
		Help: "Tasks waiting for a worker.",
	}, func() float64 { return callInt(&queueDepthFunc) })
	tasksDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "tasks_dropped_total",
		Help: "Tasks dropped because the queue was full; a later sweep does their work.",
	}, func() float64 { return callInt(&droppedFunc) })
	notificationQueue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "pg_notification_queue_usage_ratio",
		Help: "pg_notification_queue_usage() of the database: the share of the NOTIFY queue in use, 0 to 1; NaN when the query fails.",
	}, readNotificationQueue)
)

func callInt(p *atomic.Pointer[func() int]) float64 {
	if fn := p.Load(); fn != nil {
		return float64((*fn)())
	}
	return 0
}

// WatchQueue makes the queue gauges read the worker pool: depth returns
// the waiting tasks, dropped the tasks dropped so far.
func WatchQueue(depth, dropped func() int) {
	queueDepthFunc.Store(&depth)
	droppedFunc.Store(&dropped)
}

// WatchNotificationQueue makes the notification queue gauge run query at
// each scrape, typically SELECT pg_notification_queue_usage().
func WatchNotificationQueue(query func(context.Context) (float64, error)) {
	notificationFunc.Store(&query)
}

func readNotificationQueue() float64 {
	fn := notificationFunc.Load()
	if fn == nil {
		return math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), notificationQueueTimeout)
	defer cancel()
	usage, err := (*fn)(ctx)
	if err != nil {
		return math.NaN()
	}
	return usage
}

// watcherStates is the current state of each watcher, by account and
// mailbox, so the gauge counts every watcher once.
var watcherStates = struct {
	sync.Mutex
	m map[watcherKey]string
}{m: make(map[watcherKey]string)}

type watcherKey struct {
	account int64
	mailbox string
}

// WatcherState records that the watcher of the account's mailbox is now in
// state; an empty state removes the watcher, as when it stops.
func WatcherState(accountID int64, mailbox, state string) {
	key := watcherKey{accountID, mailbox}
	watcherStates.Lock()
	defer watcherStates.Unlock()
	old, ok := watcherStates.m[key]
	if ok && old == state {
		return
	}
	if ok {
		watchers.WithLabelValues(old).Dec()
	}
	if state == "" {
		delete(watcherStates.m, key)
		return
	}
	watcherStates.m[key] = state
	watchers.WithLabelValues(state).Inc()
}

// listenerConns counts the LISTEN connections that are open.
var listenerConns atomic.Int64

// TrackListener wraps the Connect function of a LISTEN connection, so
// listener_up and ListenerUp follow the connection: up once connected,
// down once closed.
func TrackListener(connect func(context.Context) (*pgx.Conn, error)) func(context.Context) (*pgx.Conn, error) {
	return func(ctx context.Context) (*pgx.Conn, error) {
		conn, err := connect(ctx)
		if err != nil {
			return conn, err
		}
		listenerUp.Set(float64(listenerConns.Add(1)))
		go func() {
			<-conn.PgConn().CleanupDone()
			listenerUp.Set(float64(max(listenerConns.Add(-1), 0)))
		}()
		return conn, nil
	}
}

// ListenerUp reports whether a LISTEN connection is open.
func ListenerUp() bool { return listenerConns.Load() > 0 }
