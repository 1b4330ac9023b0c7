package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// recreate deletes mailbox and creates it again, which gives it a new
// UIDVALIDITY, then appends msgs with their internal dates.
func recreate(t *testing.T, c *imapclient.Client, mailbox string, msgs [][]byte, dates []time.Time) {
	t.Helper()
	if err := c.Delete(mailbox).Wait(); err != nil {
		t.Fatalf("DELETE %s: %v", mailbox, err)
	}
	if err := c.Create(mailbox, nil).Wait(); err != nil {
		t.Fatalf("CREATE %s: %v", mailbox, err)
	}
	for i, raw := range msgs {
		appendAt(t, c, mailbox, raw, dates[i])
	}
}

// The same messages appended to a recreated folder keep their rows: one
// by the same internal date, the others by their Date header, a duplicate
// pair one to one. The rest is fetched, and old rows without a match are
// marked expunged.
func TestUIDValidityChange(t *testing.T) {
	for _, kind := range []string{"full", "recent"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "uidvalidity")
			c := f.dial(t)
			if err := c.Create("Projekty", nil).Wait(); err != nil {
				t.Fatalf("CREATE: %v", err)
			}
			day := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
			var msgs [][]byte
			var dates []time.Time
			for i := range 5 {
				msgs = append(msgs, plainMessage(i, "kept"))
				dates = append(dates, day.Add(time.Duration(i)*time.Hour))
			}
			// A duplicate of message 0 and a message that will be gone.
			msgs = append(msgs, msgs[0], plainMessage(9, "gone"))
			dates = append(dates, dates[0], day)
			for i := range msgs {
				appendAt(t, c, "Projekty", msgs[i], dates[i])
			}
			folder, _ := f.recentSync(t, c, f.folder(t, "Projekty"))
			before := map[string][]int64{}
			for _, r := range f.rows(t, folder.ID) {
				before[r.messageID] = append(before[r.messageID], r.emsgid)
			}
			oldUV := folder.UIDValidity

			other := f.dial(t)
			// Message 1 keeps its internal date; 0, its duplicate, 2 and 3
			// get new ones; 4 and the gone one are not appended again.
			newDates := []time.Time{day.AddDate(1, 0, 0), dates[1], day.AddDate(1, 0, 0), day.AddDate(1, 0, 0),
				day.AddDate(1, 0, 0)}
			again := [][]byte{msgs[0], msgs[1], msgs[2], msgs[3], msgs[0]}
			var fresh [][]byte
			for i := range 2 {
				fresh = append(fresh, plainMessage(i, "fresh"))
				newDates = append(newDates, time.Now())
			}
			recreate(t, other, "Projekty", append(again, fresh...), newDates)

			c = f.dial(t)
			var matched, fetched, expunged int
			if kind == "full" {
				var res FullResult
				folder, res = f.fullSync(t, c, folder)
				matched, fetched, expunged = res.Rematched, res.Fetched, res.Expunged
			} else {
				folder, fetched = f.recentSync(t, c, folder)
				matched, expunged = 5, 2 // checked on the rows below
			}
			if matched != 5 || fetched != 2 || expunged != 2 {
				t.Errorf("matched %d, fetched %d, expunged %d; want 5, 2, 2", matched, fetched, expunged)
			}
			if folder.UIDValidity == oldUV {
				t.Fatalf("UIDVALIDITY %d did not change", oldUV)
			}
			checkRematched(t, f, folder, oldUV, before)
			f.checkStoredEqualsServer(t, c, folder)
			want := fmt.Sprintf("old_uidvalidity=%d new_uidvalidity=%d matched=5 expunged=2 to_fetch=2", oldUV, folder.UIDValidity)
			if n := f.logs.Count(want); n != 1 {
				t.Errorf("%d warnings with %q, want 1", n, want)
			}
		})
	}
}

// checkRematched checks that the re-appended messages kept their emsgid
// under the new UIDVALIDITY and that the others are expunged.
func checkRematched(t *testing.T, f *fixture, folder store.Folder, oldUV uint32, before map[string][]int64) {
	t.Helper()
	live := map[string][]int64{}
	for _, r := range f.rows(t, folder.ID) {
		switch {
		case r.uidValidity == folder.UIDValidity && !r.expunged:
			live[r.messageID] = append(live[r.messageID], r.emsgid)
		case r.uidValidity == oldUV && r.expunged:
			if r.messageID != "kept-4@example.test" && r.messageID != "gone-9@example.test" {
				t.Errorf("old row %s marked expunged, want it matched", r.messageID)
			}
		default:
			t.Errorf("unexpected row %+v", r)
		}
	}
	for _, id := range []string{"kept-0@example.test", "kept-1@example.test", "kept-2@example.test", "kept-3@example.test"} {
		got, was := live[id], before[id]
		if len(got) != len(was) {
			t.Errorf("%s: %d live rows, want %d", id, len(got), len(was))
			continue
		}
		for i := range got {
			if got[i] != was[i] {
				t.Errorf("%s: emsgid %v, want %v kept (fetched again?)", id, got, was)
			}
		}
	}
	for _, id := range []string{"fresh-0@example.test", "fresh-1@example.test"} {
		if len(live[id]) != 1 {
			t.Errorf("%s: %d live rows, want 1", id, len(live[id]))
		}
	}
}

// The envelope's Message-ID goes through the same cleaning as the parsed
// one, so both sides of the match agree.
func TestServerMessage(t *testing.T) {
	date := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	m := serverMessage(&imapclient.FetchMessageBuffer{
		UID: 7, RFC822Size: 120, InternalDate: date,
		Flags:    []imap.Flag{imap.FlagSeen, flagRecent},
		Envelope: &imap.Envelope{MessageID: "a\x00b@example.test", Date: date},
	})
	if m.UID != 7 || m.Size != 120 || m.MessageID != "ab@example.test" || m.Date == nil || !m.Date.Equal(date) {
		t.Errorf("serverMessage = %+v", m)
	}
	if len(m.Flags) != 1 || m.Flags[0] != `\Seen` {
		t.Errorf("flags %v, want [\\Seen] without \\Recent", m.Flags)
	}
}

// A sync stopped right after the move, before it fetched what matched
// nothing, resumes with the next recent sync, which fetches only the
// unmatched messages (here below the matched ones).
func TestRematchResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "resume")
	c := f.dial(t)
	if err := c.Create("Archiwum", nil).Wait(); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	day := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	old := [][]byte{plainMessage(0, "old"), plainMessage(1, "old"), plainMessage(2, "old")}
	for _, raw := range old {
		appendAt(t, c, "Archiwum", raw, day)
	}
	folder, _ := f.recentSync(t, c, f.folder(t, "Archiwum"))
	before := f.rows(t, folder.ID)

	// The fresh messages come first, so they get the lowest new UIDs.
	again := [][]byte{plainMessage(0, "fresh"), plainMessage(1, "fresh"), old[0], old[1], old[2]}
	recreate(t, f.dial(t), "Archiwum", again, []time.Time{day, day, day, day, day})

	c = f.dial(t)
	sel := selectBox(t, c, "Archiwum")
	res, err := f.db.Store.Rematch(ctxT(t), folder.ID, folder.UIDValidity, sel.UIDValidity, serverMessages(ctxT(t), c))
	if err != nil {
		t.Fatalf("rematch: %v", err)
	}
	if !res.Done || res.Matched != 3 || res.LastUID != 0 || len(res.Unmatched) != 2 {
		t.Fatalf("rematch %+v, want 3 matched, UIDs 1 and 2 unmatched, last uid 0", res)
	}

	folder.UIDValidity, folder.LastUID = sel.UIDValidity, res.LastUID
	folder, n := f.recentSync(t, c, folder)
	if n != 2 {
		t.Errorf("stored %d, want the 2 unmatched", n)
	}
	f.checkStoredEqualsServer(t, c, folder)
	after := map[string]int64{}
	for _, r := range f.rows(t, folder.ID) {
		after[r.messageID] = r.emsgid
	}
	for _, r := range before {
		if after[r.messageID] != r.emsgid {
			t.Errorf("%s: emsgid %d, want %d kept", r.messageID, after[r.messageID], r.emsgid)
		}
	}
	if folder.LastUID != 5 {
		t.Errorf("last uid %d, want 5", folder.LastUID)
	}
}
