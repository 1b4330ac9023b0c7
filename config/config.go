// Package config holds the reactor's settings: the old system's knobs with
// their names and defaults, and the reactor's own, read from the environment.
package config

import (
	"fmt"
	"os"
	"time"
)

// Defaults of the old system's knobs, kept so an existing installation
// behaves the same without setting anything.
const (
	DefaultMaxThreads           = 14
	DefaultMaxTasksPerThread    = 200
	DefaultHiRecentSyncInterval = 600 * time.Second
	DefaultHiRecentSyncNL       = 1800 * time.Second
	DefaultHiFullSyncInterval   = 3600 * time.Second
	DefaultHiFullSyncNL         = 4800 * time.Second
	DefaultLoFoldersSyncStart   = "20:00"
)

// Defaults of the reactor's own knobs.
const (
	DefaultIdleRestartInterval = 4 * time.Minute
	DefaultOutboxSweepInterval = 30 * time.Second
	DefaultOutboxLease         = 5 * time.Minute
	DefaultOutboxRetryMin      = time.Minute
	DefaultOutboxRetryMax      = time.Hour
	DefaultOutboxMaxAge        = 5 * 24 * time.Hour
	DefaultListenPingInterval  = 5 * time.Second
	DefaultReservedSendWorkers = 4
	DefaultSyncBatchSize       = 200
	DefaultReconnectMax        = 5 * time.Minute
	DefaultMaxConnections      = 5
	DefaultPollInterval        = 60 * time.Second
	DefaultPresenceWindow      = 15 * time.Minute
	DefaultScheduleTick        = 15 * time.Second
	// DefaultHTTPAddr serves /metrics, /healthz and /readyz on loopback.
	DefaultHTTPAddr        = "127.0.0.1:9465"
	DefaultShutdownTimeout = 30 * time.Second
)

// Config is the reactor's whole configuration. Load fills it from the
// environment; the zero value is not valid, use Default.
type Config struct {
	// DatabaseURL is a libpq connection string or URL. Empty means libpq's
	// PG* environment variables.
	DatabaseURL string
	// DatabaseSchema, when set, is the Postgres schema that holds the
	// reactor's tables, put first on the search_path.
	DatabaseSchema string

	OutboxEnabled bool
	SyncEnabled   bool

	// MaxThreads is the worker pool size; MaxTasksPerThread times it bounds
	// the tasks that wait.
	MaxThreads        int
	MaxTasksPerThread int
	// ReservedSendWorkers is how many workers sync tasks may never take,
	// so the outbox does not wait behind a large sync.
	ReservedSendWorkers int

	HiRecentSyncInterval   time.Duration
	HiRecentSyncIntervalNL time.Duration
	HiFullSyncInterval     time.Duration
	HiFullSyncIntervalNL   time.Duration
	// LoFoldersSyncStart is the local time of day, "HH:MM", at which the
	// nightly full sync of low-priority folders starts.
	LoFoldersSyncStart string

	// IdleRestartInterval is how long a watcher stays in one IDLE command
	// before it restarts it; servers may end IDLE after 30 minutes, and
	// NAT devices forget silent connections sooner.
	IdleRestartInterval time.Duration
	// ReconnectMax caps the backoff between reconnects of one account.
	ReconnectMax time.Duration
	// MaxConnections caps the IMAP connections of one account, watchers
	// included; common servers reject more than 10 to 15 per user.
	MaxConnections int
	// PollInterval is how often folders that are not watched are checked
	// with STATUS.
	PollInterval time.Duration
	// PresenceWindow is how recently an owner must have been seen in
	// email_presence to count as logged in.
	PresenceWindow time.Duration
	// TimeZone is the zone of LoFoldersSyncStart, such as "Europe/Warsaw".
	// Empty means the process's local zone.
	TimeZone string
	// ScheduleTick is how often the scheduler looks for due sweeps.
	ScheduleTick time.Duration
	// SyncBatchSize is how many messages are committed per transaction.
	SyncBatchSize int

	OutboxSweepInterval time.Duration
	OutboxLease         time.Duration
	OutboxRetryMin      time.Duration
	OutboxRetryMax      time.Duration
	OutboxMaxAge        time.Duration
	// ListenPingInterval is how often the LISTEN connection pings itself;
	// a ping not back by the next one reconnects it.
	ListenPingInterval time.Duration

	// TLSCAFile is a PEM file of extra certificate authorities trusted for
	// IMAP and SMTP, beside the system's.
	TLSCAFile string

	// InstanceID names this process in outbox claims.
	InstanceID string

	LogLevel  string
	LogFormat string

	// HTTPAddr is the host:port of the metrics and health endpoints;
	// empty disables them.
	HTTPAddr string
	// ShutdownTimeout bounds how long running tasks may take to finish
	// after SIGTERM.
	ShutdownTimeout time.Duration
}

// Default returns the configuration with every knob at its default.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		OutboxEnabled:          true,
		SyncEnabled:            true,
		MaxThreads:             DefaultMaxThreads,
		MaxTasksPerThread:      DefaultMaxTasksPerThread,
		ReservedSendWorkers:    DefaultReservedSendWorkers,
		HiRecentSyncInterval:   DefaultHiRecentSyncInterval,
		HiRecentSyncIntervalNL: DefaultHiRecentSyncNL,
		HiFullSyncInterval:     DefaultHiFullSyncInterval,
		HiFullSyncIntervalNL:   DefaultHiFullSyncNL,
		LoFoldersSyncStart:     DefaultLoFoldersSyncStart,
		IdleRestartInterval:    DefaultIdleRestartInterval,
		ReconnectMax:           DefaultReconnectMax,
		MaxConnections:         DefaultMaxConnections,
		PollInterval:           DefaultPollInterval,
		PresenceWindow:         DefaultPresenceWindow,
		ScheduleTick:           DefaultScheduleTick,
		SyncBatchSize:          DefaultSyncBatchSize,
		OutboxSweepInterval:    DefaultOutboxSweepInterval,
		OutboxLease:            DefaultOutboxLease,
		OutboxRetryMin:         DefaultOutboxRetryMin,
		OutboxRetryMax:         DefaultOutboxRetryMax,
		OutboxMaxAge:           DefaultOutboxMaxAge,
		ListenPingInterval:     DefaultListenPingInterval,
		InstanceID:             fmt.Sprintf("%s-%d", host, os.Getpid()),
		LogLevel:               "info",
		LogFormat:              "text",
		HTTPAddr:               DefaultHTTPAddr,
		ShutdownTimeout:        DefaultShutdownTimeout,
	}
}

// SyncWorkers returns how many workers sync tasks may hold at once.
func (c Config) SyncWorkers() int {
	n := c.MaxThreads - c.ReservedSendWorkers
	if n < 1 {
		return 1
	}
	return n
}

// QueueLimit returns how many tasks may wait before new ones are dropped.
func (c Config) QueueLimit() int {
	return c.MaxThreads * c.MaxTasksPerThread
}
