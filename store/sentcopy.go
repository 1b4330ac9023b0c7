package store

import (
	"context"
	"fmt"
	"time"
)

// ClaimSentCopies claims up to limit Sent copies that are due: pending
// copies whose retry time has come, and copies whose claim's lease
// expired. A claimed row's ClaimedBy and CopyAttempts are the copy's claim
// token; its Attempts and status belong to the send and stay as they are.
func (s *Store) ClaimSentCopies(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxRow, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM email_outbox
			WHERE sent_copy_status IN ('pending', 'appending') AND sent_copy_next_at <= now()
			ORDER BY sent_copy_next_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE email_outbox o
		SET sent_copy_status = 'appending', sent_copy_claimed_by = $2,
		    sent_copy_next_at = now() + $3::interval, sent_copy_attempts = o.sent_copy_attempts + 1
		FROM due WHERE o.id = due.id
		RETURNING `+outboxReturning+`, o.sent_copy_claimed_by, false`,
		limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("claim sent copies: %w", err)
	}
	claimed, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("claim sent copies: %w", err)
	}
	return claimed, nil
}

// casSentCopy applies an update to a Sent copy while its claim holds.
func (s *Store) casSentCopy(ctx context.Context, row OutboxRow, set string, args ...any) error {
	query := "UPDATE email_outbox SET " + set + ", sent_copy_claimed_by = NULL" +
		" WHERE id = $1 AND sent_copy_status = 'appending' AND sent_copy_claimed_by = $2 AND sent_copy_attempts = $3"
	tag, err := s.pool.Exec(ctx, query, append([]any{row.ID, row.ClaimedBy, row.CopyAttempts}, args...)...)
	if err != nil {
		return fmt.Errorf("update sent copy of outbox row %d: %w", row.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("sent copy of outbox row %d: %w", row.ID, ErrClaimLost)
	}
	return nil
}

// MarkCopiesDone records appended Sent copies. It returns the ids whose
// claim still held.
func (s *Store) MarkCopiesDone(ctx context.Context, rows []OutboxRow) (map[int64]bool, error) {
	ids := make([]int64, len(rows))
	attempts := make([]int32, len(rows))
	owners := make([]string, len(rows))
	for i, r := range rows {
		ids[i], attempts[i], owners[i] = r.ID, int32(r.CopyAttempts), r.ClaimedBy
	}
	return s.updateHeld(ctx, "record sent copies", `
		UPDATE email_outbox o
		SET sent_copy_status = 'done', sent_copy_at = now(), sent_copy_error = NULL,
		    sent_copy_next_at = NULL, sent_copy_claimed_by = NULL
		FROM unnest($1::bigint[], $2::int[], $3::text[]) AS v(id, attempts, owner)
		WHERE o.id = v.id AND o.sent_copy_status = 'appending' AND o.sent_copy_claimed_by = v.owner
		  AND o.sent_copy_attempts = v.attempts
		RETURNING o.id`, ids, attempts, owners)
}

// MarkCopyRetry schedules another attempt at the Sent copy at next.
func (s *Store) MarkCopyRetry(ctx context.Context, row OutboxRow, next time.Time, cause string) error {
	return s.casSentCopy(ctx, row, "sent_copy_status = 'pending', sent_copy_next_at = $4, sent_copy_error = $5", next, cause)
}

// MarkCopyFailed gives the Sent copy up, with the reason.
func (s *Store) MarkCopyFailed(ctx context.Context, row OutboxRow, cause string) error {
	return s.casSentCopy(ctx, row, "sent_copy_status = 'failed', sent_copy_next_at = NULL, sent_copy_error = $4", cause)
}

// MarkCopyOff drops the Sent copy because the account no longer wants it.
func (s *Store) MarkCopyOff(ctx context.Context, row OutboxRow) error {
	return s.casSentCopy(ctx, row, "sent_copy_status = 'off', sent_copy_next_at = NULL")
}
