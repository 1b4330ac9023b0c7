package config_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/config"
)

// env is a lookup backed by a map, so the tests never read the process
// environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := vars[name]
		return value, ok
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"EMAIL_OUTBOX_ENABLED", c.OutboxEnabled, true},
		{"EMAIL_BACKGROUND_SYNC_ENABLED", c.SyncEnabled, true},
		{"BG_MAX_THREADS", c.MaxThreads, 14},
		{"BG_MAX_TASKS_PER_THREAD", c.MaxTasksPerThread, 200},
		{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL", c.HiRecentSyncInterval, 600 * time.Second},
		{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL_NL", c.HiRecentSyncIntervalNL, 1800 * time.Second},
		{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL", c.HiFullSyncInterval, 3600 * time.Second},
		{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL_NL", c.HiFullSyncIntervalNL, 4800 * time.Second},
		{"EMAIL_BG_LO_FOLDERS_SYNC_START", c.LoFoldersSyncStart, "20:00"},
		{"REACTOR_RESERVED_SEND_WORKERS", c.ReservedSendWorkers, 4},
		{"REACTOR_IDLE_RESTART_INTERVAL", c.IdleRestartInterval, 4 * time.Minute},
		{"REACTOR_RECONNECT_MAX", c.ReconnectMax, 5 * time.Minute},
		{"REACTOR_SYNC_BATCH_SIZE", c.SyncBatchSize, 200},
		{"REACTOR_OUTBOX_SWEEP_INTERVAL", c.OutboxSweepInterval, 30 * time.Second},
		{"REACTOR_OUTBOX_LEASE", c.OutboxLease, 5 * time.Minute},
		{"REACTOR_OUTBOX_RETRY_MIN", c.OutboxRetryMin, time.Minute},
		{"REACTOR_OUTBOX_RETRY_MAX", c.OutboxRetryMax, time.Hour},
		{"REACTOR_OUTBOX_MAX_AGE", c.OutboxMaxAge, 5 * 24 * time.Hour},
		{"REACTOR_LISTEN_PING_INTERVAL", c.ListenPingInterval, 5 * time.Second},
		{"REACTOR_LOG_LEVEL", c.LogLevel, "info"},
		{"REACTOR_LOG_FORMAT", c.LogFormat, "text"},
		{"REACTOR_DATABASE_SCHEMA", c.DatabaseSchema, ""},
		{"REACTOR_DATABASE_URL", c.DatabaseURL, ""},
		{"REACTOR_TLS_CA_FILE", c.TLSCAFile, ""},
		{"SyncWorkers()", c.SyncWorkers(), 10},
		{"QueueLimit()", c.QueueLimit(), 2800},
	}
	for _, check := range checks {
		if check.got != check.want {
			t.Errorf("%s: got %v, want %v", check.name, check.got, check.want)
		}
	}
	if c.InstanceID == "" {
		t.Errorf("REACTOR_INSTANCE_ID: got empty default, want hostname-pid")
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  map[string]string
		field func(config.Config) any
		want  any
	}{
		{"Seconds", map[string]string{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL": "900"},
			func(c config.Config) any { return c.HiRecentSyncInterval }, 900 * time.Second},
		{"SecondsTrimmed", map[string]string{"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL_NL": " 120 "},
			func(c config.Config) any { return c.HiRecentSyncIntervalNL }, 120 * time.Second},
		{"DurationSeconds", map[string]string{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL": "90s"},
			func(c config.Config) any { return c.HiFullSyncInterval }, 90 * time.Second},
		{"DurationMinutes", map[string]string{"REACTOR_IDLE_RESTART_INTERVAL": "4m"},
			func(c config.Config) any { return c.IdleRestartInterval }, 4 * time.Minute},
		{"DurationCompound", map[string]string{"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL_NL": "1h30m"},
			func(c config.Config) any { return c.HiFullSyncIntervalNL }, 90 * time.Minute},
		{"DurationMilliseconds", map[string]string{"REACTOR_OUTBOX_SWEEP_INTERVAL": "1500ms"},
			func(c config.Config) any { return c.OutboxSweepInterval }, 1500 * time.Millisecond},
		{"MaxAgeHours", map[string]string{"REACTOR_OUTBOX_MAX_AGE": "48h"},
			func(c config.Config) any { return c.OutboxMaxAge }, 48 * time.Hour},
		{"BoolFalse", map[string]string{"EMAIL_OUTBOX_ENABLED": "false"},
			func(c config.Config) any { return c.OutboxEnabled }, false},
		{"BoolZero", map[string]string{"EMAIL_OUTBOX_ENABLED": "0"},
			func(c config.Config) any { return c.OutboxEnabled }, false},
		{"BoolOff", map[string]string{"EMAIL_BACKGROUND_SYNC_ENABLED": "off"},
			func(c config.Config) any { return c.SyncEnabled }, false},
		{"BoolNoUpper", map[string]string{"EMAIL_BACKGROUND_SYNC_ENABLED": "NO"},
			func(c config.Config) any { return c.SyncEnabled }, false},
		{"BoolYes", map[string]string{"EMAIL_OUTBOX_ENABLED": "yes"},
			func(c config.Config) any { return c.OutboxEnabled }, true},
		{"BoolTrueMixedCase", map[string]string{"EMAIL_OUTBOX_ENABLED": "True"},
			func(c config.Config) any { return c.OutboxEnabled }, true},
		{"Threads", map[string]string{"BG_MAX_THREADS": "32"},
			func(c config.Config) any { return c.MaxThreads }, 32},
		{"TasksPerThread", map[string]string{"BG_MAX_TASKS_PER_THREAD": "1"},
			func(c config.Config) any { return c.MaxTasksPerThread }, 1},
		{"ClockEvening", map[string]string{"EMAIL_BG_LO_FOLDERS_SYNC_START": "23:59"},
			func(c config.Config) any { return c.LoFoldersSyncStart }, "23:59"},
		{"ClockMidnight", map[string]string{"EMAIL_BG_LO_FOLDERS_SYNC_START": "00:00"},
			func(c config.Config) any { return c.LoFoldersSyncStart }, "00:00"},
		{"ClockOneDigitHour", map[string]string{"EMAIL_BG_LO_FOLDERS_SYNC_START": "7:30"},
			func(c config.Config) any { return c.LoFoldersSyncStart }, "7:30"},
		{"Schema", map[string]string{"REACTOR_DATABASE_SCHEMA": "mail_2"},
			func(c config.Config) any { return c.DatabaseSchema }, "mail_2"},
		{"SchemaEmpty", map[string]string{"REACTOR_DATABASE_SCHEMA": ""},
			func(c config.Config) any { return c.DatabaseSchema }, ""},
		{"LogLevelUpper", map[string]string{"REACTOR_LOG_LEVEL": "DEBUG"},
			func(c config.Config) any { return c.LogLevel }, "debug"},
		{"LogFormatJSON", map[string]string{"REACTOR_LOG_FORMAT": "json"},
			func(c config.Config) any { return c.LogFormat }, "json"},
		{"InstanceID", map[string]string{"REACTOR_INSTANCE_ID": "reactor-a"},
			func(c config.Config) any { return c.InstanceID }, "reactor-a"},
		{"TLSCAFile", map[string]string{"REACTOR_TLS_CA_FILE": "/etc/ssl/extra.pem"},
			func(c config.Config) any { return c.TLSCAFile }, "/etc/ssl/extra.pem"},
		{"ReservedBelowThreads", map[string]string{"BG_MAX_THREADS": "14", "REACTOR_RESERVED_SEND_WORKERS": "13"},
			func(c config.Config) any { return c.ReservedSendWorkers }, 13},
		{"ReservedZero", map[string]string{"REACTOR_RESERVED_SEND_WORKERS": "0"},
			func(c config.Config) any { return c.SyncWorkers() }, 14},
		{"SingleThread", map[string]string{"BG_MAX_THREADS": "1"},
			func(c config.Config) any { return c.SyncWorkers() }, 1},
		{"RetryMinEqualsMax", map[string]string{"REACTOR_OUTBOX_RETRY_MIN": "10m", "REACTOR_OUTBOX_RETRY_MAX": "600"},
			func(c config.Config) any { return c.OutboxRetryMin }, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(tt.vars))
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.vars, err)
			}
			if got := tt.field(c); got != tt.want {
				t.Errorf("Load(%v): got %v, want %v", tt.vars, got, tt.want)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		knob  string
		value string
		// allowed is the part of the message that states what is allowed.
		allowed string
	}{
		{"BoolWord", "EMAIL_OUTBOX_ENABLED", "maybe", "use true or false"},
		{"BoolEmpty", "EMAIL_BACKGROUND_SYNC_ENABLED", "", "use true or false"},
		{"IntWord", "BG_MAX_THREADS", "many", "whole number from 1 to 10000"},
		{"IntFraction", "BG_MAX_THREADS", "2.5", "whole number from 1 to 10000"},
		{"IntZero", "BG_MAX_THREADS", "0", "whole number from 1 to 10000"},
		{"IntAboveMax", "BG_MAX_THREADS", "10001", "whole number from 1 to 10000"},
		{"IntNegative", "BG_MAX_TASKS_PER_THREAD", "-5", "whole number from 1 to 1000000"},
		{"ReservedNegative", "REACTOR_RESERVED_SEND_WORKERS", "-1", "whole number from 0 to 10000"},
		{"BatchZero", "REACTOR_SYNC_BATCH_SIZE", "0", "whole number from 1 to 100000"},
		{"DurationWord", "EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL", "soon", `use seconds ("600") or a unit`},
		{"DurationUnknownUnit", "REACTOR_OUTBOX_LEASE", "5 minutes", `use seconds ("600") or a unit`},
		{"DurationFractionSeconds", "REACTOR_OUTBOX_LEASE", "1.5", `use seconds ("600") or a unit`},
		{"DurationZero", "EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL_NL", "0", "must be positive"},
		{"DurationNegativeSeconds", "EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL", "-600", "must be positive"},
		{"DurationNegativeUnit", "REACTOR_RECONNECT_MAX", "-5m", "must be positive"},
		// 18446744074 s is 2^64 ns plus 290 ms, so multiplying by
		// time.Second without a range check wraps to a positive 290 ms.
		{"DurationSecondsOverflow", "EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL_NL", "18446744074", "invalid duration"},
		{"ClockHour24", "EMAIL_BG_LO_FOLDERS_SYNC_START", "24:00", "HH:MM from 00:00 to 23:59"},
		{"ClockMinute60", "EMAIL_BG_LO_FOLDERS_SYNC_START", "20:60", "HH:MM from 00:00 to 23:59"},
		{"ClockWord", "EMAIL_BG_LO_FOLDERS_SYNC_START", "8pm", "HH:MM from 00:00 to 23:59"},
		{"ClockSeconds", "EMAIL_BG_LO_FOLDERS_SYNC_START", "20:00:00", "HH:MM from 00:00 to 23:59"},
		{"SchemaDash", "REACTOR_DATABASE_SCHEMA", "mail-store", "letters, digits and underscores"},
		{"SchemaDigitFirst", "REACTOR_DATABASE_SCHEMA", "1mail", "letters, digits and underscores"},
		{"SchemaQuote", "REACTOR_DATABASE_SCHEMA", `mail"; DROP`, "letters, digits and underscores"},
		{"LogLevel", "REACTOR_LOG_LEVEL", "loud", "use one of debug, info, warn, error"},
		{"LogFormat", "REACTOR_LOG_FORMAT", "xml", "use one of text, json"},
		{"InstanceIDEmpty", "REACTOR_INSTANCE_ID", "", "must not be empty"},
		{"InstanceIDBlank", "REACTOR_INSTANCE_ID", "   ", "must not be empty"},
		{"CAFileEmpty", "REACTOR_TLS_CA_FILE", "", "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(map[string]string{tt.knob: tt.value}))
			if err == nil {
				t.Fatalf("Load(%s=%q): got no error, want one that says %q", tt.knob, tt.value, tt.allowed)
			}
			msg := err.Error()
			if want := tt.knob + "=" + strconv.Quote(tt.value); !strings.Contains(msg, want) {
				t.Errorf("Load(%s=%q): error %q does not name the knob and value %s", tt.knob, tt.value, msg, want)
			}
			if !strings.Contains(msg, tt.allowed) {
				t.Errorf("Load(%s=%q): error %q does not say what is allowed: %q", tt.knob, tt.value, msg, tt.allowed)
			}
		})
	}
}

func TestLoadInvalidKeepsDefault(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"BG_MAX_THREADS": "many"}))
	if err == nil {
		t.Fatal("Load(BG_MAX_THREADS=many): got no error")
	}
	if c.MaxThreads != config.DefaultMaxThreads {
		t.Errorf("MaxThreads after invalid value: got %d, want default %d", c.MaxThreads, config.DefaultMaxThreads)
	}
}

func TestLoadReportsEveryInvalidKnob(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"EMAIL_OUTBOX_ENABLED":           "maybe",
		"BG_MAX_THREADS":                 "many",
		"EMAIL_BG_LO_FOLDERS_SYNC_START": "25:00",
		"REACTOR_LOG_FORMAT":             "xml",
		"REACTOR_OUTBOX_LEASE":           "soon",
		// Valid knobs between them must not hide the invalid ones.
		"BG_MAX_TASKS_PER_THREAD": "50",
	}
	_, err := config.Load(env(vars))
	if err == nil {
		t.Fatal("Load with five invalid knobs: got no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`EMAIL_OUTBOX_ENABLED="maybe"`,
		`BG_MAX_THREADS="many"`,
		`EMAIL_BG_LO_FOLDERS_SYNC_START="25:00"`,
		`REACTOR_LOG_FORMAT="xml"`,
		`REACTOR_OUTBOX_LEASE="soon"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not report %s", msg, want)
		}
	}
	if strings.Contains(msg, "BG_MAX_TASKS_PER_THREAD") {
		t.Errorf("error %q reports the valid knob BG_MAX_TASKS_PER_THREAD", msg)
	}
	if got, want := strings.Count(msg, "\n")+1, 5; got != want {
		t.Errorf("error has %d lines, want one per invalid knob (%d): %q", got, want, msg)
	}
}

func TestLoadDatabaseURL(t *testing.T) {
	t.Parallel()
	const (
		reactorURL = "postgres://reactor@127.0.0.1:5432/mail"
		genericURL = "postgres://app@127.0.0.1:5432/dms"
	)
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"Neither", map[string]string{}, ""},
		{"OnlyReactor", map[string]string{"REACTOR_DATABASE_URL": reactorURL}, reactorURL},
		{"OnlyGeneric", map[string]string{"DATABASE_URL": genericURL}, genericURL},
		{"ReactorWins", map[string]string{"REACTOR_DATABASE_URL": reactorURL, "DATABASE_URL": genericURL}, reactorURL},
		{"ReactorEmpty", map[string]string{"REACTOR_DATABASE_URL": "", "DATABASE_URL": genericURL}, genericURL},
		{"KeyValueForm", map[string]string{"REACTOR_DATABASE_URL": "host=127.0.0.1 dbname=mail"}, "host=127.0.0.1 dbname=mail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(tt.vars))
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.vars, err)
			}
			if c.DatabaseURL != tt.want {
				t.Errorf("DatabaseURL: got %q, want %q", c.DatabaseURL, tt.want)
			}
		})
	}
}

func TestLoadCrossKnob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		// want lists the parts of the error message. Nil means no error.
		want []string
	}{
		{"ReservedEqualsThreads", map[string]string{"REACTOR_RESERVED_SEND_WORKERS": "14"},
			[]string{"REACTOR_RESERVED_SEND_WORKERS=14", "BG_MAX_THREADS=14", "must be less than"}},
		{"ReservedAboveThreads", map[string]string{"BG_MAX_THREADS": "8", "REACTOR_RESERVED_SEND_WORKERS": "9"},
			[]string{"REACTOR_RESERVED_SEND_WORKERS=9", "BG_MAX_THREADS=8", "must be less than"}},
		{"ReservedOneBelow", map[string]string{"BG_MAX_THREADS": "8", "REACTOR_RESERVED_SEND_WORKERS": "7"}, nil},
		{"SingleThreadIgnoresReserved", map[string]string{"BG_MAX_THREADS": "1", "REACTOR_RESERVED_SEND_WORKERS": "3"}, nil},
		{"RetryMinAboveMax", map[string]string{"REACTOR_OUTBOX_RETRY_MIN": "2h", "REACTOR_OUTBOX_RETRY_MAX": "1h"},
			[]string{"REACTOR_OUTBOX_RETRY_MIN=2h0m0s", "REACTOR_OUTBOX_RETRY_MAX=1h0m0s", "must not exceed"}},
		{"RetryMinAboveDefaultMax", map[string]string{"REACTOR_OUTBOX_RETRY_MIN": "7200"},
			[]string{"REACTOR_OUTBOX_RETRY_MIN=2h0m0s", "REACTOR_OUTBOX_RETRY_MAX=1h0m0s"}},
		{"BothRelations", map[string]string{
			"BG_MAX_THREADS": "2", "REACTOR_RESERVED_SEND_WORKERS": "2",
			"REACTOR_OUTBOX_RETRY_MIN": "90m",
		}, []string{"REACTOR_RESERVED_SEND_WORKERS=2", "REACTOR_OUTBOX_RETRY_MIN=1h30m0s"}},
		{"ParseAndRelation", map[string]string{
			"REACTOR_LOG_LEVEL": "loud", "REACTOR_RESERVED_SEND_WORKERS": "20",
		}, []string{`REACTOR_LOG_LEVEL="loud"`, "REACTOR_RESERVED_SEND_WORKERS=20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(tt.vars))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load(%v): got %v, want no error", tt.vars, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%v): got no error, want one with %q", tt.vars, tt.want)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load(%v): error %q does not contain %q", tt.vars, err, want)
				}
			}
		})
	}
}
