package reconcile

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// The process benchmarks run the reactor binary and mbsync against the
// same mailbox, and report what each took and its peak resident memory:
// VmHWM of /proc/<pid>/status, sampled every 10 ms while it runs. (The
// ru_maxrss of a finished child is no use here: Go starts children with
// vfork, and Linux carries the parent's peak into the child at exec.)

// watchPeakRSS samples the VmHWM of pid until stop is called, and returns
// the highest value seen, in megabytes.
func watchPeakRSS(pid int) (stop func() float64) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	done := make(chan struct{})
	result := make(chan float64, 1)
	go func() {
		peak := 0.0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, ok := readVmHWM(path); ok {
				peak = max(peak, kb/1024)
			}
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-result
	}
}

// readVmHWM returns the VmHWM line of a status file, in kilobytes.
func readVmHWM(path string) (float64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// reportProcess reports the rate and the peak memory of a process run.
func reportProcess(b *testing.B, name string, n int, elapsed time.Duration, peakMB float64) {
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peakMB, "peak-rss-MB")
	b.Logf("%s: %d messages in %v (%.0f/s), peak RSS %.1f MB", name, n, elapsed.Round(time.Millisecond), rate, peakMB)
}

// benchReactorProcess runs `reactor run` on an empty schema until the
// INBOX is stored, then stops it with SIGTERM.
func benchReactorProcess(b *testing.B, mb benchMailbox) {
	bin := filepath.Join(b.TempDir(), "reactor")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/reactor").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for range b.N {
		b.StopTimer()
		db := testenv.NewDB(b)
		acntid := db.InsertAccount(b, testenv.Account{
			Address: mb.address, Password: mb.password, IMAPAddr: mb.mail.IMAPAddr, SMTPAddr: mb.mail.SMTPAddr,
		})
		cmd := exec.Command(bin, "run")
		cmd.Env = append(os.Environ(), "REACTOR_DATABASE_URL="+db.URL, "REACTOR_DATABASE_SCHEMA="+db.Schema,
			"EMAIL_OUTBOX_ENABLED=false", "REACTOR_HTTP_ADDR=127.0.0.1:0", "REACTOR_LOG_LEVEL=warn")
		logPath := filepath.Join(b.TempDir(), "reactor.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			b.Fatalf("create log: %v", err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		b.StartTimer()

		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatalf("start reactor: %v", err)
		}
		stopRSS := watchPeakRSS(cmd.Process.Pid)
		testenv.WaitFor(b, 10*time.Minute, "the reactor to store the INBOX", func() bool {
			var n int
			db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_messages m
				JOIN email_folders f USING (emfdid) WHERE f.acntid = $1`, acntid).Scan(&n)
			return n >= benchMessages
		})
		elapsed := time.Since(start)
		b.StopTimer()
		peak := stopRSS()
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			out, _ := os.ReadFile(logPath)
			b.Fatalf("reactor exited with %v:\n%s", err, out)
		}
		logFile.Close()
		reportProcess(b, "reactor process", benchMessages, elapsed, peak)
	}
}

// benchMbsync pulls the INBOX into an empty Maildir with mbsync.
func benchMbsync(b *testing.B, mb benchMailbox, fsync bool) {
	if _, err := exec.LookPath("mbsync"); err != nil {
		b.Skip("mbsync not installed (Debian: apt-get install isync)")
	}
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		conf := mbsyncConfig(mb, dir, fsync)
		confPath := filepath.Join(dir, "mbsyncrc")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			b.Fatalf("write mbsync config: %v", err)
		}
		if err := os.Mkdir(filepath.Join(dir, "mail"), 0o700); err != nil {
			b.Fatalf("create Maildir root: %v", err)
		}
		cmd := exec.Command("mbsync", "-q", "-c", confPath, "inbox")
		b.StartTimer()

		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatalf("start mbsync: %v", err)
		}
		stopRSS := watchPeakRSS(cmd.Process.Pid)
		err := cmd.Wait()
		elapsed := time.Since(start)
		peak := stopRSS()
		b.StopTimer()
		if err != nil {
			b.Fatalf("mbsync: %v\n%s", err, out.String())
		}
		files, _ := filepath.Glob(filepath.Join(dir, "mail", "INBOX", "new", "*"))
		if len(files) != benchMessages {
			b.Fatalf("mbsync stored %d messages, want %d", len(files), benchMessages)
		}
		name := "mbsync, FSync yes"
		if !fsync {
			name = "mbsync, FSync no"
		}
		reportProcess(b, name, benchMessages, elapsed, peak)
	}
}

func mbsyncConfig(mb benchMailbox, dir string, fsync bool) string {
	fsyncLine := "FSync yes"
	if !fsync {
		fsyncLine = "FSync no"
	}
	host, port, _ := net.SplitHostPort(mb.mail.IMAPAddr)
	return fmt.Sprintf(`%s

IMAPAccount bench
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path %s/mail/
Inbox %s/mail/INBOX

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
SyncState *
`, fsyncLine, host, port, mb.address, mb.password, dir, dir)
}
