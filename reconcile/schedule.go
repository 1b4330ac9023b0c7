package reconcile

import (
	"fmt"
	"time"
)

// Intervals are the fallback sweep intervals of high-priority folders,
// for owners logged in and not.
type Intervals struct {
	Recent, RecentNL time.Duration
	Full, FullNL     time.Duration
}

// NightlyStart returns the most recent start of the nightly sync at or
// before now: the day's clock time ("HH:MM") in loc. On a day when that
// time does not exist or exists twice, because of a DST change, it is the
// first instant at or after that wall-clock time.
func NightlyStart(now time.Time, clock string, loc *time.Location) (time.Time, error) {
	hour, minute, err := parseClock(clock)
	if err != nil {
		return time.Time{}, err
	}
	local := now.In(loc)
	start := dayAt(local.Year(), local.Month(), local.Day(), hour, minute, loc)
	if start.After(now) {
		previous := time.Date(local.Year(), local.Month(), local.Day()-1, 12, 0, 0, 0, loc)
		start = dayAt(previous.Year(), previous.Month(), previous.Day(), hour, minute, loc)
	}
	return start, nil
}

func parseClock(clock string) (hour, minute int, err error) {
	if _, err := fmt.Sscanf(clock, "%d:%d", &hour, &minute); err != nil {
		return 0, 0, fmt.Errorf("parse nightly start %q: %w", clock, err)
	}
	return hour, minute, nil
}

// dayAt returns hour:minute of the given day in loc. time.Date moves a
// time that a spring-forward gap skips to after the gap, and picks the
// first of the two instants of a fall-back hour.
func dayAt(year int, month time.Month, day, hour, minute int, loc *time.Location) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, loc)
}

// NextNightlyStart returns the first start of the nightly sync after now.
func NextNightlyStart(now time.Time, clock string, loc *time.Location) (time.Time, error) {
	last, err := NightlyStart(now, clock, loc)
	if err != nil {
		return time.Time{}, err
	}
	hour, minute, _ := parseClock(clock)
	// Noon of the next day is a safe anchor: no DST change moves it to
	// another date.
	local := last.In(loc)
	next := time.Date(local.Year(), local.Month(), local.Day()+1, 12, 0, 0, 0, loc)
	return dayAt(next.Year(), next.Month(), next.Day(), hour, minute, loc), nil
}
