package store

import (
	"context"
	"fmt"
)

// Watcher states written to email_folders.watch_state. The column is free
// text, so a newer reactor may write others.
const (
	WatchConnecting = "connecting"
	WatchSyncing    = "syncing"
	WatchIdle       = "idle"
	WatchPolling    = "polling"
	WatchBackoff    = "backoff"
	WatchAuthFailed = "auth_failed"
	WatchStopped    = "stopped"
)

// SetWatchState records the state of the folder's watcher. watch_state_at
// changes only with the state, so it records when the current state began.
func (s *Store) SetWatchState(ctx context.Context, folderID int64, state string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE email_folders SET watch_state = $2, watch_state_at = now()
		WHERE emfdid = $1 AND watch_state IS DISTINCT FROM $2`, folderID, state)
	if err != nil {
		return fmt.Errorf("set watch state of folder %d to %s: %w", folderID, state, err)
	}
	return nil
}

// ReleaseClaims returns the outbox rows that owner claimed and did not
// finish to the queue, due at once, and returns how many. Only rows still
// in 'sending' with claimed_by = owner change, so a row that another
// reactor took over after a lease expired keeps its new claim. The status
// change fires the outbox trigger, so other reactors pick the rows up.
func (s *Store) ReleaseClaims(ctx context.Context, owner string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE email_outbox
		SET status = 'queued', claimed_by = NULL, lease_until = NULL, next_attempt_at = now()
		WHERE status = 'sending' AND claimed_by = $1`, owner)
	if err != nil {
		return 0, fmt.Errorf("release outbox claims of %s: %w", owner, err)
	}
	return tag.RowsAffected(), nil
}
