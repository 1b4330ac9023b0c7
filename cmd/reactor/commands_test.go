package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func writeConfigInc(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.inc")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// configRow finds the row of a setting in reactor config's table.
func configRow(t *testing.T, out, name string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		cells := columnGap.Split(strings.TrimSpace(line), -1)
		if cells[0] == name {
			return cells
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, out)
	return nil
}

func TestConfigCommandSources(t *testing.T) {
	t.Parallel()
	path := writeConfigInc(t, "<?php\n// DMS\ndefine('BG_MAX_THREADS', 20);\n"+
		"define('REACTOR_DATABASE_URL', 'postgres://dms:t0psecret@127.0.0.1:5432/dms');\n")
	vars := map[string]string{"REACTOR_LOG_LEVEL": "debug"}
	out, errOut, code := runIn(t, vars, "-config", path, "config")
	if code != 0 {
		t.Fatalf("exit status %d, stderr %q", code, errOut)
	}
	want := map[string][]string{
		"BG_MAX_THREADS":          {"20", path + ":3"},
		"REACTOR_DATABASE_URL":    {"postgres://dms:xxxxx@127.0.0.1:5432/dms", path + ":4"},
		"REACTOR_LOG_LEVEL":       {"debug", "environment"},
		"REACTOR_SYNC_BATCH_SIZE": {"200", "default"},
		"REACTOR_HTTP_ADDR":       {"127.0.0.1:9465", "default"},
		"REACTOR_CONFIG_FILE":     {path, "command line"},
	}
	for name, cells := range want {
		row := configRow(t, out, name)
		if len(row) != 3 || row[1] != cells[0] || row[2] != cells[1] {
			t.Errorf("%s: row %q, want value %q from %q", name, row, cells[0], cells[1])
		}
	}
	if strings.Contains(out, "t0psecret") {
		t.Error("reactor config shows the database password")
	}
}

func TestConfigCommandMalformed(t *testing.T) {
	t.Parallel()
	path := writeConfigInc(t, "<?php\ndefine('BG_MAX_THREADS', 20);\ndefine('REACTOR_OUTBOX_LEASE' 300);\n")
	out, errOut, code := runIn(t, map[string]string{"REACTOR_CONFIG_FILE": path}, "config")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(errOut, path) || !strings.Contains(errOut, "line 3:") {
		t.Errorf("stderr %q does not name the file and line 3", errOut)
	}
	if row := configRow(t, out, "BG_MAX_THREADS"); row[1] != "20" {
		t.Errorf("the good define before the error: row %q, want 20", row)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"NoCommand", nil, 2, "Usage: reactor"},
		{"Unknown", []string{"start"}, 2, `unknown command "start"`},
		{"BadFlag", []string{"-verbose", "run"}, 2, "flag provided but not defined"},
		{"CheckBadParallel", []string{"check", "-parallel", "0"}, 2, "-parallel must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errOut, code := runIn(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("reactor %v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestVersionModules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(sharedReactor(t), "version").Output()
	if err != nil {
		t.Fatalf("reactor version: %v", err)
	}
	for _, pattern := range []string{`(?m)^reactor dev$`, `(?m)^go +go1\.\d+`,
		`(?m)^module +github\.com/mailreactor/mailreactor`, `(?m)^dep +github\.com/jackc/pgx/v5 v5\.`,
		`(?m)^dep +github\.com/prometheus/client_golang v1\.`} {
		if !regexp.MustCompile(pattern).Match(out) {
			t.Errorf("output does not match %s:\n%s", pattern, out)
		}
	}
}
