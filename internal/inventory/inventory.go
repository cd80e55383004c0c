// Package inventory collects the facts about a host that the Patchring
// server needs to know which asset it is looking at: identity, operating
// system, hardware, network addresses, disks, users, pending reboots,
// software installed outside package managers and, on Windows, activation.
//
// The package is shaped around three constraints.
//
// First, the result travels over the wire and is stored, so [Host] is a
// plain JSON-tagged value with stable snake_case names, and the server can
// compute everything it derives from it ([Host.IdentityKey], [Host.Hash],
// [Serviceability]) with the same pure functions the agent uses.
//
// Second, most of what we collect comes from other programs' text output
// (who, sw_vers, ioreg, system_profiler, PowerShell) or from kernel files
// (/proc, /sys, /etc/os-release). Every such source has a pure parser over
// bytes in an OS-independent file, table-tested and fuzzed against real
// recorded output in testdata/. The per-OS files (collect_linux.go,
// collect_windows.go, collect_darwin.go) only read files, call the
// operating system and run commands through a [pkgmgr.Runner], so that the
// parsers for all three systems are exercised on any development machine.
//
// Third, inventory is best effort. A host whose licensing query times out
// is still worth reporting. [Collect] returns an error only when it cannot
// say what the host is at all (no operating system identity); every other
// failure is recorded in Host.Problems and leaves the affected fields at
// their zero value (or nil, where "unknown" must differ from "no", as for
// RebootPending and Licensing).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Family is the operating-system family. Values are persisted and sent over
// the wire: never change them.
type Family string

// Known families.
const (
	FamilyLinux   Family = "linux"
	FamilyWindows Family = "windows"
	FamilyMacOS   Family = "macos"
)

// Role says what kind of machine the operating system is installed as. The
// service levels differ for servers and workstations. Values are persisted
// and sent over the wire.
type Role string

// Known roles. An empty Role means the collector could not tell (most Linux
// hosts: nothing in the OS says whether it serves or is used at a desk).
const (
	RoleWorkstation      Role = "workstation"
	RoleServer           Role = "server"
	RoleDomainController Role = "domain_controller"
)

// DomainType says what Host.Domain is. Values are persisted and sent over
// the wire.
type DomainType string

// Known domain types.
const (
	// DomainJoined: the host is a member of a directory domain (Active
	// Directory on Windows, a realmd/sssd realm on Linux).
	DomainJoined DomainType = "domain"
	// DomainWorkgroup: a Windows host that is not joined; Domain is the
	// workgroup name.
	DomainWorkgroup DomainType = "workgroup"
	// DomainDNS: no directory membership is known; Domain is the DNS
	// domain taken from the FQDN or resolver configuration.
	DomainDNS DomainType = "dns"
)

// OS describes the installed operating system.
type OS struct {
	Family Family `json:"family"`
	// Name is the human name: "Debian GNU/Linux 12 (bookworm)",
	// "Windows 11 Pro", "macOS Sonoma".
	Name string `json:"name"`
	// Version is the numeric version: "12", "10.0.22631", "14.4.1".
	Version string `json:"version"`
	// Build is the exact build: "22631.3447" (build.UBR) on Windows,
	// "23E224" on macOS, the point release ("12.5") or BUILD_ID on Linux.
	Build string `json:"build,omitempty"`
	// Edition is the Windows EditionID ("Professional", "ServerStandard")
	// or the os-release VARIANT on Linux.
	Edition string `json:"edition,omitempty"`
	// Release is the feature-release label: "23H2" on Windows (or the
	// service pack before Windows 10), the codename on Linux ("bookworm")
	// and macOS ("Sonoma").
	Release string `json:"release,omitempty"`
	// Distribution is the os-release ID on Linux ("debian", "rhel",
	// "ubuntu"); empty elsewhere.
	Distribution string `json:"distribution,omitempty"`
	Role         Role   `json:"role,omitempty"`
	// Kernel is the running kernel version: uname -r on Linux, Darwin
	// version on macOS, major.minor.build.UBR on Windows.
	Kernel string `json:"kernel,omitempty"`
	// Arch uses Go's names: "amd64", "arm64", "386", "arm".
	Arch string `json:"arch,omitempty"`
}

// CPU describes the processors.
type CPU struct {
	Model   string `json:"model,omitempty"`
	Cores   int    `json:"cores,omitempty"`   // physical cores, all sockets
	Threads int    `json:"threads,omitempty"` // logical processors
}

// Disk is one local filesystem.
type Disk struct {
	// Mount is the mount point ("/", "/boot/efi") or drive ("C:").
	Mount     string `json:"mount"`
	Device    string `json:"device,omitempty"`
	FS        string `json:"fs,omitempty"`
	SizeBytes uint64 `json:"size_bytes"`
	// FreeBytes is the space available to unprivileged users. It is
	// excluded from Hash.
	FreeBytes uint64 `json:"free_bytes"`
}

// Session is one logged-in user session.
type Session struct {
	User string `json:"user"`
	// Terminal is the tty, pts or Windows session name ("console",
	// "rdp-tcp#3"); empty for a disconnected Windows session.
	Terminal string `json:"terminal,omitempty"`
	// From is the remote host or X display, when the OS reports one.
	From string `json:"from,omitempty"`
	// Console is true for a session at the machine's own screen.
	Console bool `json:"console,omitempty"`
}

// Hardware identifies the physical (or virtual) machine. See
// [Host.IdentityKey] for how these fields are used and how stable each is.
// Values are sent as the firmware reports them, trimmed; where the Linux
// collector has a second source (chassis serial, board name) it skips a
// placeholder in favour of it. IdentityKey ignores placeholders either way.
type Hardware struct {
	// MachineID is the OS installation's identity: /etc/machine-id on
	// Linux, MachineGuid on Windows; empty on macOS. It changes when the
	// OS is reinstalled and is duplicated by cloning without
	// sysprep/systemd-machine-id-setup.
	MachineID string `json:"machine_id,omitempty"`
	// HardwareUUID is the SMBIOS system UUID (DMI product_uuid on Linux,
	// Win32_ComputerSystemProduct.UUID on Windows) or IOPlatformUUID on
	// macOS, as reported (not normalised).
	HardwareUUID string `json:"hardware_uuid,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
}

// LicenseStatus is Windows' SoftwareLicensingProduct.LicenseStatus, named
// as Microsoft documents it. Values are persisted and sent over the wire.
type LicenseStatus string

// Windows license states (SoftwareLicensingProduct.LicenseStatus 0–6).
const (
	LicenseUnlicensed      LicenseStatus = "Unlicensed"
	LicenseLicensed        LicenseStatus = "Licensed"
	LicenseOOBGrace        LicenseStatus = "OOBGrace"
	LicenseOOTGrace        LicenseStatus = "OOTGrace"
	LicenseNonGenuineGrace LicenseStatus = "NonGenuineGrace"
	LicenseNotification    LicenseStatus = "Notification"
	LicenseExtendedGrace   LicenseStatus = "ExtendedGrace"
	LicenseUnknown         LicenseStatus = "Unknown"
)

// Licensing is the Windows activation state.
type Licensing struct {
	// Activated is true only for LicenseStatus Licensed.
	Activated     bool          `json:"activated"`
	LicenseStatus LicenseStatus `json:"license_status"`
	// Product is the licensing product name, e.g. "Windows(R),
	// Professional edition".
	Product string `json:"product,omitempty"`
	// Channel is the product-key channel from the description: "RETAIL",
	// "OEM_DM", "VOLUME_KMSCLIENT", "VOLUME_MAK".
	Channel string `json:"channel,omitempty"`
}

// RebootReason names one signal that a reboot is pending. Values are
// persisted and sent over the wire.
type RebootReason string

// Known reboot signals.
const (
	// RebootRequiredFile: /var/run/reboot-required exists (Debian, Ubuntu).
	RebootRequiredFile RebootReason = "reboot-required-file"
	// RebootNeedsRestarting: needs-restarting -r exited 1 (RHEL family).
	RebootNeedsRestarting RebootReason = "needs-restarting"
	// RebootNewerKernel: a newer kernel than the running one is installed
	// under /lib/modules.
	RebootNewerKernel RebootReason = "newer-kernel"
	// RebootCBS: Component Based Servicing\RebootPending exists.
	RebootCBS RebootReason = "cbs-reboot-pending"
	// RebootWindowsUpdate: WindowsUpdate\Auto Update\RebootRequired exists.
	RebootWindowsUpdate RebootReason = "wu-reboot-required"
	// RebootFileRename: Session Manager\PendingFileRenameOperations is
	// not empty. Many installers set it; treat it as a weak signal.
	RebootFileRename RebootReason = "pending-file-rename"
)

// Host is the inventory of one machine, as sent by the agent.
type Host struct {
	// Hostname is the short host name.
	Hostname string `json:"hostname"`
	// FQDN is set only when a fully qualified name (with a dot) is known.
	FQDN string `json:"fqdn,omitempty"`
	// ComputerName is the user-visible name on macOS ("Jane's MacBook Pro").
	ComputerName string     `json:"computer_name,omitempty"`
	Domain       string     `json:"domain,omitempty"`
	DomainType   DomainType `json:"domain_type,omitempty"`

	OS OS `json:"os"`

	// IPAddresses are the non-loopback, non-link-local addresses of
	// interfaces that are up, sorted.
	IPAddresses []string `json:"ip_addresses,omitempty"`
	// MACAddresses are the hardware addresses of physical interfaces,
	// lower case, sorted.
	MACAddresses []string `json:"mac_addresses,omitempty"`

	CPU         CPU    `json:"cpu"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Disks       []Disk `json:"disks,omitempty"`

	// LastBoot is when the OS last booted, read from a value that is fixed
	// for the life of a boot (never computed as now minus uptime), so that
	// it does not change between collections.
	LastBoot time.Time `json:"last_boot,omitzero"`

	// Users are the logged-in sessions. Excluded from Hash.
	Users []Session `json:"logged_in_users,omitempty"`
	// PrimaryUser is the console user when there is one, otherwise the
	// user with the most sessions. Excluded from Hash.
	PrimaryUser string `json:"primary_user,omitempty"`

	// RebootPending is nil when the collector cannot tell (macOS).
	RebootPending *bool          `json:"reboot_pending,omitempty"`
	RebootReasons []RebootReason `json:"reboot_reasons,omitempty"`

	Hardware Hardware `json:"hardware"`

	// Software is installed software the OS knows about outside package
	// managers: Windows Uninstall registry keys (source "msi" or
	// "registry") and macOS application bundles (source "app"). Linux
	// packages come from the pkgmgr backends instead.
	Software []pkgmgr.Software `json:"software,omitempty"`

	// Licensing is the Windows activation state; nil elsewhere or when the
	// query failed.
	Licensing *Licensing `json:"licensing,omitempty"`

	// Problems lists what could not be collected, one line each, for
	// diagnosis on the server. Excluded from Hash.
	Problems []string `json:"problems,omitempty"`
}

// Options tune a collection. The zero value collects everything with real
// commands.
type Options struct {
	// Runner runs external commands; nil means pkgmgr.ExecRunner{}.
	Runner pkgmgr.Runner
	// SkipSoftware skips the installed-software listing, the slowest part
	// on macOS (system_profiler can take a minute).
	SkipSoftware bool
}

func (o Options) runner() pkgmgr.Runner {
	if o.Runner == nil {
		return pkgmgr.ExecRunner{}
	}
	return o.Runner
}

// ErrNoOSIdentity is returned by Collect when the operating system could
// not be identified at all.
var ErrNoOSIdentity = errors.New("operating system not identified")

// Collect gathers the inventory of the machine it runs on. It runs several
// commands (and on Windows one PowerShell process) and can take seconds;
// ctx bounds the whole collection.
//
// Collect is best effort: it returns a non-nil error only when the host
// cannot be identified (wrapping [ErrNoOSIdentity]) or ctx is done; other
// failures are listed in Host.Problems. Safe for concurrent use.
func Collect(ctx context.Context, opts Options) (Host, error) {
	h, err := collect(ctx, opts)
	if err != nil {
		return h, err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return h, fmt.Errorf("collect inventory: %w", ctxErr)
	}
	if h.OS.Family == "" || (h.OS.Name == "" && h.OS.Version == "") {
		return h, fmt.Errorf("collect inventory on %s: %w (%s)", runtime.GOOS, ErrNoOSIdentity, strings.Join(h.Problems, "; "))
	}
	return h, nil
}

// problems accumulates non-fatal collection failures.
type problems []string

func (p *problems) add(what string, err error) {
	if err != nil {
		*p = append(*p, what+": "+oneLine(err.Error()))
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	const limit = 300
	if len(s) > limit {
		s = s[:limit]
	}
	return s
}

// normaliseArch maps the architecture names of uname, Windows and macOS to
// Go's.
func normaliseArch(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return ""
	case "x86_64", "amd64", "x64", "x86-64", "em64t":
		return "amd64"
	case "aarch64", "arm64", "arm64e", "aarch64_be":
		return "arm64"
	case "i386", "i486", "i586", "i686", "x86", "386":
		return "386"
	case "armv6l", "armv7l", "armv7", "arm", "armhf", "armv5tel":
		return "arm"
	case "ppc64le":
		return "ppc64le"
	case "s390x":
		return "s390x"
	case "riscv64":
		return "riscv64"
	default:
		return strings.ToLower(strings.TrimSpace(s))
	}
}

func boolPtr(b bool) *bool { return &b }
