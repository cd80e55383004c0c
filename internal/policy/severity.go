package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/schedule"
)

// vendorLevels maps vendor severity words, lower-cased, to levels. It
// covers MSRC severities (Critical, Important, Moderate, Low), Red Hat
// advisory severities (the same four words), Debian changelog urgencies
// (emergency, critical, high, medium, low) and Ubuntu USN priorities
// (critical, high, medium, low, negligible). Words not listed (macOS
// "recommended", empty) carry no severity.
var vendorLevels = map[string]patch.Level{
	"critical":    patch.LevelCritical,
	"emergency":   patch.LevelCritical,
	"important":   patch.LevelHigh,
	"high":        patch.LevelHigh,
	"moderate":    patch.LevelMedium,
	"medium":      patch.LevelMedium,
	"low":         patch.LevelLow,
	"negligible":  patch.LevelLow,
	"unimportant": patch.LevelLow,
}

// classificationLevels is the fallback for updates with neither a vendor
// severity nor a CVSS score. A "security" classification without severity
// is what apt reports for the Debian/Ubuntu security pocket (apt has no
// severity): treated as high, because the distribution shipped it as a
// security fix.
var classificationLevels = map[string]patch.Level{
	"security":      patch.LevelHigh,
	"critical":      patch.LevelMedium, // Microsoft "Critical Updates": critical non-security fixes
	"update-rollup": patch.LevelMedium,
	"service-pack":  patch.LevelMedium,
	"bugfix":        patch.LevelLow,
	"enhancement":   patch.LevelLow,
	"feature-pack":  patch.LevelLow,
	"definition":    patch.LevelLow,
	"driver":        patch.LevelLow,
	"tool":          patch.LevelLow,
	"os-upgrade":    patch.LevelLow,
	"application":   patch.LevelLow,
}

// levelRank orders levels, most severe first.
func levelRank(l patch.Level) int {
	if i := slices.Index(patch.Levels, l); i >= 0 {
		return i
	}
	return len(patch.Levels)
}

// cvssLevel maps a CVSS base score with the CVSS v3 qualitative scale.
func cvssLevel(score float64) patch.Level {
	switch {
	case score >= 9.0:
		return patch.LevelCritical
	case score >= 7.0:
		return patch.LevelHigh
	case score >= 4.0:
		return patch.LevelMedium
	case score > 0:
		return patch.LevelLow
	}
	return patch.LevelNone
}

// VendorLevel normalises a vendor severity word ("Critical",
// "urgency=high", "Important") to a level; LevelNone if it is not one.
func VendorLevel(word string) patch.Level {
	w := strings.ToLower(strings.TrimSpace(word))
	if _, v, ok := strings.Cut(w, "="); ok { // "urgency=high", "priority=medium"
		w = strings.TrimSpace(v)
	}
	if l, ok := vendorLevels[w]; ok {
		return l
	}
	return patch.LevelNone
}

// Severity is an update's level and what it was derived from.
type Severity struct {
	Level patch.Level `json:"level"`
	// Basis says which vendor data decided the level, for people:
	// "MSRC severity Critical", "CVSS 9.8", "known exploited".
	Basis string `json:"basis"`
}

// Classify computes an update's severity level:
//
//  1. the vendor's severity word (MSRC, Red Hat, Debian urgency, Ubuntu
//     priority) and the CVSS base score each give a level; the more severe
//     wins;
//  2. with neither, the classification decides (security pocket → high);
//  3. a known-exploited update is critical whatever the above said.
func Classify(u *patch.Update) Severity {
	vendor := VendorLevel(u.VendorSeverity)
	cvss := cvssLevel(u.CVSS)
	s := Severity{Level: patch.LevelNone, Basis: "no severity data"}
	switch {
	case vendor != patch.LevelNone && levelRank(vendor) <= levelRank(cvss):
		s = Severity{Level: vendor, Basis: vendorName(u) + " severity " + strings.TrimSpace(u.VendorSeverity)}
	case cvss != patch.LevelNone:
		s = Severity{Level: cvss, Basis: fmt.Sprintf("CVSS %.1f", u.CVSS)}
	default:
		if l, ok := classificationLevels[u.Classification]; ok {
			basis := "classification " + u.Classification
			if u.Classification == "security" && u.VendorClassification != "" {
				basis = "security pocket (" + u.VendorClassification + ")"
			}
			s = Severity{Level: l, Basis: basis}
		}
	}
	if u.KnownExploited && s.Level != patch.LevelCritical {
		s = Severity{Level: patch.LevelCritical, Basis: "known exploited"}
	}
	return s
}

func vendorName(u *patch.Update) string {
	switch u.Source {
	case "wua":
		return "MSRC"
	case "dnf":
		return "Red Hat advisory"
	case "apt":
		return "Debian/Ubuntu"
	}
	return "vendor"
}

// TierOf returns the tier of a level in p: the tier listing it, or the
// least urgent tier for a level no tier lists (never the case in a valid
// policy).
func TierOf(p *patch.Policy, l patch.Level) string {
	for _, t := range p.Tiers {
		if slices.Contains(t.Levels, l) {
			return t.Key
		}
	}
	if len(p.Tiers) == 0 {
		return ""
	}
	return p.Tiers[len(p.Tiers)-1].Key
}

// IsPatchTuesday reports whether t falls on Microsoft's monthly release
// day: the second Tuesday of its month, as a UTC date, or the day after
// (Microsoft publishes at 10:00 Pacific, which is Wednesday east of UTC+14
// and in some feeds' date stamps).
func IsPatchTuesday(t time.Time) bool {
	t = t.UTC()
	pt := schedule.PatchTuesday(t.Year(), t.Month(), time.UTC)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.Equal(pt) || d.Equal(pt.AddDate(0, 0, 1))
}

// Emergency applies the emergency rule (see docs/policy.md): an update in
// one of the rule's tiers (by default the most urgent) is an emergency
// when it came with little notice, that is when
//
//   - it is a Microsoft update (source "wua") released outside Patch
//     Tuesday: an out-of-band release; or
//   - it is known exploited and agents first reported it within the rule's
//     notice period of its release: a zero-day fix.
//
// Updates without a release date are never emergencies by rule; a tier
// override can flag any update either way.
func Emergency(p *patch.Policy, tier string, u *patch.Update) (bool, string) {
	r := p.Emergency
	if !r.Enabled || u.ReleaseDate.IsZero() {
		return false, ""
	}
	tiers := r.Tiers
	if len(tiers) == 0 && len(p.Tiers) > 0 {
		tiers = []string{p.Tiers[0].Key}
	}
	if !slices.Contains(tiers, tier) {
		return false, ""
	}
	if u.Source == "wua" && !IsPatchTuesday(u.ReleaseDate) {
		return true, "out-of-band Microsoft release on " + u.ReleaseDate.UTC().Format("Mon 2 Jan 2006")
	}
	if u.KnownExploited && !u.FirstSeen.IsZero() && !u.FirstSeen.After(u.ReleaseDate.Add(r.Notice.MustParse())) {
		return true, "known-exploited fix released " + u.ReleaseDate.UTC().Format("Mon 2 Jan 2006") + " with little notice"
	}
	return false, ""
}
