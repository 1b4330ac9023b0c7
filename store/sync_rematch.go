package store

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerMessage is the identity of a message on the server, without its
// body.
type ServerMessage struct {
	UID          uint32
	MessageID    string // without angle brackets; empty when none
	Size         int64
	InternalDate time.Time
	Date         *time.Time
	Flags        []string
}

// RematchResult is the outcome of Rematch.
type RematchResult struct {
	// Done is false when the folder no longer had the old UIDVALIDITY:
	// another sync moved it first, and nothing changed.
	Done bool
	// Matched rows moved to the new UIDVALIDITY; Expunged old rows had no
	// match on the server.
	Matched, Expunged int
	// Unmatched are the server's UIDs, ascending, whose messages are not
	// stored.
	Unmatched []uint32
	// LastUID is the folder's new highest stored UID: every server message
	// up to it is stored.
	LastUID uint32
}

const createServerMessages = `
	CREATE TEMP TABLE IF NOT EXISTS reactor_server_messages (
		uid           bigint PRIMARY KEY,
		message_id    text,
		size          bigint NOT NULL,
		internal_date timestamptz,
		date          timestamptz,
		flags         text[] NOT NULL,
		matched       boolean NOT NULL DEFAULT false
	) ON COMMIT DELETE ROWS`

// matchPass pairs old rows with server messages of the same Message-ID,
// size and %[1]s, one to one in UID order, and moves each matched row to
// its new UIDVALIDITY and UID with the server's flags.
const matchPass = `
	WITH o AS (
		SELECT emsgid, message_id, size, %[1]s AS key,
		       row_number() OVER (PARTITION BY message_id, size, %[1]s ORDER BY uid) AS rn
		FROM email_messages
		WHERE emfdid = $1 AND uidvalidity = $2 AND expunged_at IS NULL
		  AND message_id IS NOT NULL AND %[1]s IS NOT NULL
	), s AS (
		SELECT uid, flags, message_id, size, %[1]s AS key,
		       row_number() OVER (PARTITION BY message_id, size, %[1]s ORDER BY uid) AS rn
		FROM pg_temp.reactor_server_messages
		WHERE NOT matched AND message_id IS NOT NULL AND %[1]s IS NOT NULL
	), pair AS (
		SELECT o.emsgid, s.uid, s.flags FROM o JOIN s USING (message_id, size, key, rn)
	), mark AS (
		UPDATE pg_temp.reactor_server_messages t SET matched = true FROM pair WHERE t.uid = pair.uid
	)
	UPDATE email_messages m SET uidvalidity = $3, uid = pair.uid, flags = pair.flags
	FROM pair WHERE m.emsgid = pair.emsgid`

// Rematch moves the folder from oldUV to newUV in one transaction. It
// matches the messages streamed from server to the stored rows of oldUV by
// Message-ID, size and internal date, then by Message-ID, size and Date. A
// matched row takes its new UID in place and keeps its emsgid and body.
// Old rows without a match are marked expunged. Rows already
// under newUV, left from an earlier time the folder had it, are detached
// (uid = -emsgid) and marked expunged. server is not consumed when the
// folder no longer has oldUV.
func (s *Store) Rematch(ctx context.Context, folderID int64, oldUV, newUV uint32,
	server iter.Seq2[ServerMessage, error]) (RematchResult, error) {
	var res RematchResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var current int64
		err := tx.QueryRow(ctx, `SELECT coalesce(uidvalidity, 0) FROM email_folders WHERE emfdid = $1 FOR UPDATE`,
			folderID).Scan(&current)
		if err != nil {
			return fmt.Errorf("lock folder: %w", err)
		}
		if uint32(current) != oldUV {
			return nil
		}
		if err := stageServerMessages(ctx, tx, server); err != nil {
			return err
		}
		res, err = matchStaged(ctx, tx, folderID, oldUV, newUV)
		return err
	})
	if err != nil {
		return RematchResult{}, fmt.Errorf("match folder %d from uidvalidity %d to %d: %w", folderID, oldUV, newUV, err)
	}
	return res, nil
}

func stageServerMessages(ctx context.Context, tx pgx.Tx, server iter.Seq2[ServerMessage, error]) error {
	if _, err := tx.Exec(ctx, createServerMessages); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	next, stop := iter.Pull2(server)
	defer stop()
	src := &pullSource{next: next}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "reactor_server_messages"},
		[]string{"uid", "message_id", "size", "internal_date", "date", "flags"}, src)
	if src.err != nil {
		return src.err
	}
	if err != nil {
		return fmt.Errorf("copy server messages: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE pg_temp.reactor_server_messages`); err != nil {
		return fmt.Errorf("analyze staging table: %w", err)
	}
	return nil
}

func matchStaged(ctx context.Context, tx pgx.Tx, folderID int64, oldUV, newUV uint32) (RematchResult, error) {
	res := RematchResult{Done: true}
	_, err := tx.Exec(ctx, `
		UPDATE email_messages SET uid = -emsgid, expunged_at = coalesce(expunged_at, now())
		WHERE emfdid = $1 AND uidvalidity = $2 AND uid > 0`, folderID, int64(newUV))
	if err != nil {
		return res, fmt.Errorf("detach rows of uidvalidity %d: %w", newUV, err)
	}
	for _, key := range []string{"internal_date", "date"} {
		tag, err := tx.Exec(ctx, fmt.Sprintf(matchPass, key), folderID, int64(oldUV), int64(newUV))
		if err != nil {
			return res, fmt.Errorf("match by %s: %w", key, err)
		}
		res.Matched += int(tag.RowsAffected())
	}
	tag, err := tx.Exec(ctx, `
		UPDATE email_messages SET expunged_at = now()
		WHERE emfdid = $1 AND uidvalidity = $2 AND expunged_at IS NULL`, folderID, int64(oldUV))
	if err != nil {
		return res, fmt.Errorf("mark unmatched rows expunged: %w", err)
	}
	res.Expunged = int(tag.RowsAffected())

	rows, err := tx.Query(ctx, `SELECT uid FROM pg_temp.reactor_server_messages WHERE NOT matched ORDER BY uid`)
	if err != nil {
		return res, fmt.Errorf("list unmatched messages: %w", err)
	}
	res.Unmatched, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (uint32, error) {
		var uid int64
		err := row.Scan(&uid)
		return uint32(uid), err
	})
	if err != nil {
		return res, fmt.Errorf("list unmatched messages: %w", err)
	}
	var highest int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(uid), 0) FROM pg_temp.reactor_server_messages`).Scan(&highest); err != nil {
		return res, fmt.Errorf("read highest server uid: %w", err)
	}
	res.LastUID = uint32(highest)
	if len(res.Unmatched) > 0 {
		res.LastUID = res.Unmatched[0] - 1
	}
	_, err = tx.Exec(ctx, `
		UPDATE email_folders SET uidvalidity = $2, last_uid = $3, highest_modseq = NULL
		WHERE emfdid = $1`, folderID, int64(newUV), int64(res.LastUID))
	if err != nil {
		return res, fmt.Errorf("record uidvalidity %d: %w", newUV, err)
	}
	return res, nil
}

// pullSource feeds COPY from an iterator; the iterator's error ends it.
type pullSource struct {
	next func() (ServerMessage, error, bool)
	cur  ServerMessage
	err  error
}

func (p *pullSource) Next() bool {
	m, err, ok := p.next()
	if !ok {
		return false
	}
	if err != nil {
		p.err = err
		return false
	}
	p.cur = m
	return true
}

func (p *pullSource) Values() ([]any, error) {
	m := &p.cur
	flags := m.Flags
	if flags == nil {
		flags = []string{}
	}
	var internalDate any
	if !m.InternalDate.IsZero() {
		internalDate = m.InternalDate
	}
	return []any{int64(m.UID), nullIfEmpty(m.MessageID), m.Size, internalDate, m.Date, flags}, nil
}

func (p *pullSource) Err() error { return p.err }
