// Package store is the reactor's access to Postgres: accounts, folders,
// messages and the outbox, through one pgxpool.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	reactorsql "github.com/mailreactor/mailreactor/sql"
)

// ErrNotMigrated means the database lacks the reactor's tables or triggers.
var ErrNotMigrated = errors.New("database is not migrated: run `reactor migrate`")

// Store wraps the connection pool. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	config *pgxpool.Config
	schema string
}

// Open parses url (empty means libpq's PG* variables), connects and pings
// the database. When schema is set it goes first on every connection's
// search_path.
func Open(ctx context.Context, url, schema string) (*Store, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if schema != "" {
		config.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	if config.ConnConfig.RuntimeParams["application_name"] == "" {
		config.ConnConfig.RuntimeParams["application_name"] = "mailreactor"
	}

	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %w", describe(config.ConnConfig), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w (check REACTOR_DATABASE_URL and that the server is running)",
			describe(config.ConnConfig), err)
	}
	return &Store{pool: pool, config: config, schema: schema}, nil
}

// Describe names the database that url (empty means libpq's PG*
// variables and defaults) connects to, without the password.
func Describe(url string) (string, error) {
	config, err := pgx.ParseConfig(url)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	return describe(config), nil
}

// describe names the database for messages, without the password.
func describe(c *pgx.ConnConfig) string {
	database := c.Database
	if database == "" {
		// The server takes the user name as the database name.
		database = c.User
	}
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, database)
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool returns the underlying pool, for tests and tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ConnectListener opens a dedicated connection for LISTEN, with the same
// settings as the pool. The caller closes it.
func (s *Store) ConnectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect listener to %s: %w", describe(s.config.ConnConfig), err)
	}
	return conn, nil
}

// Migrate creates the schema (when one is configured), the tables and the
// triggers. It is safe to run again and concurrently: an advisory lock
// serializes migrations.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('mailreactor migrate'))"); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
		if s.schema != "" {
			ident := pgx.Identifier{s.schema}.Sanitize()
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
				return fmt.Errorf("create schema %s: %w", s.schema, err)
			}
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
				return fmt.Errorf("set search_path to %s: %w", s.schema, err)
			}
		}
		if _, err := tx.Exec(ctx, reactorsql.Schema); err != nil {
			return fmt.Errorf("apply schema.sql: %w", err)
		}
		if _, err := tx.Exec(ctx, reactorsql.Triggers); err != nil {
			return fmt.Errorf("apply triggers.sql: %w", err)
		}
		log.Info("database migrated", "version", reactorsql.Version, "schema", s.schema)
		return nil
	})
}

// CheckSchema returns ErrNotMigrated, wrapped with what is missing, unless
// the tables are at this build's version and the outbox trigger exists.
func (s *Store) CheckSchema(ctx context.Context) error {
	var version int
	err := s.pool.QueryRow(ctx, "SELECT max(version) FROM reactor_schema_version").Scan(&version)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("database %s: table reactor_schema_version not found: %w",
			describe(s.config.ConnConfig), ErrNotMigrated)
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version < reactorsql.Version {
		return fmt.Errorf("database %s: schema version %d is older than %d: %w",
			describe(s.config.ConnConfig), version, reactorsql.Version, ErrNotMigrated)
	}

	var triggers int
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FROM pg_trigger
		WHERE tgname = 'email_outbox_notify' AND tgrelid = 'email_outbox'::regclass`).Scan(&triggers)
	if err != nil {
		return fmt.Errorf("look up outbox trigger: %w", err)
	}
	if triggers == 0 {
		return fmt.Errorf("trigger email_outbox_notify not found: %w", ErrNotMigrated)
	}
	return nil
}
