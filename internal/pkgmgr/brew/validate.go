package brew

import (
	"fmt"
	"regexp"
)

// Formula names and cask tokens are lower-case words with digits, "-",
// "_", "+", "." and "@" ("openssl@3", "gtk+3"); tap-qualified names add
// "user/repo/" in front. Versions add "," (cask "5.1,2134") and "_"
// (formula revisions, "3.3.1_1").
var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+@-]*(/[A-Za-z0-9][A-Za-z0-9._+@-]*/[A-Za-z0-9][A-Za-z0-9._+@-]*)?$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+,:-]*$`)
)

func validateName(s string) error {
	if len(s) > 200 || !nameRE.MatchString(s) {
		return fmt.Errorf("invalid Homebrew formula or cask name %q", s)
	}
	return nil
}

func validateVersion(s string) error {
	if len(s) > 200 || !versionRE.MatchString(s) {
		return fmt.Errorf("invalid Homebrew version %q", s)
	}
	return nil
}
