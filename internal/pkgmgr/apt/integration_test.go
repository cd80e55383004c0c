package apt_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/apt"
	"github.com/patchring/patchring/internal/pkgmgr/apttest"
)

const hello = "patchring-demo-hello"

// TestManager_RealApt drives the real apt-get and dpkg against a private
// repository: scan, install, rollback and inventory of one package. It needs
// root (it installs into the host's dpkg database and purges afterwards).
func TestManager_RealApt(t *testing.T) {
	repo := apttest.NewRepo(t)
	repo.SetRelease(apttest.Release{Origin: "Patchring", Label: "Patchring-Security", Suite: "patchring-security", Codename: "patchring", Version: "1"})
	repo.Add(apttest.Package{Name: hello, Version: "1.0-1"})
	repo.Add(apttest.Package{Name: hello, Version: "1.1-1", Postinst: "#!/bin/sh\nset -e\ntouch /usr/share/patchring-test/" + hello + "/postinst-ran\n"})
	repo.DpkgInstall(hello, "1.0-1")

	reboot := filepath.Join(t.TempDir(), "reboot-required")
	m := apt.New(apt.Options{AptOptions: repo.AptOptions(), Product: "Debian 12", RebootRequiredFile: reboot})

	updates, err := m.Scan(t.Context())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := pkgmgr.Update{
		Source: pkgmgr.SourceApt, ID: hello + "=1.1-1", Package: hello, Title: hello + " 1.1-1", Product: "Debian 12",
		InstalledVersion: "1.0-1", AvailableVersion: "1.1-1",
		Classification: pkgmgr.ClassSecurity, VendorClassification: "patchring-security",
		Origin: "Patchring-Security:1/patchring-security",
	}
	i := slices.IndexFunc(updates, func(u pkgmgr.Update) bool { return u.Package == hello })
	if i < 0 {
		t.Fatalf("Scan did not report %s: %+v", hello, updates)
	}
	if diff := cmp.Diff(want, updates[i]); diff != "" {
		t.Errorf("Scan update (-want +got):\n%s", diff)
	}

	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: want.ID, Package: hello, Version: "1.1-1"}}})
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	wantItem := pkgmgr.ItemResult{ID: want.ID, Package: hello, Status: pkgmgr.ItemInstalled, FromVersion: "1.0-1", ToVersion: "1.1-1"}
	if diff := cmp.Diff([]pkgmgr.ItemResult{wantItem}, res.Items); diff != "" {
		t.Errorf("Install items (-want +got):\n%s\noutput:\n%s", diff, res.Output)
	}
	if got := repo.InstalledVersion(hello); got != "1.1-1" {
		t.Errorf("dpkg shows %s %q after Install, want 1.1-1", hello, got)
	}
	if _, err := os.Stat("/usr/share/patchring-test/" + hello + "/postinst-ran"); err != nil {
		t.Errorf("postinst of 1.1-1 did not run: %v", err)
	}
	if res.RebootRequired {
		t.Error("Install reported a reboot without the flag file")
	}

	updates, err = m.Scan(t.Context())
	if err != nil {
		t.Fatalf("Scan after install: %v", err)
	}
	if slices.ContainsFunc(updates, func(u pkgmgr.Update) bool { return u.Package == hello }) {
		t.Errorf("Scan after install still reports %s", hello)
	}

	res, err = m.Rollback(t.Context(), pkgmgr.RollbackRequest{Targets: []pkgmgr.Target{{ID: hello + "=1.0-1", Package: hello, Version: "1.0-1"}}})
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	wantItem = pkgmgr.ItemResult{ID: hello + "=1.0-1", Package: hello, Status: pkgmgr.ItemInstalled, FromVersion: "1.1-1", ToVersion: "1.0-1"}
	if diff := cmp.Diff([]pkgmgr.ItemResult{wantItem}, res.Items); diff != "" {
		t.Errorf("Rollback items (-want +got):\n%s\noutput:\n%s", diff, res.Output)
	}
	if got := repo.InstalledVersion(hello); got != "1.0-1" {
		t.Errorf("dpkg shows %s %q after Rollback, want 1.0-1", hello, got)
	}

	sw, err := m.InstalledSoftware(t.Context())
	if err != nil {
		t.Fatalf("InstalledSoftware: %v", err)
	}
	wantSW := pkgmgr.Software{Name: hello, Version: "1.0-1", Vendor: "Patchring Tests <tests@patchring.invalid>", Source: "dpkg", Arch: "all"}
	if !slices.Contains(sw, wantSW) {
		t.Errorf("InstalledSoftware lacks %+v", wantSW)
	}

	t.Run("UnavailableVersionFails", func(t *testing.T) {
		res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: hello + "=9.9-1", Package: hello, Version: "9.9-1"}}})
		if err != nil {
			t.Fatalf("Install: %v", err)
		}
		if len(res.Items) != 1 || res.Items[0].Status != pkgmgr.ItemFailed || res.Items[0].Detail == "" {
			t.Errorf("items = %+v", res.Items)
		}
		if got := repo.InstalledVersion(hello); got != "1.0-1" {
			t.Errorf("dpkg shows %q after a failed install, want 1.0-1 untouched", got)
		}
	})
}
