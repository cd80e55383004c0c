package schedule

import (
	"fmt"
	"strings"
	"time"
)

// String describes the window for the console and reports, for example
// "Every Saturday 22:00–02:00 (Europe/Berlin)" or "Second Tuesday + 5 days,
// 01:00 for 4h (America/Chicago)". It describes invalid windows as well as
// it can; it does not validate.
func (w Window) String() string {
	var b strings.Builder
	dur, durErr := time.ParseDuration(w.Duration)
	span := func(start string) string {
		st, err := parseClock(start)
		if err != nil || durErr != nil {
			return fmt.Sprintf("%s for %s", start, w.Duration)
		}
		if dur < 24*time.Hour {
			return start + "–" + formatClock(st+dur)
		}
		return start + " for " + formatDuration(dur)
	}
	switch {
	case w.Weekly != nil:
		b.WriteString("Every ")
		b.WriteString(dayList(w.Weekly.Days))
		b.WriteString(" ")
		b.WriteString(span(w.Weekly.Start))
	case w.MonthlyWeekday != nil:
		m := w.MonthlyWeekday
		b.WriteString(ordinal(m.Week))
		b.WriteString(" ")
		b.WriteString(m.Day.title())
		switch {
		case m.OffsetDays > 0:
			fmt.Fprintf(&b, " + %s", plural(m.OffsetDays, "day"))
		case m.OffsetDays < 0:
			fmt.Fprintf(&b, " − %s", plural(-m.OffsetDays, "day"))
		}
		b.WriteString(", ")
		b.WriteString(clockFor(m.Start, w.Duration, dur, durErr))
	case w.MonthlyDay != nil:
		m := w.MonthlyDay
		fmt.Fprintf(&b, "Day %d of every month", m.Day)
		if m.Day > 28 {
			b.WriteString(" (or its last day)")
		}
		b.WriteString(", ")
		b.WriteString(clockFor(m.Start, w.Duration, dur, durErr))
	case w.RRule != "":
		rule := strings.Join(strings.Fields(strings.ReplaceAll(w.RRule, "\n", " ")), " ")
		fmt.Fprintf(&b, "Recurring %s, for %s", rule, durationLabel(w.Duration, dur, durErr))
	default:
		fmt.Fprintf(&b, "No recurrence, for %s", durationLabel(w.Duration, dur, durErr))
	}
	fmt.Fprintf(&b, " (%s)", zoneLabel(w.TimeZone))
	if w.EffectiveFrom != "" {
		fmt.Fprintf(&b, ", from %s", w.EffectiveFrom)
	}
	if w.EffectiveUntil != "" {
		fmt.Fprintf(&b, ", until %s", w.EffectiveUntil)
	}
	switch n := len(w.Blackouts); {
	case n == 0:
	case n <= 3:
		parts := make([]string, n)
		for i, bo := range w.Blackouts {
			if bo.From == bo.To {
				parts[i] = bo.From
			} else {
				parts[i] = bo.From + " to " + bo.To
			}
		}
		fmt.Fprintf(&b, ", except %s", joinAnd(parts))
	default:
		fmt.Fprintf(&b, ", except %d blackout periods", n)
	}
	return b.String()
}

func clockFor(start, raw string, dur time.Duration, err error) string {
	return start + " for " + durationLabel(raw, dur, err)
}

func durationLabel(raw string, dur time.Duration, err error) string {
	if err != nil {
		return raw
	}
	return formatDuration(dur)
}

// formatDuration writes d compactly in hours and minutes: "4h", "2h30m",
// "45m", "168h".
func formatDuration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dh%dm", h, m)
	}
}

func zoneLabel(tz string) string {
	if tz == "" {
		return "site time zone"
	}
	return tz
}

func dayList(ds []Day) string {
	if len(ds) == 7 {
		seen := map[Day]bool{}
		for _, d := range ds {
			seen[d] = true
		}
		if len(seen) == 7 {
			return "day"
		}
	}
	// Name the days in week order (Monday first), as people list them.
	var names []string
	for _, want := range []Day{Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday} {
		for _, d := range ds {
			if d == want {
				names = append(names, d.title())
				break
			}
		}
	}
	for _, d := range ds {
		if _, ok := d.Weekday(); !ok {
			names = append(names, string(d))
		}
	}
	return joinAnd(names)
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	default:
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "First"
	case 2:
		return "Second"
	case 3:
		return "Third"
	case 4:
		return "Fourth"
	case -1:
		return "Last"
	default:
		return fmt.Sprintf("Week %d", n)
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
