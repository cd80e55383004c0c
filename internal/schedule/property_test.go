package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
	"pgregory.net/rapid"
)

var propertyZones = []string{
	"America/New_York", "America/Chicago", "Europe/Berlin", "Australia/Lord_Howe",
	"Asia/Kolkata", "Pacific/Auckland", "America/St_Johns", "UTC",
}

var propEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// instantGen draws an instant between 2025 and 2029, often close to a DST
// transition of the zones above (all of which fall on Sundays around 01:00
// to 03:00 local time, in March/April and September–November).
func instantGen() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		return propEpoch.Add(time.Duration(rapid.Int64Range(0, 4*365*24*3600).Draw(t, "secs")) * time.Second)
	})
}

func clockGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		// Bias towards the small hours, where DST transitions happen.
		h := rapid.OneOf(rapid.IntRange(0, 4), rapid.IntRange(0, 23)).Draw(t, "hour")
		m := rapid.SampledFrom([]int{0, 15, 30, 45, 59}).Draw(t, "minute")
		return fmt.Sprintf("%02d:%02d", h, m)
	})
}

func dateGen() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		return propEpoch.AddDate(0, 0, rapid.IntRange(0, 4*365).Draw(t, "day"))
	})
}

func windowGen() *rapid.Generator[Window] {
	return rapid.Custom(func(t *rapid.T) Window {
		w := Window{
			Name:     "prop",
			TimeZone: rapid.SampledFrom(propertyZones).Draw(t, "zone"),
			Duration: (time.Duration(rapid.OneOf(rapid.IntRange(15, 6*60), rapid.IntRange(15, 7*24*60)).Draw(t, "minutes")) * time.Minute).String(),
		}
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			ds := rapid.SliceOfNDistinct(rapid.SampledFrom(days[:]), 1, 7, func(d Day) Day { return d }).Draw(t, "days")
			w.Weekly = &Weekly{Days: ds, Start: clockGen().Draw(t, "start")}
		case 1:
			w.MonthlyWeekday = &MonthlyWeekday{
				Week:       rapid.SampledFrom([]int{1, 2, 3, 4, -1}).Draw(t, "week"),
				Day:        rapid.SampledFrom(days[:]).Draw(t, "day"),
				OffsetDays: rapid.IntRange(-28, 28).Draw(t, "offset"),
				Start:      clockGen().Draw(t, "start"),
			}
		case 2:
			w.MonthlyDay = &MonthlyDay{Day: rapid.IntRange(1, 31).Draw(t, "mday"), Start: clockGen().Draw(t, "start")}
		case 3:
			rule := rapid.SampledFrom([]string{
				"FREQ=DAILY", "FREQ=WEEKLY;BYDAY=SA,SU", "FREQ=WEEKLY;INTERVAL=2",
				"FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYMONTHDAY=31",
				"FREQ=DAILY;BYHOUR=1,2,3", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
			}).Draw(t, "rule")
			start := dateGen().Draw(t, "dtstart")
			clock, _ := parseClock(clockGen().Draw(t, "start"))
			w.RRule = "DTSTART:" + start.Add(clock).Format("20060102T150405") + "\nRRULE:" + rule
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "blackouts") {
			from := dateGen().Draw(t, fmt.Sprintf("blackout%d", i))
			to := from.AddDate(0, 0, rapid.IntRange(0, 40).Draw(t, fmt.Sprintf("blackoutLen%d", i)))
			w.Blackouts = append(w.Blackouts, Blackout{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)})
		}
		if rapid.Bool().Draw(t, "hasFrom") {
			w.EffectiveFrom = dateGen().Draw(t, "from").Format(time.DateOnly)
		}
		if rapid.Bool().Draw(t, "hasUntil") {
			until := dateGen().Draw(t, "until")
			if f, err := parseDate(w.EffectiveFrom); err == nil && until.Before(f) {
				until = f
			}
			w.EffectiveUntil = until.Format(time.DateOnly)
		}
		return w
	})
}

func mustCalendar(t *rapid.T, w Window) (*Calendar, *compiled) {
	cal, err := NewCalendar(nil, w)
	if err != nil {
		t.Fatalf("generated window %+v is invalid: %v", w, err)
	}
	return cal, cal.windows[0]
}

func TestProperty_Next(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := windowGen().Draw(t, "window")
		cal, _ := mustCalendar(t, w)
		after := instantGen().Draw(t, "after")
		o, ok := cal.Next(after)
		if !ok {
			return
		}
		if !o.End.After(after) {
			t.Fatalf("Next(%s) = %s, which does not end after %s", after, fmtOcc(o), after)
		}
		if !o.End.After(o.Start) {
			t.Fatalf("Next(%s) = %s, which is not positive", after, fmtOcc(o))
		}
		// The same block is found from a different starting point, unless
		// the windows cover weeks on end and blocks are cut at maxBlock
		// (where the cut depends on where the search began).
		if !continuous(cal, after) {
			for _, b := range cal.Occurrences(after.Add(-3*24*time.Hour), after.Add(time.Hour)) {
				if b.End.After(after) {
					if !sameOcc(b, o) {
						t.Fatalf("Occurrences around %s give %s, Next gives %s", after, fmtOcc(b), fmtOcc(o))
					}
					break
				}
			}
		}
	})
}

// continuous reports whether the calendar's blocks near t are cut at
// maxBlock.
func continuous(cal *Calendar, t time.Time) bool {
	os := cal.Occurrences(t.Add(-2*maxBlock), t.Add(2*maxBlock))
	for i, o := range os {
		if o.Duration() >= maxBlock || i > 0 && o.Start.Equal(os[i-1].End) {
			return true
		}
	}
	return false
}

func TestProperty_Occurrences(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := windowGen().Draw(t, "window")
		cal, c := mustCalendar(t, w)
		dur, _ := time.ParseDuration(w.Duration)
		from := instantGen().Draw(t, "from")
		to := from.Add(time.Duration(rapid.IntRange(1, 120).Draw(t, "days")) * 24 * time.Hour)
		os := cal.Occurrences(from, to)
		for i, o := range os {
			if !o.End.After(o.Start) {
				t.Fatalf("occurrence %d %s is not positive", i, fmtOcc(o))
			}
			if !o.End.After(from) || !o.Start.Before(to) {
				t.Fatalf("occurrence %d %s is outside [%s, %s)", i, fmtOcc(o), from, to)
			}
			continuation := i > 0 && o.Start.Equal(os[i-1].End)
			if i > 0 && !continuation && !o.Start.After(os[i-1].End) {
				t.Fatalf("occurrences %d and %d overlap or are unsorted: %s, %s", i-1, i, fmtOcc(os[i-1]), fmtOcc(o))
			}
			if continuation {
				continue // a block cut at maxBlock; its start is not an occurrence start
			}
			if floor := max(dur-time.Hour, MinDuration); o.Duration() < floor {
				t.Fatalf("occurrence %d %s is shorter than %s (duration %s)", i, fmtOcc(o), floor, dur)
			}
			if d := civilDate(civilOf(o.Start, c.loc)); c.skipped(d.Add(12 * time.Hour)) {
				t.Fatalf("occurrence %d %s starts on %s, inside a blackout or outside the effective dates of %+v",
					i, fmtOcc(o), d.Format(time.DateOnly), w)
			}
			if o.Start.Location() != c.loc {
				t.Fatalf("occurrence %d start is in %s, want %s", i, o.Start.Location(), c.loc)
			}
		}
	})
}

func TestProperty_Contains(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := windowGen().Draw(t, "window")
		cal, _ := mustCalendar(t, w)
		at := instantGen().Draw(t, "t")
		got := cal.Contains(at)
		o, ok := cal.Next(at)
		if want := ok && !o.Start.After(at); got != want {
			t.Fatalf("Contains(%s) = %v, but Next(%s) = %s, %v", at, got, at, fmtOcc(o), ok)
		}
		// Membership agrees with an occurrence list computed from elsewhere.
		in := false
		for _, b := range cal.Occurrences(at.Add(-10*24*time.Hour), at.Add(10*24*time.Hour)) {
			in = in || b.Contains(at)
		}
		if in != got {
			t.Fatalf("Contains(%s) = %v, but the occurrences around it say %v", at, got, in)
		}
		// A job that fits at t ends inside the block.
		need := time.Duration(rapid.IntRange(0, 600).Draw(t, "need")) * time.Minute
		if cal.Fits(at, need) && (!ok || at.Add(need).After(o.End) || !got) {
			t.Fatalf("Fits(%s, %s) = true, block %s", at, need, fmtOcc(o))
		}
		if s, b, ok := cal.NextFit(at, need); ok && (s.Before(at) || !b.Contains(s) || s.Add(need).After(b.End)) {
			t.Fatalf("NextFit(%s, %s) = %s in %s", at, need, s, fmtOcc(b))
		}
	})
}

func TestProperty_Resolve(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.SampledFrom(propertyZones).Draw(t, "zone")
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("load zone %s: %v", name, err)
		}
		base := civilOf(instantGen().Draw(t, "base"), time.UTC)
		c1 := base.Add(time.Duration(rapid.IntRange(0, 180).Draw(t, "m1")) * time.Minute)
		c2 := c1.Add(time.Duration(rapid.IntRange(0, 180).Draw(t, "m2")) * time.Minute)
		r1, r2 := resolve(c1, loc), resolve(c2, loc)
		if r2.Before(r1) {
			t.Fatalf("resolve not monotonic: %s → %s but %s → %s", c1, r1, c2, r2)
		}
		// r1 is the first instant whose reading is c1 or later.
		if civilOf(r1, loc).Before(c1) {
			t.Fatalf("resolve(%s) = %s reads %s, earlier than asked", c1, r1, civilOf(r1, loc))
		}
		if !civilOf(r1.Add(-time.Second), loc).Before(c1) {
			t.Fatalf("resolve(%s) = %s, but a second earlier already reads %s", c1, r1, civilOf(r1.Add(-time.Second), loc))
		}
	})
}

func TestProperty_SlotNext(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := Slot{
			Day:      rapid.SampledFrom(days[:]).Draw(t, "day"),
			At:       clockGen().Draw(t, "at"),
			TimeZone: rapid.SampledFrom(propertyZones).Draw(t, "zone"),
		}
		after := instantGen().Draw(t, "after")
		got, ok := s.Next(after, nil)
		if !ok || !got.After(after) || got.Sub(after) > 7*24*time.Hour+time.Hour {
			t.Fatalf("%v.Next(%s) = %s, %v", s, after, got, ok)
		}
		if DayOf(got.Weekday()) != s.Day {
			t.Fatalf("%v.Next(%s) = %s, a %s", s, after, got, got.Weekday())
		}
		// Nothing earlier: asking from just before the result finds it again.
		if again, _ := s.Next(got.Add(-time.Second), nil); !again.Equal(got) {
			t.Fatalf("%v.Next(%s) = %s, but Next(%s) = %s", s, after, got, got.Add(-time.Second), again)
		}
	})
}

// fastForward must not change which starts a rule produces.
func TestProperty_RRuleFastForward(t *testing.T) {
	rules := []string{
		"FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=DAILY;BYHOUR=1,13;BYMINUTE=0,30",
		"FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU", "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=MO,SA",
		"FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=2", "FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
		"FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR", "FREQ=MONTHLY;BYMONTHDAY=-3",
		"FREQ=YEARLY", "FREQ=YEARLY;INTERVAL=4", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO",
		"FREQ=YEARLY;BYYEARDAY=-1,100", "FREQ=YEARLY;INTERVAL=2;BYMONTH=3,10;BYDAY=-1SU",
		"FREQ=DAILY;UNTIL=20300101T000000",
	}
	rapid.Check(t, func(t *rapid.T) {
		rule := rapid.SampledFrom(rules).Draw(t, "rule")
		dt := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).
			AddDate(0, 0, rapid.IntRange(0, 40*365).Draw(t, "dtstartDay")).
			Add(time.Duration(rapid.IntRange(0, 24*60-1).Draw(t, "dtstartMinute")) * time.Minute)
		g, err := compileRRule("DTSTART:"+dt.Format("20060102T150405")+"\nRRULE:"+rule, time.UTC)
		if err != nil {
			t.Skip(err)
		}
		opt := g.(rruleGen).opt
		from := dt.AddDate(0, 0, rapid.IntRange(-30, 45*365).Draw(t, "fromDay")).
			Add(time.Duration(rapid.IntRange(0, 24*60-1).Draw(t, "fromMinute")) * time.Minute)
		fast := g.starts(from)
		r, _ := rrule.NewRRule(opt)
		slow := r.Iterator()
		var want []time.Time
		for len(want) < 30 {
			s, ok := slow()
			if !ok {
				break
			}
			if !s.Before(from) {
				want = append(want, s)
			}
		}
		for i, w := range want {
			got, ok := fast()
			if !ok || !got.Equal(w) {
				t.Fatalf("%s from %s: start %d = %s, %v; want %s (DTSTART %s)", rule, from, i, got, ok, w, dt)
			}
		}
	})
}
