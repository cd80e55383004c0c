package policy

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"pgregory.net/rapid"
)

const day = 24 * time.Hour

func TestRunClock(t *testing.T) {
	a := epoch
	iv := func(from, to time.Duration) Interval { return Interval{From: a.Add(from), To: a.Add(to)} }
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		pauses   []Interval
		resolved time.Duration // 0: open
		verified bool
		now      time.Duration
		status   patch.SLAStatus
		due      time.Duration // from anchor
	}{
		{"fresh", 7 * day, nil, 0, false, time.Hour, patch.SLAOnTrack, 7 * day},
		{"due soon at 75 %", 4 * day, nil, 0, false, 3 * day, patch.SLADueSoon, 4 * day},
		{"just before due soon", 4 * day, nil, 0, false, 3*day - time.Minute, patch.SLAOnTrack, 4 * day},
		{"due soon at the due time", 24 * time.Hour, nil, 0, false, 24 * time.Hour, patch.SLADueSoon, 24 * time.Hour},
		{"breached just after", 24 * time.Hour, nil, 0, false, 24*time.Hour + time.Millisecond, patch.SLABreached, 24 * time.Hour},
		{"breached later", 24 * time.Hour, nil, 0, false, 3 * day, patch.SLABreached, 24 * time.Hour},
		{"met", 7 * day, nil, 6 * day, true, 10 * day, patch.SLAMet, 7 * day},
		{"met exactly at due", 7 * day, nil, 7 * day, true, 10 * day, patch.SLAMet, 7 * day},
		{"met late", 7 * day, nil, 8 * day, true, 10 * day, patch.SLAMetLate, 7 * day},
		{"superseded has no status", 7 * day, nil, 8 * day, false, 10 * day, "", 7 * day},
		// A 10-day exception from day 2 to day 12, now day 5: paused,
		// due projected to the exception's end plus the 5 days left.
		{"paused", 7 * day, []Interval{iv(2*day, 12*day)}, 0, false, 5 * day, patch.SLAPaused, 17 * day},
		// The same after it expired: the clock resumed on day 12 with 5
		// days left.
		{"resumed after expiry", 7 * day, []Interval{iv(2*day, 12*day)}, 0, false, 13 * day, patch.SLAOnTrack, 17 * day},
		{"resumed then breached", 7 * day, []Interval{iv(2*day, 12*day)}, 0, false, 17*day + time.Hour, patch.SLABreached, 17 * day},
		// Revoked after 3 days: only 3 days of pause.
		{"revoked early", 7 * day, []Interval{iv(2*day, 5*day)}, 0, false, 6 * day, patch.SLAOnTrack, 10 * day},
		// Overlapping exceptions count once.
		{"overlapping pauses", 7 * day, []Interval{iv(1*day, 4*day), iv(3*day, 6*day)}, 0, false, 7 * day, patch.SLAOnTrack, 12 * day},
		{"touching pauses", 7 * day, []Interval{iv(1*day, 3*day), iv(3*day, 6*day)}, 0, false, 7 * day, patch.SLAOnTrack, 12 * day},
		// A pause before the anchor does not count.
		{"pause before anchor", 7 * day, []Interval{iv(-5*day, -1*day)}, 0, false, time.Hour, patch.SLAOnTrack, 7 * day},
		// Excepted after breaching: the breach stays.
		{"excepted after breach, resumed", 1 * day, []Interval{iv(3*day, 5*day)}, 0, false, 6 * day, patch.SLABreached, 3 * day},
		// Met while paused (installed during the exception): met.
		{"resolved during a pause", 1 * day, []Interval{iv(12*time.Hour, 10*day)}, 5 * day, true, 20 * day, patch.SLAMet, 1*day + (5*day - 12*time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ClockInput{Anchor: a, Deadline: tc.deadline, Pauses: tc.pauses, Verified: tc.verified, Now: a.Add(tc.now), DueSoonPct: 25}
			if tc.resolved != 0 {
				in.Resolved = a.Add(tc.resolved)
			}
			c := RunClock(in)
			if c.Status != tc.status || !c.DueAt.Equal(a.Add(tc.due)) {
				t.Errorf("RunClock = %s due %v; want %s due %v", c.Status, c.DueAt.Sub(a), tc.status, tc.due)
			}
		})
	}
}

// genClock draws a clock input: an anchor, a deadline, a few exception
// periods around it and a time of evaluation.
func genClock(t *rapid.T) ClockInput {
	h := func(label string, lo, hi int) time.Duration {
		return time.Duration(rapid.IntRange(lo, hi).Draw(t, label)) * time.Hour
	}
	in := ClockInput{Anchor: epoch, Deadline: h("deadline", 1, 60*24), DueSoonPct: rapid.IntRange(1, 99).Draw(t, "pct")}
	for i := range rapid.IntRange(0, 4).Draw(t, "pauses") {
		_ = i
		from := epoch.Add(h("from", -30*24, 90*24))
		in.Pauses = append(in.Pauses, Interval{From: from, To: from.Add(h("len", 0, 60*24))})
	}
	in.Now = epoch.Add(h("now", 0, 200*24))
	return in
}

// Properties of SLA clocks on an injected clock.
func TestClockProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genClock(t)
		c := RunClock(in)
		// A pause never brings the due time forward.
		if c.DueAt.Before(in.Anchor.Add(in.Deadline)) {
			t.Fatalf("DueAt %v before anchor+deadline", c.DueAt)
		}
		// Without pauses the due time is exactly anchor + deadline.
		if len(in.Pauses) == 0 && !c.DueAt.Equal(in.Anchor.Add(in.Deadline)) {
			t.Fatalf("DueAt %v without pauses", c.DueAt)
		}
		// Paused exactly when an exception covers now (after the anchor).
		covered := false
		for _, p := range in.Pauses {
			if !in.Now.Before(p.From) && in.Now.Before(p.To) && !in.Now.Before(in.Anchor) {
				covered = true
			}
		}
		if covered != (c.Status == patch.SLAPaused) {
			t.Fatalf("covered %v but status %s", covered, c.Status)
		}
		// Breached exactly when not paused and now is past due.
		if c.Status != patch.SLAPaused && (c.Status == patch.SLABreached) != in.Now.After(c.DueAt) {
			t.Fatalf("status %s with now %v and due %v", c.Status, in.Now, c.DueAt)
		}
		// Time moving on without pauses never improves the status.
		later := in
		later.Now = in.Now.Add(time.Duration(rapid.IntRange(0, 1000).Draw(t, "later")) * time.Hour)
		if len(in.Pauses) == 0 && rank(RunClock(later).Status) < rank(c.Status) {
			t.Fatalf("status went from %s to %s as time passed", c.Status, RunClock(later).Status)
		}
		// Resolving with a verified install at now: met iff not breached
		// (a paused finding resolved now met its SLA if now <= anchor +
		// deadline + paused-so-far).
		res := in
		res.Resolved, res.Verified = in.Now, true
		rc := RunClock(res)
		if c.Status != patch.SLAPaused && (rc.Status == patch.SLAMet) != (c.Status != patch.SLABreached) {
			t.Fatalf("open status %s but resolved now gives %s", c.Status, rc.Status)
		}
	})
}

func rank(s patch.SLAStatus) int {
	switch s {
	case patch.SLAOnTrack:
		return 0
	case patch.SLADueSoon:
		return 1
	}
	return 2
}

// An exception's expiry puts its findings back under the SLA at once: at
// the hard expiry the finding is no longer paused, even if nothing marked
// the exception expired.
func TestExpiryReentersAtOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := epoch.Add(time.Duration(rapid.IntRange(0, 100).Draw(t, "start")) * time.Hour)
		x := &patch.Exception{State: patch.ExceptionActive, ApprovedAt: start,
			ExpiresAt: start.Add(time.Duration(rapid.IntRange(1, 2000).Draw(t, "len")) * time.Hour)}
		from, to, ok := x.Effect()
		if !ok || !from.Equal(start) || !to.Equal(x.ExpiresAt) {
			t.Fatalf("Effect = %v %v %v", from, to, ok)
		}
		if x.InEffect(x.ExpiresAt) || !x.InEffect(x.ExpiresAt.Add(-time.Millisecond)) {
			t.Fatalf("InEffect around expiry wrong")
		}
		in := ClockInput{Anchor: epoch, Deadline: 7 * day, Pauses: []Interval{{from, to}}, Now: x.ExpiresAt, DueSoonPct: 25}
		if s := RunClock(in).Status; s == patch.SLAPaused {
			t.Fatalf("status at expiry = %s", s)
		}
		// Advance marks it expired with the expiry as its end, and again is
		// a no-op.
		now := x.ExpiresAt.Add(time.Duration(rapid.IntRange(0, 100).Draw(t, "late")) * time.Minute)
		step, changed := Advance(x, now)
		if !changed || x.State != patch.ExceptionExpired || !x.EndedAt.Equal(x.ExpiresAt) || step.Alert == nil || step.Event != patch.EventExceptionExpired {
			t.Fatalf("Advance = %+v %v, exception %+v", step, changed, x)
		}
		if _, again := Advance(x, now.Add(time.Hour)); again {
			t.Fatal("Advance changed an expired exception")
		}
		if _, to2, _ := x.Effect(); !to2.Equal(to) {
			t.Fatalf("expiring moved the end of the effect from %v to %v", to, to2)
		}
	})
}
