package idle

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// signals carries what the server announced, from go-imap's reader
// goroutine to the watcher's loop. The handlers only set flags and never
// issue a command, since a command there would deadlock the reader.
type signals struct {
	// exists is signalled by an EXISTS response: new mail.
	exists chan struct{}
	// changed is signalled by an EXPUNGE or an unsolicited FETCH (a flag
	// change): the folder needs a full sync.
	changed chan struct{}
	// announced is the time of the first EXISTS since the last sync, in
	// Unix nanoseconds, for the exists-to-stored latency.
	announced atomic.Int64
}

// takeAnnounced returns the time of the first EXISTS since the last call,
// or the zero time.
func (s *signals) takeAnnounced() time.Time {
	n := s.announced.Swap(0)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func newSignals() *signals {
	return &signals{exists: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *signals) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				s.announced.CompareAndSwap(0, time.Now().UnixNano())
				notify(s.exists)
			}
		},
		Expunge: func(uint32) { notify(s.changed) },
		Fetch: func(msg *imapclient.FetchMessageData) {
			// go-imap runs this on a goroutine of its own and waits for the
			// items to be read, so drain them all.
			echo := false
			for item := msg.Next(); item != nil; item = msg.Next() {
				if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
					echo = true
					if body.Literal != nil {
						io.Copy(io.Discard, body.Literal)
					}
				}
			}
			// "UID FETCH n:*" returns the last message even when its UID is
			// below n, and go-imap passes that response here because the
			// UID is outside the range. It carries the body that the sync
			// asked for; a flag change announced by the server does not.
			if !echo {
				notify(s.changed)
			}
		},
	}
}
