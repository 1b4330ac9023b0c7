// Command reactor keeps the email of a document-management system in
// PostgreSQL: IDLE watchers store new mail as it arrives, and queued outbox
// rows are sent over SMTP as soon as a trigger announces them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: reactor <command>

Commands:
  run       run the reactor until SIGINT or SIGTERM
  migrate   create or upgrade the tables and triggers (safe to repeat)
  check     check the configuration and the database
  version   print the version

Configuration comes from environment variables; see README.md.
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, stderr)
	case "migrate":
		err = cmdMigrate(ctx, stderr)
	case "check":
		err = cmdCheck(ctx, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "reactor %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "reactor: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var exit exitError
	if errors.As(err, &exit) {
		// The command already printed what failed.
		return int(exit)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reactor %s: %v\n", args[0], err)
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
