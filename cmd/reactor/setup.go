package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/store"
)

// setup loads the configuration, builds the logger and opens the store.
// The logger is nil only when the configuration is invalid.
func setup(ctx context.Context, e env) (config.Config, *slog.Logger, *store.Store, error) {
	cfg, _, err := config.LoadFile(e.lookup, e.configFile)
	if err != nil {
		return cfg, nil, nil, err
	}
	log := newLogger(e.stderr, cfg.LogLevel, cfg.LogFormat)
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DatabaseSchema)
	if err != nil {
		return cfg, log, nil, err
	}
	return cfg, log, st, nil
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
