package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// slug turns a name into a file-name part: lower-case ASCII letters,
// digits and dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	// Decompose accents ("í" → "i" + combining mark) so Latin names keep
	// their letters; other scripts fall back to the generic name.
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "client"
	}
	if len(out) > 60 {
		out = strings.TrimSuffix(out[:60], "-")
	}
	return out
}

// pct formats a percentage: "96.25 %", or "n/a" when unknown.
func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + " %"
}

// num formats a percentage for CSV: "96.25", or "" when unknown.
func num(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

// hours formats a duration in hours: "36.5 h".
func hoursText(v *float64) string {
	if v == nil {
		return "n/a"
	}
	if *v >= 48 {
		return strconv.FormatFloat(*v/24, 'f', 1, 64) + " days"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64) + " h"
}

// met says whether a target was met.
func met(m *bool) string {
	switch {
	case m == nil:
		return "n/a"
	case *m:
		return "met"
	}
	return "NOT MET"
}

// day formats a time as a UTC date.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// stamp formats a time as UTC date and minute.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// rfc formats a time for CSV and JSON consumers.
func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// kindLabel names a class kind for people.
func kindLabel(k string) string {
	switch patch.ClassKind(k) {
	case patch.ClassKindServer:
		return "Servers"
	case patch.ClassKindWorkstation:
		return "Workstations"
	}
	return k
}

// osLabel names an OS family for people.
func osLabel(k string) string {
	switch patch.OSFamily(k) {
	case patch.OSWindows:
		return "Windows"
	case patch.OSMacOS:
		return "macOS"
	case patch.OSLinux:
		return "Linux"
	case patch.OSOther:
		return "Other / unknown"
	}
	return k
}

// gapLabel explains a coverage gap.
func gapLabel(g string) string {
	switch g {
	case "unmanaged":
		return "Discovered, no agent (unmanaged)"
	case "never_scanned":
		return "Agent installed, never scanned"
	case "stale_scan":
		return "No successful scan for over 7 days"
	case "scan_failing":
		return "Update scan failing"
	case "unsupported_os":
		return "Operating system out of support"
	case "unsupported_software":
		return "Unsupported software installed"
	}
	return g
}

// Labels for groups, exported for the server that builds documents.
var (
	KindLabel = kindLabel
	Slug      = slug
	OSLabel   = osLabel
	GapLabel  = gapLabel
)

// tierLabel names a severity tier: "" is "untiered".
func tierLabel(t string) string {
	if t == "" {
		return "(all tiers)"
	}
	return t
}

// excludedText describes what the rating left out.
func excludedText(c patch.FindingCounts) string {
	parts := []string{}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.Excepted, "excepted")
	add(c.EmergencyMissing, "emergency (out-of-band)")
	add(c.NotApproved, "awaiting approval or declined")
	add(c.NotEvaluated, "not yet evaluated")
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// csvSafe defuses spreadsheet formula injection in free text: a cell a
// spreadsheet would evaluate is prefixed with a single quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// failureRateText states the install failure rate over all rings.
func failureRateText(rs []compliance.FailureRate) string {
	for _, r := range rs {
		if r.Ring != "" {
			continue
		}
		if n := r.Succeeded + r.Failed; n > 0 {
			return fmt.Sprintf("%d of %d install attempts failed (%s).", r.Failed, n, pct(r.RatePct))
		}
	}
	return "No install attempts were counted for the failure rate in this period; failures and rollbacks recorded in the evidence chain are listed below."
}

// plural returns "1 failure" or "3 failures".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Plural is plural, for the server's plain-language sentences.
var Plural = plural
