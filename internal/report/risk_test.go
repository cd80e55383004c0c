package report

import (
	"slices"
	"testing"
	"time"
)

func TestRankRisks(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }
	tiers := []string{"critical", "high", "routine"}
	// Each row outranks the next by exactly one key of RiskOrder.
	want := []Risk{
		{FindingID: "kev", KnownExploited: true, Tier: "routine"},
		{FindingID: "emergency", Emergency: true, Tier: "routine"},
		{FindingID: "critical-tier", Tier: "critical"},
		{FindingID: "high-ephi", Tier: "high", EPHI: true, Criticality: "low"},
		{FindingID: "high-critical-asset", Tier: "high", Criticality: "critical"},
		{FindingID: "high-cvss", Tier: "high", Criticality: "medium", CVSS: 9.1},
		{FindingID: "high-due-early", Tier: "high", Criticality: "medium", CVSS: 5, DueAt: at(3)},
		{FindingID: "high-due-late", Tier: "high", Criticality: "medium", CVSS: 5, DueAt: at(9)},
		{FindingID: "high-no-due-detected-early", Tier: "high", Criticality: "medium", CVSS: 5, DetectedAt: at(1)},
		{FindingID: "high-no-due-detected-late", Tier: "high", Criticality: "medium", CVSS: 5, DetectedAt: at(2)},
		{FindingID: "routine", Tier: "routine"},
		{FindingID: "unknown-tier-a", Tier: "custom"},
		{FindingID: "unknown-tier-b", Tier: "custom"},
	}
	for seed := range 20 {
		got := slices.Clone(want)
		// A deterministic shuffle per seed.
		for i := len(got) - 1; i > 0; i-- {
			j := (i*7 + seed*13) % (i + 1)
			got[i], got[j] = got[j], got[i]
		}
		RankRisks(got, tiers)
		for i := range got {
			if got[i].FindingID != want[i].FindingID || got[i].Rank != i+1 {
				ids := make([]string, len(got))
				for k, r := range got {
					ids[k] = string(r.FindingID)
				}
				t.Fatalf("seed %d: order %v", seed, ids)
			}
		}
	}
}
