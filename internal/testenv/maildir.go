package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// maildirReadyTimeout is how long FillMaildir waits for Dovecot to list the
// dropped messages. Indexing tens of thousands of new files takes seconds.
const maildirReadyTimeout = 2 * time.Minute

var (
	homePattern     = regexp.MustCompile(`home=(\S+)`)
	locationPattern = regexp.MustCompile(`(?m)^mail_location\s*=\s*maildir:~/(\S+)`)
)

// InboxMaildir returns the Maildir directory of the INBOX of address, as the
// test Dovecot's configuration (MAILREACTOR_TEST_DOVECOT_CONF) places it.
func (m Mail) InboxMaildir(t testing.TB, address string) string {
	t.Helper()
	conf := lookupEnv(t, "MAILREACTOR_TEST_DOVECOT_CONF")
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("read Dovecot configuration: %v", err)
	}
	home := homePattern.FindSubmatch(text)
	location := locationPattern.FindSubmatch(text)
	if home == nil || location == nil {
		t.Fatalf("%s: no userdb home= or mail_location = maildir:~/...; FillMaildir needs both", conf)
	}
	local, domain, ok := strings.Cut(strings.ToLower(address), "@")
	if !ok {
		t.Fatalf("invalid address %q", address)
	}
	dir := strings.NewReplacer("%d", domain, "%n", local, "%u", local+"@"+domain).Replace(string(home[1]))
	return filepath.Join(dir, string(location[1]))
}

// FillMaildir writes n messages straight into the INBOX Maildir of a user
// made by AddUser, as a local delivery agent would (write into tmp/, then
// rename into cur/), much faster than APPEND. next returns the raw message
// i and its internal date. It returns once Dovecot reports the new count.
func (m Mail) FillMaildir(t testing.TB, address, password string, n int, next func(i int) ([]byte, time.Time)) {
	t.Helper()
	c := m.Dial(t, address, password)
	// SELECT makes Dovecot create the Maildir.
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select INBOX of %s: %v", address, err)
	}
	before := sel.NumMessages
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("unselect INBOX: %v", err)
	}

	dir := m.InboxMaildir(t, address)
	info, err := os.Stat(filepath.Join(dir, "cur"))
	if err != nil {
		t.Fatalf("Maildir of %s: %v", address, err)
	}
	owner := info.Sys().(*syscall.Stat_t)
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	start := time.Now()
	for i := range n {
		raw, date := next(i)
		// Maildir names: time, a unique part, the host, then the info.
		name := fmt.Sprintf("%d.M%dP%dQ%d.%s", start.Unix(), start.Nanosecond()/1000, os.Getpid(), i, host)
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			t.Fatalf("write message %d: %v", i, err)
		}
		if err := os.Chown(tmp, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatalf("chown message %d: %v", i, err)
		}
		if err := os.Chtimes(tmp, date, date); err != nil {
			t.Fatalf("set internal date of message %d: %v", i, err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "cur", name+":2,")); err != nil {
			t.Fatalf("move message %d into cur/: %v", i, err)
		}
	}

	want := before + uint32(n)
	WaitFor(t, maildirReadyTimeout, fmt.Sprintf("Dovecot to list %d messages in INBOX of %s", want, address), func() bool {
		data, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("STATUS INBOX: %v", err)
		}
		return data.NumMessages != nil && *data.NumMessages >= want
	})
}
