package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// fillInbox appends n small messages over several connections.
func fillInbox(t *testing.T, mail testenv.Mail, address, password string, n int) {
	t.Helper()
	const conns = 4
	var wg sync.WaitGroup
	for c := range conns {
		client := mail.Dial(t, address, password)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conns {
				raw := fmt.Sprintf("From: sender%d@example.test\r\nTo: %s\r\nSubject: message %d\r\n"+
					"Message-ID: <crash-%d@example.test>\r\n\r\nbody of message %d\r\n", i%17, address, i, i, i)
				cmd := client.Append("INBOX", int64(len(raw)), nil)
				cmd.Write([]byte(raw))
				cmd.Close()
				if _, err := cmd.Wait(); err != nil {
					t.Errorf("APPEND message %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func TestKillDuringFirstSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a mailbox with thousands of messages")
	}
	mail := testenv.MailEnv(t)
	db := testenv.NewDB(t)
	bin := sharedReactor(t)

	address, password := mail.AddUser(t, "crash")
	acntid := db.InsertAccount(t, testenv.Account{
		Address: address, Password: password, IMAPAddr: mail.IMAPAddr, SMTPAddr: mail.SMTPAddr,
	})
	const total = 4000
	fillInbox(t, mail, address, password, total)

	env := append(os.Environ(),
		"REACTOR_DATABASE_URL="+db.URL,
		"REACTOR_DATABASE_SCHEMA="+db.Schema,
		"REACTOR_SYNC_BATCH_SIZE=50",
		"EMAIL_OUTBOX_ENABLED=false",
		"REACTOR_LOG_LEVEL=debug",
		// Tests run in parallel, so no fixed HTTP port.
		"REACTOR_HTTP_ADDR=",
	)
	stored := storedCounter(t, db, acntid)
	killDuringSync(t, bin, env, stored, total, killPlan{rounds: 6, maxStep: 600, minKills: 3, roundTimeout: 60 * time.Second})

	cmd := startReactor(t, bin, env)
	testenv.WaitFor(t, 120*time.Second, "all messages stored", func() bool { return stored() >= total })
	cmd.Process.Kill()
	cmd.Wait()

	checkStoredEqualsServer(t, db, mail, acntid, address, password)
}

// storedCounter returns a function that counts the account's stored
// messages.
func storedCounter(t *testing.T, db testenv.DB, acntid int64) func() int64 {
	return func() int64 {
		var n int64
		err := db.Store.Pool().QueryRow(context.Background(), `
			SELECT count(*) FROM email_messages m JOIN email_folders f USING (emfdid) WHERE f.acntid = $1`,
			acntid).Scan(&n)
		if err != nil {
			t.Fatalf("count stored messages: %v", err)
		}
		return n
	}
}

// killPlan sets how killDuringSync interrupts a first sync.
type killPlan struct {
	rounds       int
	maxStep      int
	minKills     int
	roundTimeout time.Duration
}

// killDuringSync starts the reactor and kills it with SIGKILL once it
// stored a random number, up to maxStep, of further messages, for up to
// rounds rounds, and fails unless at least minKills kills landed before
// the sync was complete.
func killDuringSync(t *testing.T, bin string, env []string, stored func() int64, total int64, plan killPlan) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(total)))
	kills := 0
	for round := 0; round < plan.rounds && stored() < total; round++ {
		target := stored() + int64(rng.IntN(plan.maxStep)+1)
		cmd := startReactor(t, bin, env)
		testenv.WaitFor(t, plan.roundTimeout, fmt.Sprintf("round %d: %d messages stored", round, target), func() bool {
			return stored() >= min(target, total)
		})
		if stored() < total {
			kills++
		}
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("round %d: killed with %d of %d messages stored", round, stored(), total)
	}
	if kills < plan.minKills {
		t.Fatalf("only %d kills landed mid-sync; the test proves nothing", kills)
	}
}

func startReactor(t *testing.T, bin string, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	logPath := filepath.Join(t.TempDir(), "reactor.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			// The last lines show why a round did not progress.
			if data, err := os.ReadFile(logPath); err == nil {
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				t.Logf("reactor log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
			}
		}
	})
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start reactor: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// checkStoredEqualsServer compares the stored UIDs with UID SEARCH ALL:
// the same set, no duplicate, no gap.
func checkStoredEqualsServer(t *testing.T, db testenv.DB, mail testenv.Mail, acntid int64, address, password string) {
	t.Helper()
	rows, err := db.Store.Pool().Query(context.Background(), `
		SELECT m.uid FROM email_messages m JOIN email_folders f USING (emfdid)
		WHERE f.acntid = $1 ORDER BY m.uid`, acntid)
	if err != nil {
		t.Fatalf("read stored uids: %v", err)
	}
	var storedUIDs []uint32
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			t.Fatalf("scan uid: %v", err)
		}
		storedUIDs = append(storedUIDs, uint32(uid))
	}

	c := mail.Dial(t, address, password)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select INBOX: %v", err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH ALL: %v", err)
	}
	serverUIDs := data.AllUIDs()
	sort.Slice(serverUIDs, func(i, j int) bool { return serverUIDs[i] < serverUIDs[j] })

	if len(storedUIDs) != len(serverUIDs) {
		t.Fatalf("stored %d messages, server has %d", len(storedUIDs), len(serverUIDs))
	}
	for i := range storedUIDs {
		if storedUIDs[i] != uint32(serverUIDs[i]) {
			t.Fatalf("stored uid #%d is %d, server's is %d", i, storedUIDs[i], serverUIDs[i])
		}
	}
}
