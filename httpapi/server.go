// Package httpapi serves the reactor's operational endpoints: /metrics in
// the Prometheus text format, /healthz (the process is alive) and /readyz
// (the reactor can do its work).
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mailreactor/mailreactor/metrics"
)

// readyTimeout bounds one readiness check, so a hung database makes
// /readyz fail instead of hang.
const readyTimeout = 3 * time.Second

// ReadyFunc returns nil when the reactor is ready, else what is missing.
type ReadyFunc func(ctx context.Context) error

// Handler returns the mux of the three endpoints.
func Handler(ready ReadyFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Server is a running HTTP server.
type Server struct {
	// Addr is the address it listens on, with the port chosen when the
	// configured one was 0.
	Addr string

	srv  *http.Server
	done chan struct{}
	err  error
}

// Start listens on addr and serves Handler(ready) until Shutdown. A serve
// error after the start is logged.
func Start(addr string, ready ReadyFunc, log *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on REACTOR_HTTP_ADDR=%s: %w", addr, err)
	}
	s := &Server{
		Addr: l.Addr().String(),
		srv: &http.Server{
			Handler:           Handler(ready),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			log.Error("HTTP server stopped", "addr", s.Addr, "err", err)
		}
	}()
	log.Info("serving metrics and health checks", "addr", s.Addr)
	return s, nil
}

// Shutdown stops taking connections and waits for the requests in
// progress until ctx ends, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	return s.err
}
