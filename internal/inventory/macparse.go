package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Pure parsers for macOS sources, tested on every platform.

// parseColonPairs parses "Key: value" lines (sw_vers, sysctl without -n).
// The first occurrence of a key wins.
func parseColonPairs(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// macCodenames maps macOS versions to marketing names: the major version
// from 11 on, "10.minor" before.
var macCodenames = map[string]string{
	"10.9": "Mavericks", "10.10": "Yosemite", "10.11": "El Capitan", "10.12": "Sierra",
	"10.13": "High Sierra", "10.14": "Mojave", "10.15": "Catalina",
	"11": "Big Sur", "12": "Monterey", "13": "Ventura", "14": "Sonoma", "15": "Sequoia", "26": "Tahoe",
}

// macOSFromSwVers builds the OS from sw_vers output:
//
//	ProductName:		macOS
//	ProductVersion:		14.4.1
//	BuildVersion:		23E224
func macOSFromSwVers(b []byte) (OS, error) {
	kv := parseColonPairs(b)
	version := kv["ProductVersion"]
	if version == "" {
		return OS{}, fmt.Errorf("parse sw_vers: no ProductVersion")
	}
	o := OS{Family: FamilyMacOS, Version: version, Build: kv["BuildVersion"], Role: RoleWorkstation}
	major, rest, _ := strings.Cut(version, ".")
	key := major
	if major == "10" {
		minor, _, _ := strings.Cut(rest, ".")
		key = "10." + minor
	}
	o.Release = macCodenames[key]
	prefix := "macOS"
	if n, _ := strconv.Atoi(strings.TrimPrefix(key, "10.")); major == "10" && n < 12 {
		prefix = "OS X"
		if n < 8 {
			prefix = "Mac OS X"
		}
	}
	if o.Release != "" {
		o.Name = prefix + " " + o.Release
	} else {
		o.Name = strings.TrimSpace(kv["ProductName"] + " " + version)
	}
	return o, nil
}

// sysctlBootTime parses kern.boottime's value:
// "{ sec = 1712345678, usec = 123456 } Fri Apr  5 10:14:38 2024".
func sysctlBootTime(v string) (time.Time, error) {
	_, after, ok := strings.Cut(v, "sec =")
	if !ok {
		return time.Time{}, fmt.Errorf("parse kern.boottime %q: no sec field", v)
	}
	num, _, _ := strings.Cut(after, ",")
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(num), "}")), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("parse kern.boottime %q: invalid seconds", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// macSysctl is what the darwin collector reads with one sysctl call.
var macSysctlKeys = []string{
	"kern.boottime", "kern.osrelease", "hw.memsize", "hw.ncpu", "hw.physicalcpu",
	"machdep.cpu.brand_string", "hw.machine", "sysctl.proc_translated",
}

// applySysctl reads `sysctl KEY...` output ("key: value" per line) into h.
func applySysctl(h *Host, b []byte) error {
	kv := parseColonPairs(b)
	var errs []string
	if v, ok := kv["kern.boottime"]; ok {
		t, err := sysctlBootTime(v)
		if err != nil {
			errs = append(errs, err.Error())
		}
		h.LastBoot = t
	}
	h.OS.Kernel = kv["kern.osrelease"]
	h.MemoryBytes, _ = strconv.ParseUint(kv["hw.memsize"], 10, 64)
	h.CPU.Threads, _ = strconv.Atoi(kv["hw.ncpu"])
	h.CPU.Cores, _ = strconv.Atoi(kv["hw.physicalcpu"])
	h.CPU.Model = strings.Join(strings.Fields(kv["machdep.cpu.brand_string"]), " ")
	h.OS.Arch = normaliseArch(kv["hw.machine"])
	if kv["sysctl.proc_translated"] == "1" {
		h.OS.Arch = "arm64" // the agent runs under Rosetta on Apple silicon
	}
	if h.MemoryBytes == 0 {
		errs = append(errs, "no hw.memsize")
	}
	if len(errs) > 0 {
		return fmt.Errorf("parse sysctl: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ioregPropRE matches one property line of ioreg's text output:
//
//	|   "IOPlatformUUID" = "15A89B8F-8BE9-4E84-B425-A8D35D6A3D7B"
//	|   "model" = <"MacBookPro16,1">
var ioregPropRE = regexp.MustCompile(`^[\s|]*"([^"]+)" = (?:<"([^"]*)">|"([^"]*)")\s*$`)

// parseIORegPlatform reads the IOPlatformExpertDevice properties from
// `ioreg -rd1 -c IOPlatformExpertDevice` (or a fuller ioreg tree: the
// first occurrence of each property wins, which is the platform device's).
func parseIORegPlatform(b []byte) Hardware {
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		m := ioregPropRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if _, dup := props[m[1]]; !dup {
			props[m[1]] = m[2] + m[3]
		}
	}
	return Hardware{
		HardwareUUID: props["IOPlatformUUID"],
		Serial:       props["IOPlatformSerialNumber"],
		Manufacturer: props["manufacturer"],
		Model:        props["model"],
	}
}

type spApplication struct {
	Name         string   `json:"_name"`
	Version      string   `json:"version"`
	ObtainedFrom string   `json:"obtained_from"`
	Path         string   `json:"path"`
	SignedBy     []string `json:"signed_by"`
	ArchKind     string   `json:"arch_kind"`
}

var archKinds = map[string]string{
	"arch_arm_i64": "universal",
	"arch_arm":     "arm64",
	"arch_ios":     "arm64",
	"arch_i64":     "amd64",
	"arch_i32":     "386",
}

var teamIDSuffixRE = regexp.MustCompile(`\s*\([A-Z0-9]{10}\)$`)

// parseApplications parses `system_profiler SPApplicationsDataType -json`.
// Apps that are part of the OS are left out (anything under /System/ and
// /Library/Apple/, which macOS updates replace) as are helper apps nested
// inside another bundle. The vendor is Apple for Apple apps, otherwise the
// Developer ID signer's name.
func parseApplications(b []byte) ([]pkgmgr.Software, error) {
	var doc struct {
		Apps []spApplication `json:"SPApplicationsDataType"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse system_profiler applications json: %w", err)
	}
	var out []pkgmgr.Software
	for _, a := range doc.Apps {
		name := strings.TrimSpace(a.Name)
		if name == "" || strings.HasPrefix(a.Path, "/System/") || strings.HasPrefix(a.Path, "/Library/Apple/") ||
			strings.Contains(strings.TrimSuffix(a.Path, ".app"), ".app/") {
			continue
		}
		s := pkgmgr.Software{Name: name, Version: strings.TrimSpace(a.Version), Source: "app", Arch: archKinds[a.ArchKind]}
		switch {
		case a.ObtainedFrom == "apple":
			s.Vendor = "Apple Inc."
		case len(a.SignedBy) > 0:
			if v, ok := strings.CutPrefix(a.SignedBy[0], "Developer ID Application: "); ok {
				s.Vendor = teamIDSuffixRE.ReplaceAllString(v, "")
			}
		}
		out = append(out, s)
	}
	return dedupeSoftware(out), nil
}

// darwinMountWanted keeps local volumes a person would call disks: the
// root and anything under /Volumes, not the APFS system helper volumes
// under /System/Volumes (VM, Preboot, Update, Data: the Data volume shares
// the root's container and space) nor devfs/autofs.
func darwinMountWanted(mount, fstype string, local bool) bool {
	if !local {
		return false
	}
	switch fstype {
	case "devfs", "autofs", "nullfs", "lifs":
		return false
	}
	return mount == "/" || strings.HasPrefix(mount, "/Volumes/")
}

// consoleUser cleans the output of `stat -f %Su /dev/console`: "root" means
// nobody is logged in at the screen (the login window owns the console).
func consoleUser(b []byte) string {
	u := strings.TrimSpace(string(b))
	if u == "root" || u == "" || strings.ContainsAny(u, " \t\n") {
		return ""
	}
	return u
}
