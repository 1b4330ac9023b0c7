package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The methods here serve reconcile's recent and full syncs. Every UID
// argument is of the folder's current UIDVALIDITY; rows of other
// UIDVALIDITY values are left alone.

// uidChunk bounds the array of UIDs sent in one statement.
const uidChunk = 10000

// insertAttempts is how often InsertMessages retries a batch that another
// transaction stored at the same moment.
const insertAttempts = 3

var messageColumns = []string{"emfdid", "uidvalidity", "uid", "message_id", "subject", "from_addr",
	"to_addrs", "cc_addrs", "date", "internal_date", "flags", "size", "raw", "parse_error"}

// InsertMessages stores a batch with COPY and raises the folder's highest
// stored UID to lastUID, in one transaction. Messages whose UID is already
// stored are skipped, so a repeated batch stores nothing twice. It returns
// how many rows were new.
//
// A stored row of the same UID that is marked expunged can only mean the
// server gave out that UID again (its UIDs went back without a new
// UIDVALIDITY); that row is detached (uid = -emsgid) so the new message can
// take the UID, and keeps its emsgid and content.
func (s *Store) InsertMessages(ctx context.Context, folderID int64, uidValidity, lastUID uint32, msgs []Message) (int, error) {
	var inserted int
	var err error
	for range insertAttempts {
		inserted, err = s.insertMessages(ctx, folderID, uidValidity, lastUID, msgs)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			break
		}
		// Another transaction stored some of these UIDs after the check.
	}
	if err != nil {
		return 0, fmt.Errorf("store %d messages in folder %d: %w", len(msgs), folderID, err)
	}
	return inserted, nil
}

func (s *Store) insertMessages(ctx context.Context, folderID int64, uidValidity, lastUID uint32, msgs []Message) (int, error) {
	uids := make([]int64, len(msgs))
	for i := range msgs {
		uids[i] = int64(msgs[i].UID)
	}
	var inserted int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, preferLZ4); err != nil {
			return fmt.Errorf("choose compression: %w", err)
		}
		rows, err := tx.Query(ctx, `
			WITH detached AS (
				UPDATE email_messages SET uid = -emsgid
				WHERE emfdid = $1 AND uidvalidity = $2 AND uid = ANY($3) AND expunged_at IS NOT NULL
				RETURNING uid)
			SELECT uid FROM email_messages
			WHERE emfdid = $1 AND uidvalidity = $2 AND uid = ANY($3) AND expunged_at IS NULL`,
			folderID, int64(uidValidity), uids)
		if err != nil {
			return fmt.Errorf("look up stored uids: %w", err)
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("look up stored uids: %w", err)
		}
		fresh := msgs
		if len(stored) > 0 {
			fresh = slices.DeleteFunc(slices.Clone(msgs), func(m Message) bool {
				return slices.Contains(stored, int64(m.UID))
			})
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"email_messages"}, messageColumns,
			pgx.CopyFromSlice(len(fresh), func(i int) ([]any, error) {
				m := &fresh[i]
				return []any{folderID, int64(uidValidity), int64(m.UID), nullIfEmpty(m.MessageID), m.Subject,
					m.From, m.To, m.Cc, m.Date, m.InternalDate, m.Flags, m.Size, m.Raw, nullIfEmpty(m.ParseError)}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy messages: %w", err)
		}
		inserted = int(n)
		_, err = tx.Exec(ctx, `
			UPDATE email_folders
			SET uidvalidity = $2, last_uid = GREATEST(last_uid, $3), last_recent_sync_at = now(),
			    last_error = NULL
			WHERE emfdid = $1`, folderID, int64(uidValidity), int64(lastUID))
		if err != nil {
			return fmt.Errorf("advance last uid: %w", err)
		}
		return nil
	})
	return inserted, err
}

// preferLZ4 makes the transaction compress raw with lz4 where the server
// has it (PostgreSQL 14 or newer, built with lz4), which takes about half
// the server time of the default pglz. The column keeps no setting of its
// own, so readers see no difference; older servers ignore this.
const preferLZ4 = `
	SELECT set_config('default_toast_compression', 'lz4', true)
	FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// StoredUIDs returns the UIDs above the given one of the folder's rows
// that are not marked expunged, in ascending order.
func (s *Store) StoredUIDs(ctx context.Context, folderID int64, uidValidity, above uint32) ([]uint32, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT uid FROM email_messages
		WHERE emfdid = $1 AND uidvalidity = $2 AND uid > $3 AND expunged_at IS NULL
		ORDER BY uid`, folderID, int64(uidValidity), int64(above))
	if err != nil {
		return nil, fmt.Errorf("read stored uids of folder %d: %w", folderID, err)
	}
	uids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (uint32, error) {
		var uid int64
		err := row.Scan(&uid)
		return uint32(uid), err
	})
	if err != nil {
		return nil, fmt.Errorf("read stored uids of folder %d: %w", folderID, err)
	}
	return uids, nil
}

// HighestModSeq returns the folder's stored HIGHESTMODSEQ, 0 when none.
func (s *Store) HighestModSeq(ctx context.Context, folderID int64) (uint64, error) {
	var modSeq int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(highest_modseq, 0) FROM email_folders WHERE emfdid = $1`,
		folderID).Scan(&modSeq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("folder %d: %w", folderID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read highest modseq of folder %d: %w", folderID, err)
	}
	return uint64(modSeq), nil
}

// Now returns the database's clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		return now, fmt.Errorf("read database clock: %w", err)
	}
	return now, nil
}

// FlagChange is the current flag list of one message on the server.
type FlagChange struct {
	UID   uint32
	Flags []string
}

// UpdateFlags writes the flags of the listed messages and returns how many
// rows changed.
func (s *Store) UpdateFlags(ctx context.Context, folderID int64, uidValidity uint32, changes []FlagChange) (int, error) {
	uids := make([]int64, len(changes))
	flags := make([]string, len(changes))
	for i, c := range changes {
		uids[i] = int64(c.UID)
		// A flag is an IMAP atom, which holds no space.
		flags[i] = strings.Join(c.Flags, " ")
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE email_messages m SET flags = string_to_array(u.flags, ' ')
		FROM unnest($3::bigint[], $4::text[]) AS u(uid, flags)
		WHERE m.emfdid = $1 AND m.uidvalidity = $2 AND m.uid = u.uid AND m.expunged_at IS NULL
		  AND m.flags IS DISTINCT FROM string_to_array(u.flags, ' ')`,
		folderID, int64(uidValidity), uids, flags)
	if err != nil {
		return 0, fmt.Errorf("update flags of %d messages in folder %d: %w", len(changes), folderID, err)
	}
	return int(tag.RowsAffected()), nil
}

// MarkExpunged sets expunged_at of the listed messages and returns how many
// rows it marked. A UID at or above below is only marked when its row was
// stored before storedBefore: such a UID may belong to a message that
// arrived after the caller listed the server's UIDs.
func (s *Store) MarkExpunged(ctx context.Context, folderID int64, uidValidity uint32, uids []uint32,
	below uint32, storedBefore time.Time) (int, error) {
	marked := 0
	for chunk := range slices.Chunk(uids, uidChunk) {
		list := make([]int64, len(chunk))
		for i, u := range chunk {
			list[i] = int64(u)
		}
		tag, err := s.pool.Exec(ctx, `
			UPDATE email_messages SET expunged_at = now()
			WHERE emfdid = $1 AND uidvalidity = $2 AND uid = ANY($3) AND expunged_at IS NULL
			  AND (uid < $4 OR stored_at < $5)`,
			folderID, int64(uidValidity), list, int64(below), storedBefore)
		if err != nil {
			return marked, fmt.Errorf("mark %d messages of folder %d expunged: %w", len(chunk), folderID, err)
		}
		marked += int(tag.RowsAffected())
	}
	return marked, nil
}

// FinishFullSync records a completed full sync: its time, the server's
// HIGHESTMODSEQ (0 for none) and lastUID, below which every server message
// is stored. With reset, lastUID replaces a highest stored UID that could
// not be trusted; otherwise it only raises it.
func (s *Store) FinishFullSync(ctx context.Context, folderID int64, uidValidity uint32, highestModSeq uint64,
	lastUID uint32, reset bool) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE email_folders
		SET uidvalidity = $2, highest_modseq = NULLIF($3, 0), last_full_sync_at = now(), last_error = NULL,
		    last_uid = CASE WHEN $5 THEN $4 ELSE GREATEST(last_uid, $4) END
		WHERE emfdid = $1 AND coalesce(uidvalidity, $2) = $2`,
		folderID, int64(uidValidity), int64(highestModSeq), int64(lastUID), reset)
	if err != nil {
		return fmt.Errorf("record full sync of folder %d: %w", folderID, err)
	}
	return nil
}

// ResetLastUID sets the folder's highest stored UID to lastUID, replacing
// one that could not be trusted. Every server message up to lastUID must
// be stored.
func (s *Store) ResetLastUID(ctx context.Context, folderID int64, uidValidity, lastUID uint32) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE email_folders SET uidvalidity = $2, last_uid = $3
		WHERE emfdid = $1 AND coalesce(uidvalidity, $2) = $2`, folderID, int64(uidValidity), int64(lastUID))
	if err != nil {
		return fmt.Errorf("reset last uid of folder %d: %w", folderID, err)
	}
	return nil
}
