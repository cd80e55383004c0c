package inventory

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// TestCollect_ThisMachine collects the real inventory of the Linux machine
// running the test and checks facts that hold on any Linux host.
func TestCollect_ThisMachine(t *testing.T) {
	h, err := Collect(t.Context(), Options{})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	t.Logf("problems: %q", h.Problems)
	if h.OS.Family != FamilyLinux {
		t.Errorf("OS.Family = %q, want linux", h.OS.Family)
	}
	if h.OS.Name == "" || h.OS.Kernel == "" || h.OS.Arch == "" {
		t.Errorf("OS = %+v, want name, kernel and arch", h.OS)
	}
	if h.Hostname == "" {
		t.Error("Hostname is empty")
	}
	if h.MemoryBytes == 0 {
		t.Error("MemoryBytes is 0")
	}
	if h.CPU.Threads == 0 || h.CPU.Cores == 0 {
		t.Errorf("CPU = %+v, want cores and threads", h.CPU)
	}
	if len(h.Disks) == 0 {
		t.Error("no disks")
	}
	for _, d := range h.Disks {
		if d.SizeBytes == 0 || d.FreeBytes > d.SizeBytes {
			t.Errorf("disk %+v: size 0 or free > size", d)
		}
	}
	if h.LastBoot.IsZero() {
		t.Error("LastBoot is zero")
	}
	if h.RebootPending == nil {
		t.Error("RebootPending is unknown on Linux")
	}
	if h.IdentityKey() == "" {
		t.Errorf("IdentityKey() is empty for hardware %+v", h.Hardware)
	}
	if ok, reason := h.Serviceable(); !ok {
		t.Errorf("Serviceable() = false (%s) on Linux", reason)
	}
}

// TestCollect_HashStableAcrossCollections is the property the agent relies
// on: two collections of an unchanged machine hash alike.
func TestCollect_HashStableAcrossCollections(t *testing.T) {
	a, err := Collect(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Collect(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Errorf("Hash differs between two collections:\n%+v\n%+v", a, b)
	}
	b.Software = append(b.Software, pkgmgr.Software{Name: "tool", Version: "1", Source: "registry"})
	c := b
	c.Software = []pkgmgr.Software{{Name: "tool", Version: "2", Source: "registry"}}
	if b.Hash() == c.Hash() {
		t.Error("Hash unchanged after a software version changed")
	}
}

func TestCollect_CancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Collect(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect(cancelled) error = %v, want context.Canceled", err)
	}
}

// replay is a Runner that answers from recorded output keyed by command line.
type replay map[string]replayResult

type replayResult struct {
	out  string
	code int // non-zero: *pkgmgr.ExitError with this code
	err  error
}

func (r replay) Run(_ context.Context, c pkgmgr.Command) ([]byte, error) {
	res, ok := r[c.String()]
	if !ok {
		return nil, errors.New("exec: " + c.Path + ": executable file not found in $PATH")
	}
	if res.code != 0 {
		return []byte(res.out), &pkgmgr.ExitError{Command: c.String(), ExitCode: res.code}
	}
	return []byte(res.out), res.err
}

// TestLinuxSource_FakeRoot runs the Linux collector on a RHEL-like root made
// of recorded files and replayed commands: DMI identity, realm membership,
// needs-restarting and a newer installed kernel.
func TestLinuxSource_FakeRoot(t *testing.T) {
	root := fstest.MapFS{
		"etc/os-release":                     {Data: mustRead(t, "testdata/linux/os-release.rhel9")},
		"proc/meminfo":                       {Data: mustRead(t, "testdata/linux/meminfo.vm")},
		"proc/cpuinfo":                       {Data: mustRead(t, "testdata/linux/cpuinfo.rhel6-vmware")},
		"proc/stat":                          {Data: mustRead(t, "testdata/linux/stat.vm")},
		"proc/mounts":                        {Data: mustRead(t, "testdata/linux/mounts.ubuntu-desktop")},
		"etc/machine-id":                     {Data: []byte("0f5b2c4e9a1d4c3b8e7f6a5b4c3d2e1f\n")},
		"sys/class/dmi/id/product_uuid":      {Data: []byte("421a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\n")},
		"sys/class/dmi/id/product_serial":    {Data: []byte("To Be Filled By O.E.M.\n")},
		"sys/class/dmi/id/chassis_serial":    {Data: []byte("CZJ1234ABC\n")},
		"sys/class/dmi/id/sys_vendor":        {Data: []byte("HPE\n")},
		"sys/class/dmi/id/product_name":      {Data: []byte("ProLiant DL380 Gen10\n")},
		"sys/class/net/ens192/device/vendor": {Data: []byte("0x15ad\n")},
		"usr/sbin/realm":                     {Data: []byte{}},
		"usr/bin/needs-restarting":           {Data: []byte{}},
		"lib/modules/5.14.0-362.8.1.el9_3.x86_64/modules.dep":  {Data: []byte{}},
		"lib/modules/5.14.0-427.13.1.el9_4.x86_64/modules.dep": {Data: []byte{}},
	}
	run := replay{
		"hostname -f":                  {out: "app7.corp.example.com\n"},
		"/usr/sbin/realm list":         {out: string(mustRead(t, "testdata/linux/realm-list.ad-member"))},
		"who":                          {out: string(mustRead(t, "testdata/linux/who.mixed"))},
		"/usr/bin/needs-restarting -r": {out: "Core libraries or services have been updated since boot-up:\n  * kernel\n\nReboot is required to fully utilize these updates.\n", code: 1},
	}
	src := linuxSource{
		root:     root,
		run:      run,
		hostname: func() (string, error) { return "app7", nil },
		uname:    func() (string, string, error) { return "5.14.0-362.8.1.el9_3.x86_64", "x86_64", nil },
		statfs:   func(string) (uint64, uint64, error) { return 100 << 30, 40 << 30, nil },
		nics: func() ([]nic, error) {
			return []nic{{Name: "ens192", Up: true, MAC: "00:50:56:aa:bb:cc"}, {Name: "virbr0", Up: true, MAC: "52:54:00:01:02:03"}}, nil
		},
		lookup: func(context.Context, string) (string, error) {
			t.Error("DNS lookup despite hostname -f")
			return "", nil
		},
	}
	h := src.collect(t.Context())
	if len(h.Problems) != 0 {
		t.Errorf("Problems = %q, want none", h.Problems)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"OS.Name", h.OS.Name, "Red Hat Enterprise Linux 9.3 (Plow)"},
		{"OS.Arch", h.OS.Arch, "amd64"},
		{"FQDN", h.FQDN, "app7.corp.example.com"},
		{"Domain", h.Domain, "corp.example.com"},
		{"DomainType", h.DomainType, DomainJoined},
		{"Serial falls back to chassis", h.Hardware.Serial, "CZJ1234ABC"},
		{"IdentityKey", h.IdentityKey(), "uuid:421a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"},
		{"PrimaryUser", h.PrimaryUser, "jane"},
		{"Disks", len(h.Disks), 4},
		{"MACs", len(h.MACAddresses), 1},
		{"RebootPending", h.RebootPending != nil && *h.RebootPending, true},
		{"RebootReasons", len(h.RebootReasons), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
