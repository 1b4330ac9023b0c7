package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// knob is one setting read from the environment.
type knob struct {
	name  string
	parse func(c *Config, value string) error
}

var knobs = []knob{
	{"EMAIL_OUTBOX_ENABLED", boolKnob(func(c *Config) *bool { return &c.OutboxEnabled })},
	{"EMAIL_BACKGROUND_SYNC_ENABLED", boolKnob(func(c *Config) *bool { return &c.SyncEnabled })},
	{"BG_MAX_THREADS", intKnob(1, 10000, func(c *Config) *int { return &c.MaxThreads })},
	{"BG_MAX_TASKS_PER_THREAD", intKnob(1, 1000000, func(c *Config) *int { return &c.MaxTasksPerThread })},
	{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.HiRecentSyncInterval })},
	{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL_NL", durationKnob(func(c *Config) *time.Duration { return &c.HiRecentSyncIntervalNL })},
	{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.HiFullSyncInterval })},
	{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL_NL", durationKnob(func(c *Config) *time.Duration { return &c.HiFullSyncIntervalNL })},
	{"EMAIL_BG_LO_FOLDERS_SYNC_START", clockKnob(func(c *Config) *string { return &c.LoFoldersSyncStart })},
	{"REACTOR_DATABASE_SCHEMA", schemaKnob},
	{"REACTOR_RESERVED_SEND_WORKERS", intKnob(0, 10000, func(c *Config) *int { return &c.ReservedSendWorkers })},
	{"REACTOR_IDLE_RESTART_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.IdleRestartInterval })},
	{"REACTOR_RECONNECT_MAX", durationKnob(func(c *Config) *time.Duration { return &c.ReconnectMax })},
	{"REACTOR_IMAP_MAX_CONNECTIONS", intKnob(1, 1000, func(c *Config) *int { return &c.MaxConnections })},
	{"REACTOR_POLL_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.PollInterval })},
	{"REACTOR_PRESENCE_WINDOW", durationKnob(func(c *Config) *time.Duration { return &c.PresenceWindow })},
	{"REACTOR_TIMEZONE", timeZoneKnob},
	{"REACTOR_SCHEDULE_TICK", durationKnob(func(c *Config) *time.Duration { return &c.ScheduleTick })},
	{"REACTOR_SYNC_BATCH_SIZE", intKnob(1, 100000, func(c *Config) *int { return &c.SyncBatchSize })},
	{"REACTOR_OUTBOX_SWEEP_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.OutboxSweepInterval })},
	{"REACTOR_OUTBOX_LEASE", durationKnob(func(c *Config) *time.Duration { return &c.OutboxLease })},
	{"REACTOR_OUTBOX_RETRY_MIN", durationKnob(func(c *Config) *time.Duration { return &c.OutboxRetryMin })},
	{"REACTOR_OUTBOX_RETRY_MAX", durationKnob(func(c *Config) *time.Duration { return &c.OutboxRetryMax })},
	{"REACTOR_OUTBOX_MAX_AGE", durationKnob(func(c *Config) *time.Duration { return &c.OutboxMaxAge })},
	{"REACTOR_LISTEN_PING_INTERVAL", durationKnob(func(c *Config) *time.Duration { return &c.ListenPingInterval })},
	{"REACTOR_TLS_CA_FILE", stringKnob(func(c *Config) *string { return &c.TLSCAFile })},
	{"REACTOR_INSTANCE_ID", stringKnob(func(c *Config) *string { return &c.InstanceID })},
	{"REACTOR_LOG_LEVEL", choiceKnob([]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel })},
	{"REACTOR_LOG_FORMAT", choiceKnob([]string{"text", "json"}, func(c *Config) *string { return &c.LogFormat })},
	{"REACTOR_HTTP_ADDR", addrKnob(func(c *Config) *string { return &c.HTTPAddr })},
	{"REACTOR_SHUTDOWN_TIMEOUT", durationKnob(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
}

// FromEnv loads the configuration from the process environment and the
// configuration file that REACTOR_CONFIG_FILE names, if any.
func FromEnv() (Config, error) {
	return Load(os.LookupEnv)
}

// Load starts from Default, applies every knob that lookup finds or the
// configuration file in REACTOR_CONFIG_FILE defines, and validates the
// result. The error lists every invalid knob, each with its value and what
// is allowed. LoadFile does the work.
func Load(lookup func(string) (string, bool)) (Config, error) {
	c, _, err := LoadFile(lookup, "")
	return c, err
}

// validate checks the relations between knobs that each parse alone cannot.
func (c Config) validate() []error {
	var errs []error
	if c.ReservedSendWorkers >= c.MaxThreads && c.MaxThreads > 1 {
		errs = append(errs, fmt.Errorf("REACTOR_RESERVED_SEND_WORKERS=%d: must be less than BG_MAX_THREADS=%d so that sync tasks get a worker",
			c.ReservedSendWorkers, c.MaxThreads))
	}
	if c.OutboxRetryMin > c.OutboxRetryMax {
		errs = append(errs, fmt.Errorf("REACTOR_OUTBOX_RETRY_MIN=%s: must not exceed REACTOR_OUTBOX_RETRY_MAX=%s",
			c.OutboxRetryMin, c.OutboxRetryMax))
	}
	return errs
}

func boolKnob(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, value string) error {
		switch strings.ToLower(value) {
		case "1", "true", "yes", "on":
			*field(c) = true
		case "0", "false", "no", "off":
			*field(c) = false
		default:
			return errors.New("invalid boolean: use true or false")
		}
		return nil
	}
}

func intKnob(min, max int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, value string) error {
		n, err := strconv.Atoi(value)
		if err != nil || n < min || n > max {
			return fmt.Errorf("invalid number: use a whole number from %d to %d", min, max)
		}
		*field(c) = n
		return nil
	}
}

// durationKnob accepts a number of seconds, as the old system's intervals
// are written, or a Go duration such as "90s" or "4m".
func durationKnob(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, value string) error {
		var d time.Duration
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			if n > int64(math.MaxInt64/time.Second) {
				return errors.New("invalid duration: too long, at most 292 years")
			}
			d = time.Duration(n) * time.Second
		} else if d, err = time.ParseDuration(value); err != nil {
			return errors.New(`invalid duration: use seconds ("600") or a unit ("10m", "90s")`)
		}
		if d <= 0 {
			return errors.New("invalid duration: must be positive")
		}
		*field(c) = d
		return nil
	}
}

var clockPattern = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

func clockKnob(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, value string) error {
		if !clockPattern.MatchString(value) {
			return errors.New(`invalid time of day: use HH:MM from 00:00 to 23:59, such as "20:00"`)
		}
		*field(c) = value
		return nil
	}
}

func stringKnob(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, value string) error {
		if value == "" {
			return errors.New("must not be empty")
		}
		*field(c) = value
		return nil
	}
}

func choiceKnob(choices []string, field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, value string) error {
		for _, choice := range choices {
			if strings.EqualFold(value, choice) {
				*field(c) = choice
				return nil
			}
		}
		return fmt.Errorf("invalid value: use one of %s", strings.Join(choices, ", "))
	}
}

func timeZoneKnob(c *Config, value string) error {
	if _, err := time.LoadLocation(value); err != nil {
		return errors.New(`unknown time zone: use an IANA name such as "Europe/Warsaw", or "Local"`)
	}
	c.TimeZone = value
	return nil
}

// Location returns the zone of LoFoldersSyncStart.
func (c Config) Location() *time.Location {
	if c.TimeZone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.Local
	}
	return loc
}

var schemaPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func schemaKnob(c *Config, value string) error {
	if value != "" && !schemaPattern.MatchString(value) {
		return errors.New("invalid schema name: use letters, digits and underscores, starting with a letter")
	}
	c.DatabaseSchema = value
	return nil
}
