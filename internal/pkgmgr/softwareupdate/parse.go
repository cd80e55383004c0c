package softwareupdate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// item is one entry of `softwareupdate --list`.
type item struct {
	Label       string `json:"label"`
	Title       string `json:"title"`
	Version     string `json:"version"`
	SizeKiB     int64  `json:"size_kib"`
	Recommended bool   `json:"recommended"`
	Restart     bool   `json:"restart"`
	ShutDown    bool   `json:"shut_down"`
	Deferred    bool   `json:"deferred,omitempty"`
}

// Catalina and later print
//
//   - Label: Safari15.0BigSurAuto-15.0
//     Title: Safari, Version: 15.0, Size: 119059K, Recommended: YES,
//
// Mojave and earlier print
//
//   - Safari14.0MojaveAuto-14.0
//     Safari (14.0), 67309K [recommended]
var (
	newLabel = regexp.MustCompile(`^\s*[*-] Label: (.*)$`)
	oldLabel = regexp.MustCompile(`^\s*([*-]) (.*)$`)
	// Keys of the Catalina-format detail line, in the order Apple prints them.
	detailKey = regexp.MustCompile(`(?:^|,\s*)(Title|Version|Size|Recommended|Action|Deferred|Build): `)
	// "Title (Version), 12345K [recommended] [restart]"; the title may
	// itself contain parentheses, so the version is the last group before
	// the size. Mojave sometimes puts a comma after the size.
	oldDetail = regexp.MustCompile(`^\s*(.*?)\s*\(([^()]*)\),?\s*(\d+)K,?\s*(.*)$`)
)

// parseList parses the standard output of `softwareupdate --list`. The
// banner lines ("Software Update Tool", "Finding available software") and
// "No new software available." go to standard error and are ignored if
// present.
func parseList(out []byte) ([]item, error) {
	lines := strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n")
	items := []item{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		var it item
		var detail string
		if m := newLabel.FindStringSubmatch(line); m != nil {
			it.Label = m[1]
			if i+1 < len(lines) {
				detail = lines[i+1]
				i++
			}
			if err := parseNewDetail(detail, &it); err != nil {
				return nil, fmt.Errorf("parse softwareupdate list line %d: %w", i+1, err)
			}
		} else if m := oldLabel.FindStringSubmatch(line); m != nil {
			if i+1 >= len(lines) {
				return nil, fmt.Errorf("parse softwareupdate list line %d: label %q without a detail line", i+1, m[2])
			}
			it.Label = m[2]
			i++
			if err := parseOldDetail(lines[i], &it); err != nil {
				return nil, fmt.Errorf("parse softwareupdate list line %d: %w", i+1, err)
			}
		} else {
			continue
		}
		if strings.TrimSpace(it.Label) == "" {
			return nil, fmt.Errorf("parse softwareupdate list line %d: empty label", i)
		}
		items = append(items, it)
	}
	return items, nil
}

func parseNewDetail(s string, it *item) error {
	s = strings.TrimSpace(s)
	locs := detailKey.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 || !strings.HasPrefix(s, "Title: ") {
		return fmt.Errorf("detail line %q has no Title field", s)
	}
	for n, loc := range locs {
		key := s[loc[2]:loc[3]]
		end := len(s)
		if n+1 < len(locs) {
			end = locs[n+1][0]
		}
		val := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[loc[1]:end]), ","))
		switch key {
		case "Title":
			it.Title = val
		case "Version":
			it.Version = val
		case "Size":
			kib, err := parseSize(val)
			if err != nil {
				return err
			}
			it.SizeKiB = kib
		case "Recommended":
			it.Recommended = strings.EqualFold(val, "YES")
		case "Action":
			it.Restart = strings.EqualFold(val, "restart")
			it.ShutDown = strings.EqualFold(val, "shut down")
		case "Deferred":
			it.Deferred = strings.EqualFold(val, "YES")
		}
	}
	return nil
}

func parseOldDetail(s string, it *item) error {
	m := oldDetail.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("detail line %q is not \"Title (Version), SizeK [flags]\"", strings.TrimSpace(s))
	}
	it.Title = strings.TrimSuffix(m[1], ",")
	it.Version = strings.TrimSpace(m[2])
	kib, err := strconv.ParseInt(m[3], 10, 64)
	if err != nil {
		return fmt.Errorf("size %q: %w", m[3], err)
	}
	it.SizeKiB = kib
	flags := m[4]
	it.Recommended = strings.Contains(flags, "[recommended]")
	it.Restart = strings.Contains(flags, "[restart]")
	it.ShutDown = strings.Contains(flags, "[shut down]")
	return nil
}

// parseSize reads "224804K" or "175218KiB" (macOS 13 and later) as KiB.
func parseSize(s string) (int64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(s, "KiB"), "K")
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q is not a number of KiB", s)
	}
	return n, nil
}

// osVersion is a macOS version reduced to what tells a major upgrade from
// an update: 10.14 for Mojave (the 10.x era counted majors in the second
// number), 13 for Ventura and later.
func osMajor(v string) string {
	parts := strings.Split(strings.TrimSpace(v), ".")
	if len(parts) == 0 || parts[0] == "" {
		return ""
	}
	if _, err := strconv.Atoi(parts[0]); err != nil {
		return ""
	}
	if parts[0] == "10" && len(parts) > 1 {
		return "10." + parts[1]
	}
	return parts[0]
}

var (
	rsrSuffix   = regexp.MustCompile(`\([a-z]\)\s*$`)
	macOSTitle  = regexp.MustCompile(`^(macOS|OS X|Mac OS X)\b`)
	versionLike = regexp.MustCompile(`\b\d+(\.\d+)+\b`)
)

// classify maps an entry to a classification. hostVersion is the running
// macOS version (sw_vers -productVersion), empty when unknown, in which
// case no entry is taken for a major upgrade.
func classify(it item, hostVersion string) (pkgmgr.Classification, string) {
	t := it.Title
	switch {
	case strings.Contains(strings.ToLower(t), "background security improvement"):
		return pkgmgr.ClassSecurity, "Background Security Improvement"
	case strings.Contains(t, "Security Response") || rsrSuffix.MatchString(t) || rsrSuffix.MatchString(it.Version):
		return pkgmgr.ClassSecurity, "Rapid Security Response"
	case strings.Contains(t, "Security Update"):
		return pkgmgr.ClassSecurity, "Security Update"
	case macOSTitle.MatchString(t):
		v := it.Version
		if v == "" {
			v = versionLike.FindString(t)
		}
		if host := osMajor(hostVersion); host != "" && osMajor(v) != "" && osMajor(v) != host && newerMajor(osMajor(v), host) {
			return pkgmgr.ClassOSUpgrade, "macOS upgrade"
		}
		return pkgmgr.ClassUpdateRollup, "macOS update"
	case strings.Contains(t, "Command Line Tools") || strings.HasPrefix(t, "Xcode"):
		return pkgmgr.ClassTool, "Developer tools"
	case strings.Contains(t, "BridgeOS") || strings.Contains(t, "Firmware"):
		return pkgmgr.ClassDriver, "Firmware"
	}
	return pkgmgr.ClassApplication, "Apple software"
}

// newerMajor reports whether major a ("14", "10.15") is later than b.
func newerMajor(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x > y
		}
	}
	return false
}

// toUpdate converts a list entry to the agent's Update.
func toUpdate(it item, hostVersion string) pkgmgr.Update {
	class, vendor := classify(it, hostVersion)
	u := pkgmgr.Update{
		Source:               pkgmgr.SourceSoftwareUpdate,
		ID:                   it.Label,
		Package:              it.Label,
		Title:                it.Title,
		Product:              it.Title,
		AvailableVersion:     it.Version,
		Classification:       class,
		VendorClassification: vendor,
		Size:                 it.SizeKiB * 1024,
		RebootRequired:       it.Restart || it.ShutDown,
	}
	if macOSTitle.MatchString(it.Title) {
		u.Product = "macOS"
	}
	if it.Recommended {
		u.VendorSeverity = "recommended"
	}
	return u
}

// parseUpdates is parseList followed by toUpdate.
func parseUpdates(out []byte, hostVersion string) ([]pkgmgr.Update, error) {
	items, err := parseList(out)
	if err != nil {
		return nil, err
	}
	ups := make([]pkgmgr.Update, 0, len(items))
	for _, it := range items {
		ups = append(ups, toUpdate(it, hostVersion))
	}
	return ups, nil
}
