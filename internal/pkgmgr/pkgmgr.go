// Package pkgmgr defines the contract between the Patchring agent and an
// operating system's package or update manager (apt, dnf, the Windows Update
// Agent, winget, softwareupdate, Homebrew).
//
// The contract is shaped like database/sql/driver: a small required interface
// ([Manager]) and optional upgrades a backend may implement ([Rollbacker],
// [RebootReporter], [SoftwareLister]). The agent asks for an upgrade with a
// type assertion and degrades gracefully when a backend lacks it.
//
// Every backend lives in its own sub-package named after the tool it drives
// and keeps two halves apart: pure parsers over bytes (table-tested and
// fuzzed against real recorded output in testdata/) and the thin layer that
// runs the command. Backends never run anything the server sent as text: the
// server sends typed requests (which update, which version) and the backend
// builds the command line itself.
//
// This package imports only the standard library so that it can be shared by
// the agent and by server-side code that reasons about update metadata.
package pkgmgr

import (
	"context"
	"time"
)

// Source names the tool an update or a piece of installed software came
// from. Values are persisted and sent over the wire: never change them.
type Source string

// Known sources.
const (
	SourceApt            Source = "apt"
	SourceDnf            Source = "dnf"
	SourceWindowsUpdate  Source = "wua"
	SourceWinget         Source = "winget"
	SourceSoftwareUpdate Source = "softwareupdate"
	SourceBrew           Source = "brew"
)

// Classification is the kind of an update, normalised across vendors.
// Values are persisted and sent over the wire: never change them.
type Classification string

// Known classifications. Backends map vendor vocabulary onto these; the
// original vendor text is kept in Update.VendorClassification.
const (
	ClassSecurity     Classification = "security"      // security fix (apt security pocket, RHSA, MS "Security Updates")
	ClassCritical     Classification = "critical"      // MS "Critical Updates": non-security but critical fixes
	ClassBugfix       Classification = "bugfix"        // RHBA, ordinary apt/brew/winget version bumps
	ClassEnhancement  Classification = "enhancement"   // RHEA
	ClassUpdateRollup Classification = "update-rollup" // MS "Update Rollups"
	ClassServicePack  Classification = "service-pack"  // MS "Service Packs"
	ClassFeaturePack  Classification = "feature-pack"  // MS "Feature Packs" and feature updates / OS upgrades
	ClassDefinition   Classification = "definition"    // MS "Definition Updates" (Defender signatures)
	ClassDriver       Classification = "driver"        // MS "Drivers"
	ClassTool         Classification = "tool"          // MS "Tools"
	ClassOSUpgrade    Classification = "os-upgrade"    // macOS major upgrades, distribution upgrades
	ClassApplication  Classification = "application"   // third-party application update without vendor severity
	ClassUnclassified Classification = "unclassified"  // the backend could not tell
)

// Update is one update that a scan found missing on the host.
type Update struct {
	// Source is the tool that reported the update.
	Source Source `json:"source"`
	// ID identifies this exact update within Source and is stable across
	// scans and hosts: apt/dnf/brew/winget use "package=version" of the
	// candidate, the Windows Update Agent "UpdateID.revision", softwareupdate
	// its label. The same ID on two hosts means the same update.
	ID string `json:"id"`
	// Package is the name the tool installs by (apt/dnf/brew package,
	// winget package identifier, softwareupdate label, KB article for WUA).
	Package string `json:"package"`
	// Title is the vendor's human-readable title.
	Title string `json:"title"`
	// Product is what the update applies to ("Debian 12", "Windows 11",
	// "Mozilla Firefox").
	Product string `json:"product,omitempty"`
	// InstalledVersion is the version on the host now, if any.
	InstalledVersion string `json:"installed_version,omitempty"`
	// AvailableVersion is the version the update installs.
	AvailableVersion string `json:"available_version,omitempty"`

	Classification       Classification `json:"classification"`
	VendorClassification string         `json:"vendor_classification,omitempty"`
	// VendorSeverity is the vendor's own severity word, unmodified
	// ("Critical", "Important", "high", "urgency=high"). Mapping to a
	// Patchring severity tier happens on the server, per client policy.
	VendorSeverity string `json:"vendor_severity,omitempty"`
	// Advisory is the vendor advisory identifier (RHSA-2024:1234, DSA-5678-1,
	// USN-6000-1), when the tool reports one.
	Advisory string   `json:"advisory,omitempty"`
	KBs      []string `json:"kbs,omitempty"`
	CVEs     []string `json:"cves,omitempty"`
	// CVSS is the highest CVSS base score the vendor published, 0 if none.
	CVSS float64 `json:"cvss,omitempty"`
	// KnownExploited is true when the vendor or a feed flags active
	// exploitation.
	KnownExploited bool `json:"known_exploited,omitempty"`
	// Origin is where the update comes from (apt "Debian-Security:12/bookworm-security",
	// dnf repository id, WUA server selection).
	Origin string `json:"origin,omitempty"`
	// ReleaseDate is the vendor's publication time, zero if unknown.
	ReleaseDate time.Time `json:"release_date,omitzero"`
	// Size is the download size in bytes, 0 if unknown.
	Size int64 `json:"size,omitempty"`
	// RebootRequired is true when installing this update needs (or may
	// need) a restart.
	RebootRequired bool `json:"reboot_required,omitempty"`
	// Supersedes lists IDs of updates this one replaces, when known.
	Supersedes []string `json:"supersedes,omitempty"`
}

// Software is one installed application or package.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Vendor is the publisher or maintainer, if known.
	Vendor string `json:"vendor,omitempty"`
	// Source says where the record came from: "dpkg", "rpm", "msi",
	// "registry", "winget", "app", "brew".
	Source string `json:"source"`
	Arch   string `json:"arch,omitempty"`
	// InstallDate is when the software was installed, zero if unknown.
	InstallDate time.Time `json:"install_date,omitzero"`
}

// Target names one update to install, as the server asked for it.
type Target struct {
	// ID is Update.ID of the update to install.
	ID string `json:"id"`
	// Package and Version pin exactly what to install; backends refuse to
	// install anything else (a newer candidate published since the scan is
	// not silently substituted).
	Package string `json:"package"`
	Version string `json:"version,omitempty"`
}

// InstallRequest asks a backend to install a set of updates.
type InstallRequest struct {
	Targets []Target `json:"targets"`
	// DownloadOnly stages the updates without installing them.
	DownloadOnly bool `json:"download_only,omitempty"`
}

// ItemStatus is the outcome for one target. Persisted and sent over the wire.
type ItemStatus string

// Outcomes of one install target.
const (
	ItemInstalled ItemStatus = "installed"
	ItemFailed    ItemStatus = "failed"
	// ItemSkipped means the backend did not attempt the target (already
	// installed, no longer available, superseded).
	ItemSkipped ItemStatus = "skipped"
)

// ItemResult is the outcome of one target of an install or rollback.
type ItemResult struct {
	ID          string     `json:"id"`
	Package     string     `json:"package"`
	Status      ItemStatus `json:"status"`
	FromVersion string     `json:"from_version,omitempty"`
	ToVersion   string     `json:"to_version,omitempty"`
	// Detail explains a failure or skip in one line.
	Detail string `json:"detail,omitempty"`
}

// InstallResult is what a backend did. A non-nil error from Install means
// the backend could not run at all; per-target failures are reported in
// Items with a nil error.
type InstallResult struct {
	Items          []ItemResult `json:"items"`
	RebootRequired bool         `json:"reboot_required"`
	// Output is the tail of the tool's combined output, bounded in size,
	// kept as evidence of what ran.
	Output string `json:"output,omitempty"`
}

// Manager is the required contract of a package-manager backend.
// Implementations must be safe for use by one goroutine at a time; the agent
// never runs two operations of one manager concurrently.
type Manager interface {
	// Source names the backend.
	Source() Source
	// Scan returns the updates missing on the host. It refreshes package
	// metadata first when the tool needs it (apt-get update, dnf makecache).
	Scan(ctx context.Context) ([]Update, error)
	// Install installs exactly the requested targets and reports each one.
	// The deadline of ctx is the end of the maintenance window: a backend
	// must stop starting new work once ctx is done.
	Install(ctx context.Context, req InstallRequest) (InstallResult, error)
}

// RollbackRequest asks a backend to return a package to an earlier version
// (apt/dnf downgrade) or remove an update (wusa /uninstall /kb:NNN).
type RollbackRequest struct {
	Targets []Target `json:"targets"` // Version is the version to return to; for WUA, Package is the KB
}

// A Rollbacker can undo an install.
type Rollbacker interface {
	Rollback(ctx context.Context, req RollbackRequest) (InstallResult, error)
}

// A RebootReporter can tell whether the host needs a reboot to finish
// installing updates.
type RebootReporter interface {
	RebootRequired(ctx context.Context) (bool, error)
}

// A SoftwareLister can list the software it manages that is installed.
type SoftwareLister interface {
	InstalledSoftware(ctx context.Context) ([]Software, error)
}
