package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AccountStatus is the reactor's view of one account, for `reactor status`.
type AccountStatus struct {
	ID          int64
	Address     string
	Enabled     bool
	Status      string
	LastError   *string
	LastErrorAt *time.Time
}

// FolderStatus is the sync state of one folder, for `reactor status`.
type FolderStatus struct {
	ID             int64
	AccountID      int64
	Name           string
	WatchState     *string
	WatchStateAt   *time.Time
	LastRecentSync *time.Time
	LastFullSync   *time.Time
	LastError      *string
	LastErrorAt    *time.Time
	// Messages counts the stored messages that are not expunged.
	Messages int64
}

// OutboxSummary counts the outbox rows by status.
type OutboxSummary struct {
	Counts map[string]int64
	// OldestQueued is the age of the oldest queued row by the database's
	// clock, or zero when none is queued.
	OldestQueued time.Duration
}

// AccountStatuses returns every account, enabled or not, ordered by id.
func (s *Store) AccountStatuses(ctx context.Context) ([]AccountStatus, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT acntid, address, enabled, status, last_error, last_error_at
		FROM email_accounts ORDER BY acntid`)
	if err != nil {
		return nil, fmt.Errorf("read account statuses: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AccountStatus])
	if err != nil {
		return nil, fmt.Errorf("read account statuses: %w", err)
	}
	return list, nil
}

// FolderStatuses returns every folder with its stored message count,
// ordered by account and name.
func (s *Store) FolderStatuses(ctx context.Context) ([]FolderStatus, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT f.emfdid, f.acntid, f.name, f.watch_state, f.watch_state_at,
		       f.last_recent_sync_at, f.last_full_sync_at, f.last_error, f.last_error_at,
		       coalesce(m.n, 0)
		FROM email_folders f
		LEFT JOIN (
			SELECT emfdid, count(*) AS n FROM email_messages
			WHERE expunged_at IS NULL GROUP BY emfdid
		) m USING (emfdid)
		ORDER BY f.acntid, f.name`)
	if err != nil {
		return nil, fmt.Errorf("read folder statuses: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[FolderStatus])
	if err != nil {
		return nil, fmt.Errorf("read folder statuses: %w", err)
	}
	return list, nil
}

// OutboxStatus counts the outbox rows by status and measures the oldest
// queued one.
func (s *Store) OutboxStatus(ctx context.Context) (OutboxSummary, error) {
	sum := OutboxSummary{Counts: map[string]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM email_outbox GROUP BY status`)
	if err != nil {
		return sum, fmt.Errorf("count outbox rows: %w", err)
	}
	var status string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		sum.Counts[status] = n
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("count outbox rows: %w", err)
	}

	var seconds *float64
	err = s.pool.QueryRow(ctx, `
		SELECT extract(epoch FROM now() - min(created_at))::float8
		FROM email_outbox WHERE status = 'queued'`).Scan(&seconds)
	if err != nil {
		return sum, fmt.Errorf("find oldest queued outbox row: %w", err)
	}
	if seconds != nil {
		sum.OldestQueued = time.Duration(*seconds * float64(time.Second))
	}
	return sum, nil
}

// DatabaseNow returns the database server's clock, against which the
// times that the reactor wrote compare.
func (s *Store) DatabaseNow(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := s.pool.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return now, fmt.Errorf("read the database clock: %w", err)
	}
	return now, nil
}

// Gauges are the counts that the metrics endpoint reads at each scrape.
// The outbox counts use the partial index on queued and sending rows, so
// they stay cheap however many sent rows the table keeps.
type Gauges struct {
	Accounts       map[string]int
	OutboxQueued   int
	OutboxSending  int
	OldestDueSince time.Duration
}

// ReadGauges counts the enabled accounts by status and the queued and
// claimed outbox rows, and measures how long the oldest due row waits.
func (s *Store) ReadGauges(ctx context.Context) (Gauges, error) {
	g := Gauges{Accounts: map[string]int{}}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM email_accounts WHERE enabled GROUP BY status`)
	if err != nil {
		return g, fmt.Errorf("count accounts by status: %w", err)
	}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		g.Accounts[status] = n
		return nil
	})
	if err != nil {
		return g, fmt.Errorf("count accounts by status: %w", err)
	}

	var seconds float64
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'),
		       count(*) FILTER (WHERE status = 'sending'),
		       coalesce(extract(epoch FROM now() - min(next_attempt_at)
		                FILTER (WHERE status = 'queued' AND next_attempt_at <= now())), 0)::float8
		FROM email_outbox WHERE status IN ('queued', 'sending')`).Scan(&g.OutboxQueued, &g.OutboxSending, &seconds)
	if err != nil {
		return g, fmt.Errorf("count waiting outbox rows: %w", err)
	}
	g.OldestDueSince = time.Duration(seconds * float64(time.Second))
	return g, nil
}
