package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// runIn runs a command in this process with vars as its whole environment
// and returns its output and exit status.
func runIn(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
	code = runMain(args, &out, &errOut, lookup)
	return out.String(), errOut.String(), code
}

var shared struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the reactor binary that the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedReactor builds this command with the race detector once for all
// the tests that start it.
func sharedReactor(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "reactor-bin-")
		if shared.err != nil {
			return
		}
		shared.bin = filepath.Join(shared.dir, "reactor")
		out, err := exec.Command("go", "build", "-race", "-o", shared.bin, ".").CombinedOutput()
		if err != nil {
			shared.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.bin
}

// launch starts the binary with env and args, its stdout and stderr in
// one file whose path it returns. The process is killed when the test ends.
func launch(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "reactor.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	t.Cleanup(func() { logFile.Close() })
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start reactor: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			if data, err := os.ReadFile(logPath); err == nil {
				t.Logf("reactor output:\n%s", data)
			}
		}
	})
	return cmd, logPath
}

// waitExit waits for the process to exit, killing it after timeout, and
// returns how long it took.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("reactor still running %s after the signal; killed", timeout)
		return 0
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// withHost returns the database URL with its host:port replaced.
func withHost(t *testing.T, dbURL, hostPort string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	u.Host = hostPort
	return u.String()
}

// scrape fetches and parses a Prometheus text endpoint.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// dropNotifyProxy forwards connections to target, a Postgres server
// without TLS, and drops every NotificationResponse on the way back, as a
// pooler in transaction mode loses notifications.
func dropNotifyProxy(t *testing.T, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for proxy: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			go func() { io.Copy(server, client); server.Close() }()
			go func() { copyDroppingNotifications(client, server); client.Close() }()
		}
	}()
	return l.Addr().String()
}

// copyDroppingNotifications copies backend messages (a type byte and a
// length that includes itself) and skips those of type 'A'.
func copyDroppingNotifications(dst io.Writer, src io.Reader) {
	header := make([]byte, 5)
	for {
		if _, err := io.ReadFull(src, header); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint32(header[1:])) - 4
		if header[0] == 'A' {
			io.CopyN(io.Discard, src, n)
			continue
		}
		if _, err := dst.Write(header); err != nil {
			return
		}
		if _, err := io.CopyN(dst, src, n); err != nil {
			return
		}
	}
}

// reactorEnv is the process environment without the reactor's own
// variables, plus vars.
func reactorEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "REACTOR_") || strings.HasPrefix(name, "EMAIL_") || strings.HasPrefix(name, "BG_") ||
			strings.HasPrefix(name, "PG") || name == "DATABASE_URL" {
			continue
		}
		env = append(env, kv)
	}
	// The race detector sleeps a second at exit while the other goroutines
	// run on; without that sleep the binary exits as a production build does.
	env = append(env, "GORACE=atexit_sleep_ms=0")
	for name, value := range vars {
		env = append(env, name+"="+value)
	}
	return env
}

// metricValue returns the value of the first series of name whose labels
// include labels, a histogram's sample count, or NaN when there is none.
func metricValue(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := families[name]
	if !ok {
		return math.NaN()
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return math.NaN()
}

// logRecords parses a JSON log file, failing the test on a line that is
// not a JSON object.
func logRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	var records []map[string]any
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %d is not JSON: %v\n%s", i+1, err, line)
		}
		records = append(records, rec)
	}
	return records
}

// httpAddr waits for the log line that names the HTTP server's address.
func httpAddr(t *testing.T, logPath string) string {
	t.Helper()
	var addr string
	testenv.WaitFor(t, 30*time.Second, "the HTTP server's address in the log", func() bool {
		data, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(data), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving metrics and health checks" {
				addr = rec.Addr
				return true
			}
		}
		return false
	})
	return addr
}

// httpStatus returns the status code of GET url, or 0 when it fails.
func httpStatus(url string) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
