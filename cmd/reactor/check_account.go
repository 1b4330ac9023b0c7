package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/store"
)

// accountCheck checks one account's IMAP and SMTP servers, each step with
// its own deadline.
type accountCheck struct {
	account store.Account
	roots   *x509.CertPool
	timeout time.Duration
	results []result
}

func (c *accountCheck) add(what string, err error, hint string) bool {
	name := fmt.Sprintf("account %d %s: %s", c.account.ID, c.account.Address, what)
	c.results = append(c.results, result{name: name, err: err, hint: hint})
	return err == nil
}

func (c *accountCheck) pass(what, note string) {
	name := fmt.Sprintf("account %d %s: %s", c.account.ID, c.account.Address, what)
	c.results = append(c.results, result{name: name, note: note})
}

func (c *accountCheck) run(ctx context.Context) []result {
	c.checkIMAP(ctx)
	c.checkSMTP(ctx)
	return c.results
}

// reachable dials addr once, to tell a closed port from a failed login.
func (c *accountCheck) reachable(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (c *accountCheck) checkIMAP(ctx context.Context) {
	ep := c.account.IMAP
	err := c.reachable(ctx, ep.Addr())
	if !c.add("IMAP "+ep.Addr()+" reachable", err,
		"check imap_host and imap_port of the account, and that the server accepts connections from this host") {
		return
	}

	dialCtx, cancel := context.WithTimeout(ctx, c.timeout)
	client, err := imapconn.Dial(dialCtx, ep, imapconn.Options{RootCAs: c.roots})
	cancel()
	hint := "check imap_security (tls, starttls or none) and the server's certificate; REACTOR_TLS_CA_FILE adds a private authority"
	var authErr *imapconn.AuthError
	if errors.As(err, &authErr) {
		hint = "fix imap_username or imap_password of the account"
	}
	if !c.add(fmt.Sprintf("IMAP login as %q", ep.Username), err, hint) {
		return
	}
	defer func() {
		imapconn.Bound(context.WithoutCancel(ctx), client, 5*time.Second, func() error { return client.Logout().Wait() })
		client.Close()
	}()

	err = imapconn.Bound(ctx, client, c.timeout, func() error {
		_, err := client.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if !c.add("INBOX selectable", err, "check the account's mailbox on the server") {
		return
	}
	c.checkSent(ctx, client)
}

// checkSent finds the folder that sent messages are appended to: the
// account's sent_folder when set, else the folder marked \Sent.
func (c *accountCheck) checkSent(ctx context.Context, client *imapclient.Client) {
	if !c.account.SentCopy {
		c.pass("Sent folder", "not needed, sent_copy is false")
		return
	}
	var mailboxes []*imap.ListData
	err := imapconn.Bound(ctx, client, c.timeout, func() error {
		var err error
		opts := &imap.ListOptions{ReturnSpecialUse: client.Caps().Has(imap.CapSpecialUse)}
		mailboxes, err = client.List("", "*", opts).Collect()
		return err
	})
	if !c.add("LIST mailboxes", err, "check the account's mailbox on the server") {
		return
	}

	if want := c.account.SentFolder; want != nil && *want != "" {
		for _, mbox := range mailboxes {
			if mbox.Mailbox == *want {
				c.pass("Sent folder", fmt.Sprintf("%q (sent_folder)", *want))
				return
			}
		}
		c.add("Sent folder", fmt.Errorf("sent_folder %q not found among %d mailboxes", *want, len(mailboxes)),
			"create the folder on the server or fix sent_folder of the account")
		return
	}
	var names []string
	for _, mbox := range mailboxes {
		for _, attr := range mbox.Attrs {
			if attr == imap.MailboxAttrSent {
				c.pass("Sent folder", fmt.Sprintf("%q (\\Sent)", mbox.Mailbox))
				return
			}
		}
		names = append(names, mbox.Mailbox)
	}
	c.add("Sent folder", fmt.Errorf("no mailbox is marked \\Sent; mailboxes: %s", strings.Join(names, ", ")),
		"set sent_folder of the account to the name of its Sent folder")
}

func (c *accountCheck) checkSMTP(ctx context.Context) {
	ep := c.account.SMTP
	err := c.reachable(ctx, ep.Addr())
	if !c.add("SMTP "+ep.Addr()+" reachable", err,
		"check smtp_host and smtp_port of the account, and that the server accepts connections from this host") {
		return
	}
	dialCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	client, err := dialSMTP(dialCtx, ep, c.roots)
	what := fmt.Sprintf("SMTP login as %q", ep.Username)
	hint := "check smtp_security (tls, starttls or none) and the server's certificate; REACTOR_TLS_CA_FILE adds a private authority"
	if ep.Username == "" {
		what = "SMTP greeting (no smtp_username, so no login)"
	}
	var authErr *smtpAuthError
	if errors.As(err, &authErr) {
		hint = "fix smtp_username or smtp_password of the account"
	}
	if c.add(what, err, hint) {
		client.Quit()
		client.Close()
	}
}
