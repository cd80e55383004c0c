package apt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// fakeHost plays apt-get and dpkg-query over an in-memory package table:
// `apt-get install -- pkg=ver` sets the versions, unless failWith is set.
type fakeHost struct {
	t         *testing.T
	installed map[string]string // "name:arch" -> version
	simulate  []byte
	failWith  *pkgmgr.ExitError
	startErr  error // returned instead of running apt-get install
	calls     []pkgmgr.Command
}

func (h *fakeHost) Run(ctx context.Context, c pkgmgr.Command) ([]byte, error) {
	h.calls = append(h.calls, c)
	switch c.Path {
	case "dpkg":
		return []byte("amd64\n"), nil
	case "dpkg-query":
		var b strings.Builder
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range h.installed {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			name, arch, _ := strings.Cut(k, ":")
			fmt.Fprintf(&b, "%s\t%s\t%s\tii \tMaintainer <m@example.org>\n", name, h.installed[k], arch)
		}
		return []byte(b.String()), nil
	case "apt-get":
		if slices.Contains(c.Args, "update") {
			return []byte("Reading package lists...\n"), nil
		}
		if slices.Contains(c.Args, "dist-upgrade") {
			return h.simulate, nil
		}
		if h.startErr != nil {
			return nil, h.startErr
		}
		if h.failWith != nil {
			return []byte("Reading package lists...\n"), h.failWith
		}
		i := slices.Index(c.Args, "--")
		if i < 0 {
			h.t.Fatalf("install without --: %v", c.Args)
		}
		if slices.Contains(c.Args, "--download-only") {
			return nil, nil
		}
		for _, a := range c.Args[i+1:] {
			pkg, ver, _ := strings.Cut(a, "=")
			if !strings.Contains(pkg, ":") {
				pkg += ":amd64"
			}
			h.installed[pkg] = ver
		}
		return []byte("Setting up ...\n"), nil
	}
	h.t.Fatalf("unexpected command %v", c)
	return nil, nil
}

func (h *fakeHost) aptCalls() [][]string {
	var out [][]string
	for _, c := range h.calls {
		if c.Path == "apt-get" {
			out = append(out, c.Args)
		}
	}
	return out
}

func newFake(t *testing.T) (*fakeHost, *Manager) {
	h := &fakeHost{t: t, installed: map[string]string{
		"hello:amd64":  "1.0-1",
		"libfoo:amd64": "2.0-1",
		"libfoo:i386":  "2.0-1",
		"docs:all":     "1:3.0",
	}}
	m := New(Options{Runner: h, RebootRequiredFile: filepath.Join(t.TempDir(), "reboot-required"), Product: "Debian 12"})
	return h, m
}

func TestManager_Scan(t *testing.T) {
	h, m := newFake(t)
	h.simulate = readTestdata(t, "bookworm-dist-upgrade.txt")
	us, err := m.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 110 {
		t.Errorf("got %d updates, want the 110 apt announced", len(us))
	}
	for _, u := range us {
		if u.Product != "Debian 12" {
			t.Fatalf("product = %q", u.Product)
		}
	}
	calls := h.aptCalls()
	if len(calls) != 2 || !slices.Contains(calls[0], "update") || !slices.Contains(calls[1], "Debug::NoLocking=1") {
		t.Errorf("apt calls = %v", calls)
	}

	t.Run("SkipRefresh", func(t *testing.T) {
		h := &fakeHost{t: t, simulate: []byte("")}
		m := New(Options{Runner: h, SkipRefresh: true, AptOptions: []string{"-o", "Dir::Etc::sourcelist=/x"}})
		if _, err := m.Scan(t.Context()); err != nil {
			t.Fatal(err)
		}
		calls := h.aptCalls()
		if len(calls) != 1 || calls[0][0] != "-o" || calls[0][1] != "Dir::Etc::sourcelist=/x" {
			t.Errorf("apt calls = %v", calls)
		}
	})
}

func TestManager_Install(t *testing.T) {
	h, m := newFake(t)
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{
		{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"},
		{ID: "libfoo:i386=2.1-1", Package: "libfoo:i386", Version: "2.1-1"},
		{ID: "docs=1:3.0", Package: "docs", Version: "1:3.0"},
		{ID: "libfoo=1.0-1", Package: "libfoo", Version: "1.0-1"},
		{ID: "absent=1.0", Package: "absent", Version: "1.0"},
		{ID: "x", Package: "--allow-unauthenticated", Version: "1.0"},
		{ID: "y", Package: "hello", Version: "-o APT::x=1"},
		{ID: "z", Package: "hello"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgmgr.ItemResult{
		{ID: "hello=1.1-1", Package: "hello", Status: pkgmgr.ItemInstalled, FromVersion: "1.0-1", ToVersion: "1.1-1"},
		{ID: "libfoo:i386=2.1-1", Package: "libfoo:i386", Status: pkgmgr.ItemInstalled, FromVersion: "2.0-1", ToVersion: "2.1-1"},
		{ID: "docs=1:3.0", Package: "docs", Status: pkgmgr.ItemSkipped, FromVersion: "1:3.0", ToVersion: "1:3.0", Detail: "already at version 1:3.0"},
		{ID: "libfoo=1.0-1", Package: "libfoo", Status: pkgmgr.ItemSkipped, FromVersion: "2.0-1", ToVersion: "1.0-1", Detail: "newer version 2.0-1 is installed"},
		{ID: "absent=1.0", Package: "absent", Status: pkgmgr.ItemSkipped, ToVersion: "1.0", Detail: "not installed"},
		{ID: "x", Package: "--allow-unauthenticated", Status: pkgmgr.ItemFailed, ToVersion: "1.0", Detail: `invalid package name "--allow-unauthenticated"`},
		{ID: "y", Package: "hello", Status: pkgmgr.ItemFailed, ToVersion: "-o APT::x=1", Detail: `version for hello: invalid debian version "-o APT::x=1": epoch is not a number`},
		{ID: "z", Package: "hello", Status: pkgmgr.ItemFailed, Detail: "no version for hello: apt installs only exact pinned versions"},
	}
	if diff := cmp.Diff(want, res.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	calls := h.aptCalls()
	if len(calls) != 1 {
		t.Fatalf("apt calls = %v", calls)
	}
	args := calls[0]
	tail := args[slices.Index(args, "install"):]
	if diff := cmp.Diff([]string{"install", "--", "hello=1.1-1", "libfoo:i386=2.1-1"}, tail); diff != "" {
		t.Errorf("install arguments (-want +got):\n%s", diff)
	}
	for _, opt := range []string{"-y", "--no-install-recommends", "--no-remove", "Dpkg::Options::=--force-confdef", "Dpkg::Options::=--force-confold"} {
		if !slices.Contains(args, opt) {
			t.Errorf("install lacks %s: %v", opt, args)
		}
	}
	if slices.Contains(args, "--allow-downgrades") {
		t.Errorf("install allows downgrades: %v", args)
	}
	for _, c := range h.calls {
		if c.Path == "apt-get" && !slices.Contains(c.Env, "DEBIAN_FRONTEND=noninteractive") {
			t.Errorf("install env = %v", c.Env)
		}
	}
	if res.RebootRequired {
		t.Error("RebootRequired without the flag file")
	}
}

func TestManager_Install_AptFails(t *testing.T) {
	h, m := newFake(t)
	h.failWith = &pkgmgr.ExitError{Command: "apt-get install", ExitCode: 100, Stderr: "W: something\nE: Version '9.9-1' for 'hello' was not found\n"}
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "hello=9.9-1", Package: "hello", Version: "9.9-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgmgr.ItemResult{{ID: "hello=9.9-1", Package: "hello", Status: pkgmgr.ItemFailed, FromVersion: "1.0-1", ToVersion: "9.9-1",
		Detail: "apt-get failed: Version '9.9-1' for 'hello' was not found"}}
	if diff := cmp.Diff(want, res.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Output, "was not found") {
		t.Errorf("output lacks apt's error: %q", res.Output)
	}
}

func TestManager_Install_DownloadOnly(t *testing.T) {
	h, m := newFake(t)
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{DownloadOnly: true, Targets: []pkgmgr.Target{{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items[0].Status != pkgmgr.ItemSkipped || res.Items[0].Detail != "downloaded, not installed" {
		t.Errorf("item = %+v", res.Items[0])
	}
	if h.installed["hello:amd64"] != "1.0-1" {
		t.Error("download-only installed the package")
	}
}

func TestManager_Rollback(t *testing.T) {
	h, m := newFake(t)
	h.installed["hello:amd64"] = "1.1-1"
	res, err := m.Rollback(t.Context(), pkgmgr.RollbackRequest{Targets: []pkgmgr.Target{
		{ID: "hello=1.0-1", Package: "hello", Version: "1.0-1"},
		{ID: "libfoo=3.0-1", Package: "libfoo", Version: "3.0-1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgmgr.ItemResult{
		{ID: "hello=1.0-1", Package: "hello", Status: pkgmgr.ItemInstalled, FromVersion: "1.1-1", ToVersion: "1.0-1"},
		{ID: "libfoo=3.0-1", Package: "libfoo", Status: pkgmgr.ItemFailed, FromVersion: "2.0-1", ToVersion: "3.0-1",
			Detail: "installed version 2.0-1 is older than 3.0-1; a rollback never upgrades"},
	}
	if diff := cmp.Diff(want, res.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if calls := h.aptCalls(); len(calls) != 1 || !slices.Contains(calls[0], "--allow-downgrades") {
		t.Errorf("apt calls = %v", calls)
	}
}

func TestManager_Install_Deadline(t *testing.T) {
	t.Run("LockTimeoutCappedByDeadline", func(t *testing.T) {
		h, m := newFake(t)
		now := time.Now() // a fixed reading: the deadline and the clock the manager sees agree exactly
		m.opts.Now = func() time.Time { return now }
		ctx, cancel := context.WithDeadline(t.Context(), now.Add(90*time.Second))
		defer cancel()
		if _, err := m.Install(ctx, pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"}}}); err != nil {
			t.Fatal(err)
		}
		if calls := h.aptCalls(); len(calls) != 1 || !slices.Contains(calls[0], "DPkg::Lock::Timeout=90") {
			t.Errorf("apt calls = %v", calls)
		}
	})
	t.Run("DoneContextStartsNothing", func(t *testing.T) {
		h, m := newFake(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := m.Install(ctx, pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"}}}); err == nil {
			t.Error("Install with a done context succeeded")
		}
		if len(h.calls) != 0 {
			t.Errorf("ran %v", h.calls)
		}
	})
}

func TestManager_RebootRequired(t *testing.T) {
	h, m := newFake(t)
	if got, err := m.RebootRequired(t.Context()); err != nil || got {
		t.Fatalf("RebootRequired = %v, %v; want false", got, err)
	}
	if err := os.WriteFile(m.opts.RebootRequiredFile, []byte("*** System restart required ***\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := m.RebootRequired(t.Context()); err != nil || !got {
		t.Fatalf("RebootRequired = %v, %v; want true", got, err)
	}
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"}}})
	if err != nil || !res.RebootRequired {
		t.Errorf("Install = %+v, %v; want RebootRequired", res, err)
	}
	_ = h
}

func TestManager_InstalledSoftware(t *testing.T) {
	_, m := newFake(t)
	sw, err := m.InstalledSoftware(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := pkgmgr.Software{Name: "docs", Version: "1:3.0", Vendor: "Maintainer <m@example.org>", Source: "dpkg", Arch: "all"}
	if len(sw) != 4 || sw[0] != want {
		t.Errorf("software = %+v", sw)
	}
}

func TestManager_Install_CannotStart(t *testing.T) {
	h, m := newFake(t)
	h.startErr = errors.New(`run apt-get: exec: "apt-get": executable file not found in $PATH`)
	res, err := m.Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "hello=1.1-1", Package: "hello", Version: "1.1-1"}}})
	if err == nil {
		t.Fatal("Install succeeded although apt-get could not be started")
	}
	if len(res.Items) != 1 || res.Items[0].Status != pkgmgr.ItemFailed {
		t.Errorf("items = %+v", res.Items)
	}
}
