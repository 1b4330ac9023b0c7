package reconcile

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestDifference(t *testing.T) {
	cases := []struct {
		name    string
		server  string
		stored  []uint32
		missing string
		gone    []uint32
	}{
		{"equal", "1:5", []uint32{1, 2, 3, 4, 5}, "", nil},
		{"gaps", "1:10", []uint32{1, 4, 5, 10}, "2:3,6:9", nil},
		{"gone", "2,4", []uint32{1, 2, 3, 4, 9}, "", []uint32{1, 3, 9}},
		{"empty server", "", []uint32{1, 2}, "", []uint32{1, 2}},
		{"nothing stored", "3:4,8", nil, "3:4,8", nil},
		{"both", "1:3,7:9", []uint32{2, 5, 8, 12}, "1,3,7,9", []uint32{5, 12}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			server := parseSet(t, c.server)
			missing, gone := difference(server, c.stored)
			if missing.String() != c.missing {
				t.Errorf("missing = %q, want %q", missing.String(), c.missing)
			}
			if !slices.Equal(gone, c.gone) {
				t.Errorf("gone = %v, want %v", gone, c.gone)
			}
		})
	}
}

func TestNotStoredFrom(t *testing.T) {
	cases := []struct {
		first  uint32
		stored []uint32
		want   string
	}{
		{1, nil, "1:*"},
		{5, []uint32{5, 6, 7}, "8:*"},
		{5, []uint32{7, 8, 12}, "5:6,9:11,13:*"},
	}
	for _, c := range cases {
		if got := notStoredFrom(c.first, c.stored).String(); got != c.want {
			t.Errorf("notStoredFrom(%d, %v) = %q, want %q", c.first, c.stored, got, c.want)
		}
	}
}

func TestSetOf(t *testing.T) {
	if got := setOf([]uint32{1, 2, 3, 7, 9, 10}).String(); got != "1:3,7,9:10" {
		t.Errorf("setOf = %q", got)
	}
	if got := countUIDs(parseSet(t, "1:3,7,9:10")); got != 6 {
		t.Errorf("countUIDs = %d, want 6", got)
	}
}

func TestNormalize(t *testing.T) {
	set, err := normalize(imap.UIDSet{{Start: 9, Stop: 7}, {Start: 1, Stop: 2}, {Start: 3, Stop: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if set.String() != "1:3,7:9" {
		t.Errorf("normalize = %q, want 1:3,7:9", set.String())
	}
	if _, err := normalize(imap.UIDSet{{Start: 1, Stop: 0}}); err == nil {
		t.Error("normalize accepted a set with *")
	}
}

func TestAppendUID(t *testing.T) {
	var set imap.UIDSet
	for _, u := range []imap.UID{1, 2, 3, 5, 8, 9, 4} {
		set = appendUID(set, u)
	}
	if set.String() != "1:5,8:9" {
		t.Errorf("appendUID = %q, want 1:5,8:9", set.String())
	}
}

// A batch records its own highest UID only once every earlier batch has
// committed; one that commits early records what its predecessors allow.
func TestCommitOrder(t *testing.T) {
	o := newCommitOrder(10)
	if got := o.ceiling(1, 30); got != 10 {
		t.Errorf("batch 1 before batch 0: ceiling %d, want 10", got)
	}
	o.committed(1, 30)
	if got := o.ceiling(0, 20); got != 30 {
		t.Errorf("batch 0 after batch 1: ceiling %d, want 30", got)
	}
	o.committed(0, 20)
	if got := o.ceiling(2, 40); got != 40 {
		t.Errorf("batch 2 in order: ceiling %d, want 40", got)
	}
	if last, recorded := o.prefix(); last != 30 || recorded != 40 {
		t.Errorf("prefix = %d, %d, want 30, 40", last, recorded)
	}
}

// parseSet reads a set such as "1:3,7" without "*".
func parseSet(t *testing.T, s string) imap.UIDSet {
	t.Helper()
	var set imap.UIDSet
	if s == "" {
		return set
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(part, ":")
		if !found {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b, err2 := strconv.ParseUint(hi, 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("invalid set %q", s)
		}
		set = append(set, imap.UIDRange{Start: imap.UID(a), Stop: imap.UID(b)})
	}
	return set
}
