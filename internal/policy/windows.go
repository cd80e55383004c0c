package policy

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/schedule"
)

// ScheduleWindow converts a policy window to the schedule package's spec.
// The two types have the same fields (see patch.MaintenanceWindow).
func ScheduleWindow(w patch.MaintenanceWindow) schedule.Window {
	sw := schedule.Window{
		Name: w.Name, TimeZone: w.TimeZone, RRule: w.RRule, Duration: w.Duration,
		EffectiveFrom: w.EffectiveFrom, EffectiveUntil: w.EffectiveUntil,
	}
	if w.Weekly != nil {
		days := make([]schedule.Day, len(w.Weekly.Days))
		for i, d := range w.Weekly.Days {
			days[i] = schedule.Day(strings.ToLower(d))
		}
		sw.Weekly = &schedule.Weekly{Days: days, Start: w.Weekly.Start}
	}
	if m := w.MonthlyWeekday; m != nil {
		sw.MonthlyWeekday = &schedule.MonthlyWeekday{Week: m.Week, Day: schedule.Day(strings.ToLower(m.Day)), OffsetDays: m.OffsetDays, Start: m.Start}
	}
	if m := w.MonthlyDay; m != nil {
		sw.MonthlyDay = &schedule.MonthlyDay{Day: m.Day, Start: m.Start}
	}
	for _, b := range w.Blackouts {
		sw.Blackouts = append(sw.Blackouts, schedule.Blackout{From: b.From, To: b.To, Reason: b.Reason})
	}
	return sw
}

// NamedOccurrence is the next opening of one named window.
type NamedOccurrence struct {
	Window string `json:"window"`
	schedule.Occurrence
}

// Windows answers window questions for one policy, caching compiled
// calendars per (zone, window). It is safe for concurrent use.
type Windows struct {
	p    *patch.Policy
	mu   sync.Mutex
	cals map[string]*schedule.Calendar
}

// NewWindows returns the window oracle of a policy.
func NewWindows(p *patch.Policy) *Windows {
	return &Windows{p: p, cals: map[string]*schedule.Calendar{}}
}

func (ws *Windows) calendar(name string, loc *time.Location) *schedule.Calendar {
	key := loc.String() + "\x00" + name
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if c, ok := ws.cals[key]; ok {
		return c
	}
	var c *schedule.Calendar
	if w, ok := ws.p.Window(name); ok {
		c, _ = schedule.NewCalendar(loc, ScheduleWindow(w))
	}
	ws.cals[key] = c
	return c
}

// Next returns the earliest opening, at or after t (or in progress at t),
// of the named windows in loc; false if none of them ever opens.
func (ws *Windows) Next(names []string, t time.Time, loc *time.Location) (NamedOccurrence, bool) {
	var best NamedOccurrence
	found := false
	for _, n := range names {
		c := ws.calendar(n, loc)
		if c == nil {
			continue
		}
		o, ok := c.Next(t)
		if !ok {
			continue
		}
		if !found || o.Start.Before(best.Start) {
			best, found = NamedOccurrence{Window: n, Occurrence: o}, true
		}
	}
	return best, found
}

// Open reports whether one of the named windows is open at t.
func (ws *Windows) Open(names []string, t time.Time, loc *time.Location) (NamedOccurrence, bool) {
	o, ok := ws.Next(names, t, loc)
	if ok && o.Contains(t) {
		return o, true
	}
	return NamedOccurrence{}, false
}

// LongestGap returns the longest time between consecutive openings of the
// named windows over the year after t: the worst wait for a window of a
// finding found just after one opened. Zero when they never open.
func (ws *Windows) LongestGap(names []string, t time.Time, loc *time.Location) time.Duration {
	var starts []time.Time
	end := t.AddDate(1, 0, 0)
	for _, n := range names {
		c := ws.calendar(n, loc)
		if c == nil {
			continue
		}
		for _, o := range c.Occurrences(t, end) {
			starts = append(starts, o.Start)
		}
	}
	if len(starts) == 0 {
		return 0
	}
	slices.SortFunc(starts, time.Time.Compare)
	gap := starts[0].Sub(t)
	for i := 1; i < len(starts); i++ {
		gap = max(gap, starts[i].Sub(starts[i-1]))
	}
	return max(gap, end.Sub(starts[len(starts)-1]))
}

// AssetWindows is the answer to "next window for this asset": per tier,
// the SLA cell's windows and their next opening, and the earliest of all.
type AssetWindows struct {
	TimeZone string           `json:"time_zone"`
	Next     *NamedOccurrence `json:"next,omitempty"`
	Tiers    []TierWindow     `json:"tiers"`
}

// TierWindow is the next window of one tier's SLA cell for an asset.
type TierWindow struct {
	Tier    string           `json:"tier"`
	Windows []string         `json:"windows"`
	Anytime bool             `json:"anytime,omitempty"`
	Next    *NamedOccurrence `json:"next,omitempty"`
	Reboot  string           `json:"reboot"`
	// NextReboot is the next scheduled reboot slot, for scheduled reboots.
	NextReboot time.Time `json:"next_reboot,omitzero"`
}

// NextWindows answers "next window for this asset" at t in the asset's
// zone loc.
func (ws *Windows) NextWindows(class string, t time.Time, loc *time.Location) AssetWindows {
	out := AssetWindows{TimeZone: loc.String(), Tiers: []TierWindow{}}
	for _, tier := range ws.p.Tiers {
		cell, ok := ws.p.Cell(class, tier.Key)
		if !ok {
			continue
		}
		tw := TierWindow{Tier: tier.Key, Windows: append([]string{}, cell.Windows...), Anytime: len(cell.Windows) == 0, Reboot: cell.Reboot.String()}
		if o, ok := ws.Next(cell.Windows, t, loc); ok {
			tw.Next = &o
			if out.Next == nil || o.Start.Before(out.Next.Start) {
				oo := o
				out.Next = &oo
			}
		}
		if cell.Reboot.Mode == patch.RebootScheduled {
			if sl, err := schedule.ParseSlot(cell.Reboot.Slot); err == nil {
				tw.NextReboot, _ = sl.Next(t, loc)
			}
		}
		out.Tiers = append(out.Tiers, tw)
	}
	return out
}
