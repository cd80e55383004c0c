package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Slot is a weekly point in time, such as the reboot slot "Sunday 02:00".
// Like windows, it is read on the wall clock of its time zone (the site's
// zone when TimeZone is empty): on spring-forward night "02:00" happens at
// the end of the skipped hour, and on fall-back night at the first 02:00.
type Slot struct {
	Day Day `json:"day" yaml:"day"`
	// At is the local time of day, "HH:MM" (24-hour).
	At       string `json:"at" yaml:"at"`
	TimeZone string `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
}

// ParseSlot parses "Sunday 02:00", optionally followed by an IANA zone
// name ("Sunday 02:00 Europe/Berlin"). Day names are case-insensitive.
func ParseSlot(s string) (Slot, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return Slot{}, fmt.Errorf("parse slot %q: want \"<day> HH:MM [time zone]\", such as \"Sunday 02:00\"", s)
	}
	sl := Slot{Day: Day(strings.ToLower(f[0])), At: f[1]}
	if len(f) == 3 {
		sl.TimeZone = f[2]
	}
	if err := sl.Validate(); err != nil {
		return Slot{}, fmt.Errorf("parse slot %q: %w", s, err)
	}
	return sl, nil
}

// Validate reports every problem with the slot as FieldErrors, or nil.
func (s Slot) Validate() error {
	_, _, _, err := s.compile(time.UTC)
	return err
}

func (s Slot) compile(fallback *time.Location) (time.Weekday, time.Duration, *time.Location, error) {
	var p problems
	wd, _ := parseDay("day", s.Day, &p)
	at, err := parseClock(s.At)
	if err != nil {
		p.add("at", err.Error())
	}
	loc, err := loadZone(s.TimeZone, fallback)
	if err != nil {
		p.add("time_zone", err.Error())
	}
	return wd, at, loc, p.err()
}

// Next returns the first time the slot comes round strictly after after,
// in the slot's zone, so that a loop acting at the returned time and asking
// again moves on to the next week. It reports false for an invalid slot.
func (s Slot) Next(after time.Time, fallback *time.Location) (time.Time, bool) {
	wd, at, loc, err := s.compile(fallback)
	if err != nil {
		return time.Time{}, false
	}
	d := civilDate(civilOf(after, loc)).AddDate(0, 0, -1)
	for range 16 {
		if d.Weekday() == wd {
			if t := resolve(d.Add(at), loc); t.After(after) {
				return t, true
			}
		}
		d = d.AddDate(0, 0, 1)
	}
	return time.Time{}, false // unreachable: some week's slot is after after
}

// String describes the slot for people: "Sunday 02:00 (Europe/Berlin)".
func (s Slot) String() string {
	return fmt.Sprintf("%s %s (%s)", s.Day.title(), s.At, zoneLabel(s.TimeZone))
}
