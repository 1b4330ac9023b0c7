package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/store"
)

// Defaults of the options of reactor check.
const (
	defaultCheckTimeout  = 15 * time.Second
	defaultCheckParallel = 4
)

// result is the outcome of one check: a nil err passes.
type result struct {
	name string
	err  error
	// hint is what to do when the check fails.
	hint string
	// note is printed after a passing check's name.
	note string
}

func (r result) line() string {
	if r.err == nil {
		if r.note != "" {
			return fmt.Sprintf("ok   %s: %s", r.name, r.note)
		}
		return "ok   " + r.name
	}
	msg := strings.ReplaceAll(r.err.Error(), "\n", "; ")
	if r.hint != "" && !strings.Contains(msg, r.hint) {
		msg += " -> " + r.hint
	}
	return fmt.Sprintf("FAIL %s: %s", r.name, msg)
}

// report prints results and remembers whether one failed.
type report struct {
	out    io.Writer
	failed bool
}

func (r *report) print(results ...result) {
	for _, res := range results {
		fmt.Fprintln(r.out, res.line())
		if res.err != nil {
			r.failed = true
		}
	}
}

// cmdCheck checks the configuration, the database and each enabled
// account, one line per check. It fails when any check fails.
func cmdCheck(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("reactor check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	timeout := fs.Duration("timeout", defaultCheckTimeout, "time limit of each check, such as 15s")
	parallel := fs.Int("parallel", defaultCheckParallel, "number of accounts checked at once")
	if err := fs.Parse(e.args); err != nil {
		return exitError(2)
	}
	if *parallel < 1 || *timeout <= 0 {
		fmt.Fprintln(e.stderr, "reactor check: -parallel must be at least 1 and -timeout positive")
		return exitError(2)
	}

	rep := &report{out: e.stdout}
	cfg, _, err := config.LoadFile(e.lookup, e.configFile)
	rep.print(result{name: "configuration", err: err,
		hint: "fix the values named, in the environment or the configuration file"})

	st, ok := checkDatabase(ctx, rep, cfg, *timeout)
	if !ok {
		return exitError(1)
	}
	defer st.Close()
	checkAccounts(ctx, rep, st, cfg, *timeout, *parallel)
	if rep.failed {
		return exitError(1)
	}
	return nil
}

// checkDatabase runs the database checks. It returns the open store, and
// false when the accounts cannot be read.
func checkDatabase(ctx context.Context, rep *report, cfg config.Config, timeout time.Duration) (*store.Store, bool) {
	openCtx, cancel := context.WithTimeout(ctx, timeout)
	st, err := store.Open(openCtx, cfg.DatabaseURL, cfg.DatabaseSchema)
	cancel()
	hint := "check REACTOR_DATABASE_URL, and that the server runs and accepts this host and role"
	if err != nil && strings.Contains(err.Error(), "REACTOR_DATABASE_URL") {
		// The store's message already names what to check.
		hint = ""
	}
	rep.print(result{name: "database reachable", err: err, hint: hint})
	if err != nil {
		return nil, false
	}

	schemaErr := bounded(ctx, timeout, st.CheckSchema)
	rep.print(result{name: "database schema migrated", err: schemaErr, hint: "run `reactor migrate`"})

	triggersErr := bounded(ctx, timeout, func(ctx context.Context) error {
		missing, err := st.MissingTriggers(ctx)
		if err == nil && len(missing) > 0 {
			err = errors.New(strings.Join(missing, ", "))
		}
		return err
	})
	rep.print(result{name: "database triggers installed", err: triggersErr,
		hint: "run `reactor migrate`, which installs them again"})

	primaryErr := bounded(ctx, timeout, func(ctx context.Context) error {
		standby, err := st.InRecovery(ctx)
		if err == nil && standby {
			err = errors.New("the server is a standby in recovery, where LISTEN and writes fail")
		}
		return err
	})
	rep.print(result{name: "database is a primary", err: primaryErr,
		hint: "point REACTOR_DATABASE_URL at the primary server"})

	listenErr := bounded(ctx, timeout, st.CheckListen)
	rep.print(result{name: "database LISTEN receives NOTIFY", err: listenErr,
		hint: "connect to Postgres directly or through a session-mode pool: a transaction-mode pooler such as pgbouncer drops notifications"})

	if schemaErr != nil {
		fmt.Fprintln(rep.out, "skip accounts: the schema is not migrated")
		st.Close()
		return nil, false
	}
	return st, true
}

// bounded runs check with its own deadline.
func bounded(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return check(ctx)
}

// checkAccounts checks every enabled account, parallel at a time, and
// prints the results in account order.
func checkAccounts(ctx context.Context, rep *report, st *store.Store, cfg config.Config, timeout time.Duration, parallel int) {
	roots, err := loadRoots(cfg.TLSCAFile)
	if err != nil {
		rep.print(result{name: "TLS certificate authorities", err: err, hint: "fix REACTOR_TLS_CA_FILE"})
		return
	}
	listCtx, cancel := context.WithTimeout(ctx, timeout)
	accounts, err := st.EnabledAccounts(listCtx)
	cancel()
	if err != nil {
		rep.print(result{name: "accounts", err: err, hint: "run `reactor migrate`"})
		return
	}
	if len(accounts) == 0 {
		rep.print(result{name: "accounts", note: "none enabled"})
		return
	}

	results := make([]chan []result, len(accounts))
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, a := range accounts {
		results[i] = make(chan []result, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			ac := &accountCheck{account: a, roots: roots, timeout: timeout}
			results[i] <- ac.run(ctx)
		}()
	}
	for _, ch := range results {
		rep.print(<-ch...)
	}
	wg.Wait()
}
