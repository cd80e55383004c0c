package compliance

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Score is a rating in fixed point: Full (1e9) is 100 %.
type Score int64

// Full is the score of 100 %.
const Full Score = 1_000_000_000

// Pct returns the score in percent.
func (s Score) Pct() float64 { return float64(s) / float64(Full) * 100 }

// ratio returns num/den as a score, Full when den is 0.
func ratio(num, den int) Score {
	if den <= 0 {
		return Full
	}
	return Score(int64(num) * int64(Full) / int64(den))
}

// pctOf returns the percentage of a target as a score, clamped to [0, Full].
func pctOf(p float64) Score {
	switch {
	case p != p || p <= 0:
		return 0
	case p >= 100:
		return Full
	}
	return Score(math.Round(p / 100 * float64(Full)))
}

// Rating returns the rating of counts: installed / (installed + missing),
// Full when nothing is owed.
func Rating(c patch.FindingCounts) Score { return ratio(c.Installed, c.Installed+c.Missing) }

// Strict returns the rating that excludes nothing: excepted, emergency
// and unapproved past-due findings count as missing.
func Strict(c patch.FindingCounts) Score {
	return ratio(c.Installed, c.Installed+c.Missing+c.Excepted+c.EmergencyMissing+c.NotApproved)
}

// Category is how the rating treats one finding at one instant.
type Category uint8

// Categories. Installed and Missing make the rating; Excepted, Emergency
// and NotApproved are excluded from it and counted beside it (the strict
// rating counts them as missing); NotEvaluated is counted beside; the
// rest do not count at the instant.
const (
	NotFound     Category = iota // first seen after the instant
	Replaced                     // superseded or retired before the instant: not an install
	NotDue                       // due (plus grace) after the instant, or installed before any due time was set
	History                      // installed, but due and installed before the window
	Installed                    // verified installed: counts for the rating
	Missing                      // approved, past due, not installed: counts against
	Excepted                     // missing and covered by an active exception (its paused clock hides its real due time)
	Emergency                    // past due and missing, an emergency update
	NotApproved                  // past due and missing, pending approval or declined
	NotEvaluated                 // missing, no due time yet
)

var categoryNames = [...]string{"not_found", "replaced", "not_due", "history", "installed", "missing", "excepted",
	"emergency_missing", "not_approved", "not_evaluated"}

// String returns the category's stable name, as the API shows it.
func (c Category) String() string {
	if int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return "unknown"
}

// MarshalText makes categories JSON strings.
func (c Category) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses a category name.
func (c *Category) UnmarshalText(b []byte) error {
	i := slices.Index(categoryNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown rating category %q", b)
	}
	*c = Category(i)
	return nil
}

// Classify says how the rating treats f at instant at.
func Classify(f *Finding, at time.Time, o Options) Category {
	return newClassifier(at, o).classify(f)
}

// classifier holds what classifying at one instant needs, computed once
// per asset rather than once per finding.
type classifier struct {
	at, from time.Time // the instant and the start of its window
	grace    time.Duration
}

func newClassifier(at time.Time, o Options) classifier {
	return classifier{at: at, from: at.Add(-o.Window), grace: o.Grace}
}

func (c classifier) classify(f *Finding) Category {
	if f.FirstSeen.After(c.at) {
		return NotFound
	}
	installed := f.State == patch.FindingResolved && !f.ResolvedAt.After(c.at)
	if installed && f.Resolution != patch.ResolvedVerified {
		return Replaced
	}
	if f.Excepted && !installed {
		// An exception pauses the clock, so the stored due time moves out
		// with it: an excepted finding counts beside the rating whatever
		// its due time says.
		return Excepted
	}
	if f.DueAt.IsZero() {
		if installed {
			return NotDue
		}
		return NotEvaluated
	}
	due := f.DueAt
	if c.grace != 0 {
		due = due.Add(c.grace)
	}
	if due.After(c.at) {
		return NotDue
	}
	if installed {
		if due.After(c.from) || f.ResolvedAt.After(c.from) {
			return Installed
		}
		return History
	}
	switch {
	case f.Emergency:
		return Emergency
	case f.Approval != patch.ApprovalApproved:
		return NotApproved
	}
	return Missing
}

// count adds one finding of category c to counts.
func count(c *patch.FindingCounts, cat Category, emergency bool) {
	switch cat {
	case Installed:
		c.Installed++
		if emergency {
			c.EmergencyInstalled++
		}
	case Missing:
		c.Missing++
	case Excepted:
		c.Excepted++
	case Emergency:
		c.EmergencyMissing++
	case NotApproved:
		c.NotApproved++
	case NotEvaluated:
		c.NotEvaluated++
	}
}

// Gap is a set of coverage gaps of one asset.
type Gap uint8

// Coverage gaps. An asset with any of them is reported beside the rating;
// only GapUnmanaged and GapNeverScanned keep it out of the rating (there
// is nothing to rate), the others are rated on their last known state.
const (
	GapUnmanaged           Gap = 1 << iota // discovered or imported, no agent
	GapNeverScanned                        // managed, but no successful scan yet
	GapStaleScan                           // last successful scan older than StaleScanAfter
	GapScanFailing                         // a source's last scan failed
	GapUnsupportedOS                       // the OS is not serviceable
	GapUnsupportedSoftware                 // software on the client's unsupported list
	numGaps                = iota
)

var gapNames = [numGaps]string{"unmanaged", "never_scanned", "stale_scan", "scan_failing", "unsupported_os", "unsupported_software"}

// GapNames lists the gap names in order.
func GapNames() []string { return slices.Clone(gapNames[:]) }

// Names returns the names of the gaps in g.
func (g Gap) Names() []string {
	out := []string{}
	for i := range numGaps {
		if g&(1<<i) != 0 {
			out = append(out, gapNames[i])
		}
	}
	return out
}

// String joins the gap names.
func (g Gap) String() string { return strings.Join(g.Names(), ",") }

// ParseGaps is the inverse of Names; unknown names are ignored.
func ParseGaps(names []string) Gap {
	var g Gap
	for _, n := range names {
		if i := slices.Index(gapNames[:], n); i >= 0 {
			g |= 1 << i
		}
	}
	return g
}

// TierCounts are an asset's findings of one severity tier.
type TierCounts struct {
	Tier   string
	Counts patch.FindingCounts
}

// Summary is one asset's rating at one instant: everything the rollups
// need, so that the asset's findings can be dropped after summarising.
type Summary struct {
	Asset    patch.AssetID
	Client   patch.ClientID
	Site     patch.SiteID
	Hostname string
	OS       patch.OSFamily
	Class    string
	Kind     patch.ClassKind
	Target   Score
	At       time.Time
	// Rated is false for assets that cannot be rated (unmanaged, never
	// scanned); their Rating and Strict are zero and meaningless.
	Rated  bool
	Rating Score
	Strict Score
	Counts patch.FindingCounts
	// Tiers are the counts per tier, sorted by tier, for tiers with any
	// non-zero count.
	Tiers []TierCounts
	Gaps  Gap
}

// Tier returns the counts of one tier.
func (s *Summary) Tier(t string) (patch.FindingCounts, bool) {
	for _, tc := range s.Tiers {
		if tc.Tier == t {
			return tc.Counts, true
		}
	}
	return patch.FindingCounts{}, false
}

// GapsOf returns the asset's coverage gaps at instant at.
func GapsOf(a *Asset, at time.Time, o Options) Gap {
	var g Gap
	if !a.Managed {
		g |= GapUnmanaged
	} else if a.LastScan.IsZero() {
		g |= GapNeverScanned
	} else if at.Sub(a.LastScan) > o.StaleScanAfter {
		g |= GapStaleScan
	}
	if len(a.FailingSources) > 0 {
		g |= GapScanFailing
	}
	if a.Unsupported != "" {
		g |= GapUnsupportedOS
	}
	if len(a.UnsupportedSoftware) > 0 {
		g |= GapUnsupportedSoftware
	}
	return g
}

// Summarize rates one asset at instant at.
func Summarize(a *Asset, at time.Time, o Options) Summary {
	o = o.WithDefaults()
	s := Summary{Asset: a.ID, Client: a.ClientID, Site: a.SiteID, Hostname: a.Hostname, OS: a.OS, Class: a.Class,
		Kind: a.Kind, Target: pctOf(a.Target), At: at, Gaps: GapsOf(a, at, o)}
	s.Rated = s.Gaps&(GapUnmanaged|GapNeverScanned) == 0
	if !s.Rated {
		return s
	}
	cl := newClassifier(at, o)
	s.Tiers = make([]TierCounts, 0, 4)
	for i := range a.Findings {
		f := &a.Findings[i]
		cat := cl.classify(f)
		if cat < Installed {
			continue
		}
		count(&s.Counts, cat, f.Emergency)
		if f.Tier == "" {
			continue // not evaluated yet: counted overall only
		}
		j := slices.IndexFunc(s.Tiers, func(tc TierCounts) bool { return tc.Tier == f.Tier })
		if j < 0 {
			s.Tiers = append(s.Tiers, TierCounts{Tier: f.Tier})
			j = len(s.Tiers) - 1
		}
		count(&s.Tiers[j].Counts, cat, f.Emergency)
	}
	slices.SortFunc(s.Tiers, func(x, y TierCounts) int { return strings.Compare(x.Tier, y.Tier) })
	s.Rating, s.Strict = Rating(s.Counts), Strict(s.Counts)
	return s
}
