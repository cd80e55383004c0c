// Package apttest builds throwaway apt repositories for tests that drive the
// real apt-get and dpkg: the apt backend's integration test and, later, agent
// and rollout end-to-end tests.
//
// A Repo is a flat repository under t.TempDir() holding tiny packages built
// with dpkg-deb, indexed with dpkg-scanpackages and described by a Release
// file the Repo writes itself (so the origin apt prints, and therefore the
// security classification, is under the test's control). AptOptions points
// apt-get at a private sources list, package lists, cache and state file, so
// that a test sees only its own repository and the machine's apt
// configuration and lists are left untouched. Installing does touch the real
// dpkg database (that is the point); every package a Repo builds is purged
// in t.Cleanup.
//
// Package operations go through apt-get with a lock timeout, so that tests
// of several packages running in parallel wait for each other.
//
// Tests need root and the dpkg-dev tools. Without them the helpers skip, except
// when the CI environment variable is set, where they fail: CI must never
// silently pass a test that did not run.
package apttest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Package describes a package to build. Name and Version are required.
type Package struct {
	Name    string
	Version string
	// Arch defaults to "all".
	Arch string
	// Depends is the control file's Depends field, if any.
	Depends string
	// Postinst is a shell script run after configuration, if any. The
	// package also installs /usr/share/patchring-test/<name>/version
	// holding Version.
	Postinst string
}

// Release is what the repository's Release file says. apt prints
// "Label:Version/Suite" as the origin of each candidate.
type Release struct {
	Origin, Label, Suite, Codename, Version string
}

// DefaultRelease is the Release of a new Repo.
var DefaultRelease = Release{Origin: "Patchring", Label: "Patchring-Test", Suite: "patchring-test", Codename: "patchring", Version: "1"}

// Repo is a local apt repository.
type Repo struct {
	tb      testing.TB
	dir     string // root of the repository and the private apt state
	repo    string // the repository itself
	release Release
	built   map[string]string // "name_version_arch" -> .deb path
	names   []string          // package names, for cleanup
}

// RequireRoot skips tb unless running as root; under CI it fails instead.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(tb, "needs root to install packages with dpkg")
	}
}

// RequireTools skips tb unless apt-get, dpkg, dpkg-deb and
// dpkg-scanpackages (package dpkg-dev) are installed; under CI it fails.
func RequireTools(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"apt-get", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-scanpackages"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(tb, fmt.Sprintf("needs %s (apt-get install dpkg-dev)", tool))
		}
	}
}

func skipOrFail(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("apttest: %s, and CI is set", why)
	}
	tb.Skipf("apttest: %s", why)
}

// NewRepo creates an empty repository. It requires root and the tools.
func NewRepo(tb testing.TB) *Repo {
	tb.Helper()
	RequireRoot(tb)
	RequireTools(tb)
	dir := tb.TempDir()
	// apt's download sandbox user must be able to read the repository.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	r := &Repo{tb: tb, dir: dir, repo: filepath.Join(dir, "repo"), release: DefaultRelease, built: map[string]string{}}
	for _, d := range []string{r.repo, filepath.Join(r.repo, "pool"), filepath.Join(dir, "build"), filepath.Join(dir, "lists", "partial"), filepath.Join(dir, "cache", "archives", "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	src := fmt.Sprintf("deb [trusted=yes] file:%s ./\n", r.repo)
	if err := os.WriteFile(r.sourcesList(), []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	r.publish()
	tb.Cleanup(r.purgeAll)
	return r
}

// Dir is the repository directory.
func (r *Repo) Dir() string { return r.repo }

// SetRelease changes the Release file, e.g. to a "-security" suite.
func (r *Repo) SetRelease(rel Release) {
	r.tb.Helper()
	r.release = rel
	r.publish()
}

// AptOptions are the apt-get options that confine apt to this repository
// and to private state; pass them as apt.Options.AptOptions. After adding
// packages, run apt-get update with them (the apt backend's Scan does).
func (r *Repo) AptOptions() []string {
	opt := func(kv string) []string { return []string{"-o", kv} }
	return slices.Concat(
		opt("Dir::Etc::sourcelist="+r.sourcesList()),
		opt("Dir::Etc::sourceparts=-"),
		opt("Dir::State::Lists="+filepath.Join(r.dir, "lists")),
		opt("Dir::State::extended_states="+filepath.Join(r.dir, "extended_states")),
		opt("Dir::Cache="+filepath.Join(r.dir, "cache")),
		opt("Dir::Cache::pkgcache="),
		opt("Dir::Cache::srcpkgcache="),
		opt("APT::Get::List-Cleanup=0"),
		opt("APT::Sandbox::User=root"),
	)
}

func (r *Repo) sourcesList() string { return filepath.Join(r.dir, "sources.list") }

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	versionRE = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
)

// Add builds p, puts it in the repository and re-indexes. It returns the
// path of the .deb.
func (r *Repo) Add(p Package) string {
	r.tb.Helper()
	if !nameRE.MatchString(p.Name) || !versionRE.MatchString(p.Version) {
		r.tb.Fatalf("apttest: invalid package %q version %q", p.Name, p.Version)
	}
	if p.Arch == "" {
		p.Arch = "all"
	}
	deb := r.build(p)
	r.publish()
	return deb
}

// Deb returns the path of a built package, failing the test if it was not
// built.
func (r *Repo) Deb(name, version string) string {
	r.tb.Helper()
	for key, path := range r.built {
		if strings.HasPrefix(key, name+"_"+strings.ReplaceAll(version, ":", "%3a")+"_") {
			return path
		}
	}
	r.tb.Fatalf("apttest: %s %s was not added", name, version)
	return ""
}

// DpkgInstall installs a built version from its .deb file, bypassing the
// repository and apt's version choice (a downgrade is allowed). It runs
// apt-get on the file rather than dpkg -i so that it waits for the dpkg lock
// like every other package operation: tests of several packages run in
// parallel and all of them install.
func (r *Repo) DpkgInstall(name, version string) {
	r.tb.Helper()
	r.run("apt-get", slices.Concat(r.AptOptions(), r.lockWait(), []string{"-q", "-y", "--allow-downgrades", "install", r.Deb(name, version)})...)
}

// Purge removes a package and its configuration from the host; a package
// dpkg does not know is not an error.
func (r *Repo) Purge(name string) {
	r.tb.Helper()
	if err := r.purge(name); err != nil {
		r.tb.Fatal(err)
	}
}

func (r *Repo) purge(name string) error {
	if err := exec.CommandContext(context.Background(), "dpkg-query", "-W", name).Run(); err != nil {
		return nil // unknown to dpkg: nothing to purge
	}
	args := slices.Concat(r.AptOptions(), r.lockWait(), []string{"-q", "-y", "purge", name})
	cmd := exec.CommandContext(context.Background(), "apt-get", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apttest: purge %s: %w\n%s", name, err, out)
	}
	return nil
}

// lockWait makes apt-get wait for the dpkg lock instead of failing at once.
func (r *Repo) lockWait() []string { return []string{"-o", "DPkg::Lock::Timeout=300"} }

// InstalledVersion returns the version dpkg reports for name, or "" if it is
// not installed.
func (r *Repo) InstalledVersion(name string) string {
	r.tb.Helper()
	out, err := exec.CommandContext(context.Background(), "dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Version}", name).Output()
	if err != nil {
		return ""
	}
	status, version, _ := strings.Cut(string(out), "\t")
	if len(status) < 2 || status[1] != 'i' {
		return ""
	}
	return version
}

func (r *Repo) purgeAll() {
	for _, name := range r.names {
		if err := r.purge(name); err != nil {
			r.tb.Error(err)
		}
	}
}

func (r *Repo) build(p Package) string {
	root := filepath.Join(r.dir, "build", p.Name+"_"+strings.ReplaceAll(p.Version, ":", "%3a"))
	if err := os.RemoveAll(root); err != nil {
		r.tb.Fatal(err)
	}
	payload := filepath.Join(root, "usr", "share", "patchring-test", p.Name)
	for _, d := range []string{filepath.Join(root, "DEBIAN"), payload} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.tb.Fatal(err)
		}
	}
	var control strings.Builder
	fmt.Fprintf(&control, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Patchring Tests <tests@patchring.invalid>\nSection: misc\nPriority: optional\n", p.Name, p.Version, p.Arch)
	if p.Depends != "" {
		fmt.Fprintf(&control, "Depends: %s\n", p.Depends)
	}
	fmt.Fprintf(&control, "Description: Patchring test package\n A tiny package built by apttest.\n")
	r.write(filepath.Join(root, "DEBIAN", "control"), control.String(), 0o644)
	if p.Postinst != "" {
		r.write(filepath.Join(root, "DEBIAN", "postinst"), p.Postinst, 0o755)
	}
	r.write(filepath.Join(payload, "version"), p.Version+"\n", 0o644)

	key := p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch
	deb := filepath.Join(r.repo, "pool", key+".deb")
	r.run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb)
	r.built[key] = deb
	if !slices.Contains(r.names, p.Name) {
		r.names = append(r.names, p.Name)
	}
	return deb
}

// publish writes Packages, Packages.gz and Release.
func (r *Repo) publish() {
	r.tb.Helper()
	cmd := exec.CommandContext(context.Background(), "dpkg-scanpackages", "--multiversion", "pool", "/dev/null")
	cmd.Dir = r.repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	packages, err := cmd.Output()
	if err != nil {
		r.tb.Fatalf("apttest: dpkg-scanpackages: %v\n%s", err, stderr.String())
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(packages); err != nil {
		r.tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		r.tb.Fatal(err)
	}
	r.write(filepath.Join(r.repo, "Packages"), string(packages), 0o644)
	r.write(filepath.Join(r.repo, "Packages.gz"), gz.String(), 0o644)

	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\nVersion: %s\n", r.release.Origin, r.release.Label, r.release.Suite, r.release.Codename, r.release.Version)
	// apt refuses a Release file dated in the future; an hour back keeps
	// clock skew between this process and apt harmless.
	fmt.Fprintf(&rel, "Date: %s\nArchitectures: all amd64 arm64 i386\nComponents: main\nSHA256:\n", time.Now().UTC().Add(-time.Hour).Format(time.RFC1123))
	for _, f := range []struct {
		name string
		data []byte
	}{{"Packages", packages}, {"Packages.gz", gz.Bytes()}} {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&rel, " %s %d %s\n", hex.EncodeToString(sum[:]), len(f.data), f.name)
	}
	r.write(filepath.Join(r.repo, "Release"), rel.String(), 0o644)
}

func (r *Repo) write(path, data string, mode os.FileMode) {
	r.tb.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		r.tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		r.tb.Fatal(err)
	}
}

func (r *Repo) run(name string, args ...string) {
	r.tb.Helper()
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		r.tb.Fatalf("apttest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
