package compliance

import (
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// CompareVersions compares two OS versions part by part: runs of digits
// numerically (of any length), other runs as text; '.', '-', '_', '+',
// '~' and spaces separate parts. A missing numeric part counts as 0, so
// "10.0" equals "10.0.0"; a trailing text part marks a pre-release, so
// "14.0" is newer than "14.0 beta". It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	ta, tb := versionTokens(a), versionTokens(b)
	for i := 0; i < max(len(ta), len(tb)); i++ {
		var x, y string
		if i < len(ta) {
			x = ta[i]
		}
		if i < len(tb) {
			y = tb[i]
		}
		if c := compareToken(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func versionTokens(s string) []string {
	var out []string
	i := 0
	for i < len(s) {
		c := s[i]
		if strings.IndexByte(".-_+~ ", c) >= 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isDigit(s[j]) == isDigit(c) && strings.IndexByte(".-_+~ ", s[j]) < 0 {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

// compareToken compares two parts; "" is a missing part.
func compareToken(x, y string) int {
	switch {
	case x == y:
		return 0
	case x == "":
		return -compareToken(y, x)
	case y == "":
		if isDigit(x[0]) {
			return compareNumbers(x, "0")
		}
		return -1 // "1.0rc" < "1.0"
	}
	dx, dy := isDigit(x[0]), isDigit(y[0])
	switch {
	case dx && dy:
		return compareNumbers(x, y)
	case dx:
		return 1
	case dy:
		return -1
	}
	return sign(strings.Compare(strings.ToLower(x), strings.ToLower(y)))
}

func compareNumbers(x, y string) int {
	x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		return sign(len(x) - len(y))
	}
	return sign(strings.Compare(x, y))
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// FullVersion returns the most precise version of an OS the asset record
// holds: Windows' version with the update build revision from its build
// ("10.0.19045" and "19045.5131" give "10.0.19045.5131"), a Linux point
// release from its build ("12" and "12.8" give "12.8"), else the version.
func FullVersion(os patch.OS) string {
	v, b := strings.TrimSpace(os.Version), strings.TrimSpace(os.Build)
	switch {
	case v == "":
		return b
	case b == "":
		return v
	case strings.HasPrefix(b, v+"."):
		return b
	}
	if os.Family == patch.OSWindows {
		parts := strings.Split(v, ".")
		build, ubr, ok := strings.Cut(b, ".")
		if ok && len(parts) == 3 && parts[2] == build {
			return v + "." + ubr
		}
	}
	return v
}

// BaselineFor returns the baseline that applies to an OS: the one of its
// family whose Match is the longest substring of the OS name.
func BaselineFor(bs []patch.OSBaseline, os patch.OS) (patch.OSBaseline, bool) {
	best, found := patch.OSBaseline{}, false
	name := strings.ToLower(os.Name)
	for _, b := range bs {
		if b.Family != os.Family {
			continue
		}
		m := strings.ToLower(strings.TrimSpace(b.Match))
		if m != "" && !strings.Contains(name, m) {
			continue
		}
		if !found || len(m) > len(strings.TrimSpace(best.Match)) {
			best, found = b, true
		}
	}
	return best, found
}
