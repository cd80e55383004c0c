package apt

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got, as indented JSON, with testdata/name, or rewrites the
// file when -update is set.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var simulateSamples = []string{
	"bookworm-dist-upgrade.txt",
	"focal-dist-upgrade.txt",
	"noble-third-party.txt",
	"jammy-install-curl.txt",
}

func TestParseSimulate_Golden(t *testing.T) {
	for _, name := range simulateSamples {
		t.Run(name, func(t *testing.T) {
			got, err := parseSimulate(readTestdata(t, name))
			if err != nil {
				t.Fatalf("parseSimulate: %v", err)
			}
			golden(t, strings.TrimSuffix(name, ".txt")+".golden.json", got)
		})
	}
}

// TestParseSimulate_Facts pins the facts the golden files carry, so a
// careless -update cannot bless a regression in them.
func TestParseSimulate_Facts(t *testing.T) {
	byID := func(t *testing.T, name string) map[string]pkgmgr.Update {
		t.Helper()
		us, err := parseSimulate(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]pkgmgr.Update{}
		for _, u := range us {
			m[u.ID] = u
		}
		return m
	}
	t.Run("DebianSecurityAlsoInPointRelease", func(t *testing.T) {
		u, ok := byID(t, "bookworm-dist-upgrade.txt")["libgnutls30=3.7.9-2+deb12u7"]
		if !ok {
			t.Fatal("libgnutls30 update missing")
		}
		want := pkgmgr.Update{
			Source: pkgmgr.SourceApt, ID: "libgnutls30=3.7.9-2+deb12u7", Package: "libgnutls30",
			Title: "libgnutls30 3.7.9-2+deb12u7", InstalledVersion: "3.7.9-2+deb12u6", AvailableVersion: "3.7.9-2+deb12u7",
			Classification: pkgmgr.ClassSecurity, VendorClassification: "oldstable-security",
			Origin: "Debian-Security:12/oldstable-security",
		}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("DebianPointReleaseIsBugfix", func(t *testing.T) {
		u := byID(t, "bookworm-dist-upgrade.txt")["bash=5.2.15-2+b13"]
		if u.Classification != pkgmgr.ClassBugfix || u.Origin != "Debian:12.15/oldstable" || u.InstalledVersion != "5.2.15-2+b8" {
			t.Errorf("bash = %+v", u)
		}
	})
	t.Run("EpochKept", func(t *testing.T) {
		u := byID(t, "bookworm-dist-upgrade.txt")["login=1:4.13+dfsg1-1+deb12u2"]
		if u.InstalledVersion != "1:4.13+dfsg1-1+deb12u1" {
			t.Errorf("login = %+v", u)
		}
	})
	t.Run("UbuntuSecurityPocketSecondOrigin", func(t *testing.T) {
		u := byID(t, "focal-dist-upgrade.txt")["openvpn=2.4.7-1ubuntu2.20.04.2"]
		if u.Classification != pkgmgr.ClassSecurity || u.Origin != "Ubuntu:20.04/focal-security" || u.VendorClassification != "focal-security" {
			t.Errorf("openvpn = %+v", u)
		}
	})
	t.Run("MultiarchIsTwoUpdates", func(t *testing.T) {
		m := byID(t, "focal-dist-upgrade.txt")
		for _, id := range []string{"libldap-2.4-2=2.4.49+dfsg-2ubuntu1.8", "libldap-2.4-2:i386=2.4.49+dfsg-2ubuntu1.8"} {
			if _, ok := m[id]; !ok {
				t.Errorf("%s missing", id)
			}
		}
		if len(m) != 15 {
			t.Errorf("got %d updates, want the 15 apt announced", len(m))
		}
	})
	t.Run("ThirdPartyLabels", func(t *testing.T) {
		m := byID(t, "noble-third-party.txt")
		for id, origin := range map[string]string{
			"containerd.io=2.3.6-1~ubuntu.24.04~noble":         "Docker CE:noble",
			"java-21-amazon-corretto-jdk=1:21.0.12.12-1":       ". stable:stable",
			"php8.3-fpm=8.3.35-1+ubuntu24.04.1+deb.sury.org+1": "PPA for PHP:24.04/noble",
			"dracut-install=060+5-1ubuntu3.4":                  "Ubuntu:24.04/noble-security",
			"libapparmor1=4.0.1really4.0.1-0ubuntu0.24.04.8":   "Ubuntu:24.04/noble-updates",
			"libevent-core-2.1-7t64=2.1.12-stable-9ubuntu2.2":  "Ubuntu:24.04/noble-security",
			"python3-requests=2.31.0+dfsg-1ubuntu1.2":          "Ubuntu:24.04/noble-security",
			"libaudit-common=1:3.1.2-2.1ubuntu0.1":             "Ubuntu:24.04/noble-updates",
		} {
			u, ok := m[id]
			if !ok {
				t.Errorf("%s missing", id)
				continue
			}
			if u.Origin != origin {
				t.Errorf("%s origin = %q, want %q", id, u.Origin, origin)
			}
			if want := strings.HasSuffix(origin, "-security"); (u.Classification == pkgmgr.ClassSecurity) != want {
				t.Errorf("%s classification = %s", id, u.Classification)
			}
		}
	})
	t.Run("NewInstallSkipped", func(t *testing.T) {
		m := byID(t, "jammy-install-curl.txt")
		if len(m) != 1 {
			t.Errorf("got %v, want only libcurl4", m)
		}
	})
}

func TestParseInstLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want instLine
	}{
		{
			name: "NoReleaseFile",
			line: "Inst hello [1.0-1] (1.1-1 localhost [all])",
			want: instLine{pkg: "hello", old: "1.0-1", new: "1.1-1", origins: []string{"localhost"}, arch: "all"},
		},
		{
			name: "ParenthesisInLabel",
			line: "Inst hello [1.0-1] (1.1-1 Vendor (EU):1/stable [amd64]) []",
			want: instLine{pkg: "hello", old: "1.0-1", new: "1.1-1", origins: []string{"Vendor (EU):1/stable"}, arch: "amd64"},
		},
		{
			name: "UbuntuProESM",
			line: "Inst libc6 [2.35-0ubuntu3.1] (2.35-0ubuntu3.8 UbuntuESM:22.04/jammy-infra-security [amd64])",
			want: instLine{pkg: "libc6", old: "2.35-0ubuntu3.1", new: "2.35-0ubuntu3.8", origins: []string{"UbuntuESM:22.04/jammy-infra-security"}, arch: "amd64"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseInstLine(tc.line)
			if err != nil {
				t.Fatalf("parseInstLine: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(instLine{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	bad := []string{
		"Inst",
		"Inst hello",
		"Inst hello [1.0-1",
		"Inst hello [1.0-1] 1.1-1",
		"Inst hello [1.0-1] (1.1-1)",
		"Inst hello [1.0-1] (1.1-1 Debian:12/stable)",
		"Inst --force-yes [1.0-1] (1.1-1 Debian:12/stable [all])",
		"Inst hello [1.0-1] (--allow-downgrades Debian:12/stable [all])",
		"Inst hello [1.0-1] (1.1-1 Debian:12/stable [all]",
		"Inst Hello [1.0-1] (1.1-1 Debian:12/stable [all])",
	}
	for _, line := range bad {
		if got, err := parseInstLine(line); err == nil {
			t.Errorf("parseInstLine(%q) = %+v, want error", line, got)
		}
	}
}

func TestParseSimulate_ErrorNamesLine(t *testing.T) {
	_, err := parseSimulate([]byte("Reading package lists...\nInst hello [1.0-1] (1.1-1)\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error = %v, want one naming line 2", err)
	}
}

func TestParseDpkgQuery_Golden(t *testing.T) {
	entries, err := parseDpkgQuery(readTestdata(t, "bookworm-dpkg-query.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sw := software(entries)
	if len(sw) != len(entries) {
		t.Errorf("software kept %d of %d entries; all are installed on the recording host", len(sw), len(entries))
	}
	golden(t, "bookworm-dpkg-query.golden.json", sw)
}

func TestParseDpkgQuery(t *testing.T) {
	in := "bash\t5.2.15-2+b8\tamd64\tii \tMatthias Klose <doko@debian.org>\n" +
		"oldpkg\t1.0-1\tamd64\trc \tSomeone <s@example.org>\n" +
		"libc6\t2.36-9+deb12u10\ti386\tii \tGNU Libc Maintainers <debian-glibc@lists.debian.org>\n" +
		"broken\t2.0-1\tall\tiF \tX <x@example.org>\n" +
		"reinst\t3.0-1\tall\tiiR\tX <x@example.org>\n"
	entries, err := parseDpkgQuery([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	state := newDpkgState(entries)
	if e, ok := state.lookup("bash", "amd64"); !ok || !e.configured() || e.Version != "5.2.15-2+b8" {
		t.Errorf("bash = %+v, %v", e, ok)
	}
	if _, ok := state.lookup("libc6", "amd64"); ok {
		t.Error("libc6 found as native; only i386 is installed")
	}
	if e, ok := state.lookup("libc6:i386", "amd64"); !ok || e.Version != "2.36-9+deb12u10" {
		t.Errorf("libc6:i386 = %+v, %v", e, ok)
	}
	if e, _ := state.lookup("broken", "amd64"); e.configured() || !e.present() {
		t.Errorf("half-configured broken = %+v", e)
	}
	if e, _ := state.lookup("reinst", "amd64"); e.configured() {
		t.Errorf("reinstall-required reinst counted as configured: %+v", e)
	}
	var names []string
	for _, s := range software(entries) {
		names = append(names, s.Name+":"+s.Arch)
	}
	if diff := cmp.Diff([]string{"bash:amd64", "libc6:i386", "broken:all", "reinst:all"}, names); diff != "" {
		t.Errorf("software (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"bash\t1.0\tamd64\tii \n", "bash\t1.0\tamd64\tzz \tX\n", "\t1.0\tamd64\tii \tX\n"} {
		if _, err := parseDpkgQuery([]byte(bad)); err == nil {
			t.Errorf("parseDpkgQuery(%q) succeeded, want error", bad)
		}
	}
}

func TestValidPackage(t *testing.T) {
	for _, s := range []string{"bash", "libc6", "g++", "libstdc++6", "python3.11", "libldap-2.4-2:i386", "zlib1g:amd64", "ab", "hello:hurd-i386"} {
		if !validPackage(s) {
			t.Errorf("validPackage(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a", "-bash", "--allow-unauthenticated", "Bash", "bash=1.0", "bash/stable", "ba sh", "bash:", "bash:-x", "bash:i386:amd64", ".bash", "+x", "bash\n", "bash;rm"} {
		if validPackage(s) {
			t.Errorf("validPackage(%q) = true", s)
		}
	}
}

func FuzzParseSimulate(f *testing.F) {
	for _, name := range simulateSamples {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("Inst a [1] (2 x [y]) [] [z]\nInst b (1 x:1/y-security [all])\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		us, err := parseSimulate(in)
		if err != nil {
			return
		}
		for _, u := range us {
			if !validPackage(u.Package) || u.ID != u.Package+"="+u.AvailableVersion {
				t.Fatalf("unsafe update %+v", u)
			}
			if err := validateTarget(pkgmgr.Target{ID: u.ID, Package: u.Package, Version: u.AvailableVersion}); err != nil {
				t.Fatalf("scan produced an update that install would refuse: %v", err)
			}
		}
	})
}

func FuzzParseDpkgQuery(f *testing.F) {
	f.Add(readTestdata(f, "bookworm-dpkg-query.txt"))
	f.Add([]byte("a\t1\tall\tii\tb\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := parseDpkgQuery(in)
		if err != nil {
			return
		}
		state := newDpkgState(entries)
		for _, e := range entries {
			if e.Package == "" {
				t.Fatalf("empty package in %+v", e)
			}
			state.lookup(e.Package, "amd64")
		}
		software(entries)
	})
}
