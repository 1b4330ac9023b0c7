package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Folder is the sync state of one row of email_folders.
type Folder struct {
	ID          int64
	AccountID   int64
	Name        string
	Priority    string
	UIDValidity uint32
	LastUID     uint32
}

// EnsureFolder returns the folder row for the mailbox name, creating it
// when missing. INBOX is always created with high priority; an existing
// row keeps its priority.
func (s *Store) EnsureFolder(ctx context.Context, accountID int64, name, priority string) (Folder, error) {
	if strings.EqualFold(name, "INBOX") {
		priority = "high"
	}
	f := Folder{AccountID: accountID, Name: name}
	var uidValidity *int64
	var lastUID int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO email_folders (acntid, name, display_name, priority)
		VALUES ($1, $2, $2, $3)
		ON CONFLICT (acntid, name) DO UPDATE SET name = EXCLUDED.name
		RETURNING emfdid, priority, uidvalidity, last_uid`,
		accountID, name, priority).Scan(&f.ID, &f.Priority, &uidValidity, &lastUID)
	if err != nil {
		return f, fmt.Errorf("ensure folder %q of account %d: %w", name, accountID, err)
	}
	if uidValidity != nil {
		f.UIDValidity = uint32(*uidValidity)
	}
	f.LastUID = uint32(lastUID)
	return f, nil
}

// SetFolderError records the last error of a folder; nil clears it.
func (s *Store) SetFolderError(ctx context.Context, folderID int64, cause error) error {
	var message *string
	if cause != nil {
		m := cause.Error()
		message = &m
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE email_folders
		SET last_error = $2,
		    last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE now() END
		WHERE emfdid = $1 AND last_error IS DISTINCT FROM $2`, folderID, message)
	if err != nil {
		return fmt.Errorf("update error of folder %d: %w", folderID, err)
	}
	return nil
}

// WatchCandidates returns the folders an account watches when connections
// allow: INBOX first, then the other current high-priority folders by id.
func (s *Store) WatchCandidates(ctx context.Context, accountID int64) ([]Folder, error) {
	folders, err := s.queryFolders(ctx, `
		SELECT emfdid, acntid, name, priority, coalesce(uidvalidity, 0), last_uid
		FROM email_folders
		WHERE acntid = $1 AND priority = 'high' AND gone_at IS NULL
		ORDER BY upper(name) <> 'INBOX', emfdid`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list high folders of account %d: %w", accountID, err)
	}
	return folders, nil
}

// queryFolders runs a query whose rows are emfdid, acntid, name,
// priority, uidvalidity and last_uid.
func (s *Store) queryFolders(ctx context.Context, sql string, args ...any) ([]Folder, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Folder, error) {
		var f Folder
		var uidValidity, lastUID int64
		err := row.Scan(&f.ID, &f.AccountID, &f.Name, &f.Priority, &uidValidity, &lastUID)
		f.UIDValidity, f.LastUID = uint32(uidValidity), uint32(lastUID)
		return f, err
	})
}
