package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/store"
)

// permanentError is a problem of the row or the account that no retry
// fixes.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// notAttemptedError marks a row that was claimed but never sent because an
// earlier row of the batch broke the connection, or the store failed
// before the send.
type notAttemptedError struct{ err error }

func (e *notAttemptedError) Error() string { return "not attempted: " + e.err.Error() }
func (e *notAttemptedError) Unwrap() error { return e.err }

// isConnectionError reports whether err leaves the SMTP connection
// unusable: any error that is no server reply, and the reply 421, with
// which the server closes the connection.
func isConnectionError(err error) bool {
	var smtpErr *smtp.SMTPError
	var perm *permanentError
	if errors.As(err, &smtpErr) {
		return smtpErr.Code == 421
	}
	return !errors.As(err, &perm)
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
	// A 5xx rejects the message, unless the session never got as far as
	// the message: a greeting or an AUTH rejected is the account's or the
	// server's problem, and an administrator's fix lets the row go out.
	var smtpErr *smtp.SMTPError
	var session *sessionError
	if errors.As(err, &smtpErr) && smtpErr.Code/100 == 5 && !errors.As(err, &session) {
		return outcomeFailed, time.Time{}
	}
	if now.Sub(row.CreatedAt) >= s.MaxAge {
		return outcomeFailed, time.Time{}
	}
	return outcomeRetry, now.Add(s.retryDelay(row.Attempts))
}

// sessionError is a failure to open the SMTP session (connect, greeting,
// STARTTLS or AUTH), before any message was offered.
type sessionError struct{ err error }

func (e *sessionError) Error() string { return e.err.Error() }
func (e *sessionError) Unwrap() error { return e.err }

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

// finish records the outcome of one attempt on the row. It reports
// whether the row's Sent copy started, which the caller then appends.
func (s *Sender) finish(ctx context.Context, row store.OutboxRow, account store.Account, res sendResult, sendErr error) bool {
	log := s.logRow(row).With("attempt", row.Attempts)
	// The send already happened, so recording it must not be cut short by
	// a shutdown.
	ctx = context.WithoutCancel(ctx)

	var err error
	var copyStarted bool
	result, next := s.decide(row, sendErr)
	var unknown *afterDataError
	switch {
	case result == outcomeSent:
		copyStarted, err = s.Store.MarkDelivered(ctx, row, s.delivery(row, account, res))
		if len(res.refused) > 0 || len(res.deferred) > 0 {
			log.Warn("outbox message sent, some recipients rejected", "refused", res.refused, "deferred", res.deferred)
		}
		log.Info("outbox message sent", "reply", res.reply, "message_id", row.MessageID,
			"possible_duplicate", row.PossibleDuplicate)
	case result == outcomeRetry && errors.As(sendErr, &unknown):
		err = s.Store.MarkRetryUncertain(ctx, row, next, sendErr.Error())
		log.Warn("outbox send outcome unknown, will retry and flag a possible duplicate",
			"next_attempt_at", next.Format(time.RFC3339), "err", sendErr)
	case result == outcomeRetry:
		err = s.Store.MarkRetry(ctx, row, next, sendErr.Error())
		log.Warn("outbox send failed, will retry", "next_attempt_at", next.Format(time.RFC3339), "err", sendErr)
	case result == outcomeFailed:
		err = s.Store.MarkFailed(ctx, row, sendErr.Error())
		log.Error("outbox send failed permanently", "err", sendErr)
	}
	if errors.Is(err, store.ErrClaimLost) {
		log.Warn("outbox row changed by another worker; its state is kept", "err", err)
	} else if err != nil {
		log.Error("record outbox outcome failed; the lease will expire and the row be retried", "err", err)
	}
	return copyStarted && err == nil
}

// delivery describes an accepted transaction for the store. Recipients
// rejected with 4xx stay queued; because the message went to the others,
// they are tried again at once, and then on the usual schedule.
func (s *Sender) delivery(row store.OutboxRow, account store.Account, res sendResult) store.Delivery {
	reply := res.reply
	if len(res.refused) > 0 {
		reply = fmt.Sprintf("%s; rejected: %s", reply, strings.Join(res.refused, "; "))
	}
	d := store.Delivery{
		Reply: reply, Refused: res.refused, SentCopy: account.SentCopy, CopyLease: s.copyLease(),
	}
	if len(res.deferred) > 0 {
		d.Deferred = res.deferred
		d.Cause = fmt.Sprintf("delivered to the other recipients; %d deferred: %v", len(res.deferred), res.deferErr)
	}
	return d
}
