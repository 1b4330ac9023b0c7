package outbox

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/store"
)

// Sender claims due outbox rows and sends them. Its fields are set once
// before the first Sweep; Sweep is safe for concurrent use.
type Sender struct {
	Store *store.Store
	Log   *slog.Logger
	// Owner names this reactor in claimed_by.
	Owner string
	// Lease is how long a claim holds before another sweep may take the
	// row again.
	Lease time.Duration
	// BatchSize is how many rows one sweep claims.
	BatchSize int
	// RetryMin and RetryMax bound the delay before the next attempt after
	// a temporary failure; MaxAge is when a row is given up.
	RetryMin, RetryMax, MaxAge time.Duration
	RootCAs                    *x509.CertPool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Sweep claims one batch of due rows and sends them, reusing one SMTP
// connection for consecutive rows of an account. It returns how many rows
// it claimed; a full batch means more may be due.
func (s *Sender) Sweep(ctx context.Context) (int, error) {
	rows, err := s.Store.ClaimOutbox(ctx, s.Owner, s.Lease, s.BatchSize)
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].AccountID == rows[start].AccountID {
			end++
		}
		s.sendAccount(ctx, rows[start:end])
		start = end
	}
	return len(rows), nil
}

// sendAccount sends the rows of one account over one connection.
func (s *Sender) sendAccount(ctx context.Context, rows []store.OutboxRow) {
	account, err := s.Store.Account(ctx, rows[0].AccountID)
	if err == nil && !account.Enabled {
		err = &permanentError{fmt.Errorf("account %d is disabled", account.ID)}
	} else if errors.Is(err, store.ErrNotFound) {
		err = &permanentError{err}
	}

	var client *smtp.Client
	if err == nil {
		client, err = dialSMTP(ctx, account.SMTP, s.RootCAs)
	}
	if err != nil {
		for _, row := range rows {
			s.finish(ctx, row, "", nil, err)
		}
		return
	}
	defer func() {
		client.Quit()
		client.Close()
	}()

	for i, row := range rows {
		reply, rejected, err := s.sendOne(client, account, row)
		s.finish(ctx, row, reply, rejected, err)
		if err != nil && isConnectionError(err) {
			// The connection is gone; the remaining rows wait for the next
			// sweep on a new one, without counting this as their failure.
			for _, rest := range rows[i+1:] {
				s.finish(ctx, rest, "", nil, &notAttemptedError{err})
			}
			return
		}
	}
}

func (s *Sender) sendOne(c *smtp.Client, account store.Account, row store.OutboxRow) (string, []string, error) {
	if len(row.Raw) == 0 {
		// TODO: compose messages from fields when raw is empty.
		return "", nil, &permanentError{errors.New("raw is empty: the row has no message to send")}
	}
	msg, err := prepare(row.Raw, row.RcptTo)
	if err != nil {
		return "", nil, &permanentError{err}
	}
	return transmit(c, account.Address, msg)
}

// permanentError is a problem of the row or the account that no retry
// fixes.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// notAttemptedError marks a row that was claimed but never sent because an
// earlier row of the batch broke the connection.
type notAttemptedError struct{ err error }

func (e *notAttemptedError) Error() string { return "not attempted: " + e.err.Error() }
func (e *notAttemptedError) Unwrap() error { return e.err }

// isConnectionError reports whether err leaves the SMTP connection unusable.
func isConnectionError(err error) bool {
	var smtpErr *smtp.SMTPError
	var perm *permanentError
	return !errors.As(err, &smtpErr) && !errors.As(err, &perm)
}

// outcome is the decision for a row after one attempt.
type outcome int

const (
	outcomeSent outcome = iota
	outcomeRetry
	outcomeFailed
)

// decide turns the result of one attempt into the row's next state. It is
// the one place where send errors become outcomes.
func (s *Sender) decide(row store.OutboxRow, err error) (outcome, time.Time) {
	now := s.now()
	if err == nil {
		return outcomeSent, time.Time{}
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return outcomeFailed, time.Time{}
	}
	var skipped *notAttemptedError
	if errors.As(err, &skipped) {
		return outcomeRetry, now
	}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) && smtpErr.Code/100 == 5 {
		return outcomeFailed, time.Time{}
	}
	if now.Sub(row.CreatedAt) >= s.MaxAge {
		return outcomeFailed, time.Time{}
	}
	return outcomeRetry, now.Add(s.retryDelay(row.Attempts))
}

// retryDelay doubles from RetryMin per attempt up to RetryMax, with up to
// 25% jitter either way so that rows failed together do not retry together.
func (s *Sender) retryDelay(attempts int) time.Duration {
	delay := s.RetryMin
	for i := 1; i < attempts && delay < s.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, s.RetryMax)
	jitter := time.Duration((rand.Float64() - 0.5) * 0.5 * float64(delay))
	return delay + jitter
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// finish records the outcome of one attempt on the row.
func (s *Sender) finish(ctx context.Context, row store.OutboxRow, reply string, rejected []string, sendErr error) {
	log := s.Log.With("outbox_id", row.ID, "acntid", row.AccountID, "attempt", row.Attempts)
	// The send already happened, so recording it must not be cut short by
	// a shutdown.
	ctx = context.WithoutCancel(ctx)

	result, next := s.decide(row, sendErr)
	var err error
	switch result {
	case outcomeSent:
		if len(rejected) > 0 {
			reply = fmt.Sprintf("%s; rejected: %s", reply, strings.Join(rejected, "; "))
			log.Warn("outbox message sent, some recipients rejected", "rejected", rejected)
		}
		err = s.Store.MarkSent(ctx, row, reply)
		log.Info("outbox message sent", "reply", reply)
	case outcomeRetry:
		err = s.Store.MarkRetry(ctx, row, next, sendErr.Error())
		log.Warn("outbox send failed, will retry", "next_attempt_at", next.Format(time.RFC3339), "err", sendErr)
	case outcomeFailed:
		err = s.Store.MarkFailed(ctx, row, sendErr.Error())
		log.Error("outbox send failed permanently", "err", sendErr)
	}
	if errors.Is(err, store.ErrClaimLost) {
		log.Warn("outbox row changed by another worker; its state is kept", "err", err)
	} else if err != nil {
		log.Error("record outbox outcome failed; the lease will expire and the row be retried", "err", err)
	}
}
