package report

import (
	"cmp"
	"slices"

	"github.com/patchring/patchring/internal/patch"
)

// RiskOrder is how Patchring ranks findings by risk, for "top risks
// reduced" and for the evidence bundle's risk-based prioritisation log.
// The keys, most significant first:
//
//  1. known exploited (on CISA's KEV list or flagged by the vendor) first;
//  2. emergency (out-of-band) updates first;
//  3. severity tier, most urgent first, in the order of the client's
//     policy (tiers the policy does not list come last);
//  4. assets that create, receive or transmit ePHI first;
//  5. asset criticality, critical first;
//  6. CVSS base score, highest first;
//  7. due time, earliest first (no due time last);
//  8. first detection, earliest first; then finding ID, for a total order.
//
// The first two say how likely exploitation is, the next three how bad it
// would be for this client, the rest break ties by urgency. It is the
// order a technician should work the list in, and the one the log
// documents for an auditor.
const RiskOrder = "known exploited, emergency, tier (policy order), ePHI asset, asset criticality, CVSS (highest), due time (earliest), detected (earliest)"

var criticalityRank = map[string]int{
	string(patch.CriticalityCritical): 0, string(patch.CriticalityHigh): 1,
	string(patch.CriticalityMedium): 2, string(patch.CriticalityLow): 3,
}

// RankRisks sorts rs by RiskOrder and numbers them from 1. tiers lists the
// client's tier keys, most urgent first.
func RankRisks(rs []Risk, tiers []string) {
	tierRank := func(t string) int {
		if i := slices.Index(tiers, t); i >= 0 {
			return i
		}
		return len(tiers)
	}
	critRank := func(c string) int {
		if r, ok := criticalityRank[c]; ok {
			return r
		}
		return len(criticalityRank)
	}
	first := func(b bool) int {
		if b {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(rs, func(a, b Risk) int {
		return cmp.Or(
			cmp.Compare(first(a.KnownExploited), first(b.KnownExploited)),
			cmp.Compare(first(a.Emergency), first(b.Emergency)),
			cmp.Compare(tierRank(a.Tier), tierRank(b.Tier)),
			cmp.Compare(first(a.EPHI), first(b.EPHI)),
			cmp.Compare(critRank(a.Criticality), critRank(b.Criticality)),
			cmp.Compare(b.CVSS, a.CVSS),
			compareDue(a, b),
			a.DetectedAt.Compare(b.DetectedAt),
			cmp.Compare(a.FindingID, b.FindingID),
		)
	})
	for i := range rs {
		rs[i].Rank = i + 1
	}
}

// compareDue orders by due time, findings without one last.
func compareDue(a, b Risk) int {
	switch {
	case a.DueAt.IsZero() && b.DueAt.IsZero():
		return 0
	case a.DueAt.IsZero():
		return 1
	case b.DueAt.IsZero():
		return -1
	}
	return a.DueAt.Compare(b.DueAt)
}
