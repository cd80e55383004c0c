// Package debversion parses Debian package versions and orders them exactly
// as dpkg does (deb-version(7)): an optional numeric epoch, an upstream
// version and an optional Debian revision, compared part by part with the
// "~ sorts before everything, letters before other punctuation" rule.
//
// It exists, rather than borrowing a general multi-ecosystem library, for two
// reasons. First, the apt backend uses Parse as a gate: a version that reaches
// an apt-get command line must be one dpkg itself would accept without a
// warning, so Parse is deliberately strict (dpkg's errors and warnings are
// both errors here). Second, the comparison is small enough to own and to
// check line by line against dpkg --compare-versions in the tests.
package debversion

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Debian version. The zero value is not a valid version.
type Version struct {
	// Epoch is the number before the first colon; 0 when absent.
	Epoch uint32
	// Upstream is the part between the epoch and the last hyphen.
	Upstream string
	// Revision is the part after the last hyphen; empty when absent (dpkg
	// treats an absent revision as equal to "0" for ordering).
	Revision string
}

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid debian version")

// Parse parses s. It rejects what dpkg rejects or warns about: an empty or
// non-numeric epoch, an empty upstream version, an upstream version that does
// not start with a digit, characters outside [A-Za-z0-9.+~-:] in the upstream
// version or outside [A-Za-z0-9.+~] in the revision, an empty revision after a
// hyphen, and surrounding whitespace.
func Parse(s string) (Version, error) {
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	var v Version
	rest := s
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		e := rest[:i]
		if e == "" || !allDigits(e) {
			return Version{}, fmt.Errorf("%w %q: epoch is not a number", ErrInvalid, s)
		}
		n, err := strconv.ParseUint(e, 10, 31)
		if err != nil {
			return Version{}, fmt.Errorf("%w %q: epoch out of range", ErrInvalid, s)
		}
		v.Epoch = uint32(n)
		rest = rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.Upstream, v.Revision = rest[:i], rest[i+1:]
		if v.Revision == "" {
			return Version{}, fmt.Errorf("%w %q: empty revision", ErrInvalid, s)
		}
	} else {
		v.Upstream = rest
	}
	if v.Upstream == "" {
		return Version{}, fmt.Errorf("%w %q: empty upstream version", ErrInvalid, s)
	}
	if !isDigit(v.Upstream[0]) {
		return Version{}, fmt.Errorf("%w %q: upstream version does not start with a digit", ErrInvalid, s)
	}
	for i := 0; i < len(v.Upstream); i++ {
		if c := v.Upstream[i]; !isAlnum(c) && !strings.ContainsRune(".+~-:", rune(c)) {
			return Version{}, fmt.Errorf("%w %q: invalid character %q in upstream version", ErrInvalid, s, c)
		}
	}
	for i := 0; i < len(v.Revision); i++ {
		if c := v.Revision[i]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return Version{}, fmt.Errorf("%w %q: invalid character %q in revision", ErrInvalid, s, c)
		}
	}
	return v, nil
}

// MustParse is like Parse but panics on error. For tests and constants.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String formats v the way dpkg prints it: the epoch only when non-zero (or
// when the upstream version holds a colon, which would otherwise be read as
// an epoch), the revision only when present.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 || strings.Contains(v.Upstream, ":") {
		b.WriteString(strconv.FormatUint(uint64(v.Epoch), 10))
		b.WriteByte(':')
	}
	b.WriteString(v.Upstream)
	if v.Revision != "" {
		b.WriteByte('-')
		b.WriteString(v.Revision)
	}
	return b.String()
}

// Compare returns -1, 0 or +1 as a is older than, equal to or newer than b.
func Compare(a, b Version) int {
	switch {
	case a.Epoch < b.Epoch:
		return -1
	case a.Epoch > b.Epoch:
		return 1
	}
	if c := compareFragment(a.Upstream, b.Upstream); c != 0 {
		return c
	}
	return compareFragment(a.Revision, b.Revision)
}

// CompareStrings parses both versions and compares them.
func CompareStrings(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return Compare(va, vb), nil
}

// compareFragment is dpkg's verrevcmp: alternate runs of non-digits (compared
// character by character with order) and runs of digits (compared
// numerically, of any length).
func compareFragment(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := orderAt(a, i), orderAt(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// orderAt weighs the character at s[i]: end of string and digits weigh 0,
// '~' weighs less than anything (so "1.0~rc1" < "1.0"), letters weigh their
// code, and other characters weigh more than every letter.
func orderAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
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

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
