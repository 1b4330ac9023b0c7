package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/reactor"
	"github.com/mailreactor/mailreactor/store"
)

// setup loads the configuration, builds the logger and opens the store.
func setup(ctx context.Context, stderr io.Writer) (config.Config, *slog.Logger, *store.Store, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, nil, nil, err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DatabaseSchema)
	if err != nil {
		return cfg, log, nil, err
	}
	return cfg, log, st, nil
}

func cmdRun(ctx context.Context, stderr io.Writer) error {
	cfg, log, st, err := setup(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()

	roots, err := loadRoots(cfg.TLSCAFile)
	if err != nil {
		return err
	}
	engine := &reactor.Engine{Config: cfg, Store: st, Log: log, RootCAs: roots}
	return engine.Run(ctx)
}

// loadRoots returns the system's trusted roots plus the PEM file's, or nil
// (the system's alone) when file is empty.
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read REACTOR_TLS_CA_FILE: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("REACTOR_TLS_CA_FILE=%q: no PEM certificate found in the file", file)
	}
	return roots, nil
}

func cmdMigrate(ctx context.Context, stderr io.Writer) error {
	_, log, st, err := setup(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx, log)
}

// cmdCheck checks what the reactor needs before it can run.
//
// TODO: check each account's IMAP and SMTP login and its INBOX and Sent
// folders too.
func cmdCheck(ctx context.Context, stdout, stderr io.Writer) error {
	_, _, st, err := setup(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL database: %v\n", err)
		return exitError(1)
	}
	defer st.Close()
	fmt.Fprintln(stdout, "ok   database reachable")
	if err := st.CheckSchema(ctx); err != nil {
		fmt.Fprintf(stdout, "FAIL schema: %v\n", err)
		return exitError(1)
	}
	fmt.Fprintln(stdout, "ok   schema migrated and triggers installed")
	return nil
}
