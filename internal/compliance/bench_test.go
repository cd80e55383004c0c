package compliance_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// fleet builds n assets with k findings each across 100 clients, with a
// realistic mix: most findings installed, some missing, a few excepted,
// emergency or awaiting approval, a few not yet due.
func fleet(n, k int) []*compliance.Asset {
	rnd := rand.New(rand.NewPCG(1, 2))
	ids := make([]patch.ClientID, 100)
	for i := range ids {
		ids[i] = patch.ClientID(fmt.Sprintf("cli_%03d", i))
	}
	sites := []patch.SiteID{"sit_1", "sit_2", "sit_3", ""}
	classes := []struct {
		class  string
		kind   patch.ClassKind
		target float64
	}{{"core-server", patch.ClassKindServer, 95}, {"server", patch.ClassKindServer, 95}, {"workstation", patch.ClassKindWorkstation, 92}, {"kiosk", patch.ClassKindWorkstation, 92}}
	as := make([]*compliance.Asset, n)
	for i := range as {
		c := classes[rnd.IntN(len(classes))]
		a := &compliance.Asset{ID: patch.AssetID(fmt.Sprintf("ast_%07d", i)), ClientID: ids[rnd.IntN(len(ids))], SiteID: sites[rnd.IntN(len(sites))],
			Hostname: fmt.Sprintf("host-%d", i), OS: patch.OSFamilies[rnd.IntN(3)], Class: c.class, Kind: c.kind, Target: c.target,
			Managed: rnd.IntN(50) > 0, LastScan: at.Add(-time.Duration(rnd.IntN(24*10)) * time.Hour), Findings: make([]compliance.Finding, k)}
		for j := range a.Findings {
			f := compliance.Finding{Tier: tiers[rnd.IntN(3)], Approval: patch.ApprovalApproved, State: patch.FindingOpen,
				FirstSeen: at.Add(-time.Duration(rnd.IntN(24*60)) * time.Hour)}
			f.SLAAnchor = f.FirstSeen
			f.DueAt = f.FirstSeen.Add(time.Duration(1+rnd.IntN(30)) * 24 * time.Hour)
			switch r := rnd.IntN(100); {
			case r < 80:
				f.State, f.Resolution, f.ResolvedAt = patch.FindingResolved, patch.ResolvedVerified, f.FirstSeen.Add(time.Duration(rnd.IntN(24*20))*time.Hour)
			case r < 83:
				f.Excepted = true
			case r < 85:
				f.Emergency = true
			case r < 88:
				f.Approval = patch.ApprovalPending
			}
			a.Findings[j] = f
		}
		as[i] = a
	}
	return as
}

// BenchmarkRecomputeAll rates 100,000 assets with 50 findings each (five
// million findings) and rolls every rating up: the figure recorded in
// docs/benchmarks.md.
func BenchmarkRecomputeAll(b *testing.B) {
	as := fleet(100_000, 50)
	b.ResetTimer()
	for b.Loop() {
		ix := compliance.Recompute(as, at, compliance.Options{})
		if rs := ix.Ratings(func(patch.ClientID) bool { return true }); len(rs) == 0 {
			b.Fatal("no ratings")
		}
	}
}

// BenchmarkCheckIn re-rates one asset of 100,000 and reads its client's
// ratings: the incremental path a check-in takes.
func BenchmarkCheckIn(b *testing.B) {
	as := fleet(100_000, 50)
	ix := compliance.Recompute(as, at, compliance.Options{})
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a := as[i%len(as)]
		i++
		ix.Put(compliance.Summarize(a, at.Add(time.Minute), compliance.Options{}))
		if rs := ix.Ratings(func(c patch.ClientID) bool { return c == a.ClientID }); len(rs) == 0 {
			b.Fatal("no ratings")
		}
	}
}

func TestRecomputeMatchesRollup(t *testing.T) {
	as := fleet(2_000, 20)
	got := compliance.Recompute(as, at, compliance.Options{}).Ratings(func(patch.ClientID) bool { return true })
	want := compliance.Rollup(summaries(as, at))
	if len(got) != len(want) {
		t.Fatalf("Recompute gave %d groups, Rollup %d", len(got), len(want))
	}
	for i := range got {
		if got[i].GroupKey() != want[i].GroupKey() || got[i].Rating != want[i].Rating || got[i].Findings != want[i].Findings {
			t.Fatalf("group %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
