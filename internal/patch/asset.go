package patch

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// OSFamily is the operating-system family. Persisted and on the wire.
type OSFamily string

// OS families. Compliance is always reported per family, never blended.
const (
	OSWindows OSFamily = "windows"
	OSMacOS   OSFamily = "macos"
	OSLinux   OSFamily = "linux"
	// OSOther covers discovered devices whose OS is unknown (printers,
	// appliances). They count as coverage gaps.
	OSOther OSFamily = "other"
)

// OSFamilies lists the families in display order.
var OSFamilies = []OSFamily{OSWindows, OSMacOS, OSLinux, OSOther}

// OS describes an asset's operating system.
type OS struct {
	Family  OSFamily `json:"family"`
	Name    string   `json:"name"`    // "Windows 11 Pro", "Debian GNU/Linux 12 (bookworm)"
	Version string   `json:"version"` // "10.0.22631", "12", "14.4.1"
	Build   string   `json:"build"`   // "22631.3447", "23E224"
	Kernel  string   `json:"kernel"`
	Arch    string   `json:"arch"`
}

// AssetRole is the system role from the playbook's inventory minimum.
type AssetRole string

// Asset roles.
const (
	RoleServer      AssetRole = "server"
	RoleWorkstation AssetRole = "workstation"
	RoleKiosk       AssetRole = "kiosk" // shared kiosk
)

// AssetRoles lists the roles.
var AssetRoles = []AssetRole{RoleServer, RoleWorkstation, RoleKiosk}

// Criticality is the business criticality of an asset, used by risk-based
// prioritisation and by policies that snapshot critical systems first.
type Criticality string

// Criticalities, lowest first.
const (
	CriticalityLow      Criticality = "low"
	CriticalityMedium   Criticality = "medium"
	CriticalityHigh     Criticality = "high"
	CriticalityCritical Criticality = "critical"
)

// Criticalities lists the criticalities, lowest first.
var Criticalities = []Criticality{CriticalityLow, CriticalityMedium, CriticalityHigh, CriticalityCritical}

// AssetSource says how Patchring learned of an asset.
type AssetSource string

// Asset sources. Only agent-reported assets are managed.
const (
	SourceAgent     AssetSource = "agent"
	SourceImport    AssetSource = "import"
	SourceManual    AssetSource = "manual"
	SourceDiscovery AssetSource = "discovery"
)

// AssetSources lists the sources.
var AssetSources = []AssetSource{SourceAgent, SourceImport, SourceManual, SourceDiscovery}

// Well-known tag keys. TagEPHI is first-class: the playbook asks for a
// consistent "ePHI system: yes/no" label, and the HIPAA evidence bundle's
// ePHI inventory is built from it.
const (
	TagEPHI = "ephi"
)

// Asset is one device of a client: managed (an agent reports from it) or
// discovered (seen on the network or imported, without an agent).
type Asset struct {
	ID       AssetID   `json:"id"`
	ClientID ClientID  `json:"client_id"`
	SiteID   SiteID    `json:"site_id,omitempty"`
	Hostname string    `json:"hostname"`
	FQDN     string    `json:"fqdn"`
	OS       OS        `json:"os"`
	Role     AssetRole `json:"role"`
	// Class is the key of one of the client's AssetClasses.
	Class       string            `json:"class"`
	Owner       string            `json:"owner"`
	Location    string            `json:"location"`
	Tags        map[string]string `json:"tags"`
	Criticality Criticality       `json:"criticality"`
	// Ring pins the asset to a rollout ring; empty lets the client's ring
	// policy place it.
	Ring    string      `json:"ring"`
	Managed bool        `json:"managed"`
	Source  AssetSource `json:"source"`
	// IdentityKey is the stable hardware identity reported by the agent; it
	// re-attaches a re-enrolled machine to the same asset.
	IdentityKey  string    `json:"identity_key,omitempty"`
	SerialNumber string    `json:"serial_number"`
	IPAddresses  []string  `json:"ip_addresses"`
	MACAddresses []string  `json:"mac_addresses"`
	FirstSeen    time.Time `json:"first_seen"`
	// LastSeen is the last check-in or discovery sighting; zero if never.
	LastSeen  time.Time `json:"last_seen,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EPHI reports whether the asset creates, receives or transmits ePHI.
func (a *Asset) EPHI() bool { return a.Tags[TagEPHI] == "yes" }

// Validate checks the asset's own fields. Whether Class exists for the
// client and SiteID belongs to it is checked by [Asset.ValidateFor].
func (a *Asset) Validate() error {
	if a.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if err := validHostname("hostname", a.Hostname); err != nil {
		return err
	}
	if a.FQDN != "" {
		if err := validHostname("fqdn", a.FQDN); err != nil {
			return err
		}
	}
	if !slices.Contains(OSFamilies, a.OS.Family) {
		return FieldError("os.family", "must be one of windows, macos, linux, other (got %q)", string(a.OS.Family))
	}
	for _, f := range [...]struct{ name, v string }{{"os.name", a.OS.Name}, {"os.version", a.OS.Version}, {"os.build", a.OS.Build}, {"os.kernel", a.OS.Kernel}, {"os.arch", a.OS.Arch}} {
		if err := validText(f.name, f.v, 200); err != nil {
			return err
		}
	}
	if !slices.Contains(AssetRoles, a.Role) {
		return FieldError("role", "must be one of server, workstation, kiosk (got %q)", string(a.Role))
	}
	if err := validKey("class", a.Class, 40); err != nil {
		return err
	}
	if err := validText("owner", a.Owner, 200); err != nil {
		return err
	}
	if err := validText("location", a.Location, 500); err != nil {
		return err
	}
	if err := ValidateTags(a.Tags); err != nil {
		return err
	}
	if !slices.Contains(Criticalities, a.Criticality) {
		return FieldError("criticality", "must be one of low, medium, high, critical (got %q)", string(a.Criticality))
	}
	if a.Ring != "" {
		if err := validKey("ring", a.Ring, 40); err != nil {
			return err
		}
	}
	if !slices.Contains(AssetSources, a.Source) {
		return FieldError("source", "must be one of agent, import, manual, discovery (got %q)", string(a.Source))
	}
	if err := validText("serial_number", a.SerialNumber, 200); err != nil {
		return err
	}
	if len(a.IPAddresses) > 64 {
		return FieldError("ip_addresses", "must list at most 64 addresses")
	}
	for i, ip := range a.IPAddresses {
		if _, err := netip.ParseAddr(ip); err != nil {
			return FieldError(fmt.Sprintf("ip_addresses[%d]", i), "must be an IP address (got %q)", ip)
		}
	}
	if len(a.MACAddresses) > 64 {
		return FieldError("mac_addresses", "must list at most 64 addresses")
	}
	for i, m := range a.MACAddresses {
		if !validMAC(m) {
			return FieldError(fmt.Sprintf("mac_addresses[%d]", i), "must be a MAC address such as 00:1a:2b:3c:4d:5e (got %q)", m)
		}
	}
	return nil
}

// ValidateFor checks the asset against its client: the class must be one of
// the client's classes.
func (a *Asset) ValidateFor(c *Client) error {
	if a.ClientID != c.ID {
		return FieldError("client_id", "does not match")
	}
	if _, ok := c.Class(a.Class); !ok {
		keys := make([]string, len(c.AssetClasses))
		for i, ac := range c.AssetClasses {
			keys[i] = ac.Key
		}
		return FieldError("class", "%q is not an asset class of client %s (classes: %s)", a.Class, c.Name, strings.Join(keys, ", "))
	}
	return nil
}

// Normalize fills defaults and canonical forms before validation: lower-case
// hostnames and MACs, sorted unique addresses, an empty tag map.
func (a *Asset) Normalize() {
	a.Hostname = strings.ToLower(strings.TrimSpace(a.Hostname))
	a.FQDN = strings.ToLower(strings.TrimSpace(a.FQDN))
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
	if a.Criticality == "" {
		a.Criticality = CriticalityMedium
	}
	for i, m := range a.MACAddresses {
		a.MACAddresses[i] = strings.ToLower(strings.ReplaceAll(m, "-", ":"))
	}
	slices.Sort(a.IPAddresses)
	a.IPAddresses = slices.Compact(a.IPAddresses)
	slices.Sort(a.MACAddresses)
	a.MACAddresses = slices.Compact(a.MACAddresses)
	if a.IPAddresses == nil {
		a.IPAddresses = []string{}
	}
	if a.MACAddresses == nil {
		a.MACAddresses = []string{}
	}
}

// ValidateTags checks tag keys and values; the reserved ephi tag must be
// "yes" or "no".
func ValidateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return FieldError("tags", "must have at most 50 tags")
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if err := validKey("tags", k, 40); err != nil {
			return FieldError("tags."+k, "tag keys must start with a lowercase letter and contain only a-z, 0-9, '-', '_' and '.'")
		}
		v := tags[k]
		if err := validText("tags."+k, v, 200); err != nil {
			return err
		}
		if k == TagEPHI && v != "yes" && v != "no" {
			return FieldError("tags.ephi", "must be yes or no (got %q)", v)
		}
	}
	return nil
}

func validHostname(field, s string) error {
	if s == "" {
		return FieldError(field, "is required")
	}
	if len(s) > 253 {
		return FieldError(field, "must be at most 253 characters")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return FieldError(field, "must be a host name such as ws-014 or ws-014.corp.example (got %q)", s)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return FieldError(field, "must contain only letters, digits, '-', '_' and dots (got %q)", s)
			}
		}
	}
	return nil
}

func validMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// TagMatch filters assets by one tag. An empty Value matches any value.
type TagMatch struct {
	Key   string
	Value string
}

// AssetSort names a sort order for asset lists.
type AssetSort string

// Asset sort orders.
const (
	SortHostname AssetSort = "hostname"
	SortLastSeen AssetSort = "last_seen"
	SortOS       AssetSort = "os"
	SortClass    AssetSort = "class"
	SortCreated  AssetSort = "created"
)

// AssetSorts lists the sort orders.
var AssetSorts = []AssetSort{SortHostname, SortLastSeen, SortOS, SortClass, SortCreated}

// AssetFilter selects assets. Nil fields do not filter.
type AssetFilter struct {
	ID       *AssetID
	ClientID *ClientID
	SiteID   *SiteID
	OSFamily *OSFamily
	Class    *string
	Role     *AssetRole
	Ring     *string
	Managed  *bool
	Source   *AssetSource
	Tags     []TagMatch
	// Query matches a substring of hostname, FQDN, owner or serial number,
	// case-insensitively.
	Query *string
	// LastSeenBefore and LastSeenAfter bound LastSeen; never-seen assets
	// match LastSeenBefore.
	LastSeenBefore *time.Time
	LastSeenAfter  *time.Time
	IdentityKey    *string
	Sort           AssetSort
	Desc           bool
	Offset         int
	Limit          int
}

// AssetUpdate holds the fields of a partial update.
type AssetUpdate struct {
	SiteID       *SiteID            `json:"site_id,omitempty"`
	Hostname     *string            `json:"hostname,omitempty"`
	FQDN         *string            `json:"fqdn,omitempty"`
	OS           *OSUpdate          `json:"os,omitempty"`
	Role         *AssetRole         `json:"role,omitempty"`
	Class        *string            `json:"class,omitempty"`
	Owner        *string            `json:"owner,omitempty"`
	Location     *string            `json:"location,omitempty"`
	Tags         *map[string]string `json:"tags,omitempty"`
	Criticality  *Criticality       `json:"criticality,omitempty"`
	Ring         *string            `json:"ring,omitempty"`
	SerialNumber *string            `json:"serial_number,omitempty"`
	// SetTags sets (or, with an empty value, removes) single tags after
	// Tags, if any, replaced the whole set.
	SetTags map[string]string `json:"set_tags,omitempty"`
}

// OSUpdate is a partial update of an asset's OS facts. For managed assets
// the agent reports these on every inventory sync, so manual edits last
// only until the next one.
type OSUpdate struct {
	Family  *OSFamily `json:"family,omitempty"`
	Name    *string   `json:"name,omitempty"`
	Version *string   `json:"version,omitempty"`
	Build   *string   `json:"build,omitempty"`
	Kernel  *string   `json:"kernel,omitempty"`
	Arch    *string   `json:"arch,omitempty"`
}

// Apply applies u to a.
func (u AssetUpdate) Apply(a *Asset) {
	set(&a.SiteID, u.SiteID)
	set(&a.Hostname, u.Hostname)
	set(&a.FQDN, u.FQDN)
	if u.OS != nil {
		set(&a.OS.Family, u.OS.Family)
		set(&a.OS.Name, u.OS.Name)
		set(&a.OS.Version, u.OS.Version)
		set(&a.OS.Build, u.OS.Build)
		set(&a.OS.Kernel, u.OS.Kernel)
		set(&a.OS.Arch, u.OS.Arch)
	}
	set(&a.Role, u.Role)
	set(&a.Class, u.Class)
	set(&a.Owner, u.Owner)
	set(&a.Location, u.Location)
	if u.Tags != nil {
		a.Tags = maps.Clone(*u.Tags)
	}
	set(&a.Criticality, u.Criticality)
	set(&a.Ring, u.Ring)
	set(&a.SerialNumber, u.SerialNumber)
	for k, v := range u.SetTags {
		if a.Tags == nil {
			a.Tags = map[string]string{}
		}
		if v == "" {
			delete(a.Tags, k)
		} else {
			a.Tags[k] = v
		}
	}
}
