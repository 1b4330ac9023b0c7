package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// buildReactor compiles the reactor command into the test's temporary
// folder.
func buildReactor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reactor")
	out, err := exec.Command("go", "build", "-race", "-o", bin, "github.com/mailreactor/mailreactor/cmd/reactor").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startReactor(t *testing.T, bin string, env []string, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	t.Cleanup(func() { logFile.Close() })
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

// A reactor killed with SIGKILL while it sends a burst loses no row. Only
// rows that it held at the kill may go out twice, and those are flagged
// possible_duplicate.
func TestKillDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reactor and sends thousands of messages")
	}
	t.Parallel()
	db := testenv.NewDB(t)
	sink := newCountingSink(t)
	account := sinkAccount(t, db, sink.Addr)
	bin := buildReactor(t)
	const rows = 4000
	queueBurst(t, db, account, rows)

	ctx := context.Background()
	env := append(os.Environ(),
		"REACTOR_DATABASE_URL="+db.URL,
		"REACTOR_DATABASE_SCHEMA="+db.Schema,
		"EMAIL_BACKGROUND_SYNC_ENABLED=false",
		"REACTOR_OUTBOX_LEASE=2s",
		"REACTOR_HTTP_ADDR=",
		"REACTOR_LOG_LEVEL=info",
	)
	held := killRounds(t, db, sink, bin, env, rows)

	cmd := startReactor(t, bin, append(env, "REACTOR_INSTANCE_ID=crash-final"), "final")
	testenv.WaitFor(t, 2*time.Minute, "every row sent", func() bool {
		var sent int
		db.Store.Pool().QueryRow(ctx, "SELECT count(*) FROM email_outbox WHERE status = 'sent'").Scan(&sent)
		return sent == rows
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	checkBurst(t, db, sink, rows, held)
}

// killRounds starts the reactor three times and kills each with SIGKILL
// after a random number of further messages reached the sink. It returns
// the rows that a killed reactor held.
func killRounds(t *testing.T, db testenv.DB, sink *countingSink, bin string, env []string, rows int) map[int64]bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	held := map[int64]bool{}
	kills := 0
	for round := range 3 {
		_, before := sink.snapshot()
		target := min(before+rng.IntN(800)+100, rows)
		cmd := startReactor(t, bin, append(env, fmt.Sprintf("REACTOR_INSTANCE_ID=crash-%d", round)), fmt.Sprintf("round%d", round))
		testenv.WaitFor(t, 2*time.Minute, fmt.Sprintf("round %d: %d messages accepted", round, target), func() bool {
			_, total := sink.snapshot()
			return total >= target
		})
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		rowsHeld, err := db.Store.Pool().Query(context.Background(), "SELECT id FROM email_outbox WHERE status = 'sending'")
		if err != nil {
			t.Fatalf("read held rows: %v", err)
		}
		n := 0
		for rowsHeld.Next() {
			var id int64
			rowsHeld.Scan(&id)
			held[id] = true
			n++
		}
		rowsHeld.Close()
		if n > 0 {
			kills++
		}
		_, total := sink.snapshot()
		t.Logf("round %d: killed after %d messages accepted, holding %d rows", round, total, n)
	}
	if kills < 2 {
		t.Fatalf("only %d kills landed while rows were held; the test proves nothing", kills)
	}
	return held
}

// checkBurst checks that every row reached the sink, and that each one
// that came twice was held at a kill and is flagged.
func checkBurst(t *testing.T, db testenv.DB, sink *countingSink, rows int, held map[int64]bool) {
	t.Helper()
	flagged := map[int64]bool{}
	result, err := db.Store.Pool().Query(context.Background(), "SELECT id FROM email_outbox WHERE possible_duplicate")
	if err != nil {
		t.Fatalf("read flagged rows: %v", err)
	}
	for result.Next() {
		var id int64
		result.Scan(&id)
		flagged[id] = true
	}
	result.Close()

	counts, _ := sink.snapshot()
	duplicates := 0
	for id := int64(1); id <= int64(rows); id++ {
		switch n := counts[id]; {
		case n == 0:
			t.Errorf("row %d never reached the sink", id)
		case n > 1:
			duplicates++
			if !held[id] || !flagged[id] {
				t.Errorf("row %d sent %d times; held at a kill %v, flagged %v; want both", id, n, held[id], flagged[id])
			}
		}
	}
	t.Logf("%d rows held at kills, %d flagged, %d sent twice", len(held), len(flagged), duplicates)
}
