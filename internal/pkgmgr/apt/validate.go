package apt

import (
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/debversion"
)

// validPackage reports whether s is a Debian package name, optionally
// qualified with an architecture ("libc6:i386"). Policy §5.6.1: lowercase
// letters, digits, '+', '-', '.', at least two characters, starting with an
// alphanumeric. The check is the gate that keeps anything option-like or
// apt-syntax-like ('=', '/', whitespace) off the apt-get command line.
func validPackage(s string) bool {
	name, arch, qualified := strings.Cut(s, ":")
	if len(name) < 2 || !isLowerAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	if !qualified {
		return true
	}
	if arch == "" || !isLowerAlnum(arch[0]) {
		return false
	}
	for i := 0; i < len(arch); i++ {
		if c := arch[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') }

// validateTarget checks a target before it goes near apt-get: a valid package
// name and an exact version that dpkg would accept. Versions start with a
// digit, so no target can look like an option.
func validateTarget(t pkgmgr.Target) error {
	if !validPackage(t.Package) {
		return fmt.Errorf("invalid package name %q", t.Package)
	}
	if t.Version == "" {
		return fmt.Errorf("no version for %s: apt installs only exact pinned versions", t.Package)
	}
	if _, err := debversion.Parse(t.Version); err != nil {
		return fmt.Errorf("version for %s: %w", t.Package, err)
	}
	return nil
}
