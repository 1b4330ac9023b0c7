package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxAttachment is one row of email_outbox_attachments.
type OutboxAttachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// OutboxAttachments returns the attachments of the given outbox rows, each
// row's in id order.
func (s *Store) OutboxAttachments(ctx context.Context, ids []int64) (map[int64][]OutboxAttachment, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT outbox_id, filename, coalesce(content_type, ''), data
		FROM email_outbox_attachments WHERE outbox_id = ANY($1) ORDER BY outbox_id, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read outbox attachments: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]OutboxAttachment)
	for rows.Next() {
		var id int64
		var a OutboxAttachment
		if err := rows.Scan(&id, &a.Filename, &a.ContentType, &a.Data); err != nil {
			return nil, fmt.Errorf("read outbox attachments: %w", err)
		}
		out[id] = append(out[id], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox attachments: %w", err)
	}
	return out, nil
}

// RecordMessageIDs sets message_id of each row in ids to the matching
// entry of messageIDs. It is for raw rows whose own Message-ID header
// differs from the identifier the claim stored, so the column shows what
// was sent.
func (s *Store) RecordMessageIDs(ctx context.Context, ids []int64, messageIDs []string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE email_outbox o SET message_id = v.message_id
		FROM unnest($1::bigint[], $2::text[]) AS v(id, message_id)
		WHERE o.id = v.id AND o.message_id IS DISTINCT FROM v.message_id`, ids, messageIDs)
	if err != nil {
		return fmt.Errorf("record Message-IDs: %w", err)
	}
	return nil
}

// ExtendOutboxLease renews the lease of rows that are still held, so a
// long batch keeps them. It returns the ids of the rows still held.
func (s *Store) ExtendOutboxLease(ctx context.Context, rows []OutboxRow, lease time.Duration) (map[int64]bool, error) {
	ids, attempts, owners := claimTokens(rows)
	return s.updateHeld(ctx, "extend outbox leases", `
		UPDATE email_outbox o SET lease_until = now() + $4::interval
		FROM unnest($1::bigint[], $2::int[], $3::text[]) AS v(id, attempts, owner)
		WHERE o.id = v.id AND o.status = 'sending' AND o.claimed_by = v.owner AND o.attempts = v.attempts
		RETURNING o.id`, ids, attempts, owners, lease)
}

func claimTokens(rows []OutboxRow) (ids []int64, attempts []int32, owners []string) {
	for _, r := range rows {
		ids = append(ids, r.ID)
		attempts = append(attempts, int32(r.Attempts))
		owners = append(owners, r.ClaimedBy)
	}
	return ids, attempts, owners
}

// updateHeld runs an UPDATE ... RETURNING id and collects the ids.
func (s *Store) updateHeld(ctx context.Context, what, query string, args ...any) (map[int64]bool, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	held := make(map[int64]bool, len(ids))
	for _, id := range ids {
		held[id] = true
	}
	return held, nil
}

// Delivery is the record of a transaction that the server accepted.
type Delivery struct {
	// Reply is the server's reply to the final dot.
	Reply string
	// Refused lists the recipients rejected permanently, "address: reply"
	// each. They are added to refused_recipients.
	Refused []string
	// Deferred lists the recipients rejected temporarily. When there are
	// any, the row is queued again at NextAttempt with rcpt_to set to them
	// alone, and Cause becomes its last_error. A zero NextAttempt means the
	// database's now().
	Deferred    []string
	NextAttempt time.Time
	Cause       string
	// SentCopy starts the Sent copy on the first delivery of the row,
	// claimed by the row's owner for CopyLease; without it the copy is
	// 'off'.
	SentCopy  bool
	CopyLease time.Duration
}

// MarkDelivered records a transaction that the server accepted, while the
// claim holds. It reports whether it started the Sent copy, which then
// belongs to the caller under the token (row.ClaimedBy, row.CopyAttempts+1).
func (s *Store) MarkDelivered(ctx context.Context, row OutboxRow, d Delivery) (bool, error) {
	var refused *string
	if len(d.Refused) > 0 {
		joined := strings.Join(d.Refused, "\n")
		refused = &joined
	}
	set := `sent_at = coalesce(sent_at, now()), smtp_reply = $4,
		refused_recipients = CASE WHEN $5::text IS NULL THEN refused_recipients
			WHEN refused_recipients IS NULL THEN $5 ELSE refused_recipients || E'\n' || $5 END,
		sent_copy_status = CASE WHEN sent_at IS NOT NULL THEN sent_copy_status
			WHEN $6 THEN 'appending' ELSE 'off' END,
		sent_copy_claimed_by = CASE WHEN sent_at IS NULL AND $6 THEN $2 ELSE sent_copy_claimed_by END,
		sent_copy_attempts = CASE WHEN sent_at IS NULL AND $6 THEN sent_copy_attempts + 1 ELSE sent_copy_attempts END,
		sent_copy_next_at = CASE WHEN sent_at IS NULL AND $6 THEN now() + $7::interval ELSE sent_copy_next_at END`
	args := []any{d.Reply, refused, d.SentCopy, d.CopyLease}
	if len(d.Deferred) > 0 {
		var next *time.Time
		if !d.NextAttempt.IsZero() {
			next = &d.NextAttempt
		}
		set += ", status = 'queued', rcpt_to = $8, next_attempt_at = coalesce($9, now()), last_error = $10"
		args = append(args, d.Deferred, next, d.Cause)
	} else {
		set += ", status = 'sent', last_error = NULL"
	}
	if err := s.casOutbox(ctx, row, set, args...); err != nil {
		return false, err
	}
	return row.SentAt == nil && d.SentCopy, nil
}

// MarkRetryUncertain returns the row to the queue after an attempt whose
// outcome is unknown, and flags it possible_duplicate.
func (s *Store) MarkRetryUncertain(ctx context.Context, row OutboxRow, next time.Time, cause string) error {
	return s.casOutbox(ctx, row, "status = 'queued', next_attempt_at = $4, last_error = $5, possible_duplicate = true", next, cause)
}
