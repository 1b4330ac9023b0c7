package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// fillInbox appends n small messages to INBOX and returns their UIDs.
func (f *fixture) fillInbox(t *testing.T, n int, tag string) []imap.UID {
	t.Helper()
	c := f.dial(t)
	uids := make([]imap.UID, n)
	for i := range n {
		uids[i] = f.mail.Append(t, c, "INBOX", plainMessage(i, tag))
	}
	return uids
}

// flagsOf returns the stored flags of uid in the folder.
func (f *fixture) flagsOf(t *testing.T, folderID int64, uid imap.UID) []string {
	t.Helper()
	for _, r := range f.rows(t, folderID) {
		if r.uid == uint32(uid) && !r.expunged {
			return r.flags
		}
	}
	t.Fatalf("no live row with uid %d", uid)
	return nil
}

func TestFullFlags(t *testing.T) {
	cases := []struct {
		name string
		// prepare runs before the second full sync.
		prepare   func(t *testing.T, f *fixture, folderID int64)
		condStore bool
	}{
		{"condstore", nil, true},
		{"ignored", func(t *testing.T, f *fixture, _ int64) { f.syncer.IgnoreCondStore = true }, false},
		{"no modseq", func(t *testing.T, f *fixture, id int64) {
			f.db.Exec(t, `UPDATE email_folders SET highest_modseq = NULL WHERE emfdid = $1`, id)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "flags")
			uids := f.fillInbox(t, 5, "flags")
			c := f.dial(t)
			folder, res := f.fullSync(t, c, f.folder(t, "INBOX"))
			if res.Fetched != 5 {
				t.Fatalf("first full sync fetched %d, want 5", res.Fetched)
			}

			other := f.dial(t)
			selectBox(t, other, "INBOX")
			storeFlags(t, other, imap.StoreFlagsAdd, imap.FlagFlagged, uids[1])
			storeFlags(t, other, imap.StoreFlagsAdd, imap.FlagSeen, uids[2], uids[3])
			if tc.prepare != nil {
				tc.prepare(t, f, folder.ID)
			}
			before := f.logs.Count("fetching the flags of every message")

			folder, res = f.fullSync(t, c, folder)
			if res.FlagsUpdated != 3 || res.Fetched != 0 || res.Expunged != 0 {
				t.Errorf("second full sync: %+v, want 3 flags updated and nothing else", res)
			}
			if got := f.flagsOf(t, folder.ID, uids[1]); !slices.Equal(got, []string{`\Flagged`}) {
				t.Errorf("flags of uid %d = %v, want [\\Flagged]", uids[1], got)
			}
			if got := f.flagsOf(t, folder.ID, uids[3]); !slices.Equal(got, []string{`\Seen`}) {
				t.Errorf("flags of uid %d = %v, want [\\Seen]", uids[3], got)
			}
			if got := f.flagsOf(t, folder.ID, uids[0]); len(got) != 0 {
				t.Errorf("flags of uid %d = %v, want none", uids[0], got)
			}
			allFlags := f.logs.Count("fetching the flags of every message") > before
			if allFlags == tc.condStore {
				t.Errorf("fetched every message's flags: %v, want %v", allFlags, !tc.condStore)
			}
			var modSeq int64
			f.db.Store.Pool().QueryRow(context.Background(),
				`SELECT coalesce(highest_modseq, 0) FROM email_folders WHERE emfdid = $1`, folder.ID).Scan(&modSeq)
			if modSeq == 0 {
				t.Error("highest_modseq not stored")
			}
		})
	}
}

func TestFullExpunge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "expunge")
	uids := f.fillInbox(t, 5, "expunge")
	c := f.dial(t)
	folder, _ := f.fullSync(t, c, f.folder(t, "INBOX"))

	other := f.dial(t)
	selectBox(t, other, "INBOX")
	expunge(t, other, uids[1], uids[3])

	folder, res := f.fullSync(t, c, folder)
	if res.Expunged != 2 {
		t.Errorf("expunged %d, want 2", res.Expunged)
	}
	rows := f.rows(t, folder.ID)
	if len(rows) != 5 {
		t.Fatalf("%d rows, want all 5 kept", len(rows))
	}
	for _, r := range rows {
		want := r.uid == uint32(uids[1]) || r.uid == uint32(uids[3])
		if r.expunged != want {
			t.Errorf("uid %d: expunged %v, want %v", r.uid, r.expunged, want)
		}
	}
	f.checkStoredEqualsServer(t, c, folder)

	// Nothing changed since: the next full sync changes nothing.
	if _, res := f.fullSync(t, c, folder); res.changed() {
		t.Errorf("third full sync changed %+v", res)
	}
}

func TestFullGaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "gaps")
	uids := f.fillInbox(t, 6, "gaps")
	c := f.dial(t)
	folder, _ := f.fullSync(t, c, f.folder(t, "INBOX"))
	f.db.Exec(t, `DELETE FROM email_messages WHERE emfdid = $1 AND uid = ANY($2)`,
		folder.ID, []int64{int64(uids[1]), int64(uids[2]), int64(uids[4])})
	f.fillInbox(t, 2, "later")

	folder, res := f.fullSync(t, c, folder)
	if res.Fetched != 5 {
		t.Errorf("fetched %d, want the 3 gaps and 2 new messages", res.Fetched)
	}
	f.checkStoredEqualsServer(t, c, folder)
	if want := uint32(uids[5]) + 2; folder.LastUID != want {
		t.Errorf("last uid %d, want %d", folder.LastUID, want)
	}
}

func TestLastUIDAboveNext(t *testing.T) {
	for _, kind := range []string{"full", "recent"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "uidnext")
			f.fillInbox(t, 3, "before")
			c := f.dial(t)
			folder, _ := f.fullSync(t, c, f.folder(t, "INBOX"))
			// A row the server never had, and a highest UID it never gave.
			f.db.Exec(t, `INSERT INTO email_messages (emfdid, uidvalidity, uid, raw, stored_at)
				VALUES ($1, $2, 900, '', now() - interval '1 hour')`, folder.ID, int64(folder.UIDValidity))
			f.db.Exec(t, `UPDATE email_folders SET last_uid = 1000 WHERE emfdid = $1`, folder.ID)
			folder.LastUID = 1000
			f.fillInbox(t, 2, "after")

			var fetched int
			if kind == "full" {
				var res FullResult
				folder, res = f.fullSync(t, c, folder)
				fetched = res.Fetched
			} else {
				folder, fetched = f.recentSync(t, c, folder)
			}
			if fetched != 2 {
				t.Errorf("fetched %d, want 2", fetched)
			}
			if n := f.logs.Count("last_uid=1000 uidnext=6"); n != 1 {
				t.Errorf("%d warnings naming last_uid=1000 and uidnext=6, want 1", n)
			}
			f.checkStoredEqualsServer(t, c, folder)
			if folder.LastUID != 5 {
				t.Errorf("last uid %d, want 5", folder.LastUID)
			}
			var lastUID int64
			f.db.Store.Pool().QueryRow(context.Background(),
				`SELECT last_uid FROM email_folders WHERE emfdid = $1`, folder.ID).Scan(&lastUID)
			if lastUID != 5 {
				t.Errorf("stored last_uid %d, want 5", lastUID)
			}
		})
	}
}

// A server that gives out a UID again (its UIDs went back without a new
// UIDVALIDITY) must get the new message stored, not skipped as a
// duplicate of the expunged row.
func TestReusedUID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "reused")
	c := f.dial(t)
	folder, _ := f.fullSync(t, c, f.folder(t, "INBOX"))
	f.db.Exec(t, `INSERT INTO email_messages (emfdid, uidvalidity, uid, raw, expunged_at)
		VALUES ($1, $2, 1, 'old', now())`, folder.ID, int64(folder.UIDValidity))
	f.fillInbox(t, 1, "reused")

	folder, n := f.recentSync(t, c, folder)
	if n != 1 {
		t.Fatalf("stored %d, want 1", n)
	}
	rows := f.rows(t, folder.ID)
	if len(rows) != 2 || rows[0].uid == 1 || !rows[0].expunged || rows[1].uid != 1 || rows[1].expunged {
		t.Errorf("rows %+v, want the old row detached and the new one at uid 1", rows)
	}
}

func TestFullEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "empty")
	c := f.dial(t)
	folder, res := f.fullSync(t, c, f.folder(t, "INBOX"))
	if res.changed() {
		t.Errorf("full sync of an empty mailbox changed %+v", res)
	}
	var at *time.Time
	f.db.Store.Pool().QueryRow(context.Background(),
		`SELECT last_full_sync_at FROM email_folders WHERE emfdid = $1`, folder.ID).Scan(&at)
	if at == nil {
		t.Error("last_full_sync_at not recorded")
	}
	if strings.Contains(f.logs.String(), "level=INFO") {
		t.Error("a sync that changed nothing logged at info level")
	}
}
