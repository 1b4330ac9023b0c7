package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/imapconn"
)

// maxRangesPerFetch bounds the UID set of one FETCH command, so its line
// stays far below the line length that servers accept (Dovecot: 64 KB).
const maxRangesPerFetch = 2000

// setOf returns the UIDs, which must be ascending, as a set of ranges.
func setOf(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, u := range uids {
		if n := len(set); n > 0 && uint32(set[n-1].Stop)+1 == u {
			set[n-1].Stop = imap.UID(u)
			continue
		}
		set = append(set, imap.UIDRange{Start: imap.UID(u), Stop: imap.UID(u)})
	}
	return set
}

// notStoredFrom returns the UIDs from first to "*" without the stored
// ones, which must be ascending and at or above first.
func notStoredFrom(first uint32, stored []uint32) imap.UIDSet {
	var set imap.UIDSet
	next := first
	for _, u := range stored {
		if u > next {
			set = append(set, imap.UIDRange{Start: imap.UID(next), Stop: imap.UID(u - 1)})
		}
		next = max(next, u+1)
	}
	return append(set, imap.UIDRange{Start: imap.UID(next), Stop: 0})
}

// difference compares the server's UIDs with the stored ones (ascending):
// missing are on the server only, gone are stored only.
func difference(server imap.UIDSet, stored []uint32) (missing imap.UIDSet, gone []uint32) {
	i := 0
	for _, r := range server {
		lo, hi := uint32(r.Start), uint32(r.Stop)
		for i < len(stored) && stored[i] < lo {
			gone = append(gone, stored[i])
			i++
		}
		next := lo
		for i < len(stored) && stored[i] <= hi {
			if stored[i] > next {
				missing = append(missing, imap.UIDRange{Start: imap.UID(next), Stop: imap.UID(stored[i] - 1)})
			}
			next = stored[i] + 1
			i++
		}
		if next <= hi {
			missing = append(missing, imap.UIDRange{Start: imap.UID(next), Stop: imap.UID(hi)})
		}
	}
	return missing, append(gone, stored[i:]...)
}

// countUIDs returns how many UIDs a set without "*" holds.
func countUIDs(set imap.UIDSet) int {
	n := 0
	for _, r := range set {
		n += int(r.Stop-r.Start) + 1
	}
	return n
}

// maxUID returns the highest UID of a set without "*", 0 for an empty set.
func maxUID(set imap.UIDSet) uint32 {
	if len(set) == 0 {
		return 0
	}
	return uint32(set[len(set)-1].Stop)
}

// chunks splits a set into sets of at most maxRangesPerFetch ranges.
func chunks(set imap.UIDSet) []imap.UIDSet {
	var out []imap.UIDSet
	for c := range slices.Chunk(set, maxRangesPerFetch) {
		out = append(out, c)
	}
	return out
}

// searchUIDs returns the UIDs of every message in the selected mailbox,
// as ascending ranges. With ESEARCH the server sends them as ranges too.
func searchUIDs(ctx context.Context, c *imapclient.Client) (imap.UIDSet, error) {
	var opts *imap.SearchOptions
	if c.Caps().Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	var data *imap.SearchData
	err := bound(ctx, c, func() error {
		var err error
		data, err = c.UIDSearch(&imap.SearchCriteria{}, opts).Wait()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH ALL: %w", err)
	}
	set, _ := data.All.(imap.UIDSet)
	return normalize(set)
}

// normalize sorts and merges the ranges of a server's set.
func normalize(set imap.UIDSet) (imap.UIDSet, error) {
	for i, r := range set {
		if r.Start == 0 || r.Stop == 0 {
			return nil, fmt.Errorf("server returned the dynamic UID set %s", set)
		}
		if r.Start > r.Stop {
			set[i] = imap.UIDRange{Start: r.Stop, Stop: r.Start}
		}
	}
	if slices.IsSortedFunc(set, func(a, b imap.UIDRange) int { return int(a.Start) - int(b.Start) }) {
		merged := true
		for i := 1; i < len(set); i++ {
			merged = merged && set[i-1].Stop < set[i].Start
		}
		if merged {
			return set, nil
		}
	}
	var out imap.UIDSet
	for _, r := range set {
		out.AddRange(r.Start, r.Stop)
	}
	return out, nil
}

// commandTimeout bounds a command that completes at once, such as SEARCH
// or LIST. A FETCH has its stall watchdog instead.
const commandTimeout = 2 * time.Minute

// bound runs fn, closing the connection when ctx ends or commandTimeout
// passes first.
func bound(ctx context.Context, c *imapclient.Client, fn func() error) error {
	return imapconn.Bound(ctx, c, commandTimeout, fn)
}
