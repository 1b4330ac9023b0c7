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
}

// ErrClaimLost means the row is no longer held by this claim: its lease
// expired and another worker took it, or someone changed it by hand.
var ErrClaimLost = errors.New("outbox claim lost")

// ClaimOutbox claims up to limit due rows for owner: queued rows whose next
// attempt time has come, and rows whose previous claim's lease expired.
// The claim commits before it returns, so no SMTP traffic happens inside a
// transaction, and concurrent reactors skip each other's rows.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxRow, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM email_outbox
			WHERE (status = 'queued' AND next_attempt_at <= now())
			   OR (status = 'sending' AND lease_until < now())
			ORDER BY next_attempt_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE email_outbox o
		SET status = 'sending', claimed_by = $2, lease_until = now() + $3::interval,
		    attempts = o.attempts + 1
		FROM due WHERE o.id = due.id
		RETURNING o.id, o.acntid, o.raw, o.rcpt_to, o.attempts, o.claimed_by, o.created_at`,
		limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OutboxRow])
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return claimed, nil
}

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

// NextOutboxDue returns when the earliest queued row becomes due or the
// earliest lease expires, or false when nothing waits.
func (s *Store) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT min(CASE WHEN status = 'queued' THEN next_attempt_at ELSE lease_until END)
		FROM email_outbox WHERE status IN ('queued', 'sending')`).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find next due outbox row: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}
