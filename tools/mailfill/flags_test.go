package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestParseFlags(t *testing.T) {
	base := []string{"-addr", "127.0.0.1:143", "-user", "anna@example.test"}
	withEnv := map[string]string{passwordEnv: "z-env"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantErr  string // empty means success
		password string
	}{
		{"password from the environment", base, withEnv, "", "z-env"},
		{"flag before the environment", append(base, "-password", "z-flag"), withEnv, "", "z-flag"},
		{"no password", base, nil, "set MAILFILL_PASSWORD or pass -password", ""},
		{"no addr", []string{"-user", "u"}, withEnv, "-addr is required", ""},
		{"addr without port", []string{"-addr", "localhost", "-user", "u"}, withEnv, "is not host:port", ""},
		{"no user", []string{"-addr", "127.0.0.1:143"}, withEnv, "-user is required", ""},
		{"zero count", append(base, "-count", "0"), withEnv, "-count is 0", ""},
		{"negative size", append(base, "-size", "-5"), withEnv, "-size is -5", ""},
		{"too many connections", append(base, "-parallel", "500"), withEnv, "-parallel is 500", ""},
		{"ca-file without tls", append(base, "-ca-file", "ca.pem"), withEnv, "apply to TLS only", ""},
		{"insecure without tls", append(base, "-insecure"), withEnv, "apply to TLS only", ""},
		{"ca-file and insecure", append(base, "-tls", "-insecure", "-ca-file", "ca.pem"), withEnv, "exclude each other", ""},
		{"bad from", append(base, "-from", "Anna <anna@"), withEnv, "-from", ""},
		{"bad to", append(base, "-to", "@@"), withEnv, "-to", ""},
		{"stray argument", append(base, "extra"), withEnv, "unexpected argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, func(k string) string { return tt.env[k] }, &syncBuffer{})
			if tt.wantErr == "" {
				if err != nil || cfg.password != tt.password {
					t.Fatalf("err %v, password %q; want %q", err, cfg.password, tt.password)
				}
				if cfg.mailbox != "INBOX" || cfg.count != 1000 || cfg.parallel != 4 {
					t.Errorf("defaults: mailbox %q, count %d, parallel %d", cfg.mailbox, cfg.count, cfg.parallel)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "z-env") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	var out syncBuffer
	if code := run([]string{"-user", "u"}, func(string) string { return "z-secret" }, &out); code != 2 {
		t.Errorf("exit status %d for a missing -addr, want 2", code)
	}
	if !strings.Contains(out.String(), "mailfill: -addr is required") || strings.Contains(out.String(), "z-secret") {
		t.Errorf("output %q", out.String())
	}
	out = syncBuffer{}
	if code := run([]string{"-h"}, func(string) string { return "" }, &out); code != 0 {
		t.Errorf("exit status %d for -h, want 0", code)
	}
	if !strings.Contains(out.String(), "-insecure") {
		t.Errorf("usage %q does not list -insecure", out.String())
	}
	_, err := parseFlags([]string{"-h"}, func(string) string { return "" }, &syncBuffer{})
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
}
