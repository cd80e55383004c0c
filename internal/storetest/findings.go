package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func aptUpdate(pkg, version string) patch.ScannedUpdate {
	return patch.ScannedUpdate{
		Update: patch.Update{
			Source: "apt", VendorID: pkg + "=" + version, Package: pkg, Title: pkg + " " + version,
			Product: "Debian 12", Version: version, Classification: "security", CVEs: []string{"CVE-2024-0001"},
		},
		InstalledVersion: "1.0-1",
	}
}

func testFindings(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Time{})
	a := patchtest.Asset(f.a.ID, "srv-1", patchtest.Linux)
	must(t, f.db.CreateAsset(f.admin, a))
	scan := func(d time.Duration, sources []patch.UpdateSource, failed map[patch.UpdateSource]string, missing ...patch.ScannedUpdate) patch.ScanOutcome {
		t.Helper()
		clock.Advance(d)
		out, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: clock.Now(), Sources: sources, Failed: failed, Missing: missing})
		must(t, err)
		return out
	}
	openFindings := func() []*patch.Finding {
		t.Helper()
		st := patch.FindingOpen
		fs, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{AssetID: &a.ID, State: &st, WithUpdate: true})
		must(t, err)
		return fs
	}
	apt := []patch.UpdateSource{"apt"}

	first := clock.Now().Add(time.Hour)
	out := scan(time.Hour, apt, nil, aptUpdate("openssl", "3.0.15-1"), aptUpdate("curl", "7.88.1-10+deb12u8"))
	if len(out.Opened) != 2 || len(out.Verified) != 0 {
		t.Fatalf("first scan = %+v, want 2 opened", out)
	}
	fs := openFindings()
	if len(fs) != 2 || fs[0].Update == nil || fs[0].Approval != patch.ApprovalPending || !fs[0].FirstSeen.Equal(first) || !fs[0].SLAAnchor.Equal(first) {
		t.Fatalf("open findings = %+v", fs)
	}

	t.Run("RescanRefreshes", func(t *testing.T) {
		out := scan(time.Hour, apt, nil, aptUpdate("openssl", "3.0.15-1"), aptUpdate("curl", "7.88.1-10+deb12u8"))
		if len(out.Opened) != 0 || out.StillOpen != 2 {
			t.Errorf("rescan = %+v, want nothing new", out)
		}
		for _, fi := range openFindings() {
			if !fi.FirstSeen.Equal(first) || !fi.LastSeen.Equal(clock.Now()) {
				t.Errorf("finding %s first/last seen = %v/%v", fi.ID, fi.FirstSeen, fi.LastSeen)
			}
		}
		us, n, err := f.db.FindUpdates(f.admin, patch.UpdateFilter{})
		must(t, err)
		if n != 2 || len(us[0].CVEs) != 1 {
			t.Errorf("catalog = %d entries %+v, want 2 (no duplicates)", n, us)
		}
	})
	t.Run("FailedSourceResolvesNothing", func(t *testing.T) {
		out := scan(time.Hour, nil, map[patch.UpdateSource]string{"apt": "apt-get update: could not resolve deb.debian.org"})
		if len(out.Verified) != 0 {
			t.Errorf("a failed scan verified %v", out.Verified)
		}
		if n := len(openFindings()); n != 2 {
			t.Errorf("open findings after failed scan = %d, want 2", n)
		}
		st, err := f.db.FindScanStatus(f.admin, a.ID)
		must(t, err)
		if len(st) != 1 || st[0].LastError == "" || st[0].LastSuccess.IsZero() || !st[0].LastAttempt.Equal(clock.Now()) {
			t.Errorf("scan status = %+v", st)
		}
		// Another source's scan does not resolve apt findings either.
		out = scan(time.Minute, []patch.UpdateSource{"winget"}, nil)
		if len(out.Verified) != 0 {
			t.Errorf("a winget scan verified apt findings %v", out.Verified)
		}
	})
	t.Run("SupersedeKeepsClock", func(t *testing.T) {
		out := scan(24*time.Hour, apt, nil, aptUpdate("openssl", "3.0.16-1"), aptUpdate("curl", "7.88.1-10+deb12u8"))
		if len(out.Opened) != 1 || len(out.Superseded) != 1 || len(out.Verified) != 0 {
			t.Fatalf("supersede scan = %+v", out)
		}
		fs := openFindings()
		i := slices.IndexFunc(fs, func(f *patch.Finding) bool { return f.Update.Package == "openssl" })
		if i < 0 || fs[i].Update.Version != "3.0.16-1" || !fs[i].SLAAnchor.Equal(first) || fs[i].FirstSeen.Equal(first) {
			t.Errorf("successor = %+v, want version 3.0.16-1 anchored at %v", fs[i], first)
		}
		old, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{ID: &out.Superseded[0]})
		must(t, err)
		if old[0].State != patch.FindingResolved || old[0].Resolution != patch.ResolvedSuperseded || old[0].SupersededBy != fs[i].ID {
			t.Errorf("superseded finding = %+v", old[0])
		}
	})
	t.Run("GoneMeansVerified", func(t *testing.T) {
		out := scan(time.Hour, apt, nil, aptUpdate("curl", "7.88.1-10+deb12u8"))
		if len(out.Verified) != 1 {
			t.Fatalf("scan = %+v, want openssl verified", out)
		}
		v, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{ID: &out.Verified[0], WithUpdate: true})
		must(t, err)
		if v[0].Resolution != patch.ResolvedVerified || !v[0].ResolvedAt.Equal(clock.Now()) || v[0].Update.Package != "openssl" {
			t.Errorf("verified finding = %+v", v[0])
		}
		since := clock.Now()
		res, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{ResolvedSince: &since})
		must(t, err)
		if len(res) != 1 {
			t.Errorf("resolved since = %d, want 1", len(res))
		}
	})
	t.Run("Reappears", func(t *testing.T) {
		// A rolled-back package is a new finding, not a reopened one.
		out := scan(time.Hour, apt, nil, aptUpdate("curl", "7.88.1-10+deb12u8"), aptUpdate("openssl", "3.0.16-1"))
		if len(out.Opened) != 1 {
			t.Errorf("scan = %+v, want openssl opened again", out)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		_, err := f.db.RecordScan(f.ownB, patch.ScanResult{AssetID: a.ID, At: clock.Now(), Sources: apt})
		wantKind(t, err, patch.KindNotFound)
		fs, n, err := f.db.FindFindings(f.ownB, patch.FindingFilter{AssetID: &a.ID})
		must(t, err)
		if n != 0 || len(fs) != 0 {
			t.Errorf("client owner of B sees %d findings of A", n)
		}
		us, n, err := f.db.FindUpdates(f.ownB, patch.UpdateFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d updates only A needs: %v", n, us)
		}
		_, n, err = f.db.FindUpdates(f.ownA, patch.UpdateFilter{})
		must(t, err)
		if n == 0 {
			t.Error("client owner of A sees no updates of its own findings")
		}
		st, err := f.db.FindScanStatus(f.ownB, a.ID)
		must(t, err)
		if len(st) != 0 {
			t.Errorf("client owner of B sees scan status of A: %v", st)
		}
	})
	t.Run("DeleteAsset", func(t *testing.T) {
		must(t, f.db.DeleteAsset(f.admin, a.ID))
		_, n, err := f.db.FindFindings(f.admin, patch.FindingFilter{AssetID: &a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("findings of deleted asset: %d", n)
		}
	})
}
