package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/store"
)

// Timeouts bound the network waits of the outbox. A zero field takes its
// default.
type Timeouts struct {
	// Dial bounds each TCP connect. Default 30 s.
	Dial time.Duration
	// Command bounds the greeting, STARTTLS, AUTH and the reply to each
	// SMTP command. Default 2 min.
	Command time.Duration
	// Submit bounds writing a message, and again the reply after the final
	// dot. Default 5 min.
	Submit time.Duration
	// Copy bounds the IMAP session that appends Sent copies, login
	// included. Default 2 min.
	Copy time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&t.Dial, 30*time.Second)
	set(&t.Command, 2*time.Minute)
	set(&t.Submit, 5*time.Minute)
	set(&t.Copy, 2*time.Minute)
	return t
}

// smtpConn is an SMTP session that is ready for MAIL.
type smtpConn struct {
	client   *smtp.Client
	conn     net.Conn
	timeouts Timeouts
}

// dialSMTP connects, reads the greeting, sends EHLO, and authenticates when
// the account has a username. Every step is bounded by t.Command.
func dialSMTP(ctx context.Context, ep store.Endpoint, roots *x509.CertPool, t Timeouts) (*smtpConn, error) {
	tlsConfig := &tls.Config{ServerName: ep.Host, InsecureSkipVerify: !ep.TLSVerify, RootCAs: roots}
	dialer := &net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}
	raw, err := dialer.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial SMTP %s: %w", ep.Addr(), err)
	}
	// NewClientStartTLS reads the greeting with go-smtp's default timeout
	// of 5 minutes before CommandTimeout can be set, so the connection caps
	// every deadline until the session is ready.
	conn := &cappedConn{Conn: raw, limit: t.Command}

	var c *smtp.Client
	switch ep.Security {
	case store.SecurityTLS:
		c = smtp.NewClient(tls.Client(conn, tlsConfig))
	case store.SecurityStartTLS:
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
	case store.SecurityNone:
		c = smtp.NewClient(conn)
	default:
		err = &permanentError{fmt.Errorf("invalid smtp_security %q: use tls, starttls or none", ep.Security)}
	}
	if c != nil {
		c.CommandTimeout = t.Command
		c.SubmissionTimeout = t.Submit
	}
	// The greeting and EHLO happen here rather than at the first MAIL, so
	// a server that rejects the connection fails the dial.
	if err == nil && ep.Security != store.SecurityStartTLS {
		err = c.Hello("localhost")
	}
	if err == nil && ep.Username != "" {
		err = Authenticate(c, ep)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		raw.Close()
		return nil, fmt.Errorf("SMTP %s: %w", ep.Addr(), err)
	}
	conn.uncap()
	return &smtpConn{client: c, conn: raw, timeouts: t}, nil
}

// cappedConn limits every deadline set on it to limit from the moment it is
// set, until uncap.
type cappedConn struct {
	net.Conn
	limit time.Duration
}

func (c *cappedConn) uncap() { c.limit = 0 }

func (c *cappedConn) SetDeadline(t time.Time) error {
	if c.limit > 0 {
		if limit := time.Now().Add(c.limit); t.IsZero() || t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetDeadline(t)
}

// Authenticate logs in to an SMTP server with AUTH PLAIN, or LOGIN when
// the server offers only that, as the endpoint's username.
func Authenticate(c *smtp.Client, ep store.Endpoint) error {
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

// sendResult is the outcome of a transaction that reached the final dot.
type sendResult struct {
	// reply is the server's reply to the final dot.
	reply string
	// refused lists the recipients rejected with 5xx, "address: reply" each.
	refused []string
	// deferred lists the recipients rejected with 4xx, and deferErr is the
	// last of those rejections.
	deferred []string
	deferErr error
}

// send runs one mail transaction. It fails when the server accepted no
// recipient or rejected the message; recipients that it rejected while it
// accepted others are in the result. An error that is no *smtp.SMTPError
// leaves the connection unusable; after the final dot it is an
// *afterDataError, because the server may have accepted the message.
func (c *smtpConn) send(from string, msg prepared) (sendResult, error) {
	var res sendResult
	if err := c.client.Mail(from, nil); err != nil {
		return res, fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	var lastRefusal error
	for _, rcpt := range msg.recipients {
		err := c.client.Rcpt(rcpt, nil)
		var smtpErr *smtp.SMTPError
		switch {
		case err == nil:
			continue
		case !errors.As(err, &smtpErr) || smtpErr.Code == 421:
			return res, fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		case smtpErr.Code/100 == 4:
			res.deferred = append(res.deferred, rcpt)
			res.deferErr = fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		default:
			res.refused = append(res.refused, fmt.Sprintf("%s: %s", rcpt, err))
			lastRefusal = fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	if len(res.refused)+len(res.deferred) == len(msg.recipients) {
		// A temporary rejection wins: the message may yet go to someone.
		if res.deferErr != nil {
			return res, res.deferErr
		}
		return res, lastRefusal
	}

	w, err := c.client.Data()
	if err != nil {
		return res, fmt.Errorf("DATA: %w", err)
	}
	if err := c.write(w, msg.data); err != nil {
		// The final dot was never written, so the server cannot have
		// accepted the message.
		return res, fmt.Errorf("write message: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			return res, fmt.Errorf("after DATA: %w", err)
		}
		return res, &afterDataError{fmt.Errorf("after DATA: %w", err)}
	}
	res.reply = resp.StatusText
	return res, nil
}

// writeChunk is how much of a message is written under one deadline.
const writeChunk = 64 << 10

// write writes data in chunks, each of which must be taken within
// Timeouts.Submit: go-smtp sets no deadline while the message is written,
// and a large message on a slow link may take longer than any fixed bound.
func (c *smtpConn) write(w io.Writer, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), writeChunk)
		c.conn.SetDeadline(time.Now().Add(c.timeouts.Submit))
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// reset aborts what remains of a failed transaction, so the next message
// can use the connection.
func (c *smtpConn) reset() error { return c.client.Reset() }

// close sends QUIT, bounded by the command timeout, and closes the
// connection.
func (c *smtpConn) close() {
	c.client.Quit()
	c.client.Close()
}

// afterDataError is a connection failure once the message was on the
// wire: the server may or may not have accepted it.
type afterDataError struct{ err error }

func (e *afterDataError) Error() string {
	return e.err.Error() + " (the message may have been delivered)"
}
func (e *afterDataError) Unwrap() error { return e.err }
