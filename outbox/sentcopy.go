package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
	"github.com/mailreactor/mailreactor/store"
)

// fallbackSentFolder is used when the account names no Sent folder and the
// server marks none with \Sent.
const fallbackSentFolder = "Sent"

// sentCopy is a message to append to the Sent folder. row carries the
// copy's claim token: ClaimedBy and CopyAttempts.
type sentCopy struct {
	row  store.OutboxRow
	data []byte
}

// startedCopy returns the copy that MarkDelivered started for row: its
// token is the send's owner and the next copy attempt.
func startedCopy(row store.OutboxRow, data []byte) sentCopy {
	row.CopyAttempts++
	return sentCopy{row: row, data: data}
}

// appendCopies appends copies to the account's Sent folder in one IMAP
// session, bounded by Timeouts.Copy, and records each outcome. A copy that
// fails is scheduled again on its own; the message is never sent again.
func (s *Sender) appendCopies(ctx context.Context, account store.Account, copies []sentCopy) {
	if len(copies) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	timeout := s.Timeouts.withDefaults().Copy
	sessionCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, err := imapconn.Dial(sessionCtx, account.IMAP, imapconn.Options{RootCAs: s.RootCAs})
	if err != nil {
		s.copiesFailed(ctx, copies, fmt.Errorf("append to Sent folder: %w", err))
		return
	}
	defer func() {
		imapconn.Bound(sessionCtx, client, timeout, func() error { return client.Logout().Wait() })
		client.Close()
	}()

	folder, err := s.sentFolder(sessionCtx, client, account, timeout)
	if err != nil {
		s.copiesFailed(ctx, copies, fmt.Errorf("find Sent folder: %w", err))
		return
	}
	var done []store.OutboxRow
	for i, c := range copies {
		err := imapconn.Bound(sessionCtx, client, timeout, func() error {
			return appendMessage(client, folder, c.data, folder == fallbackSentFolder && account.SentFolder == nil)
		})
		if err == nil {
			done = append(done, c.row)
			continue
		}
		err = fmt.Errorf("append to %q: %w", folder, err)
		var imapErr *imap.Error
		if !errors.As(err, &imapErr) {
			// The session is gone; the rest waits for a new one.
			s.copiesFailed(ctx, copies[i:], err)
			break
		}
		s.copiesFailed(ctx, copies[i:i+1], err)
	}
	s.copiesDone(ctx, account, folder, done)
}

// sentFolder returns the account's sent_folder, else the mailbox that the
// server marks \Sent, else "Sent".
func (s *Sender) sentFolder(ctx context.Context, client *imapclient.Client, account store.Account, timeout time.Duration) (string, error) {
	if account.SentFolder != nil && *account.SentFolder != "" {
		return *account.SentFolder, nil
	}
	var mailboxes []*imap.ListData
	err := imapconn.Bound(ctx, client, timeout, func() error {
		var options *imap.ListOptions
		if client.Caps().Has(imap.CapSpecialUse) {
			options = &imap.ListOptions{ReturnSpecialUse: true}
		}
		var err error
		mailboxes, err = client.List("", "*", options).Collect()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("LIST: %w", err)
	}
	for _, mbox := range mailboxes {
		for _, attr := range mbox.Attrs {
			if attr == imap.MailboxAttrSent {
				return mbox.Mailbox, nil
			}
		}
	}
	return fallbackSentFolder, nil
}

// appendMessage appends data with \Seen. With create, a mailbox that does
// not exist (TRYCREATE) is created and the append tried once more.
func appendMessage(client *imapclient.Client, mailbox string, data []byte, create bool) error {
	err := appendOnce(client, mailbox, data)
	var imapErr *imap.Error
	if !create || !errors.As(err, &imapErr) || imapErr.Code != imap.ResponseCodeTryCreate {
		return err
	}
	if err := client.Create(mailbox, nil).Wait(); err != nil {
		return fmt.Errorf("CREATE: %w", err)
	}
	return appendOnce(client, mailbox, data)
}

func appendOnce(client *imapclient.Client, mailbox string, data []byte) error {
	cmd := client.Append(mailbox, int64(len(data)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := cmd.Write(data); err != nil {
		cmd.Close()
		return fmt.Errorf("APPEND: %w", err)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("APPEND: %w", err)
	}
	if _, err := cmd.Wait(); err != nil {
		return fmt.Errorf("APPEND: %w", err)
	}
	return nil
}

func (s *Sender) copiesDone(ctx context.Context, account store.Account, folder string, rows []store.OutboxRow) {
	if len(rows) == 0 {
		return
	}
	held, err := s.Store.MarkCopiesDone(ctx, rows)
	for _, row := range rows {
		log := s.logRow(row).With("folder", folder)
		switch {
		case err != nil:
			log.Error("record sent copy failed; it will be appended again when its lease expires", "err", err)
		case !held[row.ID]:
			log.Warn("sent copy changed by another worker; its state is kept")
		default:
			log.Debug("sent copy appended")
		}
	}
}

// copiesFailed schedules each copy again, or gives it up once its message
// was sent more than MaxAge ago.
func (s *Sender) copiesFailed(ctx context.Context, copies []sentCopy, cause error) {
	now := s.now()
	for _, c := range copies {
		log := s.logRow(c.row).With("copy_attempt", c.row.CopyAttempts)
		var err error
		if c.row.SentAt != nil && now.Sub(*c.row.SentAt) >= s.MaxAge {
			err = s.Store.MarkCopyFailed(ctx, c.row, cause.Error())
			log.Error("sent copy given up", "err", cause)
		} else {
			next := now.Add(s.retryDelay(c.row.CopyAttempts))
			err = s.Store.MarkCopyRetry(ctx, c.row, next, cause.Error())
			log.Warn("sent copy failed, will retry", "next_attempt_at", next.Format(time.RFC3339), "err", cause)
		}
		if err != nil {
			log.Error("record sent copy outcome failed", "err", err)
		}
	}
}

// copyLease is how long a claim of Sent copies holds: Lease, but at least
// twice the bound of the IMAP session, so that no other worker appends a
// copy that is still being appended.
func (s *Sender) copyLease() time.Duration {
	return max(s.Lease, 2*s.Timeouts.withDefaults().Copy)
}

// retryCopies claims the Sent copies that are due again and appends them.
func (s *Sender) retryCopies(ctx context.Context) error {
	rows, err := s.Store.ClaimSentCopies(ctx, s.Owner, s.copyLease(), s.BatchSize)
	if err != nil || len(rows) == 0 {
		return err
	}
	for _, group := range byAccount(rows) {
		s.retryAccountCopies(ctx, group)
	}
	return nil
}

func (s *Sender) retryAccountCopies(ctx context.Context, rows []store.OutboxRow) {
	account, err := s.Store.Account(ctx, rows[0].AccountID)
	if err == nil && !account.SentCopy {
		for _, row := range rows {
			if err := s.Store.MarkCopyOff(ctx, row); err != nil {
				s.logRow(row).Warn("drop sent copy failed", "err", err)
			}
		}
		return
	}
	if err == nil && !account.Enabled {
		err = fmt.Errorf("account %d is disabled", account.ID)
	}
	attachments, aerr := s.attachments(ctx, rows)
	if err == nil {
		err = aerr
	}
	var copies []sentCopy
	for _, row := range rows {
		c := sentCopy{row: row}
		if err != nil {
			s.copiesFailed(ctx, []sentCopy{c}, err)
			continue
		}
		msg, buildErr := buildMessage(row, account.Address, attachments[row.ID])
		if buildErr != nil {
			s.copiesFailed(ctx, []sentCopy{c}, buildErr)
			continue
		}
		c.data = msg.copy
		copies = append(copies, c)
	}
	s.appendCopies(ctx, account, copies)
}
