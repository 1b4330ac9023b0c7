package reconcile

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/internal/testenv"
	"github.com/mailreactor/mailreactor/store"
)

// fixture is one test's database, Dovecot user and syncer.
type fixture struct {
	mail     testenv.Mail
	db       testenv.DB
	address  string
	password string
	acntid   int64
	syncer   *Syncer
	logs     *testenv.Logs
}

func newFixture(t testing.TB, prefix string) *fixture {
	t.Helper()
	f := &fixture{mail: testenv.MailEnv(t), db: testenv.NewDB(t)}
	f.address, f.password = f.mail.AddUser(t, prefix)
	f.acntid = f.db.InsertAccount(t, testenv.Account{
		Address: f.address, Password: f.password, IMAPAddr: f.mail.IMAPAddr, SMTPAddr: f.mail.SMTPAddr,
	})
	log, logs := testenv.NewLogger(t)
	f.logs = logs
	f.syncer = &Syncer{Store: f.db.Store, Log: log, BatchSize: 50}
	return f
}

// dial returns a client of the fixture's user.
func (f *fixture) dial(t testing.TB) *imapclient.Client {
	t.Helper()
	return f.mail.Dial(t, f.address, f.password)
}

// selectBox selects mailbox with CONDSTORE, as the scheduler does.
func selectBox(t testing.TB, c *imapclient.Client, mailbox string) *imap.SelectData {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{CondStore: c.Caps().Has(imap.CapCondStore)}).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
	return sel
}

// folder returns the folder row of mailbox, creating it.
func (f *fixture) folder(t testing.TB, mailbox string) store.Folder {
	t.Helper()
	folder, err := f.db.Store.EnsureFolder(context.Background(), f.acntid, mailbox, "low")
	if err != nil {
		t.Fatalf("ensure folder %s: %v", mailbox, err)
	}
	return folder
}

// plainMessage returns a small message with a unique Message-ID.
func plainMessage(i int, tag string) []byte {
	return fmt.Appendf(nil, "From: sender%d@example.test\r\nTo: office@example.test\r\n"+
		"Subject: %s %d\r\nDate: Mon, 4 Mar 2024 08:%02d:00 +0100\r\n"+
		"Message-ID: <%s-%d@example.test>\r\n\r\nbody of message %d\r\n", i%7, tag, i, i%60, tag, i, i)
}

// storedRow is one row of email_messages as the tests check it.
type storedRow struct {
	emsgid      int64
	uidValidity uint32
	uid         uint32
	messageID   string
	flags       []string
	expunged    bool
}

// rows returns the folder's rows ordered by uidvalidity and uid.
func (f *fixture) rows(t testing.TB, folderID int64) []storedRow {
	t.Helper()
	rows, err := f.db.Store.Pool().Query(context.Background(), `
		SELECT emsgid, uidvalidity, uid, coalesce(message_id, ''), flags, expunged_at IS NOT NULL
		FROM email_messages WHERE emfdid = $1 ORDER BY uidvalidity, uid`, folderID)
	if err != nil {
		t.Fatalf("read stored rows: %v", err)
	}
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		var r storedRow
		var uv, uid int64
		if err := rows.Scan(&r.emsgid, &uv, &uid, &r.messageID, &r.flags, &r.expunged); err != nil {
			t.Fatalf("scan stored row: %v", err)
		}
		r.uidValidity, r.uid = uint32(uv), uint32(uid)
		slices.Sort(r.flags)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read stored rows: %v", err)
	}
	return out
}

// liveUIDs returns the UIDs of the folder's rows that are not expunged, of
// the given UIDVALIDITY.
func (f *fixture) liveUIDs(t testing.TB, folderID int64, uidValidity uint32) []uint32 {
	t.Helper()
	var uids []uint32
	for _, r := range f.rows(t, folderID) {
		if !r.expunged && r.uidValidity == uidValidity {
			uids = append(uids, r.uid)
		}
	}
	return uids
}

// serverUIDs returns UID SEARCH ALL of the selected mailbox.
func serverUIDs(t testing.TB, c *imapclient.Client) []uint32 {
	t.Helper()
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH ALL: %v", err)
	}
	var uids []uint32
	for _, u := range data.AllUIDs() {
		uids = append(uids, uint32(u))
	}
	slices.Sort(uids)
	return uids
}

// ctxT returns a context that ends with the test or after five minutes.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// appendAt appends raw to mailbox with the given internal date and returns
// its UID.
func appendAt(t testing.TB, c *imapclient.Client, mailbox string, raw []byte, date time.Time) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Time: date})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
	return data.UID
}

// storeFlags changes flags of the given UIDs in the selected mailbox.
func storeFlags(t testing.TB, c *imapclient.Client, op imap.StoreFlagsOp, flag imap.Flag, uids ...imap.UID) {
	t.Helper()
	set := imap.UIDSetNum(uids...)
	if err := c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close(); err != nil {
		t.Fatalf("STORE %s on %s: %v", flag, set, err)
	}
}

// expunge deletes the given UIDs from the selected mailbox.
func expunge(t testing.TB, c *imapclient.Client, uids ...imap.UID) {
	t.Helper()
	storeFlags(t, c, imap.StoreFlagsAdd, imap.FlagDeleted, uids...)
	if err := c.UIDExpunge(imap.UIDSetNum(uids...)).Close(); err != nil {
		t.Fatalf("UID EXPUNGE: %v", err)
	}
}

// fullSync selects mailbox on c and runs a full sync of folder.
func (f *fixture) fullSync(t testing.TB, c *imapclient.Client, folder store.Folder) (store.Folder, FullResult) {
	t.Helper()
	sel := selectBox(t, c, folder.Name)
	folder, res, err := f.syncer.SyncFull(ctxT(t), c, folder, sel)
	if err != nil {
		t.Fatalf("full sync of %s: %v", folder.Name, err)
	}
	return folder, res
}

// recentSync selects mailbox on c and runs a recent sync of folder.
func (f *fixture) recentSync(t testing.TB, c *imapclient.Client, folder store.Folder) (store.Folder, int) {
	t.Helper()
	sel := selectBox(t, c, folder.Name)
	folder, n, err := f.syncer.SyncRecent(ctxT(t), c, folder,
		Selected{UIDValidity: sel.UIDValidity, NumMessages: sel.NumMessages, UIDNext: sel.UIDNext})
	if err != nil {
		t.Fatalf("recent sync of %s: %v", folder.Name, err)
	}
	return folder, n
}

// checkStoredEqualsServer fails unless the live rows of the folder's
// UIDVALIDITY are exactly the server's UIDs.
func (f *fixture) checkStoredEqualsServer(t testing.TB, c *imapclient.Client, folder store.Folder) {
	t.Helper()
	sel := selectBox(t, c, folder.Name)
	stored := f.liveUIDs(t, folder.ID, sel.UIDValidity)
	server := serverUIDs(t, c)
	if !slices.Equal(stored, server) {
		t.Fatalf("stored UIDs %v, server has %v", stored, server)
	}
}
