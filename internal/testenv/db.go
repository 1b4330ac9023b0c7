package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailreactor/mailreactor/store"
)

// DB is one test's private, migrated Postgres schema.
type DB struct {
	URL    string
	Schema string
	Store  *store.Store
}

// NewDB creates a schema of its own for the test, migrates it, and drops it
// when the test ends. It skips the test, or fails it under
// MAILREACTOR_TEST_REQUIRE=1, when MAILREACTOR_TEST_DATABASE_URL is unset.
func NewDB(t testing.TB) DB {
	t.Helper()
	url := lookupEnv(t, "MAILREACTOR_TEST_DATABASE_URL")
	suffix := make([]byte, 6)
	rand.Read(suffix)
	schema := "test_" + hex.EncodeToString(suffix)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, url, schema)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	if err := st.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		st.Close()
		t.Fatalf("migrate test schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		st.Close()
		dropSchema(t, url, schema)
	})
	return DB{URL: url, Schema: schema, Store: st}
}

func dropSchema(t testing.TB, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("drop test schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("drop test schema %s: %v", schema, err)
	}
}

// Exec runs SQL in the test's schema and fails the test on error.
func (db DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Store.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Account describes a row to insert into email_accounts.
type Account struct {
	Address  string
	Password string
	// SMTPUsername and SMTPPassword, when set, make the reactor log in
	// to the SMTP server.
	SMTPUsername string
	SMTPPassword string
	IMAPAddr     string // host:port
	SMTPAddr     string // host:port
	IMAPSec      store.Security
	SMTPSec      store.Security
}

// InsertAccount inserts an enabled account and returns its acntid. TLS
// certificates are verified; the tests trust the environment's CA.
func (db DB) InsertAccount(t testing.TB, a Account) int64 {
	t.Helper()
	if a.IMAPSec == "" {
		a.IMAPSec = store.SecurityNone
	}
	if a.SMTPSec == "" {
		a.SMTPSec = store.SecurityNone
	}
	imapHost, imapPort := splitAddr(t, a.IMAPAddr)
	smtpHost, smtpPort := splitAddr(t, a.SMTPAddr)
	var id int64
	err := db.Store.Pool().QueryRow(context.Background(), `
		INSERT INTO email_accounts (address, imap_host, imap_port, imap_security, imap_username, imap_password,
			smtp_host, smtp_port, smtp_security, smtp_username, smtp_password)
		VALUES ($1, $2, $3, $4, $1, $5, $6, $7, $8, $9, $10) RETURNING acntid`,
		a.Address, imapHost, imapPort, a.IMAPSec, a.Password, smtpHost, smtpPort, a.SMTPSec,
		a.SMTPUsername, a.SMTPPassword).Scan(&id)
	if err != nil {
		t.Fatalf("insert account %s: %v", a.Address, err)
	}
	return id
}

// WaitFor polls cond every 20 ms until it returns true, failing the test
// with what after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("invalid address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("invalid port in %q: %v", addr, err)
	}
	return host, n
}
