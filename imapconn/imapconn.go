// Package imapconn is the one place where an IMAP session starts: dial with
// TCP keepalive, TLS or STARTTLS or plain, greeting and login, each step
// bounded by the context and a deadline.
package imapconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// Timeouts of the steps of a session start.
const (
	DialTimeout  = 30 * time.Second
	LoginTimeout = 60 * time.Second
	// KeepAlive is the TCP keepalive period of every IMAP connection, so
	// the kernel notices a dead peer even while the session is silent.
	KeepAlive = 60 * time.Second
)

// AuthError means the server rejected the credentials. Retrying soon does
// not help: the account needs a new password or username.
type AuthError struct {
	Username string
	Err      error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("login as %q rejected: %v (fix imap_username or imap_password of the account)", e.Username, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// ErrTimeout means the server did not answer within a deadline; the
// connection was closed.
var ErrTimeout = errors.New("IMAP server timed out")

// Options configure Dial.
type Options struct {
	// UnilateralDataHandler receives EXISTS, EXPUNGE and FETCH responses
	// that no command asked for. Its functions run on the client's reader
	// goroutine, so they must only signal: issuing a command there
	// deadlocks.
	UnilateralDataHandler *imapclient.UnilateralDataHandler
	// RootCAs, when set, replaces the system's trusted roots.
	RootCAs *x509.CertPool
}

// Dial connects to the endpoint and logs in. It returns once the session
// is authenticated, or an error; a rejected login is an *AuthError.
func Dial(ctx context.Context, ep store.Endpoint, opts Options) (*imapclient.Client, error) {
	tlsConfig := &tls.Config{ServerName: ep.Host, InsecureSkipVerify: !ep.TLSVerify}
	if opts.RootCAs != nil {
		tlsConfig.RootCAs = opts.RootCAs
	}
	clientOpts := &imapclient.Options{
		TLSConfig:             tlsConfig,
		UnilateralDataHandler: opts.UnilateralDataHandler,
	}

	dialer := &net.Dialer{Timeout: DialTimeout, KeepAlive: KeepAlive}
	conn, err := dialer.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial IMAP %s: %w", ep.Addr(), err)
	}

	var client *imapclient.Client
	err = Bound(ctx, conn, LoginTimeout, func() error {
		switch ep.Security {
		case store.SecurityTLS:
			tlsConn := tls.Client(conn, tlsConfig)
			if err := tlsConn.HandshakeContext(ctx); err != nil {
				return fmt.Errorf("TLS handshake: %w", err)
			}
			client = imapclient.New(tlsConn, clientOpts)
		case store.SecurityStartTLS:
			c, err := imapclient.NewStartTLS(conn, clientOpts)
			if err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
			client = c
		case store.SecurityNone:
			client = imapclient.New(conn, clientOpts)
		default:
			return fmt.Errorf("invalid imap_security %q: use tls, starttls or none", ep.Security)
		}
		if err := client.WaitGreeting(); err != nil {
			return fmt.Errorf("greeting: %w", err)
		}
		if err := client.Login(ep.Username, string(ep.Password)).Wait(); err != nil {
			var imapErr *imap.Error
			if errors.As(err, &imapErr) && imapErr.Type == imap.StatusResponseTypeNo {
				return &AuthError{Username: ep.Username, Err: err}
			}
			return fmt.Errorf("login: %w", err)
		}
		return nil
	})
	if err != nil {
		if client != nil {
			client.Close()
		}
		conn.Close()
		return nil, fmt.Errorf("IMAP %s: %w", ep.Addr(), err)
	}
	return client, nil
}

// Bound runs fn, closing closer when ctx ends or timeout passes first, so
// a blocking call on the connection returns. go-imap sets no read deadline
// while it waits for a response, so every wait goes through Bound.
func Bound(ctx context.Context, closer interface{ Close() error }, timeout time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { closer.Close() })
	err := fn()
	if !stop() {
		// The watchdog fired and closed the connection, so the error that
		// fn returned is only a consequence of that.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w after %s", ErrTimeout, timeout)
		}
		return ctx.Err()
	}
	return err
}
