package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/outbox"
	"github.com/mailreactor/mailreactor/store"
)

// smtpAuthError means the SMTP server rejected the account's credentials.
type smtpAuthError struct{ err error }

func (e *smtpAuthError) Error() string { return e.err.Error() }
func (e *smtpAuthError) Unwrap() error { return e.err }

// dialSMTP connects to the endpoint, sends EHLO, and logs in when the
// account has a username. Every step ends by the deadline of ctx.
func dialSMTP(ctx context.Context, ep store.Endpoint, roots *x509.CertPool) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial SMTP %s: %w", ep.Addr(), err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	tlsConfig := &tls.Config{ServerName: ep.Host, InsecureSkipVerify: !ep.TLSVerify, RootCAs: roots}
	var c *smtp.Client
	switch ep.Security {
	case store.SecurityTLS:
		c = smtp.NewClient(tls.Client(conn, tlsConfig))
	case store.SecurityStartTLS:
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
	case store.SecurityNone:
		c = smtp.NewClient(conn)
	default:
		err = fmt.Errorf("invalid smtp_security %q: use tls, starttls or none", ep.Security)
	}
	if err == nil {
		err = c.Hello("localhost")
	}
	if err == nil && ep.Username != "" {
		err = login(c, ep)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("SMTP %s: %w", ep.Addr(), err)
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// login logs in as the sender does and marks a rejected password (535)
// apart from other failures.
func login(c *smtp.Client, ep store.Endpoint) error {
	err := outbox.Authenticate(c, ep)
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) && smtpErr.Code == 535 {
		return &smtpAuthError{fmt.Errorf("login rejected: %w", err)}
	}
	return err
}
