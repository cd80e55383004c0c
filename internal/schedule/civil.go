package schedule

import (
	"fmt"
	"math"
	"time"
)

// Civil (wall-clock) times are represented as time.Time values in UTC whose
// fields are the local date and clock reading. UTC has no transitions, so
// adding days or a duration to such a value is plain calendar arithmetic; the
// result becomes an instant only through resolve.

// civilOf returns the local wall-clock reading of t in loc as a civil time.
func civilOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	hh, mm, ss := l.Clock()
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// civilDate returns midnight of the civil date of c.
func civilDate(c time.Time) time.Time {
	y, m, d := c.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// resolve returns the first instant at which the wall clock in loc reads c
// or later. That single rule gives the package's DST behaviour:
//
//   - a reading that happens twice (the repeated hour when clocks fall back)
//     resolves to its first occurrence, the one in daylight time;
//   - a reading that never happens (the hour skipped when clocks spring
//     forward) resolves to the end of the gap, the moment of the transition;
//   - the mapping never goes backwards: a later reading never resolves to an
//     earlier instant, so windows cannot turn inside out.
//
// Go's time.Date does not do this: in a gap or an overlap its choice depends
// on the direction of the zone's offset from UTC.
func resolve(c time.Time, loc *time.Location) time.Time {
	naive := c.Unix()
	// Offsets from UTC stay within ±26h, so every instant whose local
	// reading is c, and every transition that could skip over c, lies in
	// [lo, hi].
	const span = 30 * 3600
	lo, hi := naive-span, naive+span
	best := int64(math.MaxInt64)
	u := lo
	for {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		// An instant in this zone period that reads exactly c.
		if cand := naive - int64(off); (start.IsZero() || cand >= start.Unix()) && (end.IsZero() || cand < end.Unix()) {
			best = min(best, cand)
		}
		// A transition into this period that jumps over c.
		if !start.IsZero() && start.Unix() > lo {
			ts := start.Unix()
			_, prev := time.Unix(ts-1, 0).In(loc).Zone()
			if ts+int64(prev) <= naive && naive < ts+int64(off) {
				best = min(best, ts)
			}
		}
		if end.IsZero() || end.Unix() > hi || end.Unix() <= u {
			break
		}
		u = end.Unix()
	}
	if best == math.MaxInt64 {
		// Unreachable for real zone data; stay total anyway.
		y, m, d := c.Date()
		hh, mm, ss := c.Clock()
		return time.Date(y, m, d, hh, mm, ss, 0, loc)
	}
	return time.Unix(best, 0).In(loc)
}

// parseClock parses a 24-hour "HH:MM" time of day into an offset from
// midnight.
func parseClock(s string) (time.Duration, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, fmt.Errorf("must be a time of day HH:MM (24-hour), got %q", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("must be a time of day between 00:00 and 23:59, got %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func formatClock(d time.Duration) string {
	d %= 24 * time.Hour
	if d < 0 {
		d += 24 * time.Hour
	}
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Dates in specs are limited to a range where calendar arithmetic and zone
// data are meaningful.
const (
	minYear = 1970
	maxYear = 2999
)

// parseDate parses an ISO 8601 calendar date "YYYY-MM-DD" into a civil
// midnight.
func parseDate(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("must be a date YYYY-MM-DD, got %q", s)
	}
	if d.Year() < minYear || d.Year() > maxYear {
		return time.Time{}, fmt.Errorf("year must be between %d and %d, got %q", minYear, maxYear, s)
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// loadZone resolves a window's time zone name. An empty name selects
// fallback (the site's zone), and a nil fallback means UTC.
func loadZone(name string, fallback *time.Location) (*time.Location, error) {
	if name == "" {
		if fallback == nil {
			return time.UTC, nil
		}
		return fallback, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("%q depends on the machine; use an IANA name such as \"Europe/Berlin\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}
