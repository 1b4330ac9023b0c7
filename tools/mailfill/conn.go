package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// tlsConfig returns the TLS settings of the run, or nil without -tls.
func (c config) tlsConfig() (*tls.Config, error) {
	if !c.tls {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(c.addr)
	conf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure}
	if c.caFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("reading -ca-file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca-file %s contains no PEM certificate: give the CA certificate that signed the server certificate", c.caFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

// connect opens cfg.parallel logged-in connections.
func connect(cfg config, tlsConf *tls.Config) ([]*imapclient.Client, error) {
	clients := make([]*imapclient.Client, 0, cfg.parallel)
	for range cfg.parallel {
		c, err := dial(cfg, tlsConf)
		if err != nil {
			closeAll(clients)
			return nil, err
		}
		clients = append(clients, c)
	}
	return clients, nil
}

// dial opens one connection and logs in.
func dial(cfg config, tlsConf *tls.Config) (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: tlsConf, Dialer: &net.Dialer{Timeout: cfg.greetTimeout}}
	var c *imapclient.Client
	var err error
	if tlsConf != nil {
		c, err = imapclient.DialTLS(cfg.addr, opts)
	} else {
		c, err = imapclient.DialInsecure(cfg.addr, opts)
	}
	if err != nil {
		return nil, dialError(cfg, err)
	}
	if err := waitGreeting(c, cfg.greetTimeout); err != nil {
		c.Close()
		hint := "is it an IMAP port?"
		if tlsConf == nil {
			hint = "is it an IMAP port? for IMAPS add -tls"
		}
		return nil, fmt.Errorf("no IMAP greeting from %s: %v: %s", cfg.addr, err, hint)
	}
	if tlsConf == nil && c.Caps().Has(imap.CapLoginDisabled) {
		c.Close()
		return nil, fmt.Errorf("%s does not allow LOGIN without TLS (LOGINDISABLED): add -tls and give its IMAPS port (usually 993)", cfg.addr)
	}
	if err := c.Login(cfg.user, cfg.password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("logging in to %s as %q: %v: check -user and the password (-password or $%s)", cfg.addr, cfg.user, err, passwordEnv)
	}
	return c, nil
}

// waitGreeting waits at most timeout for the server's greeting.
func waitGreeting(c *imapclient.Client, timeout time.Duration) error {
	greeted := make(chan error, 1)
	go func() { greeted <- c.WaitGreeting() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-greeted:
		return err
	case <-t.C:
		return fmt.Errorf("nothing received in %s", timeout)
	}
}

// dialError explains a failed connection.
func dialError(cfg config, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var notTLS tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("connecting to %s: %v: the server's certificate is not trusted; pass -ca-file with the CA that signed it", cfg.addr, err)
	case errors.As(err, &badHost):
		return fmt.Errorf("connecting to %s: %v: the certificate does not name this host; use a host name it lists in -addr", cfg.addr, err)
	case errors.As(err, &notTLS):
		return fmt.Errorf("connecting to %s: %v: the port does not speak TLS; drop -tls or give the IMAPS port", cfg.addr, err)
	}
	return fmt.Errorf("connecting to %s: %v: check -addr and that the server is running", cfg.addr, err)
}

// checkMailbox fails early, with advice, when the mailbox is missing.
func checkMailbox(c *imapclient.Client, mailbox string) error {
	if _, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		return fmt.Errorf("mailbox %q: %v: create it first, or name an existing one with -mailbox (e.g. INBOX)", mailbox, err)
	}
	return nil
}

func closeAll(clients []*imapclient.Client) {
	for _, c := range clients {
		c.Close()
	}
}
