package softwareupdate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostVersions is the macOS version each recording was made on (or, where
// the source does not say, a version of that era).
var hostVersions = map[string]string{
	"list-mojave-salt":                       "10.14.6",
	"list-mojave-trailing-blank-salt":        "10.14.6",
	"list-catalina-salt":                     "10.14.6", // a Mojave Mac offered the Catalina beta
	"list-catalina-clt-osx-vm-templates-101": "10.15.2",
	"list-bigsur-install-or-defer-60":        "11.5.2",
	"list-ventura-kib-super-290":             "13.7.3",
	"list-mavericks-osx-vm-templates-21":     "10.9.5",
	"list-none":                              "15.1",
}

func TestParseUpdates_Golden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/list-*.txt")
	if len(paths) != len(hostVersions) {
		t.Fatalf("%d list recordings, %d host versions: keep hostVersions in step with testdata", len(paths), len(hostVersions))
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".txt")
		t.Run(name, func(t *testing.T) {
			host, ok := hostVersions[name]
			if !ok {
				t.Fatalf("no host version for %s", name)
			}
			got, err := parseUpdates(read(t, name+".txt"), host)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

func TestParseList_Behaviour(t *testing.T) {
	items, err := parseList(read(t, "list-mojave-salt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []item{
		{Label: "Command Line Tools (macOS Mojave version 10.14) for Xcode-10.3", Title: "Command Line Tools (macOS Mojave version 10.14) for Xcode", Version: "10.3", SizeKiB: 199140, Recommended: true},
		{Label: "macOS 10.14.1 Update", Title: "macOS 10.14.1 Update", Version: "10.14.1", SizeKiB: 199140, Recommended: true, Restart: true},
		{Label: "BridgeOSUpdateCustomer", Title: "BridgeOSUpdateCustomer", Version: "10.14.4.1.1.1555388607", SizeKiB: 328394, Recommended: true, ShutDown: true},
		{Label: "iCal-1.0.2", Title: "iCal", Version: "1.0.2", SizeKiB: 6520},
	}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("Mojave items (-want +got):\n%s", diff)
	}

	items, err = parseList(read(t, "list-mojave-trailing-blank-salt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Label != "macOS Mojave 10.14.6 Supplemental Update- " || items[0].Version != "" {
		t.Errorf("trailing-blank label not kept byte for byte: %+v", items)
	}

	items, err = parseList(read(t, "list-ventura-kib-super-290.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if items[2].Label != "macOS Sequoia 15.3.1-24D70" || items[2].SizeKiB != 9687761 || !items[2].Restart {
		t.Errorf("Ventura KiB item = %+v", items[2])
	}
}

func TestParseList_Errors(t *testing.T) {
	bad := []string{
		"* Label: X\n\tVersion: 1, Size: 1K,\n",   // no Title
		"* Label: X\n\tTitle: X, Size: lots,\n",   // bad size
		"   * Orphan\n",                           // old label without a detail line
		"   * Y\n    Y without version or size\n", // old detail unparsable
		"* Label:  \n\tTitle: X, Version: 1,\n",   // blank label
	}
	for _, in := range bad {
		if _, err := parseList([]byte(in)); err == nil {
			t.Errorf("parseList(%q) succeeded, want an error", in)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		title, version, host string
		want                 pkgmgr.Classification
	}{
		{"macOS Sequoia 15.3.1", "15.3.1", "13.7.3", pkgmgr.ClassOSUpgrade},
		{"macOS Ventura 13.7.4", "13.7.4", "13.7.3", pkgmgr.ClassUpdateRollup},
		{"macOS Sequoia 15.3.1", "15.3.1", "", pkgmgr.ClassUpdateRollup}, // host unknown: never guess an upgrade
		{"macOS Catalina Public Beta", "5", "10.14.6", pkgmgr.ClassUpdateRollup},
		{"macOS 10.14.1 Update", "10.14.1", "10.14.6", pkgmgr.ClassUpdateRollup},
		{"macOS Big Sur 11.6", "11.6", "10.15.7", pkgmgr.ClassOSUpgrade},
		// Hand-written titles in the shapes Apple uses for responses (no
		// recorded listing was found; see testdata/README.md).
		{"macOS Ventura 13.4.1 (a)", "13.4.1 (a)", "13.4.1", pkgmgr.ClassSecurity},
		{"macOS Security Response 13.4.1 (c)", "13.4.1 (c)", "13.4.1", pkgmgr.ClassSecurity},
		{"Background Security Improvement for macOS Tahoe 26.1", "26.1 (a)", "26.1", pkgmgr.ClassSecurity},
		// From MagerValp/AutoDMGUpdateProfiles#91.
		{"Security Update 2020-005", "10.14.6", "10.14.6", pkgmgr.ClassSecurity},
		{"Command Line Tools for Xcode", "11.2", "10.15.2", pkgmgr.ClassTool},
		{"BridgeOSUpdateCustomer", "10.15.0.1.1.1560926689", "10.15", pkgmgr.ClassDriver},
		{"Safari", "18.3.1", "13.7.3", pkgmgr.ClassApplication},
	}
	for _, tt := range tests {
		got, _ := classify(item{Title: tt.title, Version: tt.version}, tt.host)
		if got != tt.want {
			t.Errorf("classify(%q, %q, host %q) = %s, want %s", tt.title, tt.version, tt.host, got, tt.want)
		}
	}
}

func TestValidateLabel(t *testing.T) {
	good := []string{"macOS Ventura 13.7.4-22H420", "Command Line Tools (macOS Mojave version 10.14) for Xcode-10.3", "Safari18.3.1VenturaAuto-18.3.1", "macOS Mojave 10.14.6 Supplemental Update- "}
	for _, l := range good {
		if err := validateLabel(l); err != nil {
			t.Errorf("validateLabel(%q) = %v, want nil", l, err)
		}
	}
	bad := []string{"", "  ", "--all", "-a", "x; rm -rf /", "$(id)", "a`b`", "a|b", "a\nb", "a\"b", "*", strings.Repeat("x", 300)}
	for _, l := range bad {
		if err := validateLabel(l); err == nil {
			t.Errorf("validateLabel(%q) = nil, want an error", l)
		}
	}
}

type fakeRunner struct {
	out   map[string][]string // successive outputs per command line
	errs  map[string]error
	calls []pkgmgr.Command
}

func (f *fakeRunner) Run(_ context.Context, c pkgmgr.Command) ([]byte, error) {
	f.calls = append(f.calls, c)
	key := c.String()
	outs := f.out[key]
	var out string
	if len(outs) > 0 {
		out = outs[0]
		if len(outs) > 1 {
			f.out[key] = outs[1:]
		}
	}
	return []byte(out), f.errs[key]
}

const (
	listCmd = "/usr/sbin/softwareupdate --list"
	verCmd  = "/usr/bin/sw_vers -productVersion"
)

func TestManager_Scan(t *testing.T) {
	f := &fakeRunner{out: map[string][]string{
		verCmd:  {"13.7.3\n"},
		listCmd: {string(read(t, "list-ventura-kib-super-290.txt"))},
	}}
	got, err := New(f).Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	classes := []pkgmgr.Classification{}
	for _, u := range got {
		classes = append(classes, u.Classification)
	}
	want := []pkgmgr.Classification{pkgmgr.ClassApplication, pkgmgr.ClassUpdateRollup, pkgmgr.ClassOSUpgrade}
	if diff := cmp.Diff(want, classes); diff != "" {
		t.Errorf("classifications (-want +got):\n%s", diff)
	}
	wantCalls := []pkgmgr.Command{
		{Path: "/usr/bin/sw_vers", Args: []string{"-productVersion"}},
		{Path: "/usr/sbin/softwareupdate", Args: []string{"--list"}},
	}
	if diff := cmp.Diff(wantCalls, f.calls); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestManager_Install(t *testing.T) {
	before := string(read(t, "list-ventura-kib-super-290.txt"))
	// After the run: Safari is gone, the Ventura update is staged until
	// the restart and still listed.
	after := "* Label: macOS Ventura 13.7.4-22H420\n\tTitle: macOS Ventura 13.7.4, Version: 13.7.4, Size: 1555614KiB, Recommended: YES, Action: restart,\n" +
		"* Label: macOS Sequoia 15.3.1-24D70\n\tTitle: macOS Sequoia 15.3.1, Version: 15.3.1, Size: 9687761KiB, Recommended: YES, Action: restart,\n"
	safari := "/usr/sbin/softwareupdate --install Safari18.3.1VenturaAuto-18.3.1 --agree-to-license"
	ventura := "/usr/sbin/softwareupdate --install macOS Ventura 13.7.4-22H420 --agree-to-license"
	f := &fakeRunner{out: map[string][]string{
		listCmd: {before, after},
		safari:  {"Downloading Safari\nDone with Safari\nDone.\n"},
		ventura: {"Downloading macOS Ventura 13.7.4\nRestart required\n"},
	}}
	res, err := New(f).Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{
		{ID: "Safari18.3.1VenturaAuto-18.3.1", Package: "Safari18.3.1VenturaAuto-18.3.1", Version: "18.3.1"},
		{ID: "macOS Ventura 13.7.4-22H420", Package: "macOS Ventura 13.7.4-22H420", Version: "13.7.4"},
		{ID: "macOS Sequoia 15.3.1-24D70", Package: "macOS Sequoia 15.3.1-24D70", Version: "15.3.0"}, // version moved
		{ID: "gone", Package: "Xcode-16.0", Version: "16.0"},
		{ID: "flag", Package: "--all"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []pkgmgr.Command{
		{Path: "/usr/sbin/softwareupdate", Args: []string{"--list"}},
		{Path: "/usr/sbin/softwareupdate", Args: []string{"--install", "Safari18.3.1VenturaAuto-18.3.1", "--agree-to-license"}},
		{Path: "/usr/sbin/softwareupdate", Args: []string{"--install", "macOS Ventura 13.7.4-22H420", "--agree-to-license"}},
		{Path: "/usr/sbin/softwareupdate", Args: []string{"--list"}},
	}
	if diff := cmp.Diff(wantCalls, f.calls); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, string(it.Status)+" "+it.Detail)
	}
	want := []string{
		"installed ",
		"installed staged; completes at restart",
		"skipped softwareupdate now offers 15.3.1, not the approved 15.3.0",
		"skipped no longer offered by softwareupdate",
		`failed label "--all" starts with '-'`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if !res.RebootRequired {
		t.Error("RebootRequired = false after installing a restart item")
	}
}

func TestManager_Install_StillOfferedFails(t *testing.T) {
	list := "* Label: Safari15.0BigSurAuto-15.0\n\tTitle: Safari, Version: 15.0, Size: 119059K, Recommended: YES,\n"
	f := &fakeRunner{out: map[string][]string{listCmd: {list, list}}}
	res, err := New(f).Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "s", Package: "Safari15.0BigSurAuto-15.0", Version: "15.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items[0].Status != pkgmgr.ItemFailed || res.RebootRequired {
		t.Errorf("item = %+v, reboot %v; want failed, no reboot", res.Items[0], res.RebootRequired)
	}
}

func TestManager_Install_DownloadOnly(t *testing.T) {
	list := "* Label: Safari15.0BigSurAuto-15.0\n\tTitle: Safari, Version: 15.0, Size: 119059K, Recommended: YES,\n"
	f := &fakeRunner{out: map[string][]string{listCmd: {list}}}
	res, err := New(f).Install(t.Context(), pkgmgr.InstallRequest{DownloadOnly: true, Targets: []pkgmgr.Target{{ID: "s", Package: "Safari15.0BigSurAuto-15.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.calls[1].Args; !cmp.Equal(got, []string{"--download", "Safari15.0BigSurAuto-15.0"}) {
		t.Errorf("download args = %q", got)
	}
	if len(f.calls) != 2 || res.Items[0].Status != pkgmgr.ItemSkipped || res.Items[0].Detail != "downloaded" {
		t.Errorf("download-only: %d calls, item %+v", len(f.calls), res.Items[0])
	}
}

func TestParseDefaults_Golden(t *testing.T) {
	for _, name := range []string{"defaults-catalina-10.15.7", "defaults-sequoia-nested"} {
		t.Run(name, func(t *testing.T) {
			got, err := parseDefaults(read(t, name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

func TestParseDefaults_Errors(t *testing.T) {
	for _, in := range []string{"AutomaticCheckEnabled = 1;", "{\n    broken;\n}", "{\n  )\n}"} {
		if _, err := parseDefaults([]byte(in)); err == nil {
			t.Errorf("parseDefaults(%q) succeeded, want an error", in)
		}
	}
}

func TestSettingsFrom(t *testing.T) {
	yes, no := true, false
	local, err := parseDefaults(read(t, "defaults-sequoia-nested.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s := settingsFrom(local, map[string]string{"AutomaticallyInstallMacOSUpdates": "0"})
	want := AutoUpdateSettings{
		AutomaticCheckEnabled: &yes, AutomaticDownload: &yes, AutomaticallyInstallMacOSUpdates: &no,
		CriticalUpdateInstall: &yes, Managed: []string{"AutomaticallyInstallMacOSUpdates"},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if s.Enabled() {
		t.Error("Enabled() = true with ConfigDataInstall unset and a managed off switch")
	}
	all := settingsFrom(map[string]string{"AutomaticCheckEnabled": "1", "AutomaticDownload": "1", "AutomaticallyInstallMacOSUpdates": "1", "ConfigDataInstall": "1", "CriticalUpdateInstall": "1"}, nil)
	if !all.Enabled() {
		t.Error("Enabled() = false with every switch on")
	}
}

func TestManager_EnableAutoUpdates(t *testing.T) {
	on := "{\n    AutomaticCheckEnabled = 1;\n    AutomaticDownload = 1;\n    AutomaticallyInstallMacOSUpdates = 1;\n    ConfigDataInstall = 1;\n    CriticalUpdateInstall = 1;\n}\n"
	readLocal := "/usr/bin/defaults read /Library/Preferences/com.apple.SoftwareUpdate"
	readManaged := "/usr/bin/defaults read /Library/Managed Preferences/com.apple.SoftwareUpdate"
	f := &fakeRunner{
		out:  map[string][]string{readLocal: {on}},
		errs: map[string]error{readManaged: &pkgmgr.ExitError{Command: readManaged, ExitCode: 1, Stderr: "Domain does not exist"}},
	}
	if err := New(f).EnableAutoUpdates(t.Context()); err != nil {
		t.Fatal(err)
	}
	var writes [][]string
	for _, c := range f.calls {
		if c.Args[0] == "write" {
			writes = append(writes, c.Args)
		}
	}
	want := [][]string{
		{"write", "/Library/Preferences/com.apple.SoftwareUpdate", "AutomaticCheckEnabled", "-bool", "true"},
		{"write", "/Library/Preferences/com.apple.SoftwareUpdate", "AutomaticDownload", "-bool", "true"},
		{"write", "/Library/Preferences/com.apple.SoftwareUpdate", "AutomaticallyInstallMacOSUpdates", "-bool", "true"},
		{"write", "/Library/Preferences/com.apple.SoftwareUpdate", "ConfigDataInstall", "-bool", "true"},
		{"write", "/Library/Preferences/com.apple.SoftwareUpdate", "CriticalUpdateInstall", "-bool", "true"},
	}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Errorf("defaults writes (-want +got):\n%s", diff)
	}

	// A profile that keeps macOS installs off wins; the error says so.
	f = &fakeRunner{out: map[string][]string{readLocal: {on}, readManaged: {"{\n    AutomaticallyInstallMacOSUpdates = 0;\n}\n"}}}
	err := New(f).EnableAutoUpdates(t.Context())
	if err == nil || !strings.Contains(err.Error(), "AutomaticallyInstallMacOSUpdates") {
		t.Errorf("EnableAutoUpdates under a restricting profile = %v, want an error naming the key", err)
	}
}

func FuzzParseList(f *testing.F) {
	paths, _ := filepath.Glob("testdata/list-*.txt")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := parseList(b)
		if err != nil {
			return
		}
		for _, it := range items {
			if strings.TrimSpace(it.Label) == "" || it.SizeKiB < 0 {
				t.Fatalf("bad item %+v", it)
			}
			_ = toUpdate(it, "13.0")
		}
	})
}

func FuzzParseDefaults(f *testing.F) {
	paths, _ := filepath.Glob("testdata/defaults-*.txt")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseDefaults(b)
		if err != nil {
			return
		}
		_ = settingsFrom(m, m)
	})
}
