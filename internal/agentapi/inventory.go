package agentapi

import "time"

// Inventory is a machine's full inventory on the wire. Its fields and JSON
// names are those of inventory.Host (the agent's collector) plus the
// collection time and the agent version; a parity test in package agent
// keeps the two identical, so the agent converts with a JSON round trip and
// the server can rebuild an inventory.Host to compute identity keys and
// serviceability with the same functions the agent uses.
type Inventory struct {
	Hostname     string `json:"hostname"`
	FQDN         string `json:"fqdn,omitempty"`
	ComputerName string `json:"computer_name,omitempty"`
	Domain       string `json:"domain,omitempty"`
	// DomainType is "domain", "workgroup" or "dns".
	DomainType string `json:"domain_type,omitempty"`

	OS OS `json:"os"`

	IPAddresses  []string `json:"ip_addresses,omitempty"`
	MACAddresses []string `json:"mac_addresses,omitempty"`

	CPU         CPU    `json:"cpu"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Disks       []Disk `json:"disks,omitempty"`

	LastBoot time.Time `json:"last_boot,omitzero"`

	Users       []Session `json:"logged_in_users,omitempty"`
	PrimaryUser string    `json:"primary_user,omitempty"`

	RebootPending *bool    `json:"reboot_pending,omitempty"`
	RebootReasons []string `json:"reboot_reasons,omitempty"`

	Hardware Hardware `json:"hardware"`

	// Software is everything installed that the agent can list: package
	// managers (dpkg, rpm, winget, Homebrew), Windows uninstall entries
	// (MSI and registry) and macOS application bundles.
	Software []Software `json:"software,omitempty"`

	Licensing *Licensing `json:"licensing,omitempty"`
	Problems  []string   `json:"problems,omitempty"`

	// CollectedAt is when the agent collected the inventory.
	CollectedAt time.Time `json:"collected_at,omitzero"`
}

// OS describes the operating system.
type OS struct {
	// Family is "linux", "windows" or "macos".
	Family       string `json:"family"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Build        string `json:"build,omitempty"`
	Edition      string `json:"edition,omitempty"`
	Release      string `json:"release,omitempty"`
	Distribution string `json:"distribution,omitempty"`
	// Role is "workstation", "server", "domain_controller" or empty.
	Role   string `json:"role,omitempty"`
	Kernel string `json:"kernel,omitempty"`
	Arch   string `json:"arch,omitempty"`
}

// CPU describes the processors.
type CPU struct {
	Model   string `json:"model,omitempty"`
	Cores   int    `json:"cores,omitempty"`
	Threads int    `json:"threads,omitempty"`
}

// Disk is one local filesystem.
type Disk struct {
	Mount     string `json:"mount"`
	Device    string `json:"device,omitempty"`
	FS        string `json:"fs,omitempty"`
	SizeBytes uint64 `json:"size_bytes"`
	FreeBytes uint64 `json:"free_bytes"`
}

// Session is one logged-in user session.
type Session struct {
	User     string `json:"user"`
	Terminal string `json:"terminal,omitempty"`
	From     string `json:"from,omitempty"`
	Console  bool   `json:"console,omitempty"`
}

// Hardware identifies the machine.
type Hardware struct {
	MachineID    string `json:"machine_id,omitempty"`
	HardwareUUID string `json:"hardware_uuid,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
}

// Software is one installed application or package.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Vendor  string `json:"vendor,omitempty"`
	// Source is "dpkg", "rpm", "msi", "registry", "winget", "app" or "brew".
	Source      string    `json:"source"`
	Arch        string    `json:"arch,omitempty"`
	InstallDate time.Time `json:"install_date,omitzero"`
}

// Licensing is the Windows activation state.
type Licensing struct {
	Activated     bool   `json:"activated"`
	LicenseStatus string `json:"license_status"`
	Product       string `json:"product,omitempty"`
	Channel       string `json:"channel,omitempty"`
}
