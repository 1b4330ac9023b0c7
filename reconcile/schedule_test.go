package reconcile

import (
	"testing"
	"time"
)

func TestNightlyStartAcrossDST(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Skipf("time zone data missing: %v", err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, warsaw)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		return v
	}
	cases := []struct {
		name, clock, now, last, next string
	}{
		{"before start", "20:00", "2026-03-10 19:59", "2026-03-09 20:00", "2026-03-10 20:00"},
		{"at start", "20:00", "2026-03-10 20:00", "2026-03-10 20:00", "2026-03-11 20:00"},
		// Clocks go from 02:00 to 03:00 on 2026-03-29 in Warsaw.
		{"spring forward evening", "20:00", "2026-03-29 21:00", "2026-03-29 20:00", "2026-03-30 20:00"},
		{"spring forward gap", "02:30", "2026-03-29 12:00", "2026-03-29 03:30", "2026-03-30 02:30"},
		// Clocks go from 03:00 back to 02:00 on 2026-10-25.
		{"fall back evening", "20:00", "2026-10-25 21:00", "2026-10-25 20:00", "2026-10-26 20:00"},
		{"day after fall back", "20:00", "2026-10-26 08:00", "2026-10-25 20:00", "2026-10-26 20:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := at(c.now)
			last, err := NightlyStart(now, c.clock, warsaw)
			if err != nil {
				t.Fatalf("NightlyStart: %v", err)
			}
			if want := at(c.last); !last.Equal(want) {
				t.Errorf("NightlyStart(%s) = %s, want %s", c.now, last.In(warsaw), want)
			}
			next, err := NextNightlyStart(now, c.clock, warsaw)
			if err != nil {
				t.Fatalf("NextNightlyStart: %v", err)
			}
			if want := at(c.next); !next.Equal(want) {
				t.Errorf("NextNightlyStart(%s) = %s, want %s", c.now, next.In(warsaw), want)
			}
			if gap := next.Sub(last); gap < 23*time.Hour || gap > 25*time.Hour {
				t.Errorf("gap between starts %v, want 23 to 25 hours", gap)
			}
		})
	}
}
