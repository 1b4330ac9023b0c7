package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Mailbox is one selectable mailbox that the server listed.
type Mailbox struct {
	// Name is the mailbox name as go-imap decodes it, the key of the row.
	Name        string
	DisplayName string
	// SpecialUse is the RFC 6154 attribute, such as \Sent; empty if none.
	SpecialUse string
}

// FolderChanges names the folders that SyncFolders created, marked gone,
// or found back on the server.
type FolderChanges struct {
	Created, Gone, Returned []Folder
}

// SyncFolders makes the account's folder rows follow the server's list in
// one transaction. A new mailbox gets a row (INBOX high priority, others
// low). A listed one that was gone has gone_at cleared. A row whose
// mailbox is not listed gets gone_at, and no row is deleted. An existing
// row keeps its priority. With specialUse false the server does not report
// special use, and the stored values stay. It returns the rows that are
// not gone, INBOX first, then by name.
func (s *Store) SyncFolders(ctx context.Context, accountID int64, boxes []Mailbox, specialUse bool) (FolderChanges, []Folder, error) {
	var changes FolderChanges
	var folders []Folder
	var names, displays, uses []string
	for _, b := range boxes {
		if !slices.Contains(names, b.Name) {
			names, displays, uses = append(names, b.Name), append(displays, b.DisplayName), append(uses, b.SpecialUse)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		changes, err = upsertListed(ctx, tx, accountID, names, displays, uses, specialUse)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			UPDATE email_folders f SET gone_at = now()
			WHERE acntid = $1 AND gone_at IS NULL AND NOT (name = ANY($2))
			RETURNING `+folderColumns, accountID, names)
		if err != nil {
			return fmt.Errorf("mark folders gone: %w", err)
		}
		if changes.Gone, err = pgx.CollectRows(rows, scanFolder); err != nil {
			return fmt.Errorf("mark folders gone: %w", err)
		}
		rows, err = tx.Query(ctx, `
			SELECT `+folderColumns+` FROM email_folders f
			WHERE acntid = $1 AND gone_at IS NULL ORDER BY upper(name) <> 'INBOX', name`, accountID)
		if err != nil {
			return fmt.Errorf("list folders: %w", err)
		}
		if folders, err = pgx.CollectRows(rows, scanFolder); err != nil {
			return fmt.Errorf("list folders: %w", err)
		}
		return nil
	})
	if err != nil {
		return changes, nil, fmt.Errorf("sync folders of account %d: %w", accountID, err)
	}
	return changes, folders, nil
}

const folderColumns = `f.emfdid, f.acntid, f.name, f.priority, coalesce(f.uidvalidity, 0), f.last_uid`

func scanFolder(row pgx.CollectableRow) (Folder, error) {
	var f Folder
	var uidValidity, lastUID int64
	err := row.Scan(&f.ID, &f.AccountID, &f.Name, &f.Priority, &uidValidity, &lastUID)
	f.UIDValidity, f.LastUID = uint32(uidValidity), uint32(lastUID)
	return f, err
}

// upsertListed inserts or refreshes the rows of the listed mailboxes and
// reports which were new and which came back from gone.
func upsertListed(ctx context.Context, tx pgx.Tx, accountID int64, names, displays, uses []string,
	specialUse bool) (FolderChanges, error) {
	var changes FolderChanges
	// xmax is 0 in an inserted row and set in an updated one.
	rows, err := tx.Query(ctx, `
		WITH before AS (
			SELECT name, gone_at FROM email_folders WHERE acntid = $1 AND name = ANY($2)
		)
		INSERT INTO email_folders AS f (acntid, name, display_name, priority, special_use)
		SELECT $1, u.name, u.display, CASE WHEN upper(u.name) = 'INBOX' THEN 'high' ELSE 'low' END,
		       NULLIF(u.use, '')
		FROM unnest($2::text[], $3::text[], $4::text[]) AS u(name, display, use)
		ON CONFLICT (acntid, name) DO UPDATE
		SET display_name = EXCLUDED.display_name, gone_at = NULL,
		    special_use = CASE WHEN $5 THEN EXCLUDED.special_use ELSE f.special_use END
		RETURNING `+folderColumns+`, f.xmax = 0,
		    coalesce((SELECT gone_at IS NOT NULL FROM before WHERE before.name = f.name), false)`,
		accountID, names, displays, uses, specialUse)
	if err != nil {
		return changes, fmt.Errorf("record listed folders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f Folder
		var uidValidity, lastUID int64
		var inserted, wasGone bool
		if err := rows.Scan(&f.ID, &f.AccountID, &f.Name, &f.Priority, &uidValidity, &lastUID, &inserted, &wasGone); err != nil {
			return changes, fmt.Errorf("record listed folders: %w", err)
		}
		f.UIDValidity, f.LastUID = uint32(uidValidity), uint32(lastUID)
		switch {
		case inserted:
			changes.Created = append(changes.Created, f)
		case wasGone:
			changes.Returned = append(changes.Returned, f)
		}
	}
	if err := rows.Err(); err != nil {
		return changes, fmt.Errorf("record listed folders: %w", err)
	}
	return changes, nil
}
