package inventory

import (
	"fmt"
	"strconv"
	"strings"
)

// The MSP's service description covers "Windows 8.1 and greater" and
// "Windows Server 2012 R2, Standard, and greater". Both 8.1 and 2012 R2 are
// NT 6.3 (build 9600); Windows 10, 11 and Server 2016 onwards are NT 10.0.
// So the version rule is one comparison: NT version >= 6.3, or build >=
// 9600 when only the build is known.
//
// "Standard, and greater" is read as an edition floor for servers: the
// editions below Standard (Foundation, Essentials, Web, Home Server) are not
// serviceable. That reading is a policy choice; it lives in
// belowStandardServerEditions and nowhere else.
const (
	minServiceableMajor = 6
	minServiceableMinor = 3
	minServiceableBuild = 9600
)

// belowStandardServerEditions are Windows Server EditionIDs, and words of
// product names, for editions below Standard.
var belowStandardServerEditions = []string{
	"serverfoundation", "foundation",
	"serversolution", "serveressentials", "essentials",
	"serverweb", "web server", "server web",
	"serverhome", "home server",
}

// Serviceability reports whether the MSP's service description covers an
// operating system, with a one-line reason either way.
//
// Windows 8.1 and later, and Windows Server 2012 R2 (Standard edition and
// above) and later, are serviceable; older Windows is not, nor is a
// Windows whose version cannot be read. The service description sets no
// version floor for Linux or macOS, so those are serviceable. An unknown
// family is not.
//
// Serviceability looks at the version only; [Host.Serviceable] adds the
// activation condition.
func Serviceability(os OS) (ok bool, reason string) {
	switch os.Family {
	case FamilyWindows:
		return windowsServiceability(os)
	case FamilyLinux, FamilyMacOS:
		return true, fmt.Sprintf("the service description sets no minimum %s version", os.Family)
	case "":
		return false, "operating system family unknown"
	default:
		return false, fmt.Sprintf("operating system family %q is not covered by the service description", os.Family)
	}
}

func windowsServiceability(os OS) (bool, string) {
	name := os.Name
	if name == "" {
		name = "Windows"
	}
	server := isWindowsServer(os)
	major, minor, build, ok := windowsNTVersion(os.Version, os.Build)
	if !ok {
		return false, fmt.Sprintf("%s: cannot read the Windows version from version %q, build %q", name, os.Version, os.Build)
	}
	atLeast := major > minServiceableMajor ||
		(major == minServiceableMajor && minor >= minServiceableMinor) ||
		(major == 0 && build >= minServiceableBuild)
	floor := "Windows 8.1"
	if server {
		floor = "Windows Server 2012 R2"
	}
	if !atLeast {
		return false, fmt.Sprintf("%s (%s) is older than %s", name, ntVersionString(major, minor, build), floor)
	}
	if server {
		if e, below := belowStandardEdition(os); below {
			return false, fmt.Sprintf("%s: edition %s is below Standard (service covers Windows Server 2012 R2 Standard and greater)", name, e)
		}
	}
	return true, fmt.Sprintf("%s (%s) is %s or later", name, ntVersionString(major, minor, build), floor)
}

func ntVersionString(major, minor, build int) string {
	if major == 0 {
		return fmt.Sprintf("build %d", build)
	}
	if build == 0 {
		return fmt.Sprintf("NT %d.%d", major, minor)
	}
	return fmt.Sprintf("NT %d.%d.%d", major, minor, build)
}

// windowsNTVersion reads major.minor[.build[.rev]] from version, or only the
// build number from build ("22631.3447") when version is empty. major is 0
// when only the build is known.
func windowsNTVersion(version, build string) (major, minor, buildNo int, ok bool) {
	version = strings.TrimSpace(version)
	if version != "" {
		parts := strings.Split(version, ".")
		if len(parts) < 2 {
			return 0, 0, 0, false
		}
		var err1, err2 error
		major, err1 = strconv.Atoi(parts[0])
		minor, err2 = strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || major <= 0 || minor < 0 {
			return 0, 0, 0, false
		}
		if len(parts) >= 3 {
			buildNo, _ = strconv.Atoi(parts[2])
		}
		return major, minor, buildNo, true
	}
	b, _, _ := strings.Cut(strings.TrimSpace(build), ".")
	n, err := strconv.Atoi(b)
	if err != nil || n <= 0 {
		return 0, 0, 0, false
	}
	return 0, 0, n, true
}

func isWindowsServer(os OS) bool {
	if os.Role == RoleServer || os.Role == RoleDomainController {
		return true
	}
	return strings.Contains(strings.ToLower(os.Name), "server") ||
		strings.HasPrefix(strings.ToLower(os.Edition), "server")
}

func belowStandardEdition(os OS) (string, bool) {
	edition := strings.ToLower(os.Edition)
	name := strings.ToLower(os.Name)
	for _, e := range belowStandardServerEditions {
		if strings.HasPrefix(edition, e) || strings.Contains(name, e) {
			if os.Edition != "" {
				return os.Edition, true
			}
			return e, true
		}
	}
	return "", false
}

// Serviceable combines [Serviceability] of the host's OS with the service
// description's condition that Windows be "properly activated with a valid
// license": a Windows host whose activation is unknown (Licensing nil) or
// not Licensed is not serviceable.
func (h Host) Serviceable() (ok bool, reason string) {
	ok, reason = Serviceability(h.OS)
	if !ok || h.OS.Family != FamilyWindows {
		return ok, reason
	}
	switch {
	case h.Licensing == nil:
		return false, reason + "; activation status unknown"
	case !h.Licensing.Activated:
		return false, reason + "; Windows is not activated (license status " + string(h.Licensing.LicenseStatus) + ")"
	default:
		return true, reason + "; Windows is activated"
	}
}
