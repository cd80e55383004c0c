package compliance

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Dim is a dimension ratings are rolled up by. Never one blended number:
// every client and the MSP get a rating per class kind, class, OS family,
// severity tier and (clients only) site, next to the overall one.
type Dim string

// Dimensions.
const (
	DimAll   Dim = "all"
	DimKind  Dim = "kind"
	DimClass Dim = "class"
	DimOS    Dim = "os"
	DimTier  Dim = "tier"
	DimSite  Dim = "site"
)

// Dims lists the dimensions in report order.
var Dims = []Dim{DimAll, DimKind, DimClass, DimOS, DimTier, DimSite}

// NoSite is the site key of assets without a site.
const NoSite = "none"

// GroupKey names a group: a client (empty for the whole MSP), a dimension
// and the key within it ("" for DimAll).
type GroupKey struct {
	Client patch.ClientID
	Dim    Dim
	Key    string
}

// agg are the additive sums of a group. Ratings are means, so sums of
// integer scores and counts are all an incremental update has to touch.
type agg struct {
	assets, rated, compliant, strictCompliant int
	sumRating, sumStrict, sumTarget           int64
	counts                                    patch.FindingCounts
	gaps                                      [numGaps]int
}

func (g *agg) add(s *Summary, sign int) {
	g.assets += sign
	for i := range numGaps {
		if s.Gaps&(1<<i) != 0 {
			g.gaps[i] += sign
		}
	}
	if !s.Rated {
		return
	}
	g.rated += sign
	if s.Rating == Full {
		g.compliant += sign
	}
	if s.Strict == Full {
		g.strictCompliant += sign
	}
	g.sumRating += int64(sign) * int64(s.Rating)
	g.sumStrict += int64(sign) * int64(s.Strict)
	g.sumTarget += int64(sign) * int64(s.Target)
	g.counts.Add(s.Counts, sign)
}

// tierAgg are the sums of one tier over the rated assets that have
// findings of it; the others count as owing nothing in that tier.
type tierAgg struct {
	with, compliant, strictCompliant int
	sumRating, sumStrict             int64
	counts                           patch.FindingCounts
}

type tierKey struct {
	client patch.ClientID
	tier   string
}

// Index holds per-asset summaries and per-group sums. Put replaces one
// asset's summary and adjusts only the sums of the groups it belongs to,
// so a check-in costs O(groups of one asset), and reading every rating
// costs O(groups). An Index is not safe for concurrent use.
type Index struct {
	assets map[patch.AssetID]*Summary
	groups map[GroupKey]*agg
	tiers  map[tierKey]*tierAgg
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{assets: map[patch.AssetID]*Summary{}, groups: map[GroupKey]*agg{}, tiers: map[tierKey]*tierAgg{}}
}

// Len returns how many assets the index holds.
func (ix *Index) Len() int { return len(ix.assets) }

// Put adds or replaces an asset's summary.
func (ix *Index) Put(s Summary) {
	if old, ok := ix.assets[s.Asset]; ok {
		ix.apply(old, -1)
	}
	p := &s
	ix.assets[s.Asset] = p
	ix.apply(p, 1)
}

// Remove drops an asset.
func (ix *Index) Remove(id patch.AssetID) {
	if old, ok := ix.assets[id]; ok {
		ix.apply(old, -1)
		delete(ix.assets, id)
	}
}

// RemoveClient drops every asset of a client.
func (ix *Index) RemoveClient(c patch.ClientID) {
	for id, s := range ix.assets {
		if s.Client == c {
			ix.Remove(id)
		}
	}
}

// Summary returns an asset's summary.
func (ix *Index) Summary(id patch.AssetID) (Summary, bool) {
	s, ok := ix.assets[id]
	if !ok {
		return Summary{}, false
	}
	return *s, true
}

func siteKey(s patch.SiteID) string {
	if s == "" {
		return NoSite
	}
	return string(s)
}

// groupKeys returns the keys of the groups s belongs to, besides tiers.
func groupKeys(s *Summary, buf []GroupKey) []GroupKey {
	for _, c := range [2]patch.ClientID{s.Client, ""} {
		buf = append(buf,
			GroupKey{c, DimAll, ""},
			GroupKey{c, DimKind, string(s.Kind)},
			GroupKey{c, DimClass, s.Class},
			GroupKey{c, DimOS, string(s.OS)})
		if c != "" {
			buf = append(buf, GroupKey{c, DimSite, siteKey(s.Site)})
		}
	}
	return buf
}

func (ix *Index) apply(s *Summary, sign int) {
	var buf [9]GroupKey
	for _, k := range groupKeys(s, buf[:0]) {
		g := ix.groups[k]
		if g == nil {
			g = &agg{}
			ix.groups[k] = g
		}
		g.add(s, sign)
		if g.assets == 0 {
			delete(ix.groups, k)
		}
	}
	if !s.Rated {
		return
	}
	for _, tc := range s.Tiers {
		r, st := Rating(tc.Counts), Strict(tc.Counts)
		for _, c := range [2]patch.ClientID{s.Client, ""} {
			k := tierKey{c, tc.Tier}
			t := ix.tiers[k]
			if t == nil {
				t = &tierAgg{}
				ix.tiers[k] = t
			}
			t.with += sign
			if r == Full {
				t.compliant += sign
			}
			if st == Full {
				t.strictCompliant += sign
			}
			t.sumRating += int64(sign) * int64(r)
			t.sumStrict += int64(sign) * int64(st)
			t.counts.Add(tc.Counts, sign)
			if t.with == 0 {
				delete(ix.tiers, k)
			}
		}
	}
}

// GroupRating is one group's rating.
type GroupRating struct {
	ClientID patch.ClientID `json:"client_id,omitempty"`
	Dim      Dim            `json:"dim"`
	Key      string         `json:"key"`
	// Label is a display name the caller may fill (a site's name).
	Label string `json:"label,omitempty"`
	// RatingPct is the mean rating of the rated assets; nil when none is
	// rated. StrictPct excludes nothing.
	RatingPct *float64 `json:"rating_pct"`
	StrictPct *float64 `json:"strict_pct"`
	// TargetPct is the mean class target of the rated assets.
	TargetPct *float64 `json:"target_pct"`
	// Met compares the exact rating with the exact target (the
	// percentages are rounded to two decimals for display).
	Met    *bool `json:"met"`
	Assets int   `json:"assets"`
	Rated  int   `json:"rated"`
	// Compliant counts rated assets at 100 %.
	Compliant int                 `json:"compliant"`
	Findings  patch.FindingCounts `json:"findings"`
	// Gaps counts the group's assets with each coverage gap (an asset can
	// have several).
	Gaps map[string]int `json:"gaps"`
	// Rating, Strict and Target are the exact mean scores.
	Rating Score `json:"-"`
	Strict Score `json:"-"`
	Target Score `json:"-"`
}

// GroupKey returns the group's key.
func (r *GroupRating) GroupKey() GroupKey { return GroupKey{r.ClientID, r.Dim, r.Key} }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func pctPtr(s Score) *float64 {
	v := round2(s.Pct())
	return &v
}

func gapMap(g [numGaps]int) map[string]int {
	m := make(map[string]int, numGaps)
	for i, n := range g {
		m[gapNames[i]] = n
	}
	return m
}

func (ix *Index) rating(k GroupKey) (GroupRating, bool) {
	r := GroupRating{ClientID: k.Client, Dim: k.Dim, Key: k.Key}
	var (
		rated, compliant int
		sumR, sumS, sumT int64
		g                *agg
		ok               bool
	)
	if k.Dim == DimTier {
		g, ok = ix.groups[GroupKey{k.Client, DimAll, ""}]
		t := ix.tiers[tierKey{k.Client, k.Key}]
		if !ok || t == nil {
			return r, false
		}
		rated = g.rated
		free := int64(rated - t.with)
		compliant = t.compliant + int(free)
		sumR = t.sumRating + free*int64(Full)
		sumS = t.sumStrict + free*int64(Full)
		sumT = g.sumTarget
		r.Findings = t.counts
	} else {
		g, ok = ix.groups[k]
		if !ok {
			return r, false
		}
		rated, compliant, sumR, sumS, sumT = g.rated, g.compliant, g.sumRating, g.sumStrict, g.sumTarget
		r.Findings = g.counts
	}
	r.Assets, r.Rated, r.Compliant, r.Gaps = g.assets, rated, compliant, gapMap(g.gaps)
	if rated > 0 {
		n := int64(rated)
		r.Rating, r.Strict, r.Target = Score(sumR/n), Score(sumS/n), Score(sumT/n)
		r.RatingPct, r.StrictPct, r.TargetPct = pctPtr(r.Rating), pctPtr(r.Strict), pctPtr(r.Target)
		met := sumR >= sumT
		r.Met = &met
	}
	return r, true
}

// Group returns one group's rating.
func (ix *Index) Group(k GroupKey) (GroupRating, bool) { return ix.rating(k) }

// Ratings returns the ratings of every group of the clients that keep
// returns true for ("" is the MSP), in report order.
func (ix *Index) Ratings(keep func(patch.ClientID) bool) []GroupRating {
	var out []GroupRating
	for k := range ix.groups {
		if keep(k.Client) {
			if r, ok := ix.rating(k); ok {
				out = append(out, r)
			}
		}
	}
	for k := range ix.tiers {
		if keep(k.client) {
			if r, ok := ix.rating(GroupKey{k.client, DimTier, k.tier}); ok {
				out = append(out, r)
			}
		}
	}
	SortRatings(out)
	return out
}

// SortRatings sorts ratings by client (the MSP first), dimension and key.
func SortRatings(rs []GroupRating) {
	slices.SortFunc(rs, func(a, b GroupRating) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(slices.Index(Dims, a.Dim), slices.Index(Dims, b.Dim)),
			cmp.Compare(a.Key, b.Key))
	})
}

// Member reports whether an asset belongs to a group. Every asset of a
// client (or the MSP) is a member of each of its tier groups.
func Member(s *Summary, k GroupKey) bool {
	if k.Client != "" && s.Client != k.Client {
		return false
	}
	switch k.Dim {
	case DimAll, DimTier:
		return true
	case DimKind:
		return string(s.Kind) == k.Key
	case DimClass:
		return s.Class == k.Key
	case DimOS:
		return string(s.OS) == k.Key
	case DimSite:
		return k.Client != "" && siteKey(s.Site) == k.Key
	}
	return false
}

// Members returns the summaries of a group's assets by hostname: the
// drill-down from a group's numbers to the assets they were computed from.
func (ix *Index) Members(k GroupKey) []Summary {
	var out []Summary
	for _, s := range ix.assets {
		if Member(s, k) {
			out = append(out, *s)
		}
	}
	SortSummaries(out)
	return out
}

// All returns every summary of the clients keep accepts.
func (ix *Index) All(keep func(patch.ClientID) bool) []Summary {
	var out []Summary
	for _, s := range ix.assets {
		if keep(s.Client) {
			out = append(out, *s)
		}
	}
	SortSummaries(out)
	return out
}

// SortSummaries sorts by client, hostname and asset ID.
func SortSummaries(ss []Summary) {
	slices.SortFunc(ss, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(a.Asset, b.Asset))
	})
}

// Build returns an index holding the summaries (the last of an asset's
// wins).
func Build(ss []Summary) *Index {
	ix := &Index{assets: make(map[patch.AssetID]*Summary, len(ss)), groups: map[GroupKey]*agg{}, tiers: map[tierKey]*tierAgg{}}
	for _, s := range ss {
		ix.Put(s)
	}
	return ix
}

// Rollup rates every group of a set of summaries: the same numbers an
// Index holding them reports.
func Rollup(ss []Summary) []GroupRating {
	return Build(ss).Ratings(func(patch.ClientID) bool { return true })
}

// AssetRating is one asset's rating as the API shows it.
type AssetRating struct {
	AssetID   patch.AssetID                  `json:"asset_id"`
	ClientID  patch.ClientID                 `json:"client_id"`
	Hostname  string                         `json:"hostname"`
	SiteID    patch.SiteID                   `json:"site_id,omitempty"`
	OS        patch.OSFamily                 `json:"os"`
	Class     string                         `json:"class"`
	Kind      patch.ClassKind                `json:"kind"`
	Rated     bool                           `json:"rated"`
	RatingPct *float64                       `json:"rating_pct"`
	StrictPct *float64                       `json:"strict_pct"`
	TargetPct float64                        `json:"target_pct"`
	Findings  patch.FindingCounts            `json:"findings"`
	Tiers     map[string]patch.FindingCounts `json:"tiers"`
	Gaps      []string                       `json:"gaps"`
}

// View returns the summary as the API shows it.
func (s *Summary) View() AssetRating {
	v := AssetRating{AssetID: s.Asset, ClientID: s.Client, Hostname: s.Hostname, SiteID: s.Site, OS: s.OS, Class: s.Class,
		Kind: s.Kind, Rated: s.Rated, TargetPct: round2(s.Target.Pct()), Findings: s.Counts,
		Tiers: map[string]patch.FindingCounts{}, Gaps: s.Gaps.Names()}
	for _, tc := range s.Tiers {
		v.Tiers[tc.Tier] = tc.Counts
	}
	if s.Rated {
		v.RatingPct, v.StrictPct = pctPtr(s.Rating), pctPtr(s.Strict)
	}
	return v
}

// Recompute rates every asset at instant at and returns a fresh index.
// Summaries are computed on all processors (they are independent); the
// sums are then added up in one pass.
func Recompute(as []*Asset, at time.Time, o Options) *Index {
	ss := make([]Summary, len(as))
	workers := min(runtime.GOMAXPROCS(0), max(len(as)/1000, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(as); i += workers {
				ss[i] = Summarize(as[i], at, o)
			}
		})
	}
	wg.Wait()
	ix := &Index{assets: make(map[patch.AssetID]*Summary, len(as)), groups: map[GroupKey]*agg{}, tiers: map[tierKey]*tierAgg{}}
	for i := range ss {
		if old, ok := ix.assets[ss[i].Asset]; ok { // the same asset twice: the last one wins, as with Put
			ix.apply(old, -1)
		}
		ix.assets[ss[i].Asset] = &ss[i]
		ix.apply(&ss[i], 1)
	}
	return ix
}

// TierView returns the summary as the API shows it in a tier group: its
// findings of that tier only, rated on them (100 % when it has none).
func (s *Summary) TierView(tier string) AssetRating {
	v := s.View()
	c, _ := s.Tier(tier)
	v.Findings, v.Tiers = c, map[string]patch.FindingCounts{tier: c}
	if v.Rated {
		v.RatingPct, v.StrictPct = pctPtr(Rating(c)), pctPtr(Strict(c))
	}
	return v
}
