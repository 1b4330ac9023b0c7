// Command mailfill fills an IMAP mailbox with generated office mail of a
// Polish company, for demonstrations and benchmarks.
//
// Usage:
//
//	MAILFILL_PASSWORD=secret mailfill -addr 127.0.0.1:143 -user anna@example.test -count 5000
//
// Messages come from internal/mailgen: the same -seed, -size, -from and -to
// give the same messages. Each is appended with its Date as internal date,
// over -parallel connections with pipelined APPEND commands. Progress and
// the final "appended N messages to MAILBOX in Ds" go to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/mailreactor/mailreactor/internal/mailgen"
)

// passwordEnv names the environment variable read when -password is absent.
const passwordEnv = "MAILFILL_PASSWORD"

// config is the settings of one run, from the command line.
type config struct {
	addr     string
	tls      bool
	caFile   string
	insecure bool
	user     string
	password string
	mailbox  string
	count    int
	seed     uint64
	size     int
	from     string
	to       string
	parallel int

	window        int           // APPEND commands in flight on one connection
	progressEvery time.Duration // interval between progress lines
	stallAfter    time.Duration // fail when nothing is appended for this long
	greetTimeout  time.Duration // for connecting and for the server's greeting
}

// parseFlags reads the command line. getenv supplies the password when
// -password is not given.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (config, error) {
	cfg := config{window: 32, progressEvery: 2 * time.Second, stallAfter: time.Minute, greetTimeout: 15 * time.Second}
	fs := flag.NewFlagSet("mailfill", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "", "IMAP server as host:port (required)")
	fs.BoolVar(&cfg.tls, "tls", false, "connect with implicit TLS (IMAPS)")
	fs.StringVar(&cfg.caFile, "ca-file", "", "PEM file of an extra CA to trust, with -tls")
	fs.BoolVar(&cfg.insecure, "insecure", false, "INSECURE: with -tls, do not verify the server certificate")
	fs.StringVar(&cfg.user, "user", "", "user name to log in as (required)")
	fs.StringVar(&cfg.password, "password", "", "password; if absent, read from $"+passwordEnv)
	fs.StringVar(&cfg.mailbox, "mailbox", "INBOX", "mailbox to fill; it must exist")
	fs.IntVar(&cfg.count, "count", 1000, "number of messages to append")
	fs.Uint64Var(&cfg.seed, "seed", 1, "generator seed; the same seed gives the same messages")
	fs.IntVar(&cfg.size, "size", 0, "approximate bytes per message; 0 gives the natural mix")
	fs.StringVar(&cfg.from, "from", "", "sender of every message, e.g. 'Anna Nowak <anna@example.com>'; empty means varied")
	fs.StringVar(&cfg.to, "to", "", "recipient of every message; empty means generated")
	fs.IntVar(&cfg.parallel, "parallel", 4, "number of IMAP connections")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: every setting is a flag, see -h", fs.Arg(0))
	}
	passwordSet := false
	fs.Visit(func(f *flag.Flag) { passwordSet = passwordSet || f.Name == "password" })
	if !passwordSet {
		cfg.password = getenv(passwordEnv)
	}
	return cfg, cfg.check()
}

// check reports the first unusable setting and how to fix it.
func (c config) check() error {
	switch {
	case c.addr == "":
		return errors.New("-addr is required: give the IMAP server as host:port, e.g. -addr 127.0.0.1:143")
	case c.user == "":
		return errors.New("-user is required: give the user name to log in as")
	case c.password == "":
		return errors.New("no password: set " + passwordEnv + " or pass -password")
	case c.mailbox == "":
		return errors.New("-mailbox is empty: name an existing mailbox, e.g. -mailbox INBOX")
	case c.count < 1:
		return fmt.Errorf("-count is %d: give the number of messages to append, at least 1", c.count)
	case c.size < 0:
		return fmt.Errorf("-size is %d: give bytes per message, or 0 for the natural mix", c.size)
	case c.parallel < 1 || c.parallel > 64:
		return fmt.Errorf("-parallel is %d: give a number of connections from 1 to 64", c.parallel)
	case !c.tls && (c.caFile != "" || c.insecure):
		return errors.New("-ca-file and -insecure apply to TLS only: add -tls, or drop them")
	case c.caFile != "" && c.insecure:
		return errors.New("-ca-file and -insecure exclude each other: keep -ca-file to verify the server")
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("-addr %q is not host:port (%v): e.g. -addr 127.0.0.1:143", c.addr, err)
	}
	if err := (mailgen.Options{From: c.from}).Check(); err != nil {
		return fmt.Errorf("-from %q is not an address (%v): e.g. -from 'Anna Nowak <anna@example.com>'", c.from, err)
	}
	if err := (mailgen.Options{To: c.to}).Check(); err != nil {
		return fmt.Errorf("-to %q is not an address (%v): e.g. -to biuro@example.test", c.to, err)
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailfill:", err)
		return 2
	}
	if cfg.insecure {
		fmt.Fprintln(stderr, "mailfill: WARNING: -insecure: the server certificate is NOT verified; anyone on the path can read the password")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	n, err := fill(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mailfill:", err)
		if n > 0 {
			fmt.Fprintf(stderr, "mailfill: %d of %d messages were appended before the failure\n", n, cfg.count)
		}
		return 1
	}
	fmt.Fprintf(stderr, "appended %d messages to %s in %.1fs\n", n, cfg.mailbox, time.Since(start).Seconds())
	return 0
}
