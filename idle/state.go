package idle

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/mailreactor/mailreactor/metrics"
	"github.com/mailreactor/mailreactor/store"
)

// stateRecorder publishes a watcher's state to the database, for
// `reactor status`, and to the metrics.
type stateRecorder struct {
	store    *store.Store
	log      *slog.Logger
	acntid   int64
	mailbox  string
	folderID atomic.Int64
}

func (r *stateRecorder) set(ctx context.Context, state string) {
	metrics.WatcherState(r.acntid, r.mailbox, state)
	id := r.folderID.Load()
	if id == 0 {
		return
	}
	if state == "" {
		state = store.WatchStopped
	}
	if err := r.store.SetWatchState(context.WithoutCancel(ctx), id, state); err != nil {
		r.log.Warn("record watcher state failed", "state", state, "err", err)
	}
}
