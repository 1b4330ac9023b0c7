package main

import (
	"context"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// TestFillDovecot fills mailboxes of the Dovecot that scripts/testenv.sh
// runs, over IMAP and over IMAPS, and reads the messages back.
func TestFillDovecot(t *testing.T) {
	env := testenv.MailEnv(t)
	tests := []struct {
		name string
		tls  bool
		size int
	}{
		{"IMAP natural mix", false, 0},
		{"IMAPS 10 KB", true, 10 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, password := env.AddUser(t, "mailfill")
			cfg := config{
				addr: env.IMAPAddr, user: user, password: password, mailbox: "INBOX",
				count: 400, seed: 9, size: tt.size, parallel: 4, window: 32,
				progressEvery: time.Hour, stallAfter: time.Minute, greetTimeout: 10 * time.Second,
			}
			if tt.tls {
				cfg.addr, cfg.tls, cfg.caFile = env.IMAPSAddr, true, env.CAFile
			}
			start := time.Now()
			n, err := fill(context.Background(), cfg, &syncBuffer{})
			if err != nil || n != cfg.count {
				t.Fatalf("fill appended %d, err %v; want %d", n, err, cfg.count)
			}
			t.Logf("appended %d messages in %v", n, time.Since(start).Round(time.Millisecond))
			checkStored(t, inbox(t, env.Dial(t, user, password)), cfg)
		})
	}
}
