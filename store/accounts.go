package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// Secret is a password. It prints and logs as a mask, so an account value
// in a log line or an error never shows it.
type Secret string

// String masks the secret.
func (Secret) String() string { return "********" }

// LogValue masks the secret in slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("********") }

// Security is how a connection is protected: "tls", "starttls" or "none".
type Security string

const (
	SecurityTLS      Security = "tls"
	SecurityStartTLS Security = "starttls"
	SecurityNone     Security = "none"
)

// Endpoint is one server of an account, IMAP or SMTP.
type Endpoint struct {
	Host     string
	Port     int
	Security Security
	Username string
	Password Secret
	// TLSVerify is false only when the account accepts any certificate.
	TLSVerify bool
}

// Addr returns host:port.
func (e Endpoint) Addr() string { return fmt.Sprintf("%s:%d", e.Host, e.Port) }

// Account is one row of email_accounts.
type Account struct {
	ID         int64
	UserID     *int64
	Address    string
	IMAP       Endpoint
	SMTP       Endpoint
	SentFolder *string
	// SentCopy is set when sent messages are appended to the Sent folder.
	SentCopy bool
	Enabled  bool
}

// Account status values written to email_accounts.status.
const (
	AccountOK         = "ok"
	AccountError      = "error"
	AccountAuthFailed = "auth_failed"
)

// ErrNotFound means the requested row does not exist.
var ErrNotFound = errors.New("not found")

const accountColumns = `acntid, usr_id, address,
	imap_host, imap_port, imap_security, imap_username, imap_password, imap_tls_verify,
	smtp_host, smtp_port, smtp_security, smtp_username, smtp_password, smtp_tls_verify,
	sent_folder, sent_copy, enabled`

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	err := row.Scan(&a.ID, &a.UserID, &a.Address,
		&a.IMAP.Host, &a.IMAP.Port, &a.IMAP.Security, &a.IMAP.Username, &a.IMAP.Password, &a.IMAP.TLSVerify,
		&a.SMTP.Host, &a.SMTP.Port, &a.SMTP.Security, &a.SMTP.Username, &a.SMTP.Password, &a.SMTP.TLSVerify,
		&a.SentFolder, &a.SentCopy, &a.Enabled)
	return a, err
}

// EnabledAccounts returns every enabled account, ordered by id.
func (s *Store) EnabledAccounts(ctx context.Context) ([]Account, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+accountColumns+" FROM email_accounts WHERE enabled ORDER BY acntid")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Account, error) { return scanAccount(row) })
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return accounts, nil
}

// Account returns one account by id, enabled or not.
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, "SELECT "+accountColumns+" FROM email_accounts WHERE acntid = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("read account %d: %w", id, err)
	}
	return a, nil
}

// SetAccountStatus records the reactor's view of an account. A nil cause
// clears the last error. It returns true when the status changed, so the
// caller can log once per change.
func (s *Store) SetAccountStatus(ctx context.Context, id int64, status string, cause error) (bool, error) {
	var message *string
	if cause != nil {
		m := cause.Error()
		message = &m
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE email_accounts
		SET status = $2, last_error = $3,
		    last_error_at = CASE WHEN $3::text IS NULL THEN last_error_at ELSE now() END
		WHERE acntid = $1 AND (status IS DISTINCT FROM $2 OR last_error IS DISTINCT FROM $3)`,
		id, status, message)
	if err != nil {
		return false, fmt.Errorf("update status of account %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}
