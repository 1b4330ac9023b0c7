package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DueSync is a folder whose fallback sweep is due.
type DueSync struct {
	AccountID int64
	FolderID  int64
	Name      string
	Full      bool
}

// ScheduleParams are the inputs of DueSyncs. Times are passed in rather
// than read from the database clock, so tests control them.
type ScheduleParams struct {
	Now time.Time
	// Intervals of high-priority folders, owner logged in (LI) or not.
	RecentLI, RecentNL, FullLI, FullNL time.Duration
	// PresenceWindow is how recently an owner must have been seen to
	// count as logged in.
	PresenceWindow time.Duration
	// NightlyStart is the latest start of the nightly sync of
	// low-priority folders; a low folder whose last full sync is older is
	// due.
	NightlyStart time.Time
}

// DueSyncs returns the folders of enabled accounts whose recent or full
// sweep is due, from the sync times stored per folder, so a restarted
// reactor keeps the rhythm. A folder never synced is due at once.
func (s *Store) DueSyncs(ctx context.Context, p ScheduleParams) ([]DueSync, error) {
	rows, err := s.pool.Query(ctx, `
		WITH folders AS (
			SELECT f.acntid, f.emfdid, f.name, f.priority, f.last_recent_sync_at, f.last_full_sync_at,
			       coalesce(pr.last_seen_at > $1::timestamptz - $6::interval, false) AS logged_in
			FROM email_folders f
			JOIN email_accounts a USING (acntid)
			LEFT JOIN email_presence pr ON pr.usr_id = a.usr_id
			WHERE a.enabled AND f.gone_at IS NULL
		)
		SELECT acntid, emfdid, name, false FROM folders
		WHERE priority = 'high' AND (last_recent_sync_at IS NULL OR last_recent_sync_at <=
			$1::timestamptz - CASE WHEN logged_in THEN $2::interval ELSE $3::interval END)
		UNION ALL
		SELECT acntid, emfdid, name, true FROM folders
		WHERE (priority = 'high' AND (last_full_sync_at IS NULL OR last_full_sync_at <=
			$1::timestamptz - CASE WHEN logged_in THEN $4::interval ELSE $5::interval END))
		   OR (priority = 'low' AND (last_full_sync_at IS NULL OR last_full_sync_at < $7::timestamptz))
		ORDER BY 1, 2`,
		p.Now, p.RecentLI, p.RecentNL, p.FullLI, p.FullNL, p.PresenceWindow, p.NightlyStart)
	if err != nil {
		return nil, fmt.Errorf("find due syncs: %w", err)
	}
	due, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DueSync])
	if err != nil {
		return nil, fmt.Errorf("find due syncs: %w", err)
	}
	return due, nil
}

// OwnerAccounts returns the ids of the enabled accounts of a user.
func (s *Store) OwnerAccounts(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, "SELECT acntid FROM email_accounts WHERE enabled AND usr_id = $1 ORDER BY acntid", userID)
	if err != nil {
		return nil, fmt.Errorf("list accounts of user %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list accounts of user %d: %w", userID, err)
	}
	return ids, nil
}

// AccountFolders returns the current folders of an account: all of them,
// or only the high-priority ones.
func (s *Store) AccountFolders(ctx context.Context, accountID int64, highOnly bool) ([]Folder, error) {
	folders, err := s.queryFolders(ctx, `
		SELECT emfdid, acntid, name, priority, coalesce(uidvalidity, 0), last_uid
		FROM email_folders
		WHERE acntid = $1 AND gone_at IS NULL AND (NOT $2 OR priority = 'high')
		ORDER BY emfdid`, accountID, highOnly)
	if err != nil {
		return nil, fmt.Errorf("list folders of account %d: %w", accountID, err)
	}
	return folders, nil
}
