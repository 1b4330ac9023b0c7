package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/config"
)

func writeInc(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.inc")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func settingsByName(settings []config.Setting) map[string]config.Setting {
	m := make(map[string]config.Setting, len(settings))
	for _, s := range settings {
		m[s.Name] = s
	}
	return m
}

func TestSourcesPrecedence(t *testing.T) {
	t.Parallel()
	path := writeInc(t, "<?php\n// mail\ndefine('BG_MAX_THREADS', 20);\ndefine('BG_MAX_TASKS_PER_THREAD', 50);\n"+
		"define('REACTOR_DATABASE_URL', 'postgres://dms:filesecret@127.0.0.1/dms');\n")
	c, settings, err := config.LoadFile(env(map[string]string{
		config.ConfigFileEnv: path,
		"BG_MAX_THREADS":     "8",
	}), "")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if c.MaxThreads != 8 || c.MaxTasksPerThread != 50 || c.SyncBatchSize != config.DefaultSyncBatchSize {
		t.Errorf("threads %d, tasks %d, batch %d; want 8 (environment), 50 (file), %d (default)",
			c.MaxThreads, c.MaxTasksPerThread, c.SyncBatchSize, config.DefaultSyncBatchSize)
	}
	if c.DatabaseURL != "postgres://dms:filesecret@127.0.0.1/dms" {
		t.Errorf("database URL %q, want the file's", c.DatabaseURL)
	}

	by := settingsByName(settings)
	want := map[string]string{
		"BG_MAX_THREADS":          "environment",
		"BG_MAX_TASKS_PER_THREAD": path + ":4",
		"REACTOR_SYNC_BATCH_SIZE": "default",
		"REACTOR_DATABASE_URL":    path + ":5",
		config.ConfigFileEnv:      "environment",
	}
	for name, source := range want {
		if got := by[name].Source.String(); got != source {
			t.Errorf("%s: source %q, want %q", name, got, source)
		}
	}
	if v := by["REACTOR_DATABASE_URL"].Value; strings.Contains(v, "filesecret") || !strings.Contains(v, "dms:xxxxx@127.0.0.1") {
		t.Errorf("REACTOR_DATABASE_URL shown as %q, want it with the password masked", v)
	}
}

func TestSourcesEveryKnobShown(t *testing.T) {
	t.Parallel()
	_, settings, err := config.LoadFile(env(nil), "")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if len(settings) < 25 {
		t.Fatalf("got %d settings, want every knob", len(settings))
	}
	for _, s := range settings {
		if s.Value == "(default)" {
			t.Errorf("%s has no formatted value: add it to formatters in sources.go", s.Name)
		}
		if s.Source.Kind != config.SourceDefault {
			t.Errorf("%s: source %s with nothing set, want default", s.Name, s.Source)
		}
	}
	by := settingsByName(settings)
	if by["REACTOR_HTTP_ADDR"].Value != "127.0.0.1:9465" || by["REACTOR_SHUTDOWN_TIMEOUT"].Value != "30s" {
		t.Errorf("HTTP address %q, shutdown timeout %q; want 127.0.0.1:9465 and 30s",
			by["REACTOR_HTTP_ADDR"].Value, by["REACTOR_SHUTDOWN_TIMEOUT"].Value)
	}
}

func TestSourcesFlagOverridesEnv(t *testing.T) {
	t.Parallel()
	fromEnv := writeInc(t, "<?php define('REACTOR_SYNC_BATCH_SIZE', 10);")
	fromFlag := writeInc(t, "<?php define('REACTOR_SYNC_BATCH_SIZE', 20);")
	c, settings, err := config.LoadFile(env(map[string]string{config.ConfigFileEnv: fromEnv}), fromFlag)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if c.SyncBatchSize != 20 {
		t.Errorf("batch size %d, want 20 from the -config file", c.SyncBatchSize)
	}
	if s := settingsByName(settings)[config.ConfigFileEnv]; s.Value != fromFlag || s.Source.Kind != config.SourceFlag {
		t.Errorf("config file setting %+v, want %s from the command line", s, fromFlag)
	}
}

func TestSourcesFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"BadValue", "<?php\n\ndefine('BG_MAX_THREADS', 'many');\n",
			[]string{`BG_MAX_THREADS="many"`, "config.inc:3)", "whole number"}},
		{"Malformed", "<?php\ndefine('REACTOR_OUTBOX_LEASE', 5 minutes);\n",
			[]string{"config.inc", "line 2:", "define REACTOR_OUTBOX_LEASE"}},
		{"BadDuration", "<?php\ndefine('REACTOR_SHUTDOWN_TIMEOUT', 'soon');\n",
			[]string{"REACTOR_SHUTDOWN_TIMEOUT", "config.inc:2)", "invalid duration"}},
		{"BadAddr", "<?php\ndefine('REACTOR_HTTP_ADDR', 'localhost');\n",
			[]string{"REACTOR_HTTP_ADDR", "host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeInc(t, tt.src)
			_, _, err := config.LoadFile(env(nil), path)
			if err == nil {
				t.Fatalf("LoadFile(%q): no error", tt.src)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestSourcesMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.inc")
	_, err := config.Load(env(map[string]string{config.ConfigFileEnv: path}))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load with a missing file: error %v, want one that names %s", err, path)
	}
}

func TestSourcesHTTPAddrEmpty(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"REACTOR_HTTP_ADDR": "", "REACTOR_SHUTDOWN_TIMEOUT": "5"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.HTTPAddr != "" || c.ShutdownTimeout != 5*time.Second {
		t.Errorf("HTTP address %q, shutdown timeout %s; want empty (disabled) and 5s", c.HTTPAddr, c.ShutdownTimeout)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://mail:s3cret@db.example.com:5432/dms?sslmode=require", "postgres://mail:xxxxx@db.example.com:5432/dms?sslmode=require"},
		{"postgresql://mail@db.example.com/dms?password=s3cret", "postgresql://mail@db.example.com/dms?password=xxxxx"},
		{"host=db.example.com user=mail password=s3cret dbname=dms", "host=db.example.com user=mail password=xxxxx dbname=dms"},
		{"host=db password = 'with space' dbname=dms", "host=db password = xxxxx dbname=dms"},
		{"postgres://mail@db.example.com/dms", "postgres://mail@db.example.com/dms"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := config.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The example environment file lists every knob, and its commented values
// are the defaults.
func TestEnvExampleComplete(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../dist/reactor.env.example")
	if err != nil {
		t.Fatalf("read the example: %v", err)
	}
	values := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(strings.TrimPrefix(line, "#"), "="); ok && strings.HasPrefix(line, "#") &&
			!strings.Contains(name, " ") {
			values[name] = value
		}
	}
	_, settings, err := config.LoadFile(env(nil), "")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	for _, s := range append(settings, config.Setting{Name: config.ConfigFileEnv}) {
		if _, ok := values[s.Name]; !ok {
			t.Errorf("%s is missing from dist/reactor.env.example", s.Name)
		}
	}

	// Every value but the placeholders must load to the defaults. An empty
	// value of these two is invalid, so the example shows them unset.
	for _, name := range []string{"REACTOR_DATABASE_URL", "REACTOR_TLS_CA_FILE", "REACTOR_INSTANCE_ID", config.ConfigFileEnv} {
		delete(values, name)
	}
	c, err := config.Load(env(values))
	if err != nil {
		t.Fatalf("Load the example's values: %v", err)
	}
	want := config.Default()
	c.InstanceID, want.InstanceID = "", ""
	if c != want {
		t.Errorf("the example's values differ from the defaults:\n got %+v\nwant %+v", c, want)
	}
}
