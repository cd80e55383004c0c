package patch

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// validName checks a required human-readable name: trimmed, 1..max runes,
// no control characters.
func validName(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return FieldError(field, "is required")
	}
	if s != strings.TrimSpace(s) {
		return FieldError(field, "must not start or end with spaces")
	}
	return validText(field, s, max)
}

// validText checks optional free text: at most max runes, valid UTF-8, no
// control characters other than tab and newline.
func validText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return FieldError(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return FieldError(field, "must be at most %d characters (got %d)", max, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' {
			return FieldError(field, "must not contain control characters")
		}
	}
	return nil
}

// validKey checks a machine key such as an asset-class key or tag key:
// lowercase letters, digits, '-', '_' and '.', starting with a letter.
func validKey(field, s string, max int) error {
	if s == "" {
		return FieldError(field, "is required")
	}
	if len(s) > max {
		return FieldError(field, "must be at most %d characters", max)
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || (i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'))
		if !ok {
			return FieldError(field, "must start with a lowercase letter and contain only a-z, 0-9, '-', '_' and '.' (got %q)", s)
		}
	}
	return nil
}
