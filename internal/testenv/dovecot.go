package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Dovecot is a private Dovecot instance of one test, which the test may
// stop and start. It serves the same users and mailboxes as the shared
// instance, on ports of its own.
type Dovecot struct {
	// IMAPAddr is its plaintext IMAP listener.
	IMAPAddr string
	conf     string
	t        testing.TB
}

var (
	instanceLine = regexp.MustCompile(`(?m)^instance_name = .*$`)
	dirLine      = regexp.MustCompile(`(?m)^(base_dir|state_dir|log_path) = .*$`)
	portLine     = regexp.MustCompile(`(?m)^(\s*)port = \d+$`)
)

// StartDovecot writes a copy of the shared instance's configuration with
// its own ports and runtime folders, starts it, and stops it when the test
// ends. It skips or fails like MailEnv when the environment is missing.
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	shared := lookupEnv(t, "MAILREACTOR_TEST_DOVECOT_CONF")
	text, err := os.ReadFile(shared)
	if err != nil {
		t.Fatalf("read Dovecot config %s: %v", shared, err)
	}

	// Dovecot refuses a base_dir path longer than a socket name allows, so
	// the runtime folder is short and under /tmp.
	dir, err := os.MkdirTemp("", "dvc")
	if err != nil {
		t.Fatalf("create Dovecot folder: %v", err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })

	conf := instanceLine.ReplaceAllString(string(text), "instance_name = "+filepath.Base(dir))
	conf = dirLine.ReplaceAllStringFunc(conf, func(line string) string {
		key := strings.Fields(line)[0]
		if key == "log_path" {
			return key + " = " + filepath.Join(dir, "dovecot.log")
		}
		return key + " = " + filepath.Join(dir, key)
	})
	var ports []int
	conf = portLine.ReplaceAllStringFunc(conf, func(line string) string {
		port := freePort(t)
		ports = append(ports, port)
		indent := line[:strings.Index(line, "port")]
		return fmt.Sprintf("%sport = %d", indent, port)
	})
	if len(ports) == 0 {
		t.Fatalf("no listener port found in %s", shared)
	}
	path := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatalf("write Dovecot config: %v", err)
	}

	d := &Dovecot{IMAPAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]), conf: path, t: t}
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts the instance and waits until its IMAP port accepts connections.
func (d *Dovecot) Start() {
	d.t.Helper()
	// The daemon keeps its stdout, so capturing it through a pipe would
	// wait for Dovecot to exit; a file does not.
	out, err := os.CreateTemp("", "dovecot-start")
	if err != nil {
		d.t.Fatalf("create Dovecot output file: %v", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("dovecot", "-c", d.conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out.Name())
		d.t.Fatalf("start Dovecot: %v\n%s", err, text)
	}
	WaitFor(d.t, 20*time.Second, "private Dovecot to listen on "+d.IMAPAddr, func() bool {
		c, err := net.DialTimeout("tcp", d.IMAPAddr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// Stop stops the instance and waits until its port is closed.
func (d *Dovecot) Stop() {
	exec.Command("dovecot", "-c", d.conf, "stop").Run()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", d.IMAPAddr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}
