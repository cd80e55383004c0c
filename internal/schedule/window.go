package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Duration limits of a window.
const (
	MinDuration = 15 * time.Minute
	MaxDuration = 7 * 24 * time.Hour
)

// Window is a recurring maintenance window: a declarative spec, stored and
// sent as JSON (or YAML) with stable snake_case field names. Exactly one of
// Weekly, MonthlyWeekday, MonthlyDay and RRule describes when it recurs.
//
// All dates and times of day are read on the wall clock of the window's time
// zone. See the package documentation for what happens on DST days.
type Window struct {
	Name string `json:"name" yaml:"name"`
	// TimeZone is an IANA zone name such as "Europe/Berlin". When empty,
	// the site's zone, passed to each function as fallback, is used.
	TimeZone string `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`

	Weekly         *Weekly         `json:"weekly,omitempty" yaml:"weekly,omitempty"`
	MonthlyWeekday *MonthlyWeekday `json:"monthly_weekday,omitempty" yaml:"monthly_weekday,omitempty"`
	MonthlyDay     *MonthlyDay     `json:"monthly_day,omitempty" yaml:"monthly_day,omitempty"`
	// RRule is an RFC 5545 recurrence: a "DTSTART:20260103T220000" line
	// and an "RRULE:FREQ=..." line separated by a newline, or one line with
	// DTSTART inside the rule ("FREQ=WEEKLY;BYDAY=SA;DTSTART=20260103T220000").
	// DTSTART is required, is a local date-time without "Z" or TZID, and is
	// read in the window's time zone; it gives the first occurrence and the
	// time of day. FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.
	RRule string `json:"rrule,omitempty" yaml:"rrule,omitempty"`

	// Duration is how long the window stays open, as a Go duration string
	// ("4h", "2h30m", "168h"): whole minutes, between 15m and 7 days. It is
	// measured on the wall clock: a window from 22:00 for 4h closes at 02:00
	// local time even on a night the clocks change.
	Duration string `json:"duration" yaml:"duration"`

	// Blackouts are date ranges during which no occurrence starts. An
	// occurrence that started before a blackout runs to its end.
	Blackouts []Blackout `json:"blackouts,omitempty" yaml:"blackouts,omitempty"`

	// EffectiveFrom and EffectiveUntil ("YYYY-MM-DD", inclusive, optional)
	// bound the dates on which occurrences start.
	EffectiveFrom  string `json:"effective_from,omitempty" yaml:"effective_from,omitempty"`
	EffectiveUntil string `json:"effective_until,omitempty" yaml:"effective_until,omitempty"`
}

// Weekly recurs on the given days of the week at Start.
type Weekly struct {
	Days []Day `json:"days" yaml:"days"`
	// Start is the local time of day, "HH:MM" (24-hour).
	Start string `json:"start" yaml:"start"`
}

// MonthlyWeekday recurs once a month on the nth weekday of the month, moved
// by OffsetDays: {Week: 2, Day: Tuesday, OffsetDays: 5} is Patch Tuesday plus
// five days; {Week: -1, Day: Friday} is the last Friday. The offset may carry
// the occurrence into the neighbouring month; it still belongs to the month
// of its anchor weekday.
type MonthlyWeekday struct {
	// Week is 1, 2, 3 or 4, or -1 for the last such weekday of the month.
	Week int `json:"week" yaml:"week"`
	Day  Day `json:"day" yaml:"day"`
	// OffsetDays is between -28 and 28.
	OffsetDays int    `json:"offset_days,omitempty" yaml:"offset_days,omitempty"`
	Start      string `json:"start" yaml:"start"`
}

// MonthlyDay recurs on a day of the month, 1 to 31. In months shorter than
// Day the window falls on the month's last day instead (day 31 in April is
// April 30; days 29 to 31 in February are the 28th, or the 29th in leap
// years), so a monthly window never silently skips a month. An RRULE with
// BYMONTHDAY follows RFC 5545 instead and skips such months.
type MonthlyDay struct {
	Day   int    `json:"day" yaml:"day"`
	Start string `json:"start" yaml:"start"`
}

// Blackout is an inclusive range of dates ("YYYY-MM-DD") in the window's
// time zone, such as a clinic's year-end change freeze.
type Blackout struct {
	From   string `json:"from" yaml:"from"`
	To     string `json:"to" yaml:"to"`
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
}

// Occurrence is one period during which a window is open: [Start, End).
// Start and End are in the window's time zone.
type Occurrence struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t lies in [o.Start, o.End).
func (o Occurrence) Contains(t time.Time) bool {
	return !t.Before(o.Start) && t.Before(o.End)
}

// Duration is the absolute length of the occurrence.
func (o Occurrence) Duration() time.Duration { return o.End.Sub(o.Start) }

// Day is a day of the week with a stable lowercase English name.
type Day string

// Days of the week.
const (
	Sunday    Day = "sunday"
	Monday    Day = "monday"
	Tuesday   Day = "tuesday"
	Wednesday Day = "wednesday"
	Thursday  Day = "thursday"
	Friday    Day = "friday"
	Saturday  Day = "saturday"
)

var days = [7]Day{Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday}

// DayOf returns the Day for a time.Weekday.
func DayOf(wd time.Weekday) Day { return days[wd%7] }

// Weekday returns the time.Weekday for d, and false when d is not one of
// the seven names.
func (d Day) Weekday() (time.Weekday, bool) {
	for i, x := range days {
		if x == d {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

func (d Day) title() string {
	s := string(d)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func parseDay(path string, d Day, p *problems) (time.Weekday, bool) {
	if d == "" {
		p.add(path, "must not be empty")
		return 0, false
	}
	wd, ok := d.Weekday()
	if !ok {
		p.add(path, fmt.Sprintf("unknown day %q (want one of monday … sunday, lowercase)", string(d)))
	}
	return wd, ok
}

// Validate reports every problem with the window as FieldErrors, or nil.
// It does not need the site's zone: an empty TimeZone is valid.
func (w Window) Validate() error {
	_, err := w.compile(time.UTC)
	return err
}

// compiled is a validated window, ready for occurrence math.
type compiled struct {
	loc       *time.Location
	dur       time.Duration
	gen       generator
	blackouts [][2]time.Time // inclusive civil dates
	from      time.Time      // civil midnight, or zero
	until     time.Time      // civil midnight, or zero
}

func (w Window) compile(fallback *time.Location) (*compiled, error) {
	var p problems
	c := &compiled{}

	if strings.TrimSpace(w.Name) == "" {
		p.add("name", "must not be empty")
	} else if len(w.Name) > 200 {
		p.add("name", "must be at most 200 bytes long")
	}

	loc, err := loadZone(w.TimeZone, fallback)
	if err != nil {
		p.add("time_zone", err.Error())
		loc = time.UTC
	}
	c.loc = loc

	var set []string
	if w.Weekly != nil {
		set = append(set, "weekly")
	}
	if w.MonthlyWeekday != nil {
		set = append(set, "monthly_weekday")
	}
	if w.MonthlyDay != nil {
		set = append(set, "monthly_day")
	}
	if w.RRule != "" {
		set = append(set, "rrule")
	}
	switch len(set) {
	case 0:
		p.add("", "one of weekly, monthly_weekday, monthly_day or rrule must be set")
	case 1:
	default:
		p.add(set[1], fmt.Sprintf("only one recurrence may be set, but %s are set", strings.Join(set, " and ")))
	}
	switch {
	case w.Weekly != nil:
		c.gen = w.Weekly.compile(&p)
	case w.MonthlyWeekday != nil:
		c.gen = w.MonthlyWeekday.compile(&p)
	case w.MonthlyDay != nil:
		c.gen = w.MonthlyDay.compile(&p)
	case w.RRule != "":
		g, err := compileRRule(w.RRule, loc)
		if err != nil {
			p.add("rrule", err.Error())
		} else {
			c.gen = g
		}
	}

	switch d, err := time.ParseDuration(w.Duration); {
	case w.Duration == "":
		p.add("duration", "must not be empty (for example \"4h\")")
	case err != nil:
		p.add("duration", fmt.Sprintf("must be a duration such as \"4h\" or \"2h30m\", got %q", w.Duration))
	case d < MinDuration || d > MaxDuration:
		p.add("duration", fmt.Sprintf("must be between 15m and 7 days (168h), got %s", w.Duration))
	case d%time.Minute != 0:
		p.add("duration", fmt.Sprintf("must be a whole number of minutes, got %s", w.Duration))
	default:
		c.dur = d
	}

	for i, b := range w.Blackouts {
		path := fmt.Sprintf("blackouts[%d]", i)
		from, err1 := parseDate(b.From)
		if err1 != nil {
			p.add(path+".from", err1.Error())
		}
		to, err2 := parseDate(b.To)
		if err2 != nil {
			p.add(path+".to", err2.Error())
		}
		if err1 == nil && err2 == nil {
			if to.Before(from) {
				p.add(path+".to", fmt.Sprintf("must not be before from (%s)", b.From))
			}
			c.blackouts = append(c.blackouts, [2]time.Time{from, to})
		}
	}

	if w.EffectiveFrom != "" {
		if c.from, err = parseDate(w.EffectiveFrom); err != nil {
			p.add("effective_from", err.Error())
		}
	}
	if w.EffectiveUntil != "" {
		if c.until, err = parseDate(w.EffectiveUntil); err != nil {
			p.add("effective_until", err.Error())
		}
	}
	if !c.from.IsZero() && !c.until.IsZero() && c.until.Before(c.from) {
		p.add("effective_until", fmt.Sprintf("must not be before effective_from (%s)", w.EffectiveFrom))
	}

	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (wk *Weekly) compile(p *problems) generator {
	var mask [7]bool
	if len(wk.Days) == 0 {
		p.add("weekly.days", "must not be empty")
	}
	for i, d := range wk.Days {
		path := fmt.Sprintf("weekly.days[%d]", i)
		wd, ok := parseDay(path, d, p)
		if !ok {
			continue
		}
		if mask[wd] {
			p.add(path, fmt.Sprintf("duplicate day %q", string(d)))
		}
		mask[wd] = true
	}
	start, err := parseClock(wk.Start)
	if err != nil {
		p.add("weekly.start", err.Error())
	}
	return weeklyGen{days: mask, start: start}
}

func (mw *MonthlyWeekday) compile(p *problems) generator {
	switch mw.Week {
	case 1, 2, 3, 4, -1:
	default:
		p.add("monthly_weekday.week", fmt.Sprintf("must be 1, 2, 3, 4 or -1 (last), got %d", mw.Week))
	}
	wd, _ := parseDay("monthly_weekday.day", mw.Day, p)
	if mw.OffsetDays < -28 || mw.OffsetDays > 28 {
		p.add("monthly_weekday.offset_days", fmt.Sprintf("must be between -28 and 28, got %d", mw.OffsetDays))
	}
	start, err := parseClock(mw.Start)
	if err != nil {
		p.add("monthly_weekday.start", err.Error())
	}
	return monthlyWeekdayGen{week: mw.Week, day: wd, offset: mw.OffsetDays, start: start}
}

func (md *MonthlyDay) compile(p *problems) generator {
	if md.Day < 1 || md.Day > 31 {
		p.add("monthly_day.day", fmt.Sprintf("must be between 1 and 31, got %d", md.Day))
	}
	start, err := parseClock(md.Start)
	if err != nil {
		p.add("monthly_day.start", err.Error())
	}
	return monthlyDayGen{day: md.Day, start: start}
}
