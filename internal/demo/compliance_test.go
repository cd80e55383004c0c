package demo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/demo"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
)

// TestSeedComplianceHistory seeds the demo with every store wired and
// checks that the patch history makes the numbers the demo is for:
// ratings by OS and tier against targets for each client (the law firm
// meeting them, the manufacturer missing them), monitors per asset, a
// 30-day history, the metrics, and every rating traceable to findings.
func TestSeedComplianceHistory(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC))
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Agents: db, Inventory: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db}, server.Options{Now: clock.Now})
	start := time.Now()
	res, err := demo.Seed(t.Context(), srv, db, demo.Options{Seed: 1, Now: clock.Now(), Password: "demo-password-123"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded in %s", time.Since(start))
	ctx := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))

	overall := map[string]float64{}
	for _, c := range res.Clients {
		rep, err := srv.ClientCompliance(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Overall.RatingPct == nil || len(rep.ByOS) < 2 || len(rep.ByTier) < 2 || len(rep.ByKind) != 2 {
			t.Fatalf("%s: overall %+v, %d OS, %d tiers, %d kinds", c.Name, rep.Overall, len(rep.ByOS), len(rep.ByTier), len(rep.ByKind))
		}
		overall[c.Name] = *rep.Overall.RatingPct
		for _, r := range rep.ByKind {
			t.Logf("%s %s: %.2f%% (target %.0f%%, strict %.2f%%) %+v gaps %v", c.Name, r.Key, *r.RatingPct, *r.TargetPct, *r.StrictPct, r.Findings, r.Gaps)
		}
		for _, r := range rep.ByOS {
			if r.RatingPct != nil {
				t.Logf("  %s: %.2f%% target %.2f%%", r.Key, *r.RatingPct, *r.TargetPct)
			}
		}
		for _, r := range rep.ByTier {
			t.Logf("  tier %s: %.2f%%", r.Key, *r.RatingPct)
		}
		if len(rep.CoverageGaps) == 0 {
			t.Errorf("%s: no coverage gaps (the demo has discovered devices)", c.Name)
		}
		m := rep.Metrics
		if a := m.SLAAttainment[0]; a.Met == 0 || a.AttainmentPct == nil {
			t.Errorf("%s: SLA attainment %+v", c.Name, a)
		}
		if r := m.TimeToRemediate[0]; r.Count == 0 {
			t.Errorf("%s: time to remediate %+v", c.Name, r)
		}
		t.Logf("  SLA %+v; TTR median %.1fh p90 %.1fh; exceptions %d; monitors %v", *m.SLAAttainment[0].AttainmentPct, *m.TimeToRemediate[0].MedianHours,
			*m.TimeToRemediate[0].P90Hours, m.Exceptions.Active, rep.Monitors)
		h, err := srv.ComplianceHistory(ctx, server.HistoryQuery{ClientID: &c.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Days) != 30 || h.Average == nil {
			t.Errorf("%s: history of %d days", c.Name, len(h.Days))
		}
		ms, err := srv.ClientMonitors(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || len(ms[0].Monitors) != len(patch.MonitorKinds) || ms[0].Worst == patch.MonitorOK {
			t.Errorf("%s: monitors %+v", c.Name, ms[:min(len(ms), 1)])
		}
		// Traceable: every rated asset's counts are its findings' categories.
		as, err := srv.ComplianceGroupAssets(ctx, compliance.GroupKey{Client: c.ID, Dim: compliance.DimAll})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as[:min(len(as), 15)] {
			v, err := srv.AssetCompliance(ctx, a.AssetID, nil)
			if err != nil {
				t.Fatal(err)
			}
			var n patch.FindingCounts
			for _, f := range v.Findings {
				switch f.Category {
				case compliance.Installed:
					n.Installed++
					if f.Emergency {
						n.EmergencyInstalled++
					}
				case compliance.Missing:
					n.Missing++
				case compliance.Excepted:
					n.Excepted++
				case compliance.Emergency:
					n.EmergencyMissing++
				case compliance.NotApproved:
					n.NotApproved++
				case compliance.NotEvaluated:
					n.NotEvaluated++
				}
			}
			if a.Rated && n != a.Findings {
				t.Errorf("%s: findings give %+v, rating says %+v", a.Hostname, n, a.Findings)
			}
		}
	}
	if law, mfg := res.Clients[1].Name, res.Clients[2].Name; overall[law] <= overall[mfg] {
		t.Errorf("overall ratings %v: the law firm should do better than the manufacturer", overall)
	}
	msp, err := srv.ComplianceRatings(ctx, server.RatingQuery{MSP: true, Dim: patchtest.Ptr(compliance.DimKind)})
	if err != nil {
		t.Fatal(err)
	}
	var met, missed int
	for _, r := range msp.Ratings {
		if r.Met != nil && *r.Met {
			met++
		} else {
			missed++
		}
	}
	t.Logf("MSP kinds: %d met, %d missed", met, missed)
	xs, _, err := srv.Exceptions(ctx, patch.ExceptionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) < 3 {
		t.Errorf("exceptions = %d", len(xs))
	}
	sc, err := srv.Scorecard(ctx)
	if err != nil || len(sc.Rows) != 4 {
		t.Fatalf("scorecard = %+v, %v", sc, err)
	}
}
