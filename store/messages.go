package store

import (
	"context"
	"fmt"
	"time"
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
