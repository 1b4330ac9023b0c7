package outbox

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/store"
)

// Sender claims due outbox rows and sends them. Its fields are set once
// before the first Sweep; Sweep is safe for concurrent use.
type Sender struct {
	Store *store.Store
	Log   *slog.Logger
	// Owner names this reactor in claimed_by.
	Owner string
	// Lease is how long a claim holds before another sweep may take the
	// row again. A batch that runs past half of it renews it.
	Lease time.Duration
	// BatchSize is how many rows one sweep claims.
	BatchSize int
	// RetryMin and RetryMax bound the delay before the next attempt after
	// a temporary failure; MaxAge is when a row is given up. Sent copies
	// use the same schedule, counted by their own attempts.
	RetryMin, RetryMax, MaxAge time.Duration
	RootCAs                    *x509.CertPool
	// Timeouts bound the SMTP and IMAP waits.
	Timeouts Timeouts
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Stopping, when closed, stops a running sweep from starting more
	// sends: its remaining rows go back to the queue untried. The sweep's
	// own context stays alive, so the send on the wire finishes and its
	// outcome is recorded.
	Stopping <-chan struct{}
}

// errStopping is the reason recorded on rows that a sweep returned to the
// queue untried at shutdown.
var errStopping = errors.New("reactor shutting down")

func (s *Sender) stopping() bool {
	select {
	case <-s.Stopping:
		return true
	default:
		return false
	}
}

// Sweep claims one batch of due rows and sends them, reusing one SMTP
// connection for consecutive rows of an account, then appends the Sent
// copies that are due for a retry. It returns how many rows it claimed
// for sending; a full batch means more may be due.
func (s *Sender) Sweep(ctx context.Context) (int, error) {
	rows, err := s.Store.ClaimOutbox(ctx, s.Owner, s.Lease, s.BatchSize)
	if err != nil {
		return 0, err
	}
	claimedAt := time.Now()
	for _, group := range byAccount(rows) {
		s.sendAccount(ctx, group, claimedAt)
	}
	if err := s.retryCopies(ctx); err != nil {
		return len(rows), err
	}
	return len(rows), nil
}

// byAccount splits rows into runs of consecutive rows of one account.
func byAccount(rows []store.OutboxRow) [][]store.OutboxRow {
	var groups [][]store.OutboxRow
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].AccountID == rows[start].AccountID {
			end++
		}
		groups = append(groups, rows[start:end])
		start = end
	}
	return groups
}

// queued is a claimed row with its message, ready to send.
type queued struct {
	row store.OutboxRow
	msg outgoing
}

// sendAccount sends the rows of one account over one connection, then
// appends the Sent copies of those the server accepted.
func (s *Sender) sendAccount(ctx context.Context, rows []store.OutboxRow, claimedAt time.Time) {
	account, err := s.account(ctx, rows[0].AccountID)
	if err != nil {
		for _, row := range rows {
			s.finish(ctx, row, account, sendResult{}, err)
		}
		return
	}
	batch := s.prepareBatch(ctx, account, rows)
	if len(batch) == 0 {
		return
	}
	conn, err := dialSMTP(ctx, account.SMTP, s.RootCAs, s.Timeouts.withDefaults())
	if err != nil {
		err = &sessionError{err}
		for _, q := range batch {
			s.finish(ctx, q.row, account, sendResult{}, err)
		}
		return
	}
	var copies []sentCopy
	for i := 0; i < len(batch); i++ {
		if time.Since(claimedAt) > s.Lease/2 {
			batch = append(batch[:i], s.renewLeases(ctx, batch[i:])...)
			claimedAt = time.Now()
			if i == len(batch) {
				break
			}
		}
		if s.stopping() {
			for _, rest := range batch[i:] {
				s.finish(ctx, rest.row, account, sendResult{}, &notAttemptedError{errStopping})
			}
			break
		}
		q := batch[i]
		res, err := conn.send(account.Address, q.msg.prepared)
		if s.finish(ctx, q.row, account, res, err) {
			copies = append(copies, startedCopy(q.row, q.msg.copy))
		}
		if err == nil {
			metrics.OutboxSent(q.row.CreatedAt, q.row.Attempts)
			continue
		}
		if !isConnectionError(err) {
			err = conn.reset()
		}
		if err != nil {
			// The connection is gone; the remaining rows wait for the next
			// sweep on a new one, without counting this as their failure.
			for _, rest := range batch[i+1:] {
				s.finish(ctx, rest.row, account, sendResult{}, &notAttemptedError{err})
			}
			break
		}
	}
	conn.close()
	s.recordMessageIDs(ctx, batch)
	s.appendCopies(ctx, account, copies)
}

// account reads the account of a batch; a disabled or deleted account is
// a permanent error for its rows.
func (s *Sender) account(ctx context.Context, id int64) (store.Account, error) {
	account, err := s.Store.Account(ctx, id)
	if err == nil && !account.Enabled {
		return account, &permanentError{fmt.Errorf("account %d is disabled", account.ID)}
	}
	if errors.Is(err, store.ErrNotFound) {
		return account, &permanentError{err}
	}
	return account, err
}

// prepareBatch builds the message of every row and fails the rows whose
// message cannot be built. It returns the rows to send.
func (s *Sender) prepareBatch(ctx context.Context, account store.Account, rows []store.OutboxRow) []queued {
	attachments, err := s.attachments(ctx, rows)
	if err != nil {
		for _, row := range rows {
			s.finish(ctx, row, account, sendResult{}, &notAttemptedError{err})
		}
		return nil
	}
	var batch []queued
	for _, row := range rows {
		msg, err := buildMessage(row, account.Address, attachments[row.ID])
		if err != nil {
			s.finish(ctx, row, account, sendResult{}, &permanentError{err})
			continue
		}
		row.MessageID = msg.messageID
		batch = append(batch, queued{row: row, msg: msg})
	}
	return batch
}

// recordMessageIDs stores the Message-IDs that raw rows carry in their own
// header, where they differ from the row's message_id.
func (s *Sender) recordMessageIDs(ctx context.Context, batch []queued) {
	var ids []int64
	var messageIDs []string
	for _, q := range batch {
		if q.msg.recordID {
			ids = append(ids, q.row.ID)
			messageIDs = append(messageIDs, q.msg.messageID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := s.Store.RecordMessageIDs(context.WithoutCancel(ctx), ids, messageIDs); err != nil {
		s.Log.Warn("record Message-IDs of raw messages failed", "acntid", batch[0].row.AccountID, "err", err)
	}
}

func (s *Sender) attachments(ctx context.Context, rows []store.OutboxRow) (map[int64][]store.OutboxAttachment, error) {
	var ids []int64
	for _, row := range rows {
		if row.HasAttachment {
			ids = append(ids, row.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.Store.OutboxAttachments(ctx, ids)
}

// renewLeases extends the claim of rows and returns those still held.
func (s *Sender) renewLeases(ctx context.Context, rows []queued) []queued {
	claimed := make([]store.OutboxRow, len(rows))
	for i, q := range rows {
		claimed[i] = q.row
	}
	held, err := s.Store.ExtendOutboxLease(ctx, claimed, s.Lease)
	if err != nil {
		s.Log.Warn("renew outbox leases failed; sending on the current lease", "acntid", rows[0].row.AccountID, "err", err)
		return rows
	}
	kept := rows[:0]
	for _, q := range rows {
		if held[q.row.ID] {
			kept = append(kept, q)
		} else {
			s.logRow(q.row).Warn("outbox row changed by another worker before sending; not sent by this claim")
		}
	}
	return kept
}

func (s *Sender) logRow(row store.OutboxRow) *slog.Logger {
	return s.Log.With("outbox_id", row.ID, "acntid", row.AccountID)
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
