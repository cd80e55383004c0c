package winget

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got, as indented JSON, with testdata/name.golden.json.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func inputs(t *testing.T, pattern string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata matching %s: %v", pattern, err)
	}
	m := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimSuffix(filepath.Base(p), ".txt")] = b
	}
	return m
}

func TestParseUpgrade_Golden(t *testing.T) {
	for name, in := range inputs(t, "upgrade-*.txt") {
		t.Run(name, func(t *testing.T) {
			got, err := parseUpgrade(in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

func TestParseList_Golden(t *testing.T) {
	for name, in := range inputs(t, "list-*.txt") {
		t.Run(name, func(t *testing.T) {
			got, err := parseList(in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

// Behaviour the golden files encode, asserted explicitly so that a bad
// -update cannot hide it.
func TestParseUpgrade_Behaviour(t *testing.T) {
	read := func(name string) upgradeScan {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseUpgrade(b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ids := func(s upgradeScan) []string {
		var out []string
		for _, u := range s.Updates {
			out = append(out, u.ID)
		}
		return out
	}
	tests := []struct {
		file string
		want []string
	}{
		// Two rows for the same Office install collapse into one update.
		{"upgrade-winget-cli-1869.txt", []string{
			"OpenWhisperSystems.Signal=5.29.0", "Microsoft.Edge=97.0.1072.69", "Microsoft.EdgeWebView2Runtime=97.0.1072.69",
			"Microsoft.Office=16.0.14729.20228", "Postman.Postman=9.9.3",
		}},
		// The explicit-targeting table counts; the trailing sentence does not.
		{"upgrade-wau-276-explicit.txt", []string{"Adobe.Acrobat.Reader.64-bit=22.003.20310", "Microsoft.Teams=1.6.00.376"}},
		{"upgrade-unigetui-882-explicit.txt", []string{"Microsoft.Teams=1.6.00.6754"}},
		// Spinner garbage and CRLF line ends.
		{"upgrade-spinner-crlf.txt", []string{"k6.k6=0.51.0"}},
		{"upgrade-none.txt", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ids(read(tt.file))); diff != "" {
			t.Errorf("%s: update IDs (-want +got):\n%s", tt.file, diff)
		}
	}
	s := read("upgrade-winget-pkgs-36722-unknown.txt")
	if len(s.Updates) != 2 || s.Updates[0].InstalledVersion != "" || s.Updates[1].AvailableVersion != "2.0.43.71a" {
		t.Errorf("unknown installed versions: got %+v", s.Updates)
	}
	// A row whose identifier winget shortened cannot be installed by id.
	trunc := "Name        Id                       Version Available\n" +
		"-----------------------------------------------------\n" +
		"Some Tool   Vendor.SomeVeryLongTool\u2026 1.0     2.0\n" +
		"Other       Vendor.Other             1.0     1.1\n"
	s, err := parseUpgrade([]byte(trunc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Vendor.SomeVeryLongTool\u2026"}, s.Unusable); diff != "" {
		t.Errorf("unusable rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Vendor.Other=1.1"}, ids(s)); diff != "" {
		t.Errorf("usable rows (-want +got):\n%s", diff)
	}
	s = read("upgrade-wau-297-source-filter.txt")
	if got := s.Updates[3].InstalledVersion; got != "< 10.0.22000.832" {
		t.Errorf("installed version of WindowsSDK = %q, want the raw %q", got, "< 10.0.22000.832")
	}
	if got := s.Updates[0].Origin; got != "" {
		t.Errorf("origin without a Source column = %q, want empty", got)
	}
}

func TestParseList_Behaviour(t *testing.T) {
	tests := []struct {
		file      string
		wantCount int
		wantFirst pkgmgr.Software
		wantLast  pkgmgr.Software
	}{
		{"list-winget-cli-1618-zh-CN.txt", 10,
			pkgmgr.Software{Name: "阿里云盘", Version: "2.2.8", Source: "winget"},
			pkgmgr.Software{Name: "Docker Desktop", Version: "4.1.1", Source: "winget"}},
		{"list-winget-pkgs-51343-ja-JP.txt", 7,
			pkgmgr.Software{Name: "7-Zip", Version: "21.07", Source: "winget"},
			pkgmgr.Software{Name: "映画 & テレビ", Version: "10.22011.10031.0", Source: "winget"}},
		{"list-winget-cli-999-three-columns.txt", 7,
			pkgmgr.Software{Name: "Microsoft Support and Recovery Assistant", Version: "17.0.4840.8", Source: "winget"},
			pkgmgr.Software{Name: "Cisco AnyConnect Secure Mobility Client", Version: "4.6.02074", Source: "winget"}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseList(b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(got) != tt.wantCount {
			t.Fatalf("%s: %d rows, want %d: %+v", tt.file, len(got), tt.wantCount, got)
		}
		if diff := cmp.Diff(tt.wantFirst, got[0]); diff != "" {
			t.Errorf("%s first row (-want +got):\n%s", tt.file, diff)
		}
		if diff := cmp.Diff(tt.wantLast, got[len(got)-1]); diff != "" {
			t.Errorf("%s last row (-want +got):\n%s", tt.file, diff)
		}
	}
}

func TestCleanLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"carriage return overwrites", "   - \r   \\ \rName Id\n", []string{"Name Id"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"backspace", "x-\b\\\bName\n", []string{"xName"}},
		{"cursor to column 1", "  ██▒▒ 1 MB\x1b[0GName\n", []string{"Name"}},
		{"colour codes vanish", "\x1b[32mok\x1b[0m\n", []string{"ok"}},
		{"bom", "\uFEFFName\n", []string{"Name"}},
		{"invalid utf-8", "a\xffb\n", []string{"a\uFFFDb"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, cleanLines([]byte(tt.in))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestSplitRow(t *testing.T) {
	starts := []int{0, 5, 11}
	tests := []struct {
		line string
		want []string
		ok   bool
	}{
		{"ab   cd    ef", []string{"ab", "cd", "ef"}, true},
		{"ab", []string{"ab", "", ""}, true},
		{"abcdefghijklmnop", nil, false},               // a word runs across column starts
		{"中文中 x     y", nil, false},                    // 中 (cells 4-5) straddles the start at 5
		{"中文 x     y", []string{"中文", "x", "y"}, true}, // four cells, then the column
	}
	for _, tt := range tests {
		got, ok := splitRow(tt.line, starts)
		if ok != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("splitRow(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAssignRoles(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		kind    tableKind
		want    []role
		wantErr bool
	}{
		{"english", []string{"Name", "Id", "Version", "Available", "Source"}, kindUpgrade,
			[]role{roleName, roleID, roleVersion, roleAvailable, roleSource}, false},
		{"unknown language, five columns", []string{"Nom", "ID", "Version", "Disponible", "Source"}, kindUpgrade,
			[]role{roleName, roleID, roleVersion, roleAvailable, roleSource}, false},
		{"unknown language list, four columns", []string{"Nom", "ID", "Version", "Source"}, kindList,
			[]role{roleName, roleID, roleVersion, roleSource}, false},
		{"unknown language upgrade, four columns", []string{"Nom", "ID", "Version", "Disponible"}, kindUpgrade,
			[]role{roleName, roleID, roleVersion, roleAvailable}, false},
		{"too few", []string{"Feature", "Status"}, kindList, nil, true},
		{"known words without id", []string{"Name", "Version", "Source"}, kindList, nil, true},
	}
	for _, tt := range tests {
		got, err := assignRoles(tt.names, tt.kind)
		if (err != nil) != tt.wantErr || !cmp.Equal(got, tt.want) {
			t.Errorf("%s: assignRoles = %v, %v; want %v, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []string{"Notepad++.Notepad++", "IDMComputerSolutions,Inc.UltraEdit", "XP89DCGQ3K6VLD", "Microsoft.DotNet.SDK.3_1", "k6.k6"}
	for _, id := range good {
		if err := validateID(id); err != nil {
			t.Errorf("validateID(%q) = %v, want nil", id, err)
		}
	}
	bad := []string{"", "-h", "--version", "Git Git", "Git.Git;calc", "a&b", "$(x)", "a`b", "a|b", "a\nb", "Microsoft.VC…", "..\\x", "a/b", strings.Repeat("a", 200)}
	for _, id := range bad {
		if err := validateID(id); err == nil {
			t.Errorf("validateID(%q) = nil, want an error", id)
		}
	}
	for _, v := range []string{"1.6.00.4689", "2.0.43.71a", "12.0.40664.0"} {
		if err := validateVersion(v); err != nil {
			t.Errorf("validateVersion(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"", "-1", "1.0 2", "< 3.1.419", "1;2"} {
		if err := validateVersion(v); err == nil {
			t.Errorf("validateVersion(%q) = nil, want an error", v)
		}
	}
}

// fakeRunner replays scripted output per command line and records calls.
type fakeRunner struct {
	out   map[string]string
	errs  map[string]error
	calls []pkgmgr.Command
}

func (f *fakeRunner) Run(_ context.Context, c pkgmgr.Command) ([]byte, error) {
	f.calls = append(f.calls, c)
	return []byte(f.out[c.String()]), f.errs[c.String()]
}

func exitErr(code uint32) error {
	return &pkgmgr.ExitError{Command: "winget", ExitCode: int(code)}
}

const exe = `C:\winget.exe`

func TestManager_Scan(t *testing.T) {
	in, err := os.ReadFile("testdata/upgrade-winget-cli-1869.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{out: map[string]string{exe + " upgrade --include-unknown --accept-source-agreements --disable-interactivity": string(in)}}
	got, err := New(f, exe).Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("Scan returned %d updates, want 5", len(got))
	}
	want := []pkgmgr.Command{{Path: exe, Args: []string{"upgrade", "--include-unknown", "--accept-source-agreements", "--disable-interactivity"}}}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestManager_Scan_NoneFound(t *testing.T) {
	cmd := exe + " upgrade --include-unknown --accept-source-agreements --disable-interactivity"
	f := &fakeRunner{
		out:  map[string]string{cmd: "No installed package found matching input criteria.\n"},
		errs: map[string]error{cmd: exitErr(hrNoApplicationsFound)},
	}
	got, err := New(f, exe).Scan(t.Context())
	if err != nil || len(got) != 0 {
		t.Errorf("Scan = %v, %v; want no updates and no error", got, err)
	}
}

func TestManager_Scan_Error(t *testing.T) {
	cmd := exe + " upgrade --include-unknown --accept-source-agreements --disable-interactivity"
	f := &fakeRunner{errs: map[string]error{cmd: exitErr(0x8A150002)}}
	if _, err := New(f, exe).Scan(t.Context()); err == nil {
		t.Error("Scan succeeded on an invalid-arguments exit code")
	}
}

func TestManager_Install(t *testing.T) {
	scanOut, err := os.ReadFile("testdata/upgrade-winget-pkgs-36722-unknown.txt")
	if err != nil {
		t.Fatal(err)
	}
	scan := exe + " upgrade --include-unknown --accept-source-agreements --disable-interactivity"
	megaCmd := exe + " upgrade --id Mega.MEGASync --version 4.6.1.0 --exact --source winget --include-unknown --silent --accept-package-agreements --accept-source-agreements --disable-interactivity"
	f := &fakeRunner{
		out:  map[string]string{scan: string(scanOut), megaCmd: "Successfully installed\n"},
		errs: map[string]error{megaCmd: exitErr(hrRebootRequiredToFinish)},
	}
	res, err := New(f, exe).Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{
		{ID: "Mega.MEGASync=4.6.1.0", Package: "Mega.MEGASync", Version: "4.6.1.0"},
		{ID: "GOG.Galaxy=2.0.44", Package: "GOG.Galaxy", Version: "2.0.44"}, // version moved on
		{ID: "Git.Git=2.45.0", Package: "Git.Git", Version: "2.45.0"},       // not offered
		{ID: "evil", Package: "Git.Git & calc", Version: "1"},               // refused
		{ID: "noversion", Package: "Git.Git"},                               // refused
		{ID: "dash", Package: "--override", Version: "1"},                   // refused
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []pkgmgr.Command{
		{Path: exe, Args: []string{"upgrade", "--include-unknown", "--accept-source-agreements", "--disable-interactivity"}},
		{Path: exe, Args: []string{"upgrade", "--id", "Mega.MEGASync", "--version", "4.6.1.0", "--exact", "--source", "winget", "--include-unknown",
			"--silent", "--accept-package-agreements", "--accept-source-agreements", "--disable-interactivity"}},
	}
	if diff := cmp.Diff(wantCalls, f.calls); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	status := map[string]pkgmgr.ItemStatus{}
	for _, it := range res.Items {
		status[it.ID] = it.Status
	}
	wantStatus := map[string]pkgmgr.ItemStatus{
		"Mega.MEGASync=4.6.1.0": pkgmgr.ItemInstalled,
		"GOG.Galaxy=2.0.44":     pkgmgr.ItemSkipped,
		"Git.Git=2.45.0":        pkgmgr.ItemSkipped,
		"evil":                  pkgmgr.ItemFailed,
		"noversion":             pkgmgr.ItemFailed,
		"dash":                  pkgmgr.ItemFailed,
	}
	if diff := cmp.Diff(wantStatus, status); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if !res.RebootRequired {
		t.Error("RebootRequired = false after exit code 0x8A150109")
	}
	if !strings.Contains(res.Output, "Successfully installed") {
		t.Errorf("Output = %q, want the tool's output", res.Output)
	}
}

func TestManager_Install_ContextDone(t *testing.T) {
	scanOut, _ := os.ReadFile("testdata/upgrade-winget-cli-1869.txt")
	scan := exe + " upgrade --include-unknown --accept-source-agreements --disable-interactivity"
	f := &fakeRunner{out: map[string]string{scan: string(scanOut)}}
	ctx, cancel := context.WithCancel(t.Context())
	r := runnerFunc(func(c context.Context, cmd pkgmgr.Command) ([]byte, error) {
		out, err := f.Run(c, cmd)
		cancel() // the window ends while the scan runs
		return out, err
	})
	res, err := New(r, exe).Install(ctx, pkgmgr.InstallRequest{Targets: []pkgmgr.Target{{ID: "Postman.Postman=9.9.3", Package: "Postman.Postman", Version: "9.9.3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || res.Items[0].Status != pkgmgr.ItemSkipped {
		t.Errorf("after cancellation: %d commands, item %+v; want only the scan and a skipped item", len(f.calls), res.Items[0])
	}
}

type runnerFunc func(context.Context, pkgmgr.Command) ([]byte, error)

func (f runnerFunc) Run(ctx context.Context, c pkgmgr.Command) ([]byte, error) { return f(ctx, c) }

func TestInstallOutcome(t *testing.T) {
	tests := []struct {
		err        error
		want       pkgmgr.ItemStatus
		wantReboot bool
	}{
		{nil, pkgmgr.ItemInstalled, false},
		{exitErr(hrRebootRequiredToFinish), pkgmgr.ItemInstalled, true},
		{exitErr(hrRebootInitiated), pkgmgr.ItemInstalled, true},
		{exitErr(hrRebootRequiredInstall), pkgmgr.ItemFailed, true},
		{exitErr(hrUpdateNotApplicable), pkgmgr.ItemSkipped, false},
		{exitErr(hrInstallAlreadyDone), pkgmgr.ItemSkipped, false},
		{exitErr(0x8A150011), pkgmgr.ItemFailed, false}, // installer hash mismatch
		{errors.New("exec: not found"), pkgmgr.ItemFailed, false},
	}
	for _, tt := range tests {
		got, _, reboot := installOutcome(tt.err)
		if got != tt.want || reboot != tt.wantReboot {
			t.Errorf("installOutcome(%v) = %s, reboot %v; want %s, %v", tt.err, got, reboot, tt.want, tt.wantReboot)
		}
	}
}

func TestLocate(t *testing.T) {
	pf := t.TempDir()
	for _, v := range []string{"1.9.25200.0", "1.22.11261.0", "1.21.3482.0"} {
		dir := filepath.Join(pf, "WindowsApps", "Microsoft.DesktopAppInstaller_"+v+"_x64__8wekyb3d8bbwe")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "winget.exe"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Locate(pf)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Microsoft.DesktopAppInstaller_1.22.11261.0_x64__8wekyb3d8bbwe"; filepath.Base(filepath.Dir(got)) != want {
		t.Errorf("Locate = %s, want the %s directory", got, want)
	}
	if _, err := Locate(t.TempDir()); err == nil {
		t.Error("Locate found winget in an empty directory")
	}
}

func TestManager_InstalledSoftware(t *testing.T) {
	in, _ := os.ReadFile("testdata/list-winget-pkgs-15658-msix.txt")
	f := &fakeRunner{out: map[string]string{exe + " list --accept-source-agreements --disable-interactivity": string(in)}}
	got, err := New(f, exe).InstalledSoftware(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || got[2].Name != "App Installer" || got[2].Version != "1.11.11451.0" {
		t.Errorf("InstalledSoftware = %+v", got)
	}
}

func FuzzParseUpgrade(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.txt")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("Name Id\n---\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseUpgrade(b)
		if err != nil {
			return
		}
		for _, u := range s.Updates {
			if validateID(u.Package) != nil || validateVersion(u.AvailableVersion) != nil {
				t.Fatalf("parseUpgrade returned an update that fails validation: %+v", u)
			}
			if u.ID != u.Package+"="+u.AvailableVersion {
				t.Fatalf("ID %q is not package=version", u.ID)
			}
		}
	})
}

func FuzzParseList(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.txt")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sw, err := parseList(b)
		if err != nil {
			return
		}
		for _, s := range sw {
			if s.Name == "" || bytes.ContainsAny([]byte(s.Name), "\r\n") {
				t.Fatalf("bad software name %q", s.Name)
			}
		}
	})
}
