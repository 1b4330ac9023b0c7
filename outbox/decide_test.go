package outbox

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailreactor/mailreactor/store"
)

var decideNow = time.Date(2024, 12, 3, 12, 0, 0, 0, time.UTC)

func newDecideSender() *Sender {
	return &Sender{
		RetryMin: time.Minute,
		RetryMax: time.Hour,
		MaxAge:   24 * time.Hour,
		Now:      func() time.Time { return decideNow },
	}
}

func smtpError(code int, message string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: message}
}

func outcomeName(o outcome) string {
	switch o {
	case outcomeSent:
		return "sent"
	case outcomeRetry:
		return "retry"
	case outcomeFailed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

func TestDecide(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name     string
		err      error
		attempts int
		age      time.Duration
		want     outcome
		// wantDelay is the retry delay before jitter. A retry is due
		// within 25% of it either way.
		wantDelay time.Duration
	}{
		{name: "Sent", err: nil, attempts: 1, age: time.Hour, want: outcomeSent},
		{name: "SentPastMaxAge", err: nil, attempts: 9, age: 48 * time.Hour, want: outcomeSent},
		{name: "Reply550", err: fmt.Errorf("MAIL FROM:<a@example.com>: %w", smtpError(550, "mailbox unavailable")), attempts: 1, age: time.Minute, want: outcomeFailed},
		{name: "Reply554", err: fmt.Errorf("after DATA: %w", smtpError(554, "transaction failed")), attempts: 1, age: time.Minute, want: outcomeFailed},
		{name: "Reply552", err: smtpError(552, "message too large"), attempts: 3, age: time.Minute, want: outcomeFailed},
		{name: "Reply421", err: smtpError(421, "closing"), attempts: 1, age: time.Minute, want: outcomeRetry, wantDelay: time.Minute},
		{name: "Reply451", err: fmt.Errorf("after DATA: %w", smtpError(451, "try later")), attempts: 2, age: time.Minute, want: outcomeRetry, wantDelay: 2 * time.Minute},
		{name: "Reply452", err: fmt.Errorf("RCPT TO:<b@example.com>: %w", smtpError(452, "too many recipients")), attempts: 3, age: time.Minute, want: outcomeRetry, wantDelay: 4 * time.Minute},
		{name: "Reply451Attempt6", err: smtpError(451, "try later"), attempts: 6, age: time.Hour, want: outcomeRetry, wantDelay: 32 * time.Minute},
		{name: "Reply451Capped", err: smtpError(451, "try later"), attempts: 7, age: time.Hour, want: outcomeRetry, wantDelay: time.Hour},
		{name: "Reply451ManyAttempts", err: smtpError(451, "try later"), attempts: 500, age: time.Hour, want: outcomeRetry, wantDelay: time.Hour},
		{name: "ConnectionRefused", err: fmt.Errorf("dial SMTP 127.0.0.1:25: %w", refused), attempts: 1, age: time.Minute, want: outcomeRetry, wantDelay: time.Minute},
		{name: "ConnectionLost", err: errors.New("write tcp 127.0.0.1:40000->127.0.0.1:25: broken pipe"), attempts: 4, age: time.Minute, want: outcomeRetry, wantDelay: 8 * time.Minute},
		{name: "AfterData", err: &afterDataError{errors.New("after DATA: EOF")}, attempts: 1, age: time.Minute, want: outcomeRetry, wantDelay: time.Minute},
		{name: "Reply451PastMaxAge", err: smtpError(451, "try later"), attempts: 40, age: 25 * time.Hour, want: outcomeFailed},
		{name: "NetworkAtMaxAge", err: refused, attempts: 40, age: 24 * time.Hour, want: outcomeFailed},
		{name: "NetworkJustBeforeMaxAge", err: refused, attempts: 40, age: 24*time.Hour - time.Second, want: outcomeRetry, wantDelay: time.Hour},
		{name: "Permanent", err: &permanentError{errors.New("raw is empty")}, attempts: 1, age: time.Minute, want: outcomeFailed},
		{name: "PermanentWrapping4xx", err: &permanentError{smtpError(451, "try later")}, attempts: 1, age: time.Minute, want: outcomeFailed},
		{name: "PermanentWrapped", err: fmt.Errorf("row 7: %w", &permanentError{errors.New("account 3 is disabled")}), attempts: 1, age: time.Minute, want: outcomeFailed},
		{name: "NotAttempted", err: &notAttemptedError{errors.New("EOF")}, attempts: 3, age: time.Minute, want: outcomeRetry},
		{name: "NotAttemptedPastMaxAge", err: &notAttemptedError{errors.New("EOF")}, attempts: 3, age: 48 * time.Hour, want: outcomeRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newDecideSender()
			row := store.OutboxRow{ID: 1, Attempts: tt.attempts, CreatedAt: decideNow.Add(-tt.age)}
			got, next := s.decide(row, tt.err)
			if got != tt.want {
				t.Fatalf("decide(%v): got %s, want %s", tt.err, outcomeName(got), outcomeName(tt.want))
			}
			switch {
			case got != outcomeRetry:
				if !next.IsZero() {
					t.Errorf("decide(%v): got next attempt %v for %s, want zero time", tt.err, next, outcomeName(got))
				}
			case tt.wantDelay == 0:
				if !next.Equal(decideNow) {
					t.Errorf("decide(%v): got next attempt %v, want now (%v)", tt.err, next, decideNow)
				}
			default:
				earliest := decideNow.Add(tt.wantDelay * 3 / 4)
				latest := decideNow.Add(tt.wantDelay * 5 / 4)
				if next.Before(earliest) || next.After(latest) {
					t.Errorf("decide(%v): got next attempt in %v, want %v to %v", tt.err, next.Sub(decideNow), tt.wantDelay*3/4, tt.wantDelay*5/4)
				}
			}
		})
	}
}

func TestRetryDelayBounds(t *testing.T) {
	t.Parallel()
	s := &Sender{RetryMin: 30 * time.Second, RetryMax: 2 * time.Hour}
	const samples = 500
	for _, attempts := range []int{0, 1, 2, 3, 5, 8, 9, 10, 20, 64, 1000, 1 << 30} {
		base := s.RetryMin
		for i := 1; i < attempts && base < s.RetryMax; i++ {
			base *= 2
		}
		base = min(base, s.RetryMax)
		lowest, highest := time.Duration(1<<62), time.Duration(0)
		for range samples {
			d := s.retryDelay(attempts)
			lowest, highest = min(lowest, d), max(highest, d)
		}
		if lowest < base*3/4 {
			t.Errorf("retryDelay(%d): got %v, want at least %v", attempts, lowest, base*3/4)
		}
		if highest > base*5/4 {
			t.Errorf("retryDelay(%d): got %v, want at most %v", attempts, highest, base*5/4)
		}
		// With 500 samples from a 50% wide range, a spread below a quarter
		// of the delay means the jitter is missing.
		if highest-lowest < base/4 {
			t.Errorf("retryDelay(%d): got delays from %v to %v, want jitter of about +-25%% around %v", attempts, lowest, highest, base)
		}
	}
}

func TestRetryDelayDoubles(t *testing.T) {
	t.Parallel()
	s := &Sender{RetryMin: time.Minute, RetryMax: time.Hour}
	want := []time.Duration{
		time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour,
	}
	for attempts, base := range want {
		d := s.retryDelay(attempts)
		if d < base*3/4 || d > base*5/4 {
			t.Errorf("retryDelay(%d): got %v, want %v +-25%%", attempts, d, base)
		}
	}
}
