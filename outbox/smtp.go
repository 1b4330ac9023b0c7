package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/store"
)

const (
	dialTimeout    = 30 * time.Second
	commandTimeout = 2 * time.Minute
	// submitTimeout bounds the wait for the reply after the final dot.
	submitTimeout = 5 * time.Minute
)

// dialSMTP connects, says EHLO, and authenticates when the account has a
// username.
func dialSMTP(ctx context.Context, ep store.Endpoint, roots *x509.CertPool) (*smtp.Client, error) {
	tlsConfig := &tls.Config{ServerName: ep.Host, InsecureSkipVerify: !ep.TLSVerify, RootCAs: roots}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial SMTP %s: %w", ep.Addr(), err)
	}
	// The greeting and STARTTLS have no timeout of their own in go-smtp.
	conn.SetDeadline(time.Now().Add(commandTimeout))

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
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("SMTP %s: %w", ep.Addr(), err)
	}
	c.CommandTimeout = commandTimeout
	c.SubmissionTimeout = submitTimeout

	if ep.Username != "" {
		if err := authenticate(c, ep); err != nil {
			c.Close()
			return nil, fmt.Errorf("SMTP %s: %w", ep.Addr(), err)
		}
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

func authenticate(c *smtp.Client, ep store.Endpoint) error {
	var mech sasl.Client
	switch {
	case c.SupportsAuth("PLAIN"):
		mech = sasl.NewPlainClient("", ep.Username, string(ep.Password))
	case c.SupportsAuth("LOGIN"):
		mech = sasl.NewLoginClient(ep.Username, string(ep.Password))
	default:
		return errors.New("server offers neither AUTH PLAIN nor AUTH LOGIN (check smtp_security: many servers offer AUTH only after TLS)")
	}
	if err := c.Auth(mech); err != nil {
		return fmt.Errorf("authenticate as %q: %w", ep.Username, err)
	}
	return nil
}

// transmit sends one prepared message on an open client. It returns the
// server's reply to the final dot and the recipients it rejected; it fails
// only when no recipient was accepted or the transaction failed.
func transmit(c *smtp.Client, from string, msg prepared) (string, []string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", nil, fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	var rejected []string
	var lastErr error
	for _, rcpt := range msg.recipients {
		if err := c.Rcpt(rcpt, nil); err != nil {
			var smtpErr *smtp.SMTPError
			if !errors.As(err, &smtpErr) {
				return "", nil, fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
			}
			rejected = append(rejected, fmt.Sprintf("%s: %s", rcpt, err))
			lastErr = fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	if len(rejected) == len(msg.recipients) {
		c.Reset()
		return "", rejected, lastErr
	}

	w, err := c.Data()
	if err != nil {
		return "", rejected, fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg.data); err != nil {
		w.Close()
		return "", rejected, &afterDataError{fmt.Errorf("write message: %w", err)}
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			return "", rejected, fmt.Errorf("after DATA: %w", err)
		}
		return "", rejected, &afterDataError{fmt.Errorf("after DATA: %w", err)}
	}
	return resp.StatusText, rejected, nil
}

// afterDataError is a connection failure once the message was on the
// wire: the server may or may not have accepted it.
type afterDataError struct{ err error }

func (e *afterDataError) Error() string {
	return e.err.Error() + " (the message may have been delivered)"
}
func (e *afterDataError) Unwrap() error { return e.err }
