package winget

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// forbidden holds characters that never occur in winget package
// identifiers or versions (the winget-pkgs manifest schema excludes
// \ / : * ? " < > | and blanks) plus shell metacharacters. winget is run
// without a shell, so this is defence in depth: a value the server sends
// is either an ordinary identifier or refused.
const forbidden = "\\/:*?\"<>|;&$`'\n\r\t !{}[]=%^~#"

func validateID(id string) error {
	return validate("package identifier", id, 128)
}

func validateVersion(v string) error {
	return validate("version", v, 128)
}

func validate(what, s string, maxLen int) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case len(s) > maxLen:
		return fmt.Errorf("%s longer than %d bytes", what, maxLen)
	case strings.HasPrefix(s, "-"):
		return fmt.Errorf("%s %q starts with '-'", what, s)
	case strings.ContainsAny(s, forbidden):
		return fmt.Errorf("%s %q contains a forbidden character", what, s)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '…' }):
		return fmt.Errorf("%s %q contains a blank, control or truncation character", what, s)
	}
	return nil
}

func validateTarget(t pkgmgr.Target) error {
	if err := validateID(t.Package); err != nil {
		return err
	}
	if t.Version == "" {
		return errors.New("winget installs need the exact version to install")
	}
	return validateVersion(t.Version)
}
