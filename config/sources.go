package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ConfigFileEnv names the variable that holds the path of the PHP
// configuration file.
const ConfigFileEnv = "REACTOR_CONFIG_FILE"

// Kinds of Source.
const (
	SourceDefault = "default"
	SourceEnv     = "environment"
	SourceFile    = "file"
	SourceFlag    = "command line"
)

// Source is the origin of one setting's value.
type Source struct {
	Kind string
	// File and Line are set for values from the configuration file.
	File string
	Line int
}

func (s Source) String() string {
	if s.Kind == SourceFile {
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
	return s.Kind
}

// Setting is one knob's effective value and its source.
type Setting struct {
	Name string
	// Value is the effective value as text, with passwords redacted.
	Value  string
	Source Source
}

// LoadFile loads the configuration like Load, adding the defines of a PHP
// configuration file: file when not empty, else the path in
// REACTOR_CONFIG_FILE. A value in the environment wins over the file's,
// which wins over the default. It returns every setting with its source,
// in a fixed order, even when the configuration is invalid.
func LoadFile(lookup func(string) (string, bool), file string) (Config, []Setting, error) {
	fileSource := Source{Kind: SourceFlag}
	if file == "" {
		file, _ = lookup(ConfigFileEnv)
		file = strings.TrimSpace(file)
		fileSource = Source{Kind: SourceEnv}
	}
	var errs []error
	defines := map[string]Define{}
	if file != "" {
		list, err := ReadPHPInc(file, isSetting)
		if err != nil {
			errs = append(errs, err)
		}
		for _, d := range list {
			if _, ok := defines[d.Name]; !ok {
				// PHP keeps the first definition of a constant.
				defines[d.Name] = d
			}
		}
	}
	pick := func(name string) (string, Source, bool) {
		if value, ok := lookup(name); ok {
			return value, Source{Kind: SourceEnv}, true
		}
		if d, ok := defines[name]; ok {
			return d.Value, Source{Kind: SourceFile, File: file, Line: d.Line}, true
		}
		return "", Source{Kind: SourceDefault}, false
	}

	c := Default()
	sources := map[string]Source{}
	raw := map[string]string{}
	invalid := map[string]bool{}
	for _, k := range knobs {
		value, src, ok := pick(k.name)
		if !ok {
			continue
		}
		sources[k.name] = src
		raw[k.name] = value
		if err := k.parse(&c, strings.TrimSpace(value)); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q%s: %w", k.name, value, fileSuffix(src), err))
			invalid[k.name] = true
		}
	}
	c.DatabaseURL, sources[databaseURLSetting] = pickDatabaseURL(lookup, pick)

	errs = append(errs, c.validate()...)
	settings := c.settings(sources, raw)
	// An invalid value shows as given, marked, not as the default that
	// stayed in its place.
	for i := range settings {
		if invalid[settings[i].Name] {
			settings[i].Value = fmt.Sprintf("%q (INVALID)", raw[settings[i].Name])
		}
	}
	if file != "" {
		fileSource.File = file
		settings = append([]Setting{{Name: ConfigFileEnv, Value: file, Source: fileSource}}, settings...)
	}
	if len(errs) > 0 {
		return c, settings, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return c, settings, nil
}

// isSetting reports whether a define names one of the reactor's settings.
func isSetting(name string) bool {
	if name == "REACTOR_DATABASE_URL" || name == "DATABASE_URL" {
		return true
	}
	for _, k := range knobs {
		if k.name == name {
			return true
		}
	}
	return false
}

func fileSuffix(src Source) string {
	if src.Kind != SourceFile {
		return ""
	}
	return " (" + src.String() + ")"
}

// databaseURLSetting is the name under which the database URL is shown,
// whichever variable set it.
const databaseURLSetting = "REACTOR_DATABASE_URL"

// pickDatabaseURL prefers REACTOR_DATABASE_URL, then DATABASE_URL, from
// the environment, then the same two from the file.
func pickDatabaseURL(lookup func(string) (string, bool), pick func(string) (string, Source, bool)) (string, Source) {
	if url, ok := lookup("REACTOR_DATABASE_URL"); ok && url != "" {
		return url, Source{Kind: SourceEnv}
	}
	if url, ok := lookup("DATABASE_URL"); ok {
		return url, Source{Kind: SourceEnv}
	}
	for _, name := range []string{"REACTOR_DATABASE_URL", "DATABASE_URL"} {
		if url, src, ok := pick(name); ok && url != "" {
			return url, src
		}
	}
	return "", Source{Kind: SourceDefault}
}

// settings lists the database URL and then every knob in the order of
// knobs, each with its effective value. A knob without an entry in
// formatters is shown as it was given.
func (c Config) settings(sources map[string]Source, raw map[string]string) []Setting {
	source := func(name string) Source {
		if src, ok := sources[name]; ok {
			return src
		}
		return Source{Kind: SourceDefault}
	}
	out := []Setting{{Name: databaseURLSetting, Value: RedactURL(c.DatabaseURL), Source: source(databaseURLSetting)}}
	for _, k := range knobs {
		value, ok := raw[k.name]
		if !ok {
			value = "(default)"
		}
		if format, ok := formatters[k.name]; ok {
			value = format(c)
		}
		out = append(out, Setting{Name: k.name, Value: value, Source: source(k.name)})
	}
	return out
}

// formatters format each knob's effective value.
var formatters = map[string]func(Config) string{
	"EMAIL_OUTBOX_ENABLED":                              func(c Config) string { return strconv.FormatBool(c.OutboxEnabled) },
	"EMAIL_BACKGROUND_SYNC_ENABLED":                     func(c Config) string { return strconv.FormatBool(c.SyncEnabled) },
	"BG_MAX_THREADS":                                    func(c Config) string { return strconv.Itoa(c.MaxThreads) },
	"BG_MAX_TASKS_PER_THREAD":                           func(c Config) string { return strconv.Itoa(c.MaxTasksPerThread) },
	"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL":          func(c Config) string { return c.HiRecentSyncInterval.String() },
	"EMAIL_BG_HI_FOLDERS_RECENT_SYNC_INTERVAL_NL":       func(c Config) string { return c.HiRecentSyncIntervalNL.String() },
	"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL":    func(c Config) string { return c.HiFullSyncInterval.String() },
	"EMAIL_BG_HI_FOLDERS_FOLDERS_FULL_SYNC_INTERVAL_NL": func(c Config) string { return c.HiFullSyncIntervalNL.String() },
	"EMAIL_BG_LO_FOLDERS_SYNC_START":                    func(c Config) string { return c.LoFoldersSyncStart },
	"REACTOR_DATABASE_SCHEMA":                           func(c Config) string { return c.DatabaseSchema },
	"REACTOR_RESERVED_SEND_WORKERS":                     func(c Config) string { return strconv.Itoa(c.ReservedSendWorkers) },
	"REACTOR_IDLE_RESTART_INTERVAL":                     func(c Config) string { return c.IdleRestartInterval.String() },
	"REACTOR_RECONNECT_MAX":                             func(c Config) string { return c.ReconnectMax.String() },
	"REACTOR_SYNC_BATCH_SIZE":                           func(c Config) string { return strconv.Itoa(c.SyncBatchSize) },
	"REACTOR_OUTBOX_SWEEP_INTERVAL":                     func(c Config) string { return c.OutboxSweepInterval.String() },
	"REACTOR_OUTBOX_LEASE":                              func(c Config) string { return c.OutboxLease.String() },
	"REACTOR_OUTBOX_RETRY_MIN":                          func(c Config) string { return c.OutboxRetryMin.String() },
	"REACTOR_OUTBOX_RETRY_MAX":                          func(c Config) string { return c.OutboxRetryMax.String() },
	"REACTOR_OUTBOX_MAX_AGE":                            func(c Config) string { return c.OutboxMaxAge.String() },
	"REACTOR_LISTEN_PING_INTERVAL":                      func(c Config) string { return c.ListenPingInterval.String() },
	"REACTOR_TLS_CA_FILE":                               func(c Config) string { return c.TLSCAFile },
	"REACTOR_INSTANCE_ID":                               func(c Config) string { return c.InstanceID },
	"REACTOR_LOG_LEVEL":                                 func(c Config) string { return c.LogLevel },
	"REACTOR_LOG_FORMAT":                                func(c Config) string { return c.LogFormat },
	"REACTOR_IMAP_MAX_CONNECTIONS":                      func(c Config) string { return strconv.Itoa(c.MaxConnections) },
	"REACTOR_POLL_INTERVAL":                             func(c Config) string { return c.PollInterval.String() },
	"REACTOR_PRESENCE_WINDOW":                           func(c Config) string { return c.PresenceWindow.String() },
	"REACTOR_TIMEZONE":                                  func(c Config) string { return c.TimeZone },
	"REACTOR_SCHEDULE_TICK":                             func(c Config) string { return c.ScheduleTick.String() },
	"REACTOR_HTTP_ADDR":                                 func(c Config) string { return c.HTTPAddr },
	"REACTOR_SHUTDOWN_TIMEOUT":                          func(c Config) string { return c.ShutdownTimeout.String() },
}

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactURL masks the password of a libpq URL or keyword/value connection
// string, wherever it is written.
func RedactURL(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "(unparsable URL, not shown)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		for key := range q {
			if strings.EqualFold(key, "password") {
				q.Set(key, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// addrKnob accepts host:port, or empty to disable the HTTP endpoints.
func addrKnob(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, value string) error {
		if value == "" {
			*field(c) = ""
			return nil
		}
		_, port, err := net.SplitHostPort(value)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			return errors.New(`invalid address: use host:port, such as "127.0.0.1:9465", or empty to disable`)
		}
		*field(c) = value
		return nil
	}
}
