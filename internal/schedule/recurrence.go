package schedule

import "time"

// A generator yields a window's nominal starts: civil date-times, ascending,
// before blackouts, effective dates and time zones are applied.
type generator interface {
	// starts returns an iterator over the nominal starts at or after the
	// civil time from. The iterator may be endless; callers stop it.
	starts(from time.Time) func() (time.Time, bool)
}

type weeklyGen struct {
	days  [7]bool
	start time.Duration
}

func (g weeklyGen) starts(from time.Time) func() (time.Time, bool) {
	d := civilDate(from)
	some := false
	for _, ok := range g.days {
		some = some || ok
	}
	return func() (time.Time, bool) {
		if !some {
			return time.Time{}, false
		}
		for {
			day := d
			d = d.AddDate(0, 0, 1)
			if !g.days[day.Weekday()] {
				continue
			}
			if s := day.Add(g.start); !s.Before(from) {
				return s, true
			}
		}
	}
}

type monthlyWeekdayGen struct {
	week   int
	day    time.Weekday
	offset int
	start  time.Duration
}

func (g monthlyWeekdayGen) starts(from time.Time) func() (time.Time, bool) {
	// With offsets up to ±28 days, an occurrence anchored two months
	// before from may still start after it.
	m := time.Date(from.Year(), from.Month()-2, 1, 0, 0, 0, 0, time.UTC)
	return func() (time.Time, bool) {
		for {
			anchor := nthWeekday(m.Year(), m.Month(), g.day, g.week)
			m = m.AddDate(0, 1, 0)
			if s := anchor.AddDate(0, 0, g.offset).Add(g.start); !s.Before(from) {
				return s, true
			}
		}
	}
}

type monthlyDayGen struct {
	day   int
	start time.Duration
}

func (g monthlyDayGen) starts(from time.Time) func() (time.Time, bool) {
	m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	return func() (time.Time, bool) {
		for {
			day := min(g.day, daysIn(m.Year(), m.Month()))
			s := time.Date(m.Year(), m.Month(), day, 0, 0, 0, 0, time.UTC).Add(g.start)
			m = m.AddDate(0, 1, 0)
			if !s.Before(from) {
				return s, true
			}
		}
	}
}

// daysIn returns the number of days in the month.
func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nthWeekday returns the civil date of the nth (1–5) weekday of the month,
// or the last one when n is -1. A fifth weekday that does not exist runs
// into the next month; callers restrict n to 1–4 and -1.
func nthWeekday(year int, month time.Month, wd time.Weekday, n int) time.Time {
	if n < 0 {
		last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC)
		back := (int(last.Weekday()) - int(wd) + 7) % 7
		return last.AddDate(0, 0, -back)
	}
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	ahead := (int(wd) - int(first.Weekday()) + 7) % 7
	return first.AddDate(0, 0, ahead+7*(n-1))
}

// PatchTuesday returns the start of the second Tuesday of the month in loc
// (Microsoft's monthly security release day): the first instant of that
// date on loc's wall clock, normally midnight. A nil loc means UTC.
func PatchTuesday(year int, month time.Month, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return resolve(nthWeekday(year, month, time.Tuesday, 2), loc)
}
