package dnf

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// fakeHost plays dnf and rpm over an in-memory package table.
type fakeHost struct {
	t          *testing.T
	installed  map[string][]string // "name.arch" -> EVRs
	checkOut   []byte
	listOut    []byte
	infoOut    []byte
	restarting *pkgmgr.ExitError // result of needs-restarting; nil = exit 0
	failWith   *pkgmgr.ExitError // result of install/downgrade
	calls      [][]string
}

func (h *fakeHost) Run(ctx context.Context, c pkgmgr.Command) ([]byte, error) {
	h.calls = append(h.calls, append([]string{c.Path}, c.Args...))
	args := strings.Join(c.Args, " ")
	switch {
	case c.Path == "rpm":
		var lines []string
		for k, evrs := range h.installed {
			i := strings.LastIndexByte(k, '.')
			for _, v := range evrs {
				e, err := parseEVR(v)
				if err != nil {
					h.t.Fatal(err)
				}
				ep := e.Epoch
				if ep == "" {
					ep = "0"
				}
				lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\tAlmaLinux\t1746000000", k[:i], ep, e.Version, e.Release, k[i+1:]))
			}
		}
		sort.Strings(lines)
		return []byte(strings.Join(lines, "\n") + "\n"), nil
	case strings.Contains(args, "check-update"):
		if len(h.checkOut) == 0 {
			return nil, nil
		}
		return nil, &pkgmgr.ExitError{Command: "dnf check-update", ExitCode: 100, Stdout: h.checkOut}
	case strings.Contains(args, "updateinfo list"):
		return h.listOut, nil
	case strings.Contains(args, "updateinfo info"):
		return h.infoOut, nil
	case strings.Contains(args, "needs-restarting"):
		if h.restarting != nil {
			return h.restarting.Stdout, h.restarting
		}
		return []byte("No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n"), nil
	case slices.Contains(c.Args, "install") || slices.Contains(c.Args, "downgrade"):
		if h.failWith != nil {
			return nil, h.failWith
		}
		if slices.Contains(c.Args, "--downloadonly") {
			return nil, nil
		}
		for _, a := range c.Args {
			if n, err := parseNEVRA(a); err == nil {
				h.installed[n.key()] = []string{n.EVR.String()}
			}
		}
		return []byte("Complete!\n"), nil
	}
	h.t.Fatalf("unexpected command %v", c)
	return nil, nil
}

func newFake(t *testing.T) (*fakeHost, *Manager) {
	h := &fakeHost{t: t, installed: map[string][]string{
		"openssl-libs.x86_64": {"1:3.0.7-24.el9"},
		"glibc.i686":          {"2.34-100.el9"},
		"kernel.x86_64":       {"5.14.0-503.11.1.el9_5", "5.14.0-503.15.1.el9_5"},
	}}
	return h, New(Options{Runner: h, Product: "Rocky Linux 9"})
}

func TestManager_Scan(t *testing.T) {
	h, m := newFake(t)
	h.checkOut = []byte("openssl-libs.x86_64   1:3.0.7-27.el9   baseos\nkernel.x86_64   5.14.0-503.16.1.el9_5   baseos\n")
	h.listOut = []byte("RLSA-2024:9999 Important/Sec. openssl-libs-1:3.0.7-25.el9.x86_64\nRLBA-2024:1000 bugfix openssl-libs-1:3.0.7-27.el9.x86_64\n")
	h.infoOut = readTestdata(t, "dnf4-ci-updateinfo-info.txt")
	us, err := m.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgmgr.Update{
		{
			Source: pkgmgr.SourceDnf, ID: "openssl-libs.x86_64=1:3.0.7-27.el9", Package: "openssl-libs.x86_64",
			Title: "openssl-libs.x86_64 1:3.0.7-27.el9", Product: "Rocky Linux 9",
			InstalledVersion: "1:3.0.7-24.el9", AvailableVersion: "1:3.0.7-27.el9",
			Classification: pkgmgr.ClassSecurity, VendorClassification: "security", VendorSeverity: "Important",
			Advisory: "RLSA-2024:9999", Origin: "baseos",
		},
		{
			Source: pkgmgr.SourceDnf, ID: "kernel.x86_64=5.14.0-503.16.1.el9_5", Package: "kernel.x86_64",
			Title: "kernel.x86_64 5.14.0-503.16.1.el9_5", Product: "Rocky Linux 9",
			InstalledVersion: "5.14.0-503.15.1.el9_5", AvailableVersion: "5.14.0-503.16.1.el9_5",
			Classification: pkgmgr.ClassUnclassified, Origin: "baseos",
		},
	}
	if diff := cmp.Diff(want, us); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !slices.Contains(h.calls[0], "--refresh") {
		t.Errorf("first call %v does not refresh", h.calls[0])
	}

	t.Run("NoUpdates", func(t *testing.T) {
		h := &fakeHost{t: t}
		m := New(Options{Runner: h, SkipRefresh: true})
		us, err := m.Scan(t.Context())
		if err != nil || len(us) != 0 {
			t.Fatalf("Scan = %v, %v", us, err)
		}
		if len(h.calls) != 1 || slices.Contains(h.calls[0], "--refresh") {
			t.Errorf("calls = %v", h.calls)
		}
	})
}

func TestManager_Install(t *testing.T) {
	h, m := newFake(t)
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{
		{ID: "a", Package: "openssl-libs.x86_64", Version: "1:3.0.7-27.el9"},
		{ID: "b", Package: "glibc.i686", Version: "2.34-100.el9"},
		{ID: "c", Package: "kernel.x86_64", Version: "5.14.0-503.11.1.el9_5"},
		{ID: "d", Package: "absent.noarch", Version: "1.0-1"},
		{ID: "e", Package: "openssl-libs", Version: "1:3.0.7-27.el9"},
		{ID: "f", Package: "openssl-libs.x86_64", Version: "--nogpgcheck"},
		{ID: "g", Package: "-y.x86_64", Version: "1-1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgmgr.ItemResult{
		{ID: "a", Package: "openssl-libs.x86_64", Status: pkgmgr.ItemInstalled, FromVersion: "1:3.0.7-24.el9", ToVersion: "1:3.0.7-27.el9"},
		{ID: "b", Package: "glibc.i686", Status: pkgmgr.ItemSkipped, FromVersion: "2.34-100.el9", ToVersion: "2.34-100.el9", Detail: "already at version 2.34-100.el9"},
		{ID: "c", Package: "kernel.x86_64", Status: pkgmgr.ItemSkipped, FromVersion: "5.14.0-503.15.1.el9_5", ToVersion: "5.14.0-503.11.1.el9_5", Detail: "already at version 5.14.0-503.11.1.el9_5"},
		{ID: "d", Package: "absent.noarch", Status: pkgmgr.ItemSkipped, ToVersion: "1.0-1", Detail: "not installed"},
		{ID: "e", Package: "openssl-libs", Status: pkgmgr.ItemFailed, ToVersion: "1:3.0.7-27.el9", Detail: `invalid package: "openssl-libs" is not a name.arch with a known architecture`},
		{ID: "f", Package: "openssl-libs.x86_64", Status: pkgmgr.ItemFailed, ToVersion: "--nogpgcheck", Detail: `version for openssl-libs.x86_64: "--nogpgcheck" is not [epoch:]version-release: invalid characters`},
		{ID: "g", Package: "-y.x86_64", Status: pkgmgr.ItemFailed, ToVersion: "1-1", Detail: `invalid package: "-y.x86_64" is not a name.arch with a known architecture`},
	}
	if diff := cmp.Diff(want, res.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	var install []string
	for _, c := range h.calls {
		if slices.Contains(c, "install") {
			install = c
		}
	}
	if diff := cmp.Diff([]string{"dnf", "-y", "install", "openssl-libs-1:3.0.7-27.el9.x86_64"}, install); diff != "" {
		t.Errorf("install command (-want +got):\n%s", diff)
	}
}

func TestManager_Install_Fails(t *testing.T) {
	h, m := newFake(t)
	h.failWith = &pkgmgr.ExitError{Command: "dnf install", ExitCode: 1, Stderr: "Last metadata expiration check: 0:00:01 ago.\nError: Unable to find a match: openssl-libs-1:3.0.7-99.el9.x86_64\n"}
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "a", Package: "openssl-libs.x86_64", Version: "1:3.0.7-99.el9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if it := res.Items[0]; it.Status != pkgmgr.ItemFailed || it.Detail != "dnf failed: Error: Unable to find a match: openssl-libs-1:3.0.7-99.el9.x86_64" {
		t.Errorf("item = %+v", it)
	}
}

func TestManager_Rollback(t *testing.T) {
	h, m := newFake(t)
	res, err := m.Rollback(t.Context(), pkgmgr.RollbackRequest{Targets: []pkgmgr.Target{
		{ID: "a", Package: "openssl-libs.x86_64", Version: "1:3.0.7-18.el9"},
		{ID: "b", Package: "glibc.i686", Version: "2.34-120.el9"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items[0].Status != pkgmgr.ItemInstalled || res.Items[1].Status != pkgmgr.ItemFailed {
		t.Errorf("items = %+v", res.Items)
	}
	if got := h.installed["openssl-libs.x86_64"]; !slices.Equal(got, []string{"1:3.0.7-18.el9"}) {
		t.Errorf("installed = %v", got)
	}
	var cmd []string
	for _, c := range h.calls {
		if slices.Contains(c, "downgrade") {
			cmd = c
		}
	}
	if diff := cmp.Diff([]string{"dnf", "-y", "downgrade", "openssl-libs-1:3.0.7-18.el9.x86_64"}, cmd); diff != "" {
		t.Errorf("downgrade command (-want +got):\n%s", diff)
	}
}

func TestManager_RebootRequired(t *testing.T) {
	tests := []struct {
		name    string
		result  *pkgmgr.ExitError
		want    bool
		wantErr bool
	}{
		{name: "Exit0"},
		{name: "Exit1WithReason", result: &pkgmgr.ExitError{ExitCode: 1, Stdout: []byte("Core libraries or services have been updated since boot-up:\n  * kernel\n\nReboot is required to fully utilize these updates.\n")}, want: true},
		{name: "Exit1Silent", result: &pkgmgr.ExitError{ExitCode: 1, Stderr: "No such command: needs-restarting."}, wantErr: true},
		{name: "OtherExit", result: &pkgmgr.ExitError{ExitCode: 200, Stdout: []byte("x")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, m := newFake(t)
			h.restarting = tc.result
			got, err := m.RebootRequired(t.Context())
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("RebootRequired = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestManager_InstalledSoftware(t *testing.T) {
	_, m := newFake(t)
	sw, err := m.InstalledSoftware(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(sw) != 4 || sw[0].Name != "glibc" || sw[0].Arch != "i686" || sw[0].Source != "rpm" || sw[0].Vendor != "AlmaLinux" {
		t.Errorf("software = %+v", sw)
	}
}
