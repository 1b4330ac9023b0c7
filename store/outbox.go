package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxRow is a claimed row of email_outbox.
type OutboxRow struct {
	ID        int64
	AccountID int64
	Raw       []byte
	RcptTo    []string
	// Attempts counts claims, this one included. With ClaimedBy it is the
	// claim token that every later update compares.
	Attempts  int
	ClaimedBy string
	CreatedAt time.Time

	// The fields of a composed row, used when Raw is empty. From is empty
	// for the account's address.
	From          string
	To, Cc, Bcc   []string
	Subject       string
	BodyText      *string
	BodyHTML      *string
	HasAttachment bool
	// MessageID is the stored Message-ID without angle brackets, or empty
	// before the first attempt stored one.
	MessageID string
	// PossibleDuplicate is the row's possible_duplicate flag as claimed.
	PossibleDuplicate bool
	// Reclaimed is set when this claim took the row from an expired lease,
	// whose reactor may have sent it.
	Reclaimed bool
	// SentAt is when the server first accepted the message, or nil.
	SentAt *time.Time
	// CopyAttempts counts the claims of the Sent copy; with ClaimedBy it
	// is the token of a claim by ClaimSentCopies.
	CopyAttempts int
}

// outboxReturning lists the columns that scanOutboxRows reads, for the
// RETURNING clause of an UPDATE of email_outbox o.
const outboxReturning = `o.id, o.acntid, o.raw, o.rcpt_to, o.attempts, o.created_at,
	coalesce(o.from_addr, ''), o.to_addrs, o.cc_addrs, o.bcc_addrs, coalesce(o.subject, ''),
	o.body_text, o.body_html,
	o.raw IS NULL AND EXISTS (SELECT 1 FROM email_outbox_attachments a WHERE a.outbox_id = o.id),
	coalesce(o.message_id, ''), o.possible_duplicate, o.sent_at, o.sent_copy_attempts`

// scanOutboxRows reads rows of outboxReturning followed by the claim
// token's owner and whether the claim took an expired lease.
func scanOutboxRows(rows pgx.Rows) ([]OutboxRow, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxRow, error) {
		var r OutboxRow
		err := row.Scan(&r.ID, &r.AccountID, &r.Raw, &r.RcptTo, &r.Attempts, &r.CreatedAt,
			&r.From, &r.To, &r.Cc, &r.Bcc, &r.Subject, &r.BodyText, &r.BodyHTML,
			&r.HasAttachment, &r.MessageID, &r.PossibleDuplicate, &r.SentAt, &r.CopyAttempts,
			&r.ClaimedBy, &r.Reclaimed)
		return r, err
	})
}

// ErrClaimLost means the row is no longer held by this claim: its lease
// expired and another worker took it, or someone changed it by hand.
var ErrClaimLost = errors.New("outbox claim lost")

// ClaimOutbox claims up to limit due rows for owner: queued rows whose next
// attempt time has come, and rows whose previous claim's lease expired.
// The claim commits before it returns, so no SMTP traffic happens inside a
// transaction, and concurrent reactors skip each other's rows.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxRow, error) {
	rows, err := s.pool.Query(ctx, claimOutboxSQL, limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	claimed, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return claimed, nil
}

// claimOutboxSQL claims due rows. A row taken from an expired lease is
// flagged possible_duplicate at once, because the reactor that held it may
// have sent it before it stopped. A row without message_id gets a new one
// in the account's domain, so the claim stores it before the first send.
const claimOutboxSQL = `
	WITH due AS (
		SELECT id, status FROM email_outbox
		WHERE (status = 'queued' AND next_attempt_at <= now())
		   OR (status = 'sending' AND lease_until < now())
		ORDER BY next_attempt_at, id
		LIMIT $1
		FOR UPDATE SKIP LOCKED
	)
	UPDATE email_outbox o
	SET status = 'sending', claimed_by = $2, lease_until = now() + $3::interval,
	    attempts = o.attempts + 1,
	    possible_duplicate = o.possible_duplicate OR due.status = 'sending',
	    message_id = coalesce(nullif(o.message_id, ''),
	        'r' || o.id || '.' || substr(md5(random()::text || clock_timestamp()::text), 1, 16) || '@' ||
	        coalesce(nullif(split_part(a.address, '@', 2), ''), 'mailreactor.invalid'))
	FROM due, email_accounts a WHERE o.id = due.id AND a.acntid = o.acntid
	RETURNING ` + outboxReturning + `, o.claimed_by, due.status = 'sending'`

// casOutbox applies an update that sets the row's final or next state,
// only while the claim still holds.
func (s *Store) casOutbox(ctx context.Context, row OutboxRow, set string, args ...any) error {
	query := "UPDATE email_outbox SET " + set +
		", claimed_by = NULL, lease_until = NULL WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND attempts = $3"
	tag, err := s.pool.Exec(ctx, query, append([]any{row.ID, row.ClaimedBy, row.Attempts}, args...)...)
	if err != nil {
		return fmt.Errorf("update outbox row %d: %w", row.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("outbox row %d: %w", row.ID, ErrClaimLost)
	}
	return nil
}

// MarkSent records a send the server accepted, with its reply.
func (s *Store) MarkSent(ctx context.Context, row OutboxRow, reply string) error {
	return s.casOutbox(ctx, row, "status = 'sent', sent_at = now(), smtp_reply = $4, last_error = NULL", reply)
}

// MarkRetry returns the row to the queue for another attempt at next.
func (s *Store) MarkRetry(ctx context.Context, row OutboxRow, next time.Time, cause string) error {
	return s.casOutbox(ctx, row, "status = 'queued', next_attempt_at = $4, last_error = $5", next, cause)
}

// MarkFailed gives the row up, with the reason.
func (s *Store) MarkFailed(ctx context.Context, row OutboxRow, cause string) error {
	return s.casOutbox(ctx, row, "status = 'failed', last_error = $4", cause)
}

// NextOutboxDue returns when the earliest queued row or Sent copy becomes
// due or the earliest lease expires, or false when nothing waits.
func (s *Store) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT least(
			(SELECT min(CASE WHEN status = 'queued' THEN next_attempt_at ELSE lease_until END)
			 FROM email_outbox WHERE status IN ('queued', 'sending')),
			(SELECT min(sent_copy_next_at)
			 FROM email_outbox WHERE sent_copy_status IN ('appending', 'pending')))`).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find next due outbox row: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}
