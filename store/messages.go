package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message is one fetched message, ready to store.
type Message struct {
	UID          uint32
	MessageID    string
	Subject      string
	From         string
	To           string
	Cc           string
	Date         *time.Time
	InternalDate time.Time
	Flags        []string
	Size         int64
	Raw          []byte
	// ParseError is set when the raw bytes could not be parsed.
	ParseError string
}

const insertMessage = `
	INSERT INTO email_messages (emfdid, uidvalidity, uid, message_id, subject, from_addr,
		to_addrs, cc_addrs, date, internal_date, flags, size, raw, parse_error)
	VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''))
	ON CONFLICT (emfdid, uidvalidity, uid) DO NOTHING`

// StoreMessages inserts a batch and advances the folder's highest stored
// UID to lastUID in one transaction, so a crash between batches resumes
// after the last committed one and a repeated batch stores nothing twice.
// It returns how many rows were new.
func (s *Store) StoreMessages(ctx context.Context, folderID int64, uidValidity uint32, lastUID uint32, msgs []Message) (int, error) {
	var inserted int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for i := range msgs {
			m := &msgs[i]
			batch.Queue(insertMessage, folderID, int64(uidValidity), int64(m.UID), m.MessageID, m.Subject,
				m.From, m.To, m.Cc, m.Date, m.InternalDate, m.Flags, m.Size, m.Raw, m.ParseError)
		}
		batch.Queue(`
			UPDATE email_folders
			SET uidvalidity = $2, last_uid = GREATEST(last_uid, $3), last_recent_sync_at = now(),
			    last_error = NULL
			WHERE emfdid = $1`, folderID, int64(uidValidity), int64(lastUID))

		results := tx.SendBatch(ctx, batch)
		for range msgs {
			tag, err := results.Exec()
			if err != nil {
				results.Close()
				return fmt.Errorf("insert message: %w", err)
			}
			inserted += int(tag.RowsAffected())
		}
		if _, err := results.Exec(); err != nil {
			results.Close()
			return fmt.Errorf("advance last uid: %w", err)
		}
		return results.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("store %d messages in folder %d: %w", len(msgs), folderID, err)
	}
	return inserted, nil
}

// MarkSynced records a sync that found nothing new.
func (s *Store) MarkSynced(ctx context.Context, folderID int64, uidValidity uint32) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE email_folders SET uidvalidity = $2, last_recent_sync_at = now(), last_error = NULL
		WHERE emfdid = $1`, folderID, int64(uidValidity))
	if err != nil {
		return fmt.Errorf("mark folder %d synced: %w", folderID, err)
	}
	return nil
}

// AdvanceLastUID raises the folder's highest stored UID to uid, once every
// message up to it is stored.
func (s *Store) AdvanceLastUID(ctx context.Context, folderID int64, uid uint32) error {
	_, err := s.pool.Exec(ctx, `UPDATE email_folders SET last_uid = GREATEST(last_uid, $2) WHERE emfdid = $1`,
		folderID, int64(uid))
	if err != nil {
		return fmt.Errorf("advance last uid of folder %d: %w", folderID, err)
	}
	return nil
}
