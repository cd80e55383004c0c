package evidence

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxPathLen bounds a file name inside a bundle.
const maxPathLen = 255

// checkPath reports whether name is safe as a file name inside a bundle on
// every operating system an auditor may unpack it on: a relative,
// slash-separated path of at most 255 bytes whose segments are non-empty and
// not "." or "..", with no backslash, colon (Windows drive letters and
// alternate data streams), control character or invalid UTF-8, and no
// segment ending in a dot or space (Windows strips those, so two names could
// land on one file).
func checkPath(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty file name")
	case len(name) > maxPathLen:
		return fmt.Errorf("file name %q is longer than %d bytes", truncate(name, 60), maxPathLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("file name %q is not valid UTF-8", name)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("file name %q is an absolute path", name)
	case strings.ContainsAny(name, `\:`):
		return fmt.Errorf("file name %q contains a backslash or colon", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("file name %q contains control character %U", name, r)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("file name %q has an empty segment or ends in a slash", name)
		case seg == "." || seg == "..":
			return fmt.Errorf("file name %q contains a %q segment", name, seg)
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return fmt.Errorf("file name %q has a segment ending in a dot or space", name)
		}
	}
	return nil
}

// pathKey maps a file name to the key under which names collide on
// case-insensitive file systems (Windows, macOS by default).
func pathKey(name string) string { return foldKey(name) }
