package apt

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// dpkgQueryFormat is the -f argument of every dpkg-query call: one package
// per line, tab-separated, so that spaces in the maintainer field are safe.
// db:Status-Abbrev is three characters: desired action, package state and
// error flag ("ii ", "rc ", "iF ", "iHR").
const dpkgQueryFormat = `${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\t${Maintainer}\n`

// dpkgEntry is one line of dpkg-query output.
type dpkgEntry struct {
	Package    string
	Version    string
	Arch       string
	Want       byte // u, i, h, r, p
	State      byte // n, c, H, U, F, W, t, i
	Err        byte // ' ' or R (reinstall required)
	Maintainer string
}

// present reports whether the package's files are on disk: anything but
// not-installed and config-files-only.
func (e dpkgEntry) present() bool { return e.State != 'n' && e.State != 'c' }

// configured reports whether the package is fully installed: installed, or
// configured with only triggers outstanding, and not flagged as needing a
// reinstall.
func (e dpkgEntry) configured() bool {
	return (e.State == 'i' || e.State == 'W' || e.State == 't') && e.Err != 'R'
}

func (e dpkgEntry) status() string { return string([]byte{e.Want, e.State, e.Err}) }

// parseDpkgQuery reads dpkg-query output in dpkgQueryFormat. Lines with the
// wrong number of fields or a malformed status are errors.
func parseDpkgQuery(out []byte) ([]dpkgEntry, error) {
	var entries []dpkgEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("parse dpkg-query line %d: want 5 tab-separated fields, got %d", n, len(f))
		}
		st := f[3]
		if len(st) == 2 {
			st += " " // tolerate a trimmed trailing space in the error column
		}
		if len(st) != 3 || !strings.ContainsRune("uihrp", rune(st[0])) || !strings.ContainsRune("ncHUFWti", rune(st[1])) || (st[2] != ' ' && st[2] != 'R') {
			return nil, fmt.Errorf("parse dpkg-query line %d: malformed status %q", n, f[3])
		}
		if f[0] == "" {
			return nil, fmt.Errorf("parse dpkg-query line %d: empty package name", n)
		}
		entries = append(entries, dpkgEntry{
			Package: f[0], Version: f[1], Arch: f[2],
			Want: st[0], State: st[1], Err: st[2],
			Maintainer: f[4],
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dpkg-query output: %w", err)
	}
	return entries, nil
}

// software converts the entries whose files are present into inventory
// records.
func software(entries []dpkgEntry) []pkgmgr.Software {
	var sw []pkgmgr.Software
	for _, e := range entries {
		if !e.present() {
			continue
		}
		sw = append(sw, pkgmgr.Software{
			Name:    e.Package,
			Version: e.Version,
			Vendor:  e.Maintainer,
			Source:  "dpkg",
			Arch:    e.Arch,
		})
	}
	return sw
}

// dpkgState indexes entries by package and architecture.
type dpkgState map[string]dpkgEntry

func newDpkgState(entries []dpkgEntry) dpkgState {
	s := make(dpkgState, len(entries))
	for _, e := range entries {
		s[e.Package+":"+e.Arch] = e
	}
	return s
}

// lookup finds the entry a target names. A target "name:arch" names that
// architecture; a bare name names the native architecture or "all", the way
// apt reads it.
func (s dpkgState) lookup(pkg, nativeArch string) (dpkgEntry, bool) {
	if name, arch, ok := strings.Cut(pkg, ":"); ok {
		e, found := s[name+":"+arch]
		return e, found
	}
	if e, ok := s[pkg+":"+nativeArch]; ok {
		return e, true
	}
	e, ok := s[pkg+":all"]
	return e, ok
}
