// Package testenv connects tests to the real services that
// scripts/testenv.sh starts: Dovecot for IMAP and Postfix for SMTP.
//
// The helpers call t.Fatalf, so call them from the test goroutine.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// RequireEnv is the variable that turns a missing test environment from a
// skipped test into a failed one. Set it to 1 where the services must be
// running, as in make test and CI.
const RequireEnv = "MAILREACTOR_TEST_REQUIRE"

// addUserTimeout is how long AddUser waits for Dovecot to accept a new user.
// Dovecot 2.3 checks the users file for changes at most once a second, so a
// new user can usually log in within 2 s. The rest is for a slow machine.
const addUserTimeout = 10 * time.Second

// Mail contains the addresses and files of the mail services.
type Mail struct {
	IMAPAddr       string // plaintext IMAP with STARTTLS, host:port
	IMAPSAddr      string // IMAP over implicit TLS, host:port
	SMTPAddr       string // SMTP without AUTH, for mail from loopback, host:port
	SubmissionAddr string // SMTP submission with STARTTLS and SASL AUTH, host:port
	Domain         string // the only domain whose mail is delivered
	CAFile         string // PEM certificate that verifies every TLS service
	UsersFile      string // Dovecot passwd-file that AddUser appends to
}

// MailEnv reads the mail services from the variables that
// scripts/testenv.sh writes to .testenv/env.sh. When one is missing, it skips
// the test, or fails it if MAILREACTOR_TEST_REQUIRE=1.
func MailEnv(t testing.TB) Mail {
	t.Helper()
	return Mail{
		IMAPAddr:       lookupEnv(t, "MAILREACTOR_TEST_IMAP"),
		IMAPSAddr:      lookupEnv(t, "MAILREACTOR_TEST_IMAPS"),
		SMTPAddr:       lookupEnv(t, "MAILREACTOR_TEST_SMTP"),
		SubmissionAddr: lookupEnv(t, "MAILREACTOR_TEST_SUBMISSION"),
		Domain:         lookupEnv(t, "MAILREACTOR_TEST_DOMAIN"),
		CAFile:         lookupEnv(t, "MAILREACTOR_TEST_CA_FILE"),
		UsersFile:      lookupEnv(t, "MAILREACTOR_TEST_USERS_FILE"),
	}
}

// lookupEnv returns the value of name, or ends the test when it is unset.
func lookupEnv(t testing.TB, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value != "" {
		return value
	}
	const format = "%s is not set: run scripts/testenv.sh up and load .testenv/env.sh, or run make test"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf(format, name)
	}
	t.Skipf(format, name)
	return ""
}

// validPrefix matches the local parts that AddUser accepts before the random
// suffix. It excludes ':' and newlines, which would corrupt the users file.
var validPrefix = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,39}$`)

// AddUser creates a mailbox user prefix-<random>@Domain with a random
// password, and returns once Dovecot accepts an IMAP login with it.
func (m Mail) AddUser(t testing.TB, prefix string) (address, password string) {
	t.Helper()
	prefix = strings.ToLower(prefix)
	// ".." is not valid in the local part of an SMTP address (RFC 5321).
	if !validPrefix.MatchString(prefix) || strings.Contains(prefix, "..") {
		t.Fatalf("AddUser: invalid prefix %q: use 1 to 40 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit, without \"..\"", prefix)
	}
	address = prefix + "-" + randomHex(t, 6) + "@" + m.Domain
	password = randomHex(t, 16)
	m.appendUser(t, address, password)
	m.waitForLogin(t, address, password)
	return address, password
}

// appendUser adds one passwd-file line in a single O_APPEND write, so lines
// from test processes that run in parallel never interleave.
func (m Mail) appendUser(t testing.TB, address, password string) {
	t.Helper()
	line := fmt.Sprintf("%s:{PLAIN}%s\n", address, password)
	f, err := os.OpenFile(m.UsersFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("open users file %s: %v (run scripts/testenv.sh up, and run the tests as root, which owns the file)", m.UsersFile, err)
	}
	_, writeErr := f.Write([]byte(line))
	closeErr := f.Close()
	if writeErr != nil {
		t.Fatalf("append user %s to %s: %v", address, m.UsersFile, writeErr)
	}
	if closeErr != nil {
		t.Fatalf("close users file %s: %v", m.UsersFile, closeErr)
	}
}

// waitForLogin polls IMAP LOGIN until Dovecot has read the new users file.
func (m Mail) waitForLogin(t testing.TB, address, password string) {
	t.Helper()
	deadline := time.Now().Add(addUserTimeout)
	interval := 10 * time.Millisecond
	for {
		err := m.tryLogin(address, password)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s added to %s, but IMAP login on %s still failed after %v: %v (check scripts/testenv.sh status and .testenv/log/dovecot.log)",
				address, m.UsersFile, m.IMAPAddr, addUserTimeout, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, 200*time.Millisecond)
	}
}

func (m Mail) tryLogin(address, password string) error {
	c, err := imapclient.DialInsecure(m.IMAPAddr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(address, password).Wait(); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// Dial returns an IMAP client on IMAPAddr that is logged in as address. The
// connection is closed when the test ends.
func (m Mail) Dial(t testing.TB, address, password string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(m.IMAPAddr, nil)
	if err != nil {
		t.Fatalf("dial IMAP %s: %v (check scripts/testenv.sh status)", m.IMAPAddr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(address, password).Wait(); err != nil {
		t.Fatalf("IMAP login as %s on %s: %v", address, m.IMAPAddr, err)
	}
	return c
}

// Append stores raw as a message in mailbox and returns its UID, which
// Dovecot reports in the APPENDUID response code (RFC 4315).
func (m Mail) Append(t testing.TB, c *imapclient.Client, mailbox string, raw []byte) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("APPEND to %s: write message: %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("APPEND to %s: close message: %v", mailbox, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
	if data.UID == 0 {
		t.Fatalf("APPEND to %s: server returned no APPENDUID", mailbox)
	}
	return data.UID
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("read random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}
