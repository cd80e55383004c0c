package compliance

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Span is the half-open interval [From, To).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t is in the period.
func (p Span) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }

// Period is Span's first name, kept for callers written against it. The
// type is called Span because the API's schemas are named by type, and
// patch.Period (a reporting month or quarter) is another thing.
type Period = Span

// SLAOutcome is how SLA attainment treats one finding in a period.
type SLAOutcome uint8

// SLA outcomes. Only Met and Missed count; emergency updates and excepted
// findings are counted apart, as the service description allows.
const (
	SLANotCounted SLAOutcome = iota // no deadline in the period (or not yet passed), or replaced
	SLAMet                          // verified installed by its deadline
	SLAMissed                       // not verified installed by its deadline
	SLAEmergency                    // an emergency update: excluded, counted apart
	SLAExcepted                     // open under an active exception: excluded, counted apart
)

var slaOutcomeNames = [...]string{"not_counted", "met", "missed", "emergency", "excepted"}

func (o SLAOutcome) String() string { return slaOutcomeNames[o] }

// MarshalText makes outcomes JSON strings.
func (o SLAOutcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses an outcome name.
func (o *SLAOutcome) UnmarshalText(b []byte) error {
	i := slices.Index(slaOutcomeNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown SLA outcome %q", b)
	}
	*o = SLAOutcome(i)
	return nil
}

// SLAOf says how SLA attainment over p, seen at now, treats f: a finding
// counts when its deadline falls in the period and has passed.
func SLAOf(f *Finding, p Span, now time.Time) SLAOutcome {
	if f.DueAt.IsZero() || !p.Contains(f.DueAt) || f.DueAt.After(now) {
		return SLANotCounted
	}
	if f.State == patch.FindingResolved && f.Resolution != patch.ResolvedVerified {
		return SLANotCounted // superseded: the successor carries the clock; retired: the asset is gone
	}
	switch {
	case f.Emergency:
		return SLAEmergency
	case f.Excepted && f.State == patch.FindingOpen:
		return SLAExcepted
	}
	if f.State == patch.FindingResolved && !f.ResolvedAt.After(f.DueAt) {
		return SLAMet
	}
	return SLAMissed
}

// Attainment is the share of findings fixed within their deadline.
type Attainment struct {
	// Tier is empty for the row over all tiers.
	Tier          string   `json:"tier"`
	Met           int      `json:"met"`
	Missed        int      `json:"missed"`
	AttainmentPct *float64 `json:"attainment_pct"`
	// Emergency and Excepted count the findings left out.
	Emergency int `json:"emergency_excluded"`
	Excepted  int `json:"excepted_excluded"`
}

// SLAAttainment returns attainment over all tiers first, then per tier.
func SLAAttainment(fs []Finding, p Span, now time.Time) []Attainment {
	byTier := map[string]*Attainment{}
	all := &Attainment{}
	for i := range fs {
		f := &fs[i]
		o := SLAOf(f, p, now)
		if o == SLANotCounted {
			continue
		}
		t := byTier[f.Tier]
		if t == nil {
			t = &Attainment{Tier: f.Tier}
			byTier[f.Tier] = t
		}
		for _, a := range []*Attainment{all, t} {
			switch o {
			case SLAMet:
				a.Met++
			case SLAMissed:
				a.Missed++
			case SLAEmergency:
				a.Emergency++
			case SLAExcepted:
				a.Excepted++
			}
		}
	}
	out := []Attainment{*all}
	for _, k := range sortedKeys(byTier) {
		out = append(out, *byTier[k])
	}
	for i := range out {
		if n := out[i].Met + out[i].Missed; n > 0 {
			out[i].AttainmentPct = pctPtr(ratio(out[i].Met, n))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// RemediatedIn reports whether f was verified installed in p, and how
// long that took from the start of its SLA clock (its first detection,
// carried over supersedence).
func RemediatedIn(f *Finding, p Span) (time.Duration, bool) {
	if f.State != patch.FindingResolved || f.Resolution != patch.ResolvedVerified || !p.Contains(f.ResolvedAt) {
		return 0, false
	}
	start := f.SLAAnchor
	if start.IsZero() {
		start = f.FirstSeen
	}
	return max(f.ResolvedAt.Sub(start), 0), true
}

// Remediation is time to remediate, per tier.
type Remediation struct {
	// Tier is empty for the row over all tiers.
	Tier        string   `json:"tier"`
	Count       int      `json:"count"`
	MedianHours *float64 `json:"median_hours"`
	P90Hours    *float64 `json:"p90_hours"`
}

// Percentile returns the nearest-rank q-quantile (0 < q ≤ 1) of sorted
// ds: the smallest value with at least q of the values at or below it.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(ds))*q-1e-9)) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func hours(d time.Duration) *float64 {
	v := round2(d.Hours())
	return &v
}

// RemediationTimes returns the median and 90th percentile (nearest rank)
// of the time to remediate the findings verified installed in p, over all
// tiers first, then per tier.
func RemediationTimes(fs []Finding, p Span) []Remediation {
	byTier := map[string][]time.Duration{}
	var all []time.Duration
	for i := range fs {
		if d, ok := RemediatedIn(&fs[i], p); ok {
			all = append(all, d)
			byTier[fs[i].Tier] = append(byTier[fs[i].Tier], d)
		}
	}
	row := func(tier string, ds []time.Duration) Remediation {
		slices.Sort(ds)
		r := Remediation{Tier: tier, Count: len(ds)}
		if len(ds) > 0 {
			r.MedianHours, r.P90Hours = hours(Percentile(ds, 0.5)), hours(Percentile(ds, 0.9))
		}
		return r
	}
	out := []Remediation{row("", all)}
	for _, k := range sortedKeys(byTier) {
		out = append(out, row(k, byTier[k]))
	}
	return out
}

// InstallCount is how many installs succeeded and failed for one client
// and ring in a period. The rollout engine (issue 5) supplies these; an
// install counts once per (asset, update) attempt, retries included.
type InstallCount struct {
	ClientID  patch.ClientID `json:"client_id"`
	Ring      string         `json:"ring"`
	Succeeded int            `json:"succeeded"`
	Failed    int            `json:"failed"`
}

// FailureRate is the share of failed installs.
type FailureRate struct {
	// Ring is empty for the row over all rings.
	Ring      string   `json:"ring"`
	Succeeded int      `json:"succeeded"`
	Failed    int      `json:"failed"`
	RatePct   *float64 `json:"rate_pct"`
}

// FailureRates returns the failure rate over all rings first, then per ring.
func FailureRates(cs []InstallCount) []FailureRate {
	byRing := map[string]*FailureRate{}
	all := &FailureRate{}
	for _, c := range cs {
		r := byRing[c.Ring]
		if r == nil {
			r = &FailureRate{Ring: c.Ring}
			byRing[c.Ring] = r
		}
		for _, x := range []*FailureRate{all, r} {
			x.Succeeded += c.Succeeded
			x.Failed += c.Failed
		}
	}
	out := []FailureRate{*all}
	for _, k := range sortedKeys(byRing) {
		out = append(out, *byRing[k])
	}
	for i := range out {
		if n := out[i].Succeeded + out[i].Failed; n > 0 {
			out[i].RatePct = pctPtr(ratio(out[i].Failed, n))
		}
	}
	return out
}

// ExpiringSoon is how close to its expiry an active exception is listed
// as expiring soon.
const ExpiringSoon = 14 * 24 * time.Hour

// ExceptionAge is one exception's age.
type ExceptionAge struct {
	ID        patch.ExceptionID    `json:"id"`
	ClientID  patch.ClientID       `json:"client_id"`
	State     patch.ExceptionState `json:"state"`
	Lane      patch.ExceptionLane  `json:"lane"`
	Scope     string               `json:"scope"`
	TicketRef string               `json:"ticket_ref"`
	// OpenDays are whole days since the exception took effect (since it
	// was requested, for one awaiting sign-off).
	OpenDays int `json:"open_days"`
	// DaysToExpiry are days until the hard expiry, rounded up; 0 or less
	// once expired.
	DaysToExpiry int       `json:"days_to_expiry"`
	ExpiresAt    time.Time `json:"expires_at"`
	Expired      bool      `json:"expired"`
}

// ExceptionAging summarises the exception register at an instant.
type ExceptionAging struct {
	// Active exceptions are in effect (signed off, started, not ended).
	Active int `json:"active"`
	// AwaitingSignOff are requested and not yet signed off.
	AwaitingSignOff int `json:"awaiting_sign_off"`
	ExpiringSoon    int `json:"expiring_soon"`
	// ExpiredInPeriod reached their hard expiry in the period.
	ExpiredInPeriod int `json:"expired_in_period"`
	// Buckets count active exceptions by open days: 0-30, 31-60, 61-90, 90+.
	Buckets      map[string]int `json:"buckets"`
	MaxOpenDays  int            `json:"max_open_days"`
	MeanOpenDays *float64       `json:"mean_open_days"`
	// Items are the active, awaiting and expired-in-period exceptions.
	Items []ExceptionAge `json:"items"`
}

// AgingBuckets names the buckets of ExceptionAging, in order.
var AgingBuckets = []string{"0-30", "31-60", "61-90", "90+"}

func bucket(days int) string {
	switch {
	case days <= 30:
		return AgingBuckets[0]
	case days <= 60:
		return AgingBuckets[1]
	case days <= 90:
		return AgingBuckets[2]
	}
	return AgingBuckets[3]
}

const day = 24 * time.Hour

// AgeExceptions ages the exceptions at now and counts those that expired
// in p.
func AgeExceptions(xs []*patch.Exception, p Span, now time.Time) ExceptionAging {
	out := ExceptionAging{Buckets: map[string]int{}, Items: []ExceptionAge{}}
	for _, b := range AgingBuckets {
		out.Buckets[b] = 0
	}
	total := 0
	for _, x := range xs {
		a := ExceptionAge{ID: x.ID, ClientID: x.ClientID, State: x.State, Lane: x.Lane, Scope: x.Scope.String(),
			TicketRef: x.TicketRef, ExpiresAt: x.ExpiresAt}
		a.DaysToExpiry = int((x.ExpiresAt.Sub(now) + day - 1) / day)
		if x.ExpiresAt.Sub(now) <= 0 {
			a.DaysToExpiry = int(x.ExpiresAt.Sub(now) / day)
		}
		expired := x.State != patch.ExceptionRevoked && p.Contains(x.ExpiresAt) && !x.ExpiresAt.After(now) &&
			(x.EndedAt.IsZero() || !x.EndedAt.Before(x.ExpiresAt))
		switch {
		case x.InEffect(now):
			from, _, _ := x.Effect()
			a.OpenDays = int(now.Sub(from) / day)
			out.Active++
			out.Buckets[bucket(a.OpenDays)]++
			out.MaxOpenDays = max(out.MaxOpenDays, a.OpenDays)
			total += a.OpenDays
			if x.ExpiresAt.Sub(now) <= ExpiringSoon {
				out.ExpiringSoon++
			}
		case x.State == patch.ExceptionRequested && !x.RequestedAt.After(now) && now.Before(x.ExpiresAt):
			a.OpenDays = int(now.Sub(x.RequestedAt) / day)
			out.AwaitingSignOff++
		case expired:
			from, _, ok := x.Effect()
			if !ok {
				from = x.RequestedAt
			}
			a.OpenDays = int(x.ExpiresAt.Sub(from) / day)
			a.Expired = true
			out.ExpiredInPeriod++
		default:
			continue
		}
		out.Items = append(out.Items, a)
	}
	if out.Active > 0 {
		v := round2(float64(total) / float64(out.Active))
		out.MeanOpenDays = &v
	}
	slices.SortFunc(out.Items, func(a, b ExceptionAge) int {
		return cmp.Or(cmp.Compare(b.OpenDays, a.OpenDays), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Ticket is a patch ticket raised for a client: an alert that feeds the
// ticketing system. Zone is the time zone of the client's (or asset's)
// site, for the after-hours rule.
type Ticket struct {
	ID       string         `json:"id"`
	ClientID patch.ClientID `json:"client_id"`
	Kind     string         `json:"kind"`
	At       time.Time      `json:"at"`
	Zone     *time.Location `json:"-"`
}

// BusinessHours are the hours outside which a ticket is after hours.
type BusinessHours struct {
	Days       []time.Weekday
	Start, End time.Duration // offsets from local midnight
}

// DefaultBusinessHours are Monday to Friday, 08:00 to 18:00 local time.
var DefaultBusinessHours = BusinessHours{
	Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	Start: 8 * time.Hour, End: 18 * time.Hour,
}

// AfterHours reports whether t falls outside business hours in zone (UTC
// when nil).
func (b BusinessHours) AfterHours(t time.Time, zone *time.Location) bool {
	if zone == nil {
		zone = time.UTC
	}
	l := t.In(zone)
	if !slices.Contains(b.Days, l.Weekday()) {
		return true
	}
	off := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute + time.Duration(l.Second())*time.Second
	return off < b.Start || off >= b.End
}

// TicketCounts count patch tickets in a period.
type TicketCounts struct {
	Total         int      `json:"total"`
	AfterHours    int      `json:"after_hours"`
	AfterHoursPct *float64 `json:"after_hours_pct"`
}

// CountTickets counts the tickets raised in p, and those after hours.
func CountTickets(ts []Ticket, p Span, b BusinessHours) TicketCounts {
	var c TicketCounts
	for _, t := range ts {
		if !p.Contains(t.At) {
			continue
		}
		c.Total++
		if b.AfterHours(t.At, t.Zone) {
			c.AfterHours++
		}
	}
	if c.Total > 0 {
		c.AfterHoursPct = pctPtr(ratio(c.AfterHours, c.Total))
	}
	return c
}
