package compliance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"pgregory.net/rapid"
)

var (
	tiers     = []string{"critical", "high", "routine", ""}
	approvals = []patch.Approval{patch.ApprovalApproved, patch.ApprovalPending, patch.ApprovalDeclined}
	clients   = []patch.ClientID{"cli_a", "cli_b"}
)

func genFinding(t *rapid.T, label string) compliance.Finding {
	hour := func(name string) time.Time {
		return at.Add(time.Duration(rapid.IntRange(-24*90, 24*30).Draw(t, name)) * time.Hour)
	}
	f := compliance.Finding{ID: patch.FindingID(label), Tier: rapid.SampledFrom(tiers).Draw(t, label+"tier"),
		Approval: rapid.SampledFrom(approvals).Draw(t, label+"approval"), Emergency: rapid.Bool().Draw(t, label+"emergency"),
		FirstSeen: hour(label + "first"), State: patch.FindingOpen}
	f.SLAAnchor = f.FirstSeen
	if rapid.IntRange(0, 9).Draw(t, label+"evaluated") > 0 {
		f.DueAt = hour(label + "due")
	}
	switch rapid.IntRange(0, 3).Draw(t, label+"state") {
	case 1, 2:
		f.State, f.Resolution = patch.FindingResolved, patch.ResolvedVerified
		f.ResolvedAt = f.FirstSeen.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(t, label+"fix")) * time.Hour)
	case 3:
		f.State, f.Resolution = patch.FindingResolved, rapid.SampledFrom([]patch.Resolution{patch.ResolvedSuperseded, patch.ResolvedRetired}).Draw(t, label+"res")
		f.ResolvedAt = f.FirstSeen.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(t, label+"fix")) * time.Hour)
	}
	f.Excepted = f.State == patch.FindingOpen && rapid.IntRange(0, 4).Draw(t, label+"excepted") == 0
	return f
}

func genAssets(t *rapid.T) []*compliance.Asset {
	n := rapid.IntRange(1, 12).Draw(t, "assets")
	var as []*compliance.Asset
	for i := range n {
		l := fmt.Sprintf("a%d", i)
		kind := rapid.SampledFrom([]patch.ClassKind{patch.ClassKindServer, patch.ClassKindWorkstation}).Draw(t, l+"kind")
		a := &compliance.Asset{ID: patch.AssetID(l), ClientID: rapid.SampledFrom(clients).Draw(t, l+"client"), Hostname: l,
			SiteID: rapid.SampledFrom([]patch.SiteID{"", "sit_1", "sit_2"}).Draw(t, l+"site"),
			OS:     rapid.SampledFrom(patch.OSFamilies).Draw(t, l+"os"), Class: string(kind) + rapid.SampledFrom([]string{"", "-core"}).Draw(t, l+"class"),
			Kind: kind, Target: float64(rapid.IntRange(0, 100).Draw(t, l+"target")), Managed: rapid.IntRange(0, 5).Draw(t, l+"managed") > 0}
		if rapid.IntRange(0, 5).Draw(t, l+"scanned") > 0 {
			a.LastScan = at.Add(-time.Duration(rapid.IntRange(0, 24*20).Draw(t, l+"scan")) * time.Hour)
		}
		for j := range rapid.IntRange(0, 25).Draw(t, l+"findings") {
			a.Findings = append(a.Findings, genFinding(t, fmt.Sprintf("%s.f%d.", l, j)))
		}
		as = append(as, a)
	}
	return as
}

func byKey(rs []compliance.GroupRating) map[compliance.GroupKey]compliance.GroupRating {
	m := map[compliance.GroupKey]compliance.GroupRating{}
	for _, r := range rs {
		m[r.GroupKey()] = r
	}
	return m
}

// TestPropertyRatingsInRange: every rating, strict rating and target of
// every asset and group lies in [0, 100], and the strict rating never
// exceeds the rating.
func TestPropertyRatingsInRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ss := summaries(genAssets(t), at)
		for _, s := range ss {
			if s.Rating < 0 || s.Rating > compliance.Full || s.Strict < 0 || s.Strict > s.Rating {
				t.Fatalf("asset %s: rating %d strict %d", s.Asset, s.Rating, s.Strict)
			}
		}
		for _, r := range compliance.Rollup(ss) {
			if r.Rated == 0 {
				if r.RatingPct != nil || r.Met != nil {
					t.Fatalf("%v has no rated asset but a rating", r.GroupKey())
				}
				continue
			}
			if r.Rating < 0 || r.Rating > compliance.Full || r.Strict < 0 || r.Strict > r.Rating || r.Target < 0 || r.Target > compliance.Full {
				t.Fatalf("%v: rating %d strict %d target %d", r.GroupKey(), r.Rating, r.Strict, r.Target)
			}
			if *r.RatingPct < 0 || *r.RatingPct > 100 || *r.StrictPct > *r.RatingPct {
				t.Fatalf("%v: %v%% strict %v%%", r.GroupKey(), *r.RatingPct, *r.StrictPct)
			}
		}
	})
}

// TestPropertyExcludingNothing: rating the same facts with nothing
// excluded (no exceptions, no emergency flags, everything approved) can
// only lower or keep every rating, and never goes below the strict rating.
func TestPropertyExcludingNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		as := genAssets(t)
		before := byKey(compliance.Rollup(summaries(as, at)))
		for _, a := range as {
			for i := range a.Findings {
				a.Findings[i].Excepted, a.Findings[i].Emergency, a.Findings[i].Approval = false, false, patch.ApprovalApproved
			}
		}
		after := byKey(compliance.Rollup(summaries(as, at)))
		for k, b := range before {
			a, ok := after[k]
			if !ok {
				continue // a tier that only excepted findings had
			}
			if a.Rated != b.Rated {
				t.Fatalf("%v: rated %d → %d", k, b.Rated, a.Rated)
			}
			if a.Rating > b.Rating {
				t.Fatalf("%v: excluding nothing raised the rating %d → %d", k, b.Rating, a.Rating)
			}
			// The strict rating also counts excepted findings whose
			// (paused) due time has not come: it is the floor.
			if b.Rated > 0 && a.Rating < b.Strict {
				t.Fatalf("%v: rating without exclusions %d below the strict rating %d", k, a.Rating, b.Strict)
			}
		}
	})
}

// TestPropertyExceptingNeverLowers: putting any open finding under an
// exception never lowers a rating, and never raises the strict one.
func TestPropertyExceptingNeverLowers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		as := genAssets(t)
		before := byKey(compliance.Rollup(summaries(as, at)))
		for ai, a := range as {
			for i := range a.Findings {
				if a.Findings[i].State == patch.FindingOpen && rapid.Bool().Draw(t, fmt.Sprintf("except%d.%d", ai, i)) {
					a.Findings[i].Excepted = true
				}
			}
		}
		for k, a := range byKey(compliance.Rollup(summaries(as, at))) {
			b, ok := before[k]
			if !ok {
				continue // a tier that only excepted findings have
			}
			if a.Rating < b.Rating || a.Strict > b.Strict {
				t.Fatalf("%v: excepting changed rating %d → %d, strict %d → %d", k, b.Rating, a.Rating, b.Strict, a.Strict)
			}
		}
	})
}

// TestPropertyIndexIncremental: any sequence of puts and removes leaves
// the index equal to a full rollup of what it holds.
func TestPropertyIndexIncremental(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		as := genAssets(t)
		ix := compliance.NewIndex()
		held := map[patch.AssetID]compliance.Summary{}
		for i := range rapid.IntRange(1, 40).Draw(t, "ops") {
			a := rapid.SampledFrom(as).Draw(t, fmt.Sprintf("op%d", i))
			if rapid.IntRange(0, 4).Draw(t, fmt.Sprintf("rm%d", i)) == 0 {
				ix.Remove(a.ID)
				delete(held, a.ID)
				continue
			}
			when := at.Add(-time.Duration(rapid.IntRange(0, 24*40).Draw(t, fmt.Sprintf("at%d", i))) * time.Hour)
			s := compliance.Summarize(a, when, compliance.Options{})
			ix.Put(s)
			held[a.ID] = s
		}
		var ss []compliance.Summary
		for _, s := range held {
			ss = append(ss, s)
		}
		if d := cmp.Diff(compliance.Rollup(ss), ix.Ratings(func(patch.ClientID) bool { return true })); d != "" {
			t.Fatalf("index differs from rollup (-rollup +index):\n%s", d)
		}
	})
}

// TestPropertyCategoriesPartition: every finding gets exactly one
// category, and the counts add up.
func TestPropertyCategoriesPartition(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genAssets(t)[0]
		a.Managed, a.LastScan = true, at
		s := compliance.Summarize(a, at, compliance.Options{})
		counted := 0
		for i := range a.Findings {
			if compliance.Classify(&a.Findings[i], at, compliance.Options{}.WithDefaults()) >= compliance.Installed {
				counted++
			}
		}
		c := s.Counts
		if sum := c.Installed + c.Missing + c.Excepted + c.EmergencyMissing + c.NotApproved + c.NotEvaluated; sum != counted {
			t.Fatalf("counts %+v sum to %d, %d findings counted", c, sum, counted)
		}
	})
}
