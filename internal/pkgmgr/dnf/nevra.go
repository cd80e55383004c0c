package dnf

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// evr is an rpm epoch:version-release. Epoch "" means 0.
type evr struct {
	Epoch, Version, Release string
}

// String formats the way dnf prints versions: the epoch only when non-zero.
func (e evr) String() string {
	s := e.Version + "-" + e.Release
	if e.Epoch != "" && e.Epoch != "0" {
		s = e.Epoch + ":" + s
	}
	return s
}

func (e evr) equal(o evr) bool {
	return strings.TrimLeft(e.Epoch, "0") == strings.TrimLeft(o.Epoch, "0") && e.Version == o.Version && e.Release == o.Release
}

// compare orders two EVRs with rpm's rules (rpmvercmp).
func (e evr) compare(o evr) int {
	c, _ := semantic.ParseRedHatVersion(e.full()).CompareStr(o.full())
	return c
}

func (e evr) full() string {
	ep := e.Epoch
	if ep == "" {
		ep = "0"
	}
	return ep + ":" + e.Version + "-" + e.Release
}

var (
	epochRE   = regexp.MustCompile(`^[0-9]{1,10}$`)
	verRelRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~^]*$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9_+][A-Za-z0-9._+-]*$`)
	archRE    = regexp.MustCompile(`^[a-z0-9_]+$`)
	errFormat = "%q is not %s"
)

// parseEVR parses "[epoch:]version-release". Every part is checked against
// the characters rpm allows, so that a parsed EVR is safe on a command line.
func parseEVR(s string) (evr, error) {
	var e evr
	rest := s
	if ep, vr, ok := strings.Cut(s, ":"); ok {
		if !epochRE.MatchString(ep) {
			return evr{}, fmt.Errorf(errFormat, s, "[epoch:]version-release: bad epoch")
		}
		e.Epoch, rest = ep, vr
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return evr{}, fmt.Errorf(errFormat, s, "[epoch:]version-release: no release")
	}
	e.Version, e.Release = rest[:i], rest[i+1:]
	if !verRelRE.MatchString(e.Version) || !verRelRE.MatchString(e.Release) {
		return evr{}, fmt.Errorf(errFormat, s, "[epoch:]version-release: invalid characters")
	}
	return e, nil
}

// nevra is a package name, architecture and EVR.
type nevra struct {
	Name, Arch string
	EVR        evr
}

// key is "name.arch", the form dnf prints and Update.Package uses.
func (n nevra) key() string { return n.Name + "." + n.Arch }

// spec is the argument dnf install/downgrade takes: name-[e:]v-r.arch.
func (n nevra) spec() string { return n.Name + "-" + n.EVR.String() + "." + n.Arch }

// parseNEVRA parses "name-[epoch:]version-release.arch" as updateinfo
// prints it.
func parseNEVRA(s string) (nevra, error) {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return nevra{}, fmt.Errorf(errFormat, s, "a name-version-release.arch")
	}
	nvr, arch := s[:dot], s[dot+1:]
	r := strings.LastIndexByte(nvr, '-')
	if r < 0 {
		return nevra{}, fmt.Errorf(errFormat, s, "a name-version-release.arch")
	}
	v := strings.LastIndexByte(nvr[:r], '-')
	if v < 0 {
		return nevra{}, fmt.Errorf(errFormat, s, "a name-version-release.arch")
	}
	n := nevra{Name: nvr[:v], Arch: arch}
	if !nameRE.MatchString(n.Name) || !archRE.MatchString(n.Arch) {
		return nevra{}, fmt.Errorf(errFormat, s, "a name-version-release.arch")
	}
	e, err := parseEVR(nvr[v+1:])
	if err != nil {
		return nevra{}, err
	}
	n.EVR = e
	return n, nil
}

// knownArches are the rpm architectures a "name.arch" may end in. Names may
// hold dots themselves ("python3.11"), so the suffix is only an architecture
// when it is one of these.
var knownArches = map[string]bool{
	"noarch": true, "x86_64": true, "i686": true, "i586": true, "i386": true,
	"aarch64": true, "ppc64le": true, "ppc64": true, "s390x": true,
	"armv7hl": true, "armv7hnl": true, "riscv64": true, "loongarch64": true,
}

// splitNameArch splits "name.arch".
func splitNameArch(s string) (name, arch string, err error) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || !knownArches[s[i+1:]] || !nameRE.MatchString(s[:i]) {
		return "", "", fmt.Errorf(errFormat, s, "a name.arch with a known architecture")
	}
	return s[:i], s[i+1:], nil
}
