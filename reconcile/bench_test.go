package reconcile

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mailreactor/mailreactor/internal/mailgen"
	"github.com/mailreactor/mailreactor/internal/testenv"
)

// Each iteration of the first-sync benchmark syncs the whole mailbox into
// an empty store, so run it with -benchtime 1x (scripts/bench.sh does).
const (
	benchMessages = 10000
	benchSize     = 10 << 10
	benchSeed     = 2024
)

// benchMailbox is a Dovecot user whose INBOX holds the generated mailbox.
type benchMailbox struct {
	mail     testenv.Mail
	address  string
	password string
}

func newBenchMailbox(b *testing.B) benchMailbox {
	mb := benchMailbox{mail: testenv.MailEnv(b)}
	mb.address, mb.password = mb.mail.AddUser(b, "bench")
	g := mailgen.New(mailgen.Options{Seed: benchSeed, Size: benchSize})
	start := time.Now()
	mb.mail.FillMaildir(b, mb.address, mb.password, benchMessages, func(int) ([]byte, time.Time) {
		m := g.Next()
		return m.Raw, m.Date
	})
	b.Logf("filled INBOX of %s with %d messages of about %d bytes in %v",
		mb.address, benchMessages, benchSize, time.Since(start).Round(time.Millisecond))
	return mb
}

// peakHeap samples the Go heap until stop is called, and returns the
// highest HeapAlloc seen.
func peakHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapAlloc)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func BenchmarkFirstSync(b *testing.B) {
	mb := newBenchMailbox(b)
	b.Run("reactor", func(b *testing.B) { benchSyncInProcess(b, mb) })
	b.Run("reactor-process", func(b *testing.B) { benchReactorProcess(b, mb) })
	b.Run("mbsync-fsync", func(b *testing.B) { benchMbsync(b, mb, true) })
	b.Run("mbsync-nofsync", func(b *testing.B) { benchMbsync(b, mb, false) })
}

// benchSyncInProcess runs SyncRecent on the INBOX into an empty schema.
func benchSyncInProcess(b *testing.B, mb benchMailbox) {
	for range b.N {
		b.StopTimer()
		db := testenv.NewDB(b)
		acntid := db.InsertAccount(b, testenv.Account{
			Address: mb.address, Password: mb.password, IMAPAddr: mb.mail.IMAPAddr, SMTPAddr: mb.mail.SMTPAddr,
		})
		ctx := context.Background()
		folder, err := db.Store.EnsureFolder(ctx, acntid, "INBOX", "high")
		if err != nil {
			b.Fatalf("ensure folder: %v", err)
		}
		syncer := &Syncer{Store: db.Store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchSize: 200}
		c := mb.mail.Dial(b, mb.address, mb.password)
		runtime.GC()
		b.StartTimer()

		start := time.Now()
		stopHeap := peakHeap()
		sel := selectBox(b, c, "INBOX")
		_, stored, err := syncer.SyncRecent(ctx, c, folder, Selected{UIDValidity: sel.UIDValidity, NumMessages: sel.NumMessages})
		elapsed := time.Since(start)
		peak := stopHeap()
		if err != nil {
			b.Fatalf("first sync: %v", err)
		}
		if stored != benchMessages {
			b.Fatalf("stored %d messages, want %d", stored, benchMessages)
		}
		b.ReportMetric(float64(stored)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.Logf("reactor in process: %d messages in %v (%.0f/s), peak heap %.1f MB",
			stored, elapsed.Round(time.Millisecond), float64(stored)/elapsed.Seconds(), float64(peak)/(1<<20))
	}
}
