package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/httpapi"
)

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServerEndpoints(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	ready := func(ctx context.Context) error {
		if broken.Load() {
			return errors.New("LISTEN connection is down")
		}
		return nil
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := httpapi.Start("127.0.0.1:0", ready, log)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	base := "http://" + srv.Addr

	tests := []struct {
		name, method, path string
		ready              bool
		status             int
		body               string
	}{
		{"HealthzAlways", "GET", "/healthz", false, 200, "ok"},
		{"ReadyzNotReady", "GET", "/readyz", false, 503, "not ready: LISTEN connection is down"},
		{"ReadyzReady", "GET", "/readyz", true, 200, "ok"},
		{"Metrics", "GET", "/metrics", true, 200, "go_goroutines"},
		{"PostRejected", "POST", "/healthz", true, 405, ""},
		{"Unknown", "GET", "/other", true, 404, ""},
	}
	for _, tt := range tests {
		broken.Store(!tt.ready)
		status, body := get(t, tt.method, base+tt.path)
		if status != tt.status {
			t.Errorf("%s: %s %s status %d, want %d", tt.name, tt.method, tt.path, status, tt.status)
		}
		if !strings.Contains(body, tt.body) {
			t.Errorf("%s: body %q does not contain %q", tt.name, body, tt.body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
}

func TestServerAddrInUse(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := httpapi.Start("127.0.0.1:0", func(context.Context) error { return nil }, log)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer first.Shutdown(context.Background())
	_, err = httpapi.Start(first.Addr, func(context.Context) error { return nil }, log)
	if err == nil || !strings.Contains(err.Error(), "REACTOR_HTTP_ADDR="+first.Addr) {
		t.Fatalf("second Start on %s: error %v, want one that names REACTOR_HTTP_ADDR", first.Addr, err)
	}
}
