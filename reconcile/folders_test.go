package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/store"
)

// folderRow is a row of email_folders as the folder tests check it.
type folderRow struct {
	id          int64
	display     string
	priority    string
	specialUse  string
	gone        bool
	messageRows int
}

func (f *fixture) folderRows(t *testing.T) map[string]folderRow {
	t.Helper()
	rows, err := f.db.Store.Pool().Query(context.Background(), `
		SELECT f.emfdid, f.name, coalesce(f.display_name, ''), f.priority, coalesce(f.special_use, ''),
		       f.gone_at IS NOT NULL, (SELECT count(*) FROM email_messages m WHERE m.emfdid = f.emfdid)
		FROM email_folders f WHERE f.acntid = $1`, f.acntid)
	if err != nil {
		t.Fatalf("read folder rows: %v", err)
	}
	defer rows.Close()
	out := map[string]folderRow{}
	for rows.Next() {
		var name string
		var r folderRow
		if err := rows.Scan(&r.id, &name, &r.display, &r.priority, &r.specialUse, &r.gone, &r.messageRows); err != nil {
			t.Fatalf("scan folder row: %v", err)
		}
		out[name] = r
	}
	return out
}

func (f *fixture) discover(t *testing.T, c *imapclient.Client) []store.Folder {
	t.Helper()
	folders, err := f.syncer.DiscoverFolders(ctxT(t), c, f.acntid)
	if err != nil {
		t.Fatalf("discover folders: %v", err)
	}
	return folders
}

func names(folders []store.Folder) []string {
	var out []string
	for _, f := range folders {
		out = append(out, f.Name)
	}
	return out
}

func TestDiscoverFolders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "folders")
	c := f.dial(t)
	for _, name := range []string{"Projekty/Budowa", "Zażółć gęślą"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	appendAt(t, c, "Zażółć gęślą", plainMessage(1, "folders"), time.Now())

	folders := f.discover(t, c)
	if len(folders) == 0 || folders[0].Name != "INBOX" {
		t.Fatalf("folders %v, want INBOX first", names(folders))
	}
	rows := f.folderRows(t)
	checks := []struct {
		name, display, priority, specialUse string
	}{
		{"INBOX", "INBOX", "high", ""},
		{"Sent", "Sent", "low", `\Sent`},
		{"Trash", "Trash", "low", `\Trash`},
		{"Projekty/Budowa", "Projekty/Budowa", "low", ""},
		{"Zażółć gęślą", "Zażółć gęślą", "low", ""},
	}
	for _, want := range checks {
		r, ok := rows[want.name]
		if !ok {
			t.Errorf("no row for %q; rows %v", want.name, rows)
			continue
		}
		if r.display != want.display || r.priority != want.priority || r.specialUse != want.specialUse || r.gone {
			t.Errorf("%q: %+v, want display %q, priority %s, special use %q, not gone",
				want.name, r, want.display, want.priority, want.specialUse)
		}
	}
	if r, ok := rows["Projekty"]; ok {
		t.Errorf("row for the \\Noselect parent Projekty: %+v", r)
	}

	// A row's priority set by the application stays.
	f.db.Exec(t, `UPDATE email_folders SET priority = 'high' WHERE acntid = $1 AND name = 'Projekty/Budowa'`, f.acntid)
	folder := f.folder(t, "Zażółć gęślą")
	f.recentSync(t, c, folder)
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
	if err := c.Delete("Zażółć gęślą").Wait(); err != nil {
		t.Fatalf("DELETE: %v", err)
	}

	folders = f.discover(t, c)
	for _, name := range names(folders) {
		if name == "Zażółć gęślą" {
			t.Errorf("deleted folder still listed: %v", names(folders))
		}
	}
	rows = f.folderRows(t)
	if r := rows["Zażółć gęślą"]; !r.gone || r.messageRows != 1 {
		t.Errorf("deleted folder: %+v, want gone with its 1 message kept", r)
	}
	if r := rows["Projekty/Budowa"]; r.priority != "high" {
		t.Errorf("Projekty/Budowa priority %s, want the row's high kept", r.priority)
	}

	if err := c.Create("Zażółć gęślą", nil).Wait(); err != nil {
		t.Fatalf("CREATE again: %v", err)
	}
	f.discover(t, c)
	rows = f.folderRows(t)
	if r := rows["Zażółć gęślą"]; r.gone || r.id != folder.ID {
		t.Errorf("recreated folder: %+v, want row %d back, not gone", r, folder.ID)
	}
	if n := f.logs.Count("marked gone"); n != 1 {
		t.Errorf("%d log lines about a folder marked gone, want 1", n)
	}
}

func TestDisplayName(t *testing.T) {
	cases := []struct {
		name  string
		delim rune
		want  string
	}{
		{"INBOX", '/', "INBOX"},
		{"Archiwum/2024", '/', "Archiwum/2024"},
		{"INBOX.Faktury.2024", '.', "INBOX/Faktury/2024"},
		{"Płatności", 0, "Płatności"},
	}
	for _, c := range cases {
		if got := displayName(c.name, c.delim); got != c.want {
			t.Errorf("displayName(%q, %q) = %q, want %q", c.name, c.delim, got, c.want)
		}
	}
}
