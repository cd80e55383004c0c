package policy

import (
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Interval is a half-open period [From, To).
type Interval struct {
	From, To time.Time
}

// Clock is the SLA clock of one finding.
type Clock struct {
	// Anchor is when the clock started.
	Anchor time.Time `json:"anchor"`
	// Deadline is the SLA cell's deadline.
	Deadline time.Duration `json:"-"`
	// Paused is how long exceptions have stopped the clock so far (until
	// now, or until the finding was resolved).
	Paused time.Duration `json:"-"`
	// DueAt is Anchor + Deadline + pauses. While a pause is in progress it
	// includes the rest of that pause to its scheduled end: the due time
	// if the exception runs to its hard expiry.
	DueAt  time.Time       `json:"due_at"`
	Status patch.SLAStatus `json:"status"`
}

// ClockInput is what an SLA clock is computed from.
type ClockInput struct {
	Anchor   time.Time
	Deadline time.Duration
	// Pauses are the periods exceptions covered the finding, in any order,
	// possibly overlapping.
	Pauses []Interval
	// Resolved is when the finding closed; zero while it is open.
	Resolved time.Time
	// Verified is true when it closed because a scan showed the update
	// installed (the only resolution that meets an SLA).
	Verified   bool
	Now        time.Time
	DueSoonPct int
}

// RunClock computes an SLA clock:
//
//   - the clock runs from Anchor, except while an exception pauses it;
//   - DueAt = Anchor + Deadline + paused time (with a pause in progress
//     counted to its scheduled end);
//   - an open finding is paused while covered, breached after DueAt,
//     due soon when at most DueSoonPct % of the deadline is left, else on
//     track;
//   - a verified finding met its SLA if it was verified at or before
//     DueAt, else met it late; superseded and retired findings handed their
//     clock on (or left scope) and have no status.
func RunClock(in ClockInput) Clock {
	end := in.Now
	if !in.Resolved.IsZero() {
		end = in.Resolved
	}
	merged := mergeIntervals(in.Pauses)
	var paused, ahead time.Duration
	covering := false
	for _, iv := range merged {
		from, to := maxTime(iv.From, in.Anchor), iv.To
		if !from.Before(to) {
			continue
		}
		// The part up to end has happened.
		if from.Before(end) {
			paused += minTime(to, end).Sub(from)
		}
		// A pause in progress at now runs on to its end.
		if in.Resolved.IsZero() && !in.Now.Before(from) && in.Now.Before(to) {
			covering = true
			ahead += to.Sub(in.Now)
		}
	}
	c := Clock{Anchor: in.Anchor, Deadline: in.Deadline, Paused: paused}
	c.DueAt = in.Anchor.Add(in.Deadline + paused + ahead)
	switch {
	case !in.Resolved.IsZero() && in.Verified:
		if in.Resolved.After(in.Anchor.Add(in.Deadline + paused)) {
			c.Status = patch.SLAMetLate
		} else {
			c.Status = patch.SLAMet
		}
	case !in.Resolved.IsZero():
		c.Status = ""
	case covering:
		c.Status = patch.SLAPaused
	case in.Now.After(c.DueAt):
		c.Status = patch.SLABreached
	case c.DueAt.Sub(in.Now) <= in.Deadline*time.Duration(in.DueSoonPct)/100:
		c.Status = patch.SLADueSoon
	default:
		c.Status = patch.SLAOnTrack
	}
	return c
}

// mergeIntervals returns the union of intervals as sorted, disjoint
// intervals; empty ones are dropped.
func mergeIntervals(ivs []Interval) []Interval {
	var xs []Interval
	for _, iv := range ivs {
		if iv.From.Before(iv.To) {
			xs = append(xs, iv)
		}
	}
	slices.SortFunc(xs, func(a, b Interval) int { return a.From.Compare(b.From) })
	var out []Interval
	for _, iv := range xs {
		if n := len(out); n > 0 && !iv.From.After(out[n-1].To) {
			out[n-1].To = maxTime(out[n-1].To, iv.To)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Anchor returns where a finding's clock starts under the policy: its SLA
// anchor (first seen, carried over supersedence) or, with the release
// anchor, the update's release date when it is known and earlier.
func Anchor(p *patch.Policy, f *patch.Finding, u *patch.Update) time.Time {
	a := f.SLAAnchor
	if a.IsZero() {
		a = f.FirstSeen
	}
	if p.SLA.Anchor == patch.AnchorRelease && u != nil && !u.ReleaseDate.IsZero() && u.ReleaseDate.Before(a) {
		a = u.ReleaseDate
	}
	return a
}
