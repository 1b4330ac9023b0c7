package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// reactorTriggers lists the triggers of sql/triggers.sql, which tell the
// reactor of new outbox rows and changed accounts.
var reactorTriggers = []struct{ name, table string }{
	{"email_outbox_notify", "email_outbox"},
	{"email_accounts_notify", "email_accounts"},
}

// MissingTriggers returns the reactor's triggers that are absent or
// disabled, each with the reason.
func (s *Store) MissingTriggers(ctx context.Context) ([]string, error) {
	var missing []string
	for _, tr := range reactorTriggers {
		name, table := tr.name, tr.table
		var enabled *string
		err := s.pool.QueryRow(ctx, `
			SELECT tgenabled::text FROM pg_trigger
			WHERE tgname = $1 AND tgrelid = to_regclass($2)`, name, table).Scan(&enabled)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			missing = append(missing, fmt.Sprintf("%s on %s not found", name, table))
		case err != nil:
			return nil, fmt.Errorf("look up trigger %s: %w", name, err)
		case enabled != nil && *enabled == "D":
			missing = append(missing, fmt.Sprintf("%s on %s is disabled", name, table))
		}
	}
	return missing, nil
}

// InRecovery reports whether the database is a standby, where LISTEN
// fails and nothing can be written.
func (s *Store) InRecovery(ctx context.Context) (bool, error) {
	var recovery bool
	if err := s.pool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err != nil {
		return false, fmt.Errorf("query pg_is_in_recovery(): %w", err)
	}
	return recovery, nil
}

// ErrNotificationLost means a NOTIFY sent from one connection did not reach
// a LISTEN on another before the deadline. That is what a pooler in
// transaction mode, such as pgbouncer with pool_mode=transaction, does.
var ErrNotificationLost = errors.New("notification did not arrive")

// CheckListen proves that notifications reach the reactor: it LISTENs on a
// private channel on a listener connection, sends NOTIFY from the pool and
// waits for it until ctx ends.
func (s *Store) CheckListen(ctx context.Context) error {
	conn, err := s.ConnectListener(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	token := make([]byte, 8)
	rand.Read(token)
	channel := "mailreactor_check_" + hex.EncodeToString(token)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("LISTEN %s: %w", channel, err)
	}
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, channel); err != nil {
		return fmt.Errorf("NOTIFY %s: %w", channel, err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w within the deadline on channel %s", ErrNotificationLost, channel)
			}
			return fmt.Errorf("wait for NOTIFY %s: %w", channel, err)
		}
		if n.Channel == channel && n.Payload == channel {
			return nil
		}
	}
}

// NotificationQueueUsage returns pg_notification_queue_usage(): the share
// of the server's NOTIFY queue in use, from 0 to 1.
func (s *Store) NotificationQueueUsage(ctx context.Context) (float64, error) {
	var usage float64
	if err := s.pool.QueryRow(ctx, "SELECT pg_notification_queue_usage()").Scan(&usage); err != nil {
		return 0, fmt.Errorf("query pg_notification_queue_usage(): %w", err)
	}
	return usage, nil
}
