package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// floating marks date-times written without "Z" while an RRULE is parsed,
// so that they can be told apart from UTC ones.
var floating = time.FixedZone("floating", 0)

const maxInterval = 1000

// rruleGen runs an RFC 5545 rule in civil time: DTSTART and all generated
// starts are wall-clock readings (held in UTC), resolved in the window's
// zone like every other recurrence, so RRULE windows follow the same DST
// rules as the others.
type rruleGen struct {
	opt rrule.ROption
}

func (g rruleGen) starts(from time.Time) func() (time.Time, bool) {
	r, err := rrule.NewRRule(fastForward(g.opt, from))
	if err != nil {
		return func() (time.Time, bool) { return time.Time{}, false }
	}
	next := r.Iterator()
	done := false
	return func() (t time.Time, ok bool) {
		if done {
			return time.Time{}, false
		}
		defer func() {
			// rrule-go indexes internal tables with rule values; a
			// rule that slipped past compileRRule's checks ends the
			// recurrence instead of crashing the caller.
			if recover() != nil {
				done, t, ok = true, time.Time{}, false
			}
		}()
		for {
			s, ok := next()
			if !ok {
				done = true
				return time.Time{}, false
			}
			if !s.Before(from) {
				return s, true
			}
		}
	}
}

// compileRRule parses and checks an RRULE value of a Window.
func compileRRule(s string, loc *time.Location) (gen generator, err error) {
	defer func() {
		if r := recover(); r != nil {
			gen, err = nil, fmt.Errorf("cannot be evaluated: %v", r)
		}
	}()
	var dtLine, ruleLine string
	// Lines may be separated by newlines or, where a one-line value is
	// handier (YAML, a form field), by spaces: RFC 5545 values have none.
	for _, l := range strings.Fields(s) {
		switch up := strings.ToUpper(l); {
		case strings.HasPrefix(up, "DTSTART"):
			if dtLine != "" {
				return nil, errors.New("DTSTART given twice")
			}
			dtLine = l
		case strings.HasPrefix(up, "RRULE:") || strings.HasPrefix(up, "FREQ=") || !strings.ContainsAny(l, ":"):
			if ruleLine != "" {
				return nil, errors.New("only one RRULE line is supported")
			}
			ruleLine = l
		default:
			name, _, _ := strings.Cut(l, ":")
			name, _, _ = strings.Cut(name, ";")
			return nil, fmt.Errorf("unsupported property %s (only DTSTART and RRULE; use blackouts instead of EXDATE)", name)
		}
	}
	if ruleLine == "" {
		return nil, errors.New("missing RRULE (for example \"FREQ=WEEKLY;BYDAY=SA\")")
	}
	if strings.Contains(strings.ToUpper(ruleLine), "BYEASTER") {
		return nil, errors.New("BYEASTER is not part of RFC 5545 and is not supported")
	}
	opt, err := rrule.StrToROptionInLocation(ruleLine, floating)
	if err != nil {
		return nil, fmt.Errorf("invalid rule: %w", err)
	}
	if dtLine != "" {
		if !opt.Dtstart.IsZero() {
			return nil, errors.New("DTSTART given twice")
		}
		name, value, ok := strings.Cut(dtLine, ":")
		if !ok || strings.ToUpper(name) != "DTSTART" {
			return nil, fmt.Errorf("DTSTART must not carry parameters such as TZID; it is read in the window's time zone (got %q)", dtLine)
		}
		if opt.Dtstart, err = parseLocalDateTime(value); err != nil {
			return nil, err
		}
	} else if !opt.Dtstart.IsZero() && opt.Dtstart.Location() != floating {
		return nil, errors.New("DTSTART must be a local date-time such as 20260103T220000, without \"Z\"; it is read in the window's time zone")
	}
	if opt.Dtstart.IsZero() {
		return nil, errors.New("DTSTART is required (it sets the first occurrence and the time of day)")
	}
	opt.Dtstart = floatToCivil(opt.Dtstart)
	if y := opt.Dtstart.Year(); y < minYear || y > maxYear {
		return nil, fmt.Errorf("DTSTART year must be between %d and %d", minYear, maxYear)
	}
	if !opt.Until.IsZero() {
		if opt.Until.Location() == floating {
			opt.Until = floatToCivil(opt.Until)
		} else {
			// UNTIL in UTC is an instant; compare in wall-clock terms.
			opt.Until = civilOf(opt.Until, loc)
		}
	}
	if err := checkRuleShape(opt); err != nil {
		return nil, err
	}
	if err := checkMonthDays(opt); err != nil {
		return nil, err
	}
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("invalid rule: %w", err)
	}
	if _, ok := r.Iterator()(); !ok {
		return nil, errors.New("produces no occurrences")
	}
	return rruleGen{opt: *opt}, nil
}

// checkRuleShape applies RFC 5545's restrictions on which BYxxx parts go
// with which FREQ, plus this package's own limits. rrule-go does not check
// them, and some combinations make it index outside its tables.
func checkRuleShape(o *rrule.ROption) error {
	switch o.Freq {
	case rrule.YEARLY, rrule.MONTHLY, rrule.WEEKLY, rrule.DAILY:
	default:
		return fmt.Errorf("FREQ=%s is not supported for maintenance windows; use DAILY, WEEKLY, MONTHLY or YEARLY", o.Freq)
	}
	if o.Interval < 0 || o.Interval > maxInterval {
		return fmt.Errorf("INTERVAL must be between 1 and %d", maxInterval)
	}
	if o.Count < 0 {
		return errors.New("COUNT must be positive")
	}
	if len(o.Byweekno) > 0 && o.Freq != rrule.YEARLY {
		return errors.New("BYWEEKNO is only allowed with FREQ=YEARLY")
	}
	if len(o.Byyearday) > 0 && o.Freq != rrule.YEARLY {
		return errors.New("BYYEARDAY is only allowed with FREQ=YEARLY")
	}
	if len(o.Bymonthday) > 0 && o.Freq == rrule.WEEKLY {
		return errors.New("BYMONTHDAY is not allowed with FREQ=WEEKLY")
	}
	for _, d := range o.Byweekday {
		n := d.N()
		switch {
		case n == 0:
		case o.Freq == rrule.MONTHLY && (n < -5 || n > 5):
			return fmt.Errorf("BYDAY=%s: with FREQ=MONTHLY the ordinal must be between -5 and 5", d)
		case o.Freq == rrule.YEARLY && len(o.Bymonth) > 0 && (n < -5 || n > 5):
			return fmt.Errorf("BYDAY=%s: with BYMONTH the ordinal must be between -5 and 5", d)
		case o.Freq != rrule.MONTHLY && o.Freq != rrule.YEARLY:
			return fmt.Errorf("BYDAY=%s: an ordinal is only allowed with FREQ=MONTHLY or YEARLY", d)
		}
	}
	return nil
}

// checkMonthDays rejects the most common rule that never occurs, a
// BYMONTHDAY that none of the BYMONTH months has ("February 30"), without
// running rrule-go to the end of its calendar (which takes about a second).
func checkMonthDays(o *rrule.ROption) error {
	if len(o.Bymonth) == 0 || len(o.Bymonthday) == 0 {
		return nil
	}
	longest := map[int]int{2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
	for _, m := range o.Bymonth {
		n, ok := longest[m]
		if !ok {
			n = 31
		}
		for _, d := range o.Bymonthday {
			if d < 0 || d <= n {
				return nil
			}
		}
	}
	return fmt.Errorf("produces no occurrences: no month in BYMONTH=%s has day BYMONTHDAY=%s", joinInts(o.Bymonth), joinInts(o.Bymonthday))
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseLocalDateTime parses an RFC 5545 local DATE-TIME ("20260103T220000").
func parseLocalDateTime(v string) (time.Time, error) {
	if strings.HasSuffix(strings.ToUpper(v), "Z") {
		return time.Time{}, errors.New("DTSTART must be a local date-time such as 20260103T220000, without \"Z\"; it is read in the window's time zone")
	}
	t, err := time.Parse(rrule.LocalDateTimeFormat, v)
	if err != nil || len(v) != len(rrule.LocalDateTimeFormat) {
		return time.Time{}, fmt.Errorf("DTSTART must be a local date-time such as 20260103T220000, got %q", v)
	}
	return t, nil
}

func floatToCivil(t time.Time) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// fastForward moves DTSTART of a rule without COUNT forward by whole
// periods (INTERVAL × FREQ) to shortly before from. rrule-go always
// iterates from DTSTART, so without this a daily rule started years ago
// costs thousands of iterations per query. The set of occurrences at or
// after from is unchanged: the defaults that RFC 5545 derives from DTSTART
// are made explicit first, and the period grid stays aligned.
func fastForward(o rrule.ROption, from time.Time) rrule.ROption {
	if o.Count != 0 {
		return o
	}
	dt := o.Dtstart
	n := max(o.Interval, 1)
	// Stop at least two periods before from, so that no occurrence at or
	// after from falls in the (partly filtered) first period.
	var next time.Time
	switch o.Freq {
	case rrule.DAILY, rrule.WEEKLY:
		step := n
		if o.Freq == rrule.WEEKLY {
			step *= 7
		}
		days := int(civilDate(from).Sub(civilDate(dt)).Hours()/24) - 2*step
		if days <= 0 {
			return o
		}
		next = dt.AddDate(0, 0, days/step*step)
	case rrule.MONTHLY:
		months := (from.Year()-dt.Year())*12 + int(from.Month()-dt.Month()) - 2*n
		if months <= 0 {
			return o
		}
		months = months / n * n
		next = time.Date(dt.Year(), dt.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	case rrule.YEARLY:
		years := from.Year() - dt.Year() - 2*n
		if years <= 0 {
			return o
		}
		next = time.Date(dt.Year()+years/n*n, time.January, 1, 0, 0, 0, 0, time.UTC)
	default:
		return o
	}
	if len(o.Byweekno) == 0 && len(o.Byyearday) == 0 && len(o.Bymonthday) == 0 && len(o.Byweekday) == 0 && len(o.Byeaster) == 0 {
		switch o.Freq {
		case rrule.YEARLY:
			if len(o.Bymonth) == 0 {
				o.Bymonth = []int{int(dt.Month())}
			}
			o.Bymonthday = []int{dt.Day()}
		case rrule.MONTHLY:
			o.Bymonthday = []int{dt.Day()}
		case rrule.WEEKLY:
			o.Byweekday = []rrule.Weekday{rruleWeekdays[dt.Weekday()]}
		}
	}
	if len(o.Byhour) == 0 {
		o.Byhour = []int{dt.Hour()}
	}
	if len(o.Byminute) == 0 {
		o.Byminute = []int{dt.Minute()}
	}
	if len(o.Bysecond) == 0 {
		o.Bysecond = []int{dt.Second()}
	}
	o.Dtstart = next
	return o
}

var rruleWeekdays = [7]rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}
