package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/mailreactor/mailreactor/config"
	"github.com/mailreactor/mailreactor/httpapi"
	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/reactor"
	"github.com/mailreactor/mailreactor/store"
)

// Time limits of the steps after the engine stopped.
const (
	releaseTimeout      = 10 * time.Second
	httpShutdownTimeout = 5 * time.Second
)

// cmdRun runs the engine and the HTTP endpoints until SIGINT or SIGTERM,
// then stops within REACTOR_SHUTDOWN_TIMEOUT: the engine stops taking
// events and lets running tasks finish, and this instance's unfinished
// outbox claims go back to the queue. Errors go to the log, so that JSON
// logs stay JSON.
func cmdRun(ctx context.Context, e env) error {
	cfg, log, st, err := setup(ctx, e)
	if err != nil {
		if log == nil {
			return err
		}
		log.Error("reactor failed to start", "err", err)
		return exitError(1)
	}
	// Fail before anything starts, so the reason is the first error.
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		log.Error("reactor failed to start", "err", err)
		return exitError(1)
	}
	roots, err := loadRoots(cfg.TLSCAFile)
	if err != nil {
		st.Close()
		log.Error("reactor failed to start", "err", err)
		return exitError(1)
	}

	metrics.SetVersion(version)
	metrics.WatchNotificationQueue(st.NotificationQueueUsage)
	metrics.WatchDatabase(func(ctx context.Context) (metrics.DatabaseStats, error) {
		g, err := st.ReadGauges(ctx)
		return metrics.DatabaseStats{Accounts: g.Accounts, OutboxQueued: g.OutboxQueued,
			OutboxSending: g.OutboxSending, OldestDue: g.OldestDueSince}, err
	})
	var stopping atomic.Bool
	var server *httpapi.Server
	if cfg.HTTPAddr != "" {
		server, err = httpapi.Start(cfg.HTTPAddr, readiness(st, &stopping), log)
		if err != nil {
			st.Close()
			log.Error("reactor failed to start", "err", err)
			return exitError(1)
		}
	}

	engine := &reactor.Engine{Config: cfg, Store: st, Log: log, RootCAs: roots}
	finished, runErr := runEngine(ctx, engine, cfg, log)
	stopping.Store(true)
	releaseClaims(st, cfg.InstanceID, log)
	if server != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		if err := server.Shutdown(shutdownCtx); err != nil {
			log.Warn("HTTP server shutdown failed", "err", err)
		}
		cancel()
	}
	if finished {
		// A task still running would hold a connection, and closing the
		// pool would wait for it.
		st.Close()
	}
	if runErr != nil {
		log.Error("reactor stopped", "err", runErr)
		return exitError(1)
	}
	return nil
}

// runEngine runs the engine until ctx ends, then waits for it up to the
// shutdown timeout. finished is false when the timeout passed first.
func runEngine(ctx context.Context, engine *reactor.Engine, cfg config.Config, log *slog.Logger) (finished bool, err error) {
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	select {
	case err := <-done:
		// The engine returns before ctx ends only when it cannot start.
		return true, err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	timer := time.NewTimer(cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return true, err
	case <-timer.C:
		log.Warn("shutdown timeout passed with tasks still running; stopping them",
			"timeout", cfg.ShutdownTimeout.String())
		return false, nil
	}
}

// releaseClaims returns this instance's unfinished outbox claims to the
// queue, so another reactor or the next start sends them at once.
func releaseClaims(st *store.Store, owner string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	n, err := st.ReleaseClaims(ctx, owner)
	if err != nil {
		log.Error("release outbox claims failed; they return to the queue when their lease expires",
			"instance", owner, "err", err)
		return
	}
	if n > 0 {
		log.Info("outbox claims released", "instance", owner, "rows", n)
	}
}

// readiness reports the reactor ready while it is not stopping, the
// database responds to a ping and the LISTEN connection is up.
func readiness(st *store.Store, stopping *atomic.Bool) httpapi.ReadyFunc {
	return func(ctx context.Context) error {
		if stopping.Load() {
			return errors.New("shutting down")
		}
		if err := st.Pool().Ping(ctx); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if !metrics.ListenerUp() {
			return errors.New("LISTEN connection is down")
		}
		return nil
	}
}
