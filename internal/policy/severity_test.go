package policy

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// TestClassify is the severity mapping table of docs/policy.md.
func TestClassify(t *testing.T) {
	p := Default(testClient())
	for _, tc := range []struct {
		name string
		u    patch.Update
		want patch.Level
		tier string
	}{
		{"MSRC critical", patch.Update{Source: "wua", VendorSeverity: "Critical", Classification: "security"}, patch.LevelCritical, TierCritical},
		{"MSRC important", patch.Update{Source: "wua", VendorSeverity: "Important", Classification: "security"}, patch.LevelHigh, TierHigh},
		{"MSRC moderate", patch.Update{Source: "wua", VendorSeverity: "Moderate", Classification: "security"}, patch.LevelMedium, TierRoutine},
		{"MSRC low", patch.Update{Source: "wua", VendorSeverity: "Low", Classification: "security"}, patch.LevelLow, TierRoutine},
		{"MS critical non-security update", patch.Update{Source: "wua", Classification: "critical"}, patch.LevelMedium, TierRoutine},
		{"MS definition update", patch.Update{Source: "wua", Classification: "definition"}, patch.LevelLow, TierRoutine},
		{"Red Hat critical", patch.Update{Source: "dnf", VendorSeverity: "Critical", Classification: "security"}, patch.LevelCritical, TierCritical},
		{"Red Hat important", patch.Update{Source: "dnf", VendorSeverity: "Important", Classification: "security"}, patch.LevelHigh, TierHigh},
		{"Red Hat moderate", patch.Update{Source: "dnf", VendorSeverity: "Moderate", Classification: "security"}, patch.LevelMedium, TierRoutine},
		{"RHBA bug fix", patch.Update{Source: "dnf", Classification: "bugfix"}, patch.LevelLow, TierRoutine},
		{"Debian security pocket", patch.Update{Source: "apt", Classification: "security", VendorClassification: "bookworm-security"}, patch.LevelHigh, TierHigh},
		{"Ubuntu security pocket", patch.Update{Source: "apt", Classification: "security", VendorClassification: "noble-security"}, patch.LevelHigh, TierHigh},
		{"Debian urgency emergency", patch.Update{Source: "apt", VendorSeverity: "urgency=emergency", Classification: "security"}, patch.LevelCritical, TierCritical},
		{"Debian urgency high", patch.Update{Source: "apt", VendorSeverity: "urgency=high", Classification: "bugfix"}, patch.LevelHigh, TierHigh},
		{"Debian urgency medium", patch.Update{Source: "apt", VendorSeverity: "medium", Classification: "bugfix"}, patch.LevelMedium, TierRoutine},
		{"Ubuntu priority negligible", patch.Update{Source: "apt", VendorSeverity: "negligible", Classification: "security"}, patch.LevelLow, TierRoutine},
		{"Debian regular update", patch.Update{Source: "apt", Classification: "bugfix"}, patch.LevelLow, TierRoutine},
		{"CVSS 9.8 beats vendor Important", patch.Update{Source: "wua", VendorSeverity: "Important", CVSS: 9.8}, patch.LevelCritical, TierCritical},
		{"vendor Critical beats CVSS 5", patch.Update{Source: "dnf", VendorSeverity: "Critical", CVSS: 5}, patch.LevelCritical, TierCritical},
		{"CVSS 7.0 alone", patch.Update{Source: "winget", CVSS: 7.0, Classification: "application"}, patch.LevelHigh, TierHigh},
		{"CVSS 6.9 alone", patch.Update{Source: "winget", CVSS: 6.9}, patch.LevelMedium, TierRoutine},
		{"CVSS 3.9 alone", patch.Update{Source: "brew", CVSS: 3.9}, patch.LevelLow, TierRoutine},
		{"known exploited low", patch.Update{Source: "wua", VendorSeverity: "Low", KnownExploited: true}, patch.LevelCritical, TierCritical},
		{"known exploited, nothing else", patch.Update{Source: "apt", KnownExploited: true}, patch.LevelCritical, TierCritical},
		{"macOS recommended", patch.Update{Source: "softwareupdate", VendorSeverity: "recommended", Classification: "security"}, patch.LevelHigh, TierHigh},
		{"third-party app, no data", patch.Update{Source: "winget", Classification: "application"}, patch.LevelLow, TierRoutine},
		{"nothing at all", patch.Update{Source: "winget"}, patch.LevelNone, TierRoutine},
		{"unclassified", patch.Update{Source: "wua", Classification: "unclassified"}, patch.LevelNone, TierRoutine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Classify(&tc.u)
			if s.Level != tc.want {
				t.Errorf("Classify(%+v) = %+v, want level %s", tc.u, s, tc.want)
			}
			if s.Basis == "" {
				t.Errorf("Classify(%+v) has no basis", tc.u)
			}
			if got := TierOf(p, s.Level); got != tc.tier {
				t.Errorf("TierOf(%s) = %s, want %s", s.Level, got, tc.tier)
			}
		})
	}
}

func TestTierOfCustomTiers(t *testing.T) {
	p := Default(testClient())
	p.Tiers = []patch.Tier{
		{Key: "urgent", Name: "Urgent", Levels: []patch.Level{patch.LevelCritical, patch.LevelHigh}},
		{Key: "normal", Name: "Normal", Levels: []patch.Level{patch.LevelMedium}},
		{Key: "later", Name: "Later", Levels: []patch.Level{patch.LevelLow, patch.LevelNone}},
	}
	for l, want := range map[patch.Level]string{patch.LevelCritical: "urgent", patch.LevelHigh: "urgent", patch.LevelMedium: "normal", patch.LevelNone: "later"} {
		if got := TierOf(p, l); got != want {
			t.Errorf("TierOf(%s) = %s, want %s", l, got, want)
		}
	}
}

func TestIsPatchTuesday(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2026, 11, 10, 18, 0, 0, 0, time.UTC), true},  // second Tuesday
		{time.Date(2026, 11, 11, 2, 0, 0, 0, time.UTC), true},   // the day after, UTC
		{time.Date(2026, 11, 3, 18, 0, 0, 0, time.UTC), false},  // first Tuesday
		{time.Date(2026, 11, 17, 18, 0, 0, 0, time.UTC), false}, // third Tuesday
		{time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC), false},  // out-of-band Saturday
		{time.Date(2024, 10, 8, 17, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 11, 10, 10, 0, 0, 0, time.FixedZone("PST", -8*3600)), true},
	} {
		if got := IsPatchTuesday(tc.t); got != tc.want {
			t.Errorf("IsPatchTuesday(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}

// TestEmergency is the emergency rule's table.
func TestEmergency(t *testing.T) {
	pt := time.Date(2026, 11, 10, 18, 0, 0, 0, time.UTC)
	oob := time.Date(2026, 11, 14, 18, 0, 0, 0, time.UTC)
	p := Default(testClient())
	for _, tc := range []struct {
		name string
		tier string
		u    patch.Update
		want bool
	}{
		{"Patch Tuesday critical", TierCritical, patch.Update{Source: "wua", ReleaseDate: pt, FirstSeen: pt.Add(time.Hour)}, false},
		{"out-of-band critical", TierCritical, patch.Update{Source: "wua", ReleaseDate: oob, FirstSeen: oob.Add(time.Hour)}, true},
		{"out-of-band high: not the emergency tier", TierHigh, patch.Update{Source: "wua", ReleaseDate: oob}, false},
		{"out-of-band, release unknown", TierCritical, patch.Update{Source: "wua"}, false},
		{"Linux zero-day fix", TierCritical, patch.Update{Source: "apt", KnownExploited: true, ReleaseDate: oob, FirstSeen: oob.Add(20 * time.Hour)}, true},
		{"Linux known exploited, seen late", TierCritical, patch.Update{Source: "apt", KnownExploited: true, ReleaseDate: oob, FirstSeen: oob.Add(10 * 24 * time.Hour)}, false},
		{"Linux critical, not exploited", TierCritical, patch.Update{Source: "apt", ReleaseDate: oob, FirstSeen: oob}, false},
	} {
		got, basis := Emergency(p, tc.tier, &tc.u)
		if got != tc.want || got != (basis != "") {
			t.Errorf("%s: Emergency = %v (%q), want %v", tc.name, got, basis, tc.want)
		}
	}
	off := Default(testClient())
	off.Emergency.Enabled = false
	if got, _ := Emergency(off, TierCritical, &patch.Update{Source: "wua", ReleaseDate: oob}); got {
		t.Error("a disabled rule flags an emergency")
	}
	wide := Default(testClient())
	wide.Emergency.Tiers = []string{TierCritical, TierHigh}
	if got, _ := Emergency(wide, TierHigh, &patch.Update{Source: "wua", ReleaseDate: oob}); !got {
		t.Error("a rule over critical and high does not flag an out-of-band high update")
	}
}
