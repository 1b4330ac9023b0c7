// Command reactor keeps the email of a document-management system in
// PostgreSQL: IDLE watchers store new mail as it arrives, and queued outbox
// rows are sent over SMTP as soon as a trigger announces them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: reactor [-config FILE] <command> [options]

Commands:
  run       run the reactor until SIGINT or SIGTERM
  migrate   create or upgrade the tables and triggers (safe to repeat)
  check     check the configuration, the database and every enabled account
            (-timeout 15s: time limit of each check; -parallel 4: accounts at once)
  status    print accounts, folders and the outbox, read from the database
  config    print the effective configuration and where each value came from
  sync      sync an account's folders now, on a connection of its own
            (-account ID, required; -folder NAME: one folder; -full: flags
            and expunges too); a terminal shows a progress bar
  version   print the version, the Go version and the modules

Options:
  -config FILE   PHP configuration file of define('NAME', value); lines
                 (default: the path in REACTOR_CONFIG_FILE)

Configuration comes from environment variables, which win over the
configuration file, which wins over the defaults; see README.md.
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// env is the context of every command: its output, the environment, the
// configuration file named on the command line, and the arguments after
// the command.
type env struct {
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	configFile     string
	args           []string
}

var commands = map[string]func(context.Context, env) error{
	"run":     cmdRun,
	"migrate": cmdMigrate,
	"check":   cmdCheck,
	"status":  cmdStatus,
	"config":  cmdConfig,
	"version": cmdVersion,
	"sync":    cmdSync,
}

func runMain(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	fs := flag.NewFlagSet("reactor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configFile := fs.String("config", "", "PHP configuration file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name := fs.Arg(0)
	if name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "reactor: unknown command %q\n\n%s", name, usage)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, env{stdout: stdout, stderr: stderr, lookup: lookup, configFile: *configFile, args: fs.Args()[1:]})
	var exit exitError
	if errors.As(err, &exit) {
		// The command already printed what failed.
		return int(exit)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reactor %s: %v\n", name, err)
		return 1
	}
	return 0
}

// exitError carries a specific exit status.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// newLogger builds the process logger from the configured level and format.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
