package compliance

import (
	"cmp"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// SnapshotRows turns one day's ratings and the asset summaries they were
// computed from into the rows a snapshot stores.
func SnapshotRows(d patch.Day, ratings []GroupRating, ss []Summary, takenAt time.Time) ([]*patch.RatingSnapshot, []*patch.AssetDay) {
	groups := make([]*patch.RatingSnapshot, 0, len(ratings))
	for _, r := range ratings {
		groups = append(groups, &patch.RatingSnapshot{Day: d, ClientID: r.ClientID, Dim: string(r.Dim), Key: r.Key,
			RatingPct: r.RatingPct, StrictPct: r.StrictPct, TargetPct: r.TargetPct, Met: r.Met, Assets: r.Assets, Rated: r.Rated,
			Compliant: r.Compliant, Findings: r.Findings, Gaps: r.Gaps, TakenAt: takenAt})
	}
	assets := make([]*patch.AssetDay, 0, len(ss))
	for i := range ss {
		v := ss[i].View()
		assets = append(assets, &patch.AssetDay{Day: d, ClientID: v.ClientID, AssetID: v.AssetID, Hostname: v.Hostname, SiteID: v.SiteID,
			OS: v.OS, Class: v.Class, Kind: v.Kind, Rated: v.Rated, RatingPct: v.RatingPct, StrictPct: v.StrictPct, TargetPct: v.TargetPct,
			Findings: v.Findings, Tiers: v.Tiers, Gaps: v.Gaps})
	}
	return groups, assets
}

// Average returns the mean of the values that are set, rounded to two
// decimals; nil when none is.
func Average(vs []*float64) *float64 {
	sum, n := 0.0, 0
	for _, v := range vs {
		if v != nil {
			sum += *v
			n++
		}
	}
	if n == 0 {
		return nil
	}
	m := round2(sum / float64(n))
	return &m
}

// PeriodAverage is one group's average over a period of daily snapshots:
// the figure the service description's monthly targets are held to.
type PeriodAverage struct {
	ClientID patch.ClientID `json:"client_id,omitempty"`
	Dim      string         `json:"dim"`
	Key      string         `json:"key"`
	From     patch.Day      `json:"from"`
	To       patch.Day      `json:"to"`
	// Days counts the days with a rating; DaysMet those at or above their
	// target.
	Days      int      `json:"days"`
	DaysMet   int      `json:"days_met"`
	RatingPct *float64 `json:"rating_pct"`
	StrictPct *float64 `json:"strict_pct"`
	TargetPct *float64 `json:"target_pct"`
	// Met compares the average rating with the average target.
	Met *bool `json:"met"`
	// MinPct and MaxPct are the lowest and highest daily ratings.
	MinPct *float64 `json:"min_pct"`
	MaxPct *float64 `json:"max_pct"`
}

// Averages averages daily snapshots per group over [from, to]: each
// group's rating is the mean of the days it had a rating. An asset that
// changed class mid-period counts in each class for the days it was in
// it, because every day's rows froze that day's membership.
func Averages(rows []*patch.RatingSnapshot, from, to patch.Day) []PeriodAverage {
	type acc struct {
		avg                     PeriodAverage
		ratings, stricts, targs []*float64
	}
	byKey := map[GroupKey]*acc{}
	var keys []GroupKey
	for _, r := range rows {
		if r.Day < from || r.Day > to {
			continue
		}
		k := GroupKey{r.ClientID, Dim(r.Dim), r.Key}
		a := byKey[k]
		if a == nil {
			a = &acc{avg: PeriodAverage{ClientID: r.ClientID, Dim: r.Dim, Key: r.Key, From: from, To: to}}
			byKey[k] = a
			keys = append(keys, k)
		}
		if r.RatingPct == nil {
			continue
		}
		a.avg.Days++
		if r.Met != nil && *r.Met {
			a.avg.DaysMet++
		}
		a.ratings, a.stricts, a.targs = append(a.ratings, r.RatingPct), append(a.stricts, r.StrictPct), append(a.targs, r.TargetPct)
		if a.avg.MinPct == nil || *r.RatingPct < *a.avg.MinPct {
			a.avg.MinPct = r.RatingPct
		}
		if a.avg.MaxPct == nil || *r.RatingPct > *a.avg.MaxPct {
			a.avg.MaxPct = r.RatingPct
		}
	}
	out := make([]PeriodAverage, 0, len(keys))
	for _, k := range keys {
		a := byKey[k]
		a.avg.RatingPct, a.avg.StrictPct, a.avg.TargetPct = Average(a.ratings), Average(a.stricts), Average(a.targs)
		if a.avg.RatingPct != nil && a.avg.TargetPct != nil {
			met := *a.avg.RatingPct >= *a.avg.TargetPct
			a.avg.Met = &met
		}
		out = append(out, a.avg)
	}
	slices.SortFunc(out, func(a, b PeriodAverage) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(slices.Index(Dims, Dim(a.Dim)), slices.Index(Dims, Dim(b.Dim))),
			cmp.Compare(a.Key, b.Key))
	})
	return out
}

// MonthOf returns the first and last day of the month of d.
func MonthOf(d patch.Day) (first, last patch.Day) {
	t := d.Start()
	f := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return patch.DayOf(f), patch.DayOf(f.AddDate(0, 1, -1))
}

// WeekOf returns the Monday that starts the ISO week of d.
func WeekOf(d patch.Day) patch.Day {
	t := d.Start()
	off := (int(t.Weekday()) + 6) % 7
	return d.Add(-off)
}
