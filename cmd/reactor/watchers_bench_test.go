package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// BenchmarkIdleWatchers holds one IDLE watcher per account against
// tools/imapload in another process, and reports the reactor's resident
// memory per watcher, its CPU use while every watcher idles, and the time
// to bring them all up. MAILREACTOR_BENCH_WATCHERS lists the sizes
// (default "1000"); each process may hold at most RLIMIT_NOFILE sockets.
func BenchmarkIdleWatchers(b *testing.B) {
	sizes := os.Getenv("MAILREACTOR_BENCH_WATCHERS")
	if sizes == "" {
		sizes = "1000"
	}
	bins := buildBenchBinaries(b)
	for _, field := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			b.Fatalf("MAILREACTOR_BENCH_WATCHERS=%q: use a comma-separated list of counts", sizes)
		}
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) { benchWatchers(b, bins, n) })
	}
}

type benchBinaries struct{ reactor, imapload string }

func buildBenchBinaries(b *testing.B) benchBinaries {
	dir := b.TempDir()
	bins := benchBinaries{reactor: filepath.Join(dir, "reactor"), imapload: filepath.Join(dir, "imapload")}
	// No race detector: it multiplies memory use, which is what is measured.
	for pkg, out := range map[string]string{".": bins.reactor, "../../tools/imapload": bins.imapload} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return bins
}

func benchWatchers(b *testing.B, bins benchBinaries, n int) {
	db := testenv.NewDB(b)
	addr := startIMAPLoad(b, bins.imapload, n)
	host, port, _ := strings.Cut(addr, ":")
	ctx := context.Background()

	// Accounts whose INBOX was synced a moment ago, as in a running
	// installation, so no first full sync or folder listing runs.
	_, err := db.Store.Pool().Exec(ctx, `
		WITH a AS (
			INSERT INTO email_accounts (address, imap_host, imap_port, imap_security, imap_username,
				imap_password, smtp_host, smtp_port, smtp_security)
			SELECT format('user%s@example.test', lpad(i::text, 5, '0')), $1, $2::int, 'none',
			       format('user%s@example.test', lpad(i::text, 5, '0')), 'secret', '127.0.0.1', 1, 'none'
			FROM generate_series(0, $3::int - 1) AS i
			RETURNING acntid)
		INSERT INTO email_folders (acntid, name, priority, uidvalidity, last_recent_sync_at, last_full_sync_at)
		SELECT acntid, 'INBOX', 'high', 1, now(), now() FROM a`, host, port, n)
	if err != nil {
		b.Fatalf("insert %d accounts: %v", n, err)
	}

	cmd := exec.Command(bins.reactor, "run")
	cmd.Env = append(os.Environ(),
		"REACTOR_DATABASE_URL="+db.URL, "REACTOR_DATABASE_SCHEMA="+db.Schema,
		"REACTOR_HTTP_ADDR=", "EMAIL_OUTBOX_ENABLED=false", "REACTOR_LOG_LEVEL=warn")
	logFile, _ := os.Create(filepath.Join(b.TempDir(), "reactor.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start reactor: %v", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	testenv.WaitFor(b, 10*time.Minute, fmt.Sprintf("%d watchers in IDLE", n), func() bool {
		var idle int
		db.Store.Pool().QueryRow(ctx, "SELECT count(*) FROM email_folders WHERE watch_state = 'idle'").Scan(&idle)
		return idle == n
	})
	bringUp := time.Since(start)

	// Let the start-up garbage go, then measure a quiet minute.
	time.Sleep(10 * time.Second)
	cpuStart, wallStart := processCPU(b, cmd.Process.Pid), time.Now()
	time.Sleep(30 * time.Second)
	cpu := processCPU(b, cmd.Process.Pid) - cpuStart
	wall := time.Since(wallStart)
	rss := residentBytes(b, cmd.Process.Pid)

	b.ReportMetric(bringUp.Seconds(), "bringup-s")
	b.ReportMetric(float64(rss)/float64(n)/1024, "KiB/watcher")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "idle-cpu-%")
	b.Logf("%d watchers: up in %v, RSS %.1f MiB (%.1f KiB each), idle CPU %.2f%% of one core",
		n, bringUp.Round(time.Millisecond), float64(rss)/(1<<20), float64(rss)/float64(n)/1024,
		100*cpu.Seconds()/wall.Seconds())
}

// startIMAPLoad starts the load server and returns its address.
func startIMAPLoad(b *testing.B, bin string, users int) string {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-users", strconv.Itoa(users))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatalf("imapload stdout: %v", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start imapload: %v", err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("read imapload address: %v", err)
	}
	return strings.TrimSpace(line)
}

// processCPU returns the user and system CPU time of a process.
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read process stat: %v", err)
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// Linux reports clock ticks of 1/100 s (USER_HZ).
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// residentBytes returns a process's resident set size.
func residentBytes(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read process status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
