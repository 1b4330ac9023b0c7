package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

func TestSyncCommandRecentAndFull(t *testing.T) {
	t.Parallel()
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	address, password := mail.AddUser(t, "synccmd")
	acntid := db.InsertAccount(t, testenv.Account{
		Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr,
	})
	c := mail.Dial(t, address, password)
	var uids []imap.UID
	for i := range 3 {
		uids = append(uids, mail.Append(t, c, "INBOX", []byte(fmt.Sprintf("Subject: cli %d\r\n\r\nbody\r\n", i))))
	}
	vars := map[string]string{"REACTOR_DATABASE_URL": db.URL, "REACTOR_DATABASE_SCHEMA": db.Schema}

	stdout, stderr, code := runIn(t, vars, "sync", "-account", fmt.Sprint(acntid))
	if code != 0 {
		t.Fatalf("reactor sync: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "ok   INBOX: 3 new messages") {
		t.Errorf("stdout %q, want INBOX with 3 new messages", stdout)
	}
	if !strings.Contains(stdout, "ok   Sent: 0 new messages") {
		t.Errorf("stdout %q, want the server's other folders synced too", stdout)
	}
	var stored int
	db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_messages m
		JOIN email_folders f USING (emfdid) WHERE f.acntid = $1`, acntid).Scan(&stored)
	if stored != 3 {
		t.Errorf("stored %d messages, want 3", stored)
	}

	// Another client flags one message; a full sync of INBOX records it.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select: %v", err)
	}
	store := c.Store(imap.UIDSetNum(uids[1]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil)
	if err := store.Close(); err != nil {
		t.Fatalf("STORE \\Flagged: %v", err)
	}
	stdout, stderr, code = runIn(t, vars, "sync", "-account", fmt.Sprint(acntid), "-folder", "INBOX", "-full")
	if code != 0 {
		t.Fatalf("reactor sync -full: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 flags updated") {
		t.Errorf("stdout %q, want 1 flags updated", stdout)
	}
	var flagged int
	db.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM email_messages m
		JOIN email_folders f USING (emfdid) WHERE f.acntid = $1 AND '\Flagged' = ANY (m.flags)`, acntid).Scan(&flagged)
	if flagged != 1 {
		t.Errorf("%d flagged rows, want 1", flagged)
	}
}

func TestSyncCommandNeedsAccount(t *testing.T) {
	t.Parallel()
	_, stderr, code := runIn(t, map[string]string{}, "sync")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr, "-account is required") {
		t.Errorf("stderr %q, want it to name the missing -account", stderr)
	}
}
