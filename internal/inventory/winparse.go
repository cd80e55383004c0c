package inventory

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Pure parsers and mappings for Windows sources, tested on every platform.

// windowsVersion holds the values of
// HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion that describe the OS.
type windowsVersion struct {
	ProductName      string // "Windows 10 Pro" (also on Windows 11)
	EditionID        string // "Professional", "ServerStandard"
	DisplayVersion   string // "23H2" (20H2 and later)
	ReleaseID        string // "1809" (Windows 10 1507–2009)
	CurrentVersion   string // "6.3" (frozen at 6.3 since Windows 8.1)
	CurrentBuild     string // "22631"
	InstallationType string // "Client", "Server", "Server Core"
	CSDVersion       string // "Service Pack 1" (Windows 7 / 2008 R2)
	Major, Minor     uint64 // CurrentMajor/MinorVersionNumber, Windows 10 and later
	HasMajor         bool
	UBR              uint64 // update build revision: the .3447 in 22631.3447
	HasUBR           bool
}

// windows11FirstBuild is the first Windows 11 build. Windows 11 keeps
// "Windows 10" in ProductName for compatibility; the build tells them
// apart.
const windows11FirstBuild = 22000

// windowsOS maps CurrentVersion registry values to an OS.
func windowsOS(v windowsVersion) OS {
	build := strings.TrimSpace(v.CurrentBuild)
	o := OS{Family: FamilyWindows, Edition: v.EditionID}
	switch {
	case v.HasMajor:
		o.Version = fmt.Sprintf("%d.%d.%s", v.Major, v.Minor, build)
	case v.CurrentVersion != "":
		o.Version = v.CurrentVersion + "." + build
	default:
		o.Version = build
	}
	o.Version = strings.TrimSuffix(o.Version, ".")
	o.Build = build
	o.Kernel = o.Version
	if v.HasUBR && build != "" {
		o.Build = fmt.Sprintf("%s.%d", build, v.UBR)
		o.Kernel = fmt.Sprintf("%s.%d", o.Version, v.UBR)
	}
	o.Release = cmp.Or(v.DisplayVersion, v.ReleaseID, v.CSDVersion)
	switch strings.ToLower(strings.TrimSpace(v.InstallationType)) {
	case "client":
		o.Role = RoleWorkstation
	case "server", "server core", "nano server":
		o.Role = RoleServer
	}
	buildNo, _ := strconv.Atoi(build)
	o.Name = windowsProductName(v.ProductName, buildNo, o.Role == RoleServer || strings.HasPrefix(v.EditionID, "Server"))
	return o
}

// windowsProductName corrects ProductName: it drops a "Microsoft " prefix
// (WMI's Caption has one) and says Windows 11 where the registry still says
// Windows 10 on a Windows 11 build.
func windowsProductName(product string, build int, server bool) string {
	name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(product), "Microsoft "))
	if name == "" {
		name = "Windows"
	}
	if !server && build >= windows11FirstBuild {
		if rest, ok := strings.CutPrefix(name, "Windows 10"); ok {
			name = "Windows 11" + rest
		}
	}
	return name
}

// oneOrMany decodes a JSON value that PowerShell's ConvertTo-Json writes as
// an object for one result and as an array for several.
type oneOrMany[T any] []T

func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*o = nil
		return nil
	}
	if b[0] == '[' {
		var s []T
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*o = s
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = []T{v}
	return nil
}

// flexString decodes a JSON string, number or null into a string (WMI
// sizes come as numbers, UUIDs as strings, absent values as null).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want string or number, got %.40s", b)
		}
		*f = flexString(n.String())
	}
	return nil
}

func (f flexString) uint() uint64 {
	n, _ := strconv.ParseUint(strings.TrimSpace(string(f)), 10, 64)
	return n
}

type cimComputerSystem struct {
	Name                string     `json:"Name"`
	DNSHostName         string     `json:"DNSHostName"`
	Domain              string     `json:"Domain"`
	PartOfDomain        bool       `json:"PartOfDomain"`
	Workgroup           string     `json:"Workgroup"`
	DomainRole          flexString `json:"DomainRole"`
	UserName            string     `json:"UserName"`
	Manufacturer        string     `json:"Manufacturer"`
	Model               string     `json:"Model"`
	TotalPhysicalMemory flexString `json:"TotalPhysicalMemory"`
}

type cimProduct struct {
	UUID              string `json:"UUID"`
	IdentifyingNumber string `json:"IdentifyingNumber"`
	Vendor            string `json:"Vendor"`
	Name              string `json:"Name"`
}

type cimBIOS struct {
	SerialNumber string `json:"SerialNumber"`
	Manufacturer string `json:"Manufacturer"`
}

type cimOperatingSystem struct {
	Caption        string     `json:"Caption"`
	Version        string     `json:"Version"`
	BuildNumber    string     `json:"BuildNumber"`
	OSArchitecture string     `json:"OSArchitecture"`
	ProductType    flexString `json:"ProductType"`
	LastBootUpTime string     `json:"LastBootUpTime"`
}

type cimProcessor struct {
	Name                      string     `json:"Name"`
	NumberOfCores             flexString `json:"NumberOfCores"`
	NumberOfLogicalProcessors flexString `json:"NumberOfLogicalProcessors"`
}

type cimLogicalDisk struct {
	DeviceID   string     `json:"DeviceID"`
	FileSystem string     `json:"FileSystem"`
	Size       flexString `json:"Size"`
	FreeSpace  flexString `json:"FreeSpace"`
	VolumeName string     `json:"VolumeName"`
}

type cimLicensing struct {
	Name          string     `json:"Name"`
	LicenseStatus flexString `json:"LicenseStatus"`
	Description   string     `json:"Description"`
}

// cimReport is the JSON document printed by windowsInventoryScript.
type cimReport struct {
	ComputerSystem  oneOrMany[cimComputerSystem]  `json:"ComputerSystem"`
	Product         oneOrMany[cimProduct]         `json:"Product"`
	BIOS            oneOrMany[cimBIOS]            `json:"BIOS"`
	OperatingSystem oneOrMany[cimOperatingSystem] `json:"OperatingSystem"`
	Processor       oneOrMany[cimProcessor]       `json:"Processor"`
	LogicalDisk     oneOrMany[cimLogicalDisk]     `json:"LogicalDisk"`
	Licensing       oneOrMany[cimLicensing]       `json:"Licensing"`
	Errors          oneOrMany[string]             `json:"Errors"`
}

// windowsInventoryScript queries WMI/CIM once per class in a single
// PowerShell process (each start costs about a second). Each section is
// caught on its own, so one failing class (SoftwareLicensingProduct can
// time out) does not lose the others; failures are listed in Errors. The
// boot time is formatted in the script as ISO 8601 UTC because
// Windows PowerShell 5.1 would serialise a DateTime as "\/Date(ms)\/".
const windowsInventoryScript = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$r = [ordered]@{ Errors = @() }
function Add-Section([string]$name, [scriptblock]$query) {
  try { $r[$name] = & $query } catch { $r.Errors += ($name + ': ' + $_.Exception.Message) }
}
Add-Section 'ComputerSystem' { Get-CimInstance Win32_ComputerSystem | Select-Object Name,DNSHostName,Domain,PartOfDomain,Workgroup,DomainRole,UserName,Manufacturer,Model,TotalPhysicalMemory }
Add-Section 'Product' { Get-CimInstance Win32_ComputerSystemProduct | Select-Object UUID,IdentifyingNumber,Vendor,Name }
Add-Section 'BIOS' { Get-CimInstance Win32_BIOS | Select-Object SerialNumber,Manufacturer }
Add-Section 'OperatingSystem' { Get-CimInstance Win32_OperatingSystem | Select-Object Caption,Version,BuildNumber,OSArchitecture,ProductType,@{n='LastBootUpTime';e={$_.LastBootUpTime.ToUniversalTime().ToString('o')}} }
Add-Section 'Processor' { Get-CimInstance Win32_Processor | Select-Object Name,NumberOfCores,NumberOfLogicalProcessors }
Add-Section 'LogicalDisk' { Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3' | Select-Object DeviceID,FileSystem,Size,FreeSpace,VolumeName }
Add-Section 'Licensing' { Get-CimInstance SoftwareLicensingProduct -Filter "PartialProductKey IS NOT NULL AND ApplicationID='55c92734-d682-4d71-983e-d6ec3f16059f'" | Select-Object Name,LicenseStatus,Description }
[pscustomobject]$r | ConvertTo-Json -Depth 4 -Compress
`

// encodePowerShell encodes a script for powershell.exe -EncodedCommand
// (base64 of UTF-16LE), which avoids every command-line quoting problem.
func encodePowerShell(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// parseCIMReport decodes the output of windowsInventoryScript. A UTF-8
// byte-order mark and any text before the JSON (PowerShell banners,
// warnings) are skipped.
func parseCIMReport(b []byte) (cimReport, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if i := bytes.IndexByte(b, '{'); i > 0 {
		b = b[i:]
	}
	var r cimReport
	if err := json.Unmarshal(b, &r); err != nil {
		return cimReport{}, fmt.Errorf("parse windows inventory json: %w", err)
	}
	return r, nil
}

// licenseStatusNames are SoftwareLicensingProduct.LicenseStatus values 0–6.
var licenseStatusNames = []LicenseStatus{
	LicenseUnlicensed, LicenseLicensed, LicenseOOBGrace, LicenseOOTGrace,
	LicenseNonGenuineGrace, LicenseNotification, LicenseExtendedGrace,
}

func licenseStatus(v flexString) LicenseStatus {
	n, err := strconv.Atoi(strings.TrimSpace(string(v)))
	if err != nil || n < 0 || n >= len(licenseStatusNames) {
		return LicenseUnknown
	}
	return licenseStatusNames[n]
}

// channelRE finds the channel in a description such as "Windows(R)
// Operating System, OEM_DM channel".
var channelRE = regexp.MustCompile(`([A-Za-z0-9_:]+) channel\s*$`)

// windowsLicensing picks the Windows product among the licensing rows. With
// a product key installed there is normally one; Extended Security Update
// add-ons add more, so the base product (not an add-on) wins. Returns nil
// when there are no rows.
func windowsLicensing(rows []cimLicensing) *Licensing {
	if len(rows) == 0 {
		return nil
	}
	best := rows[0]
	for _, r := range rows {
		if !isLicensingAddOn(r.Name) {
			best = r
			break
		}
	}
	l := &Licensing{
		LicenseStatus: licenseStatus(best.LicenseStatus),
		Product:       strings.TrimSpace(best.Name),
	}
	l.Activated = l.LicenseStatus == LicenseLicensed
	if m := channelRE.FindStringSubmatch(strings.TrimSpace(best.Description)); m != nil {
		l.Channel = strings.ToUpper(strings.ReplaceAll(m[1], ":", "_"))
	}
	return l
}

func isLicensingAddOn(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "add-on") || strings.Contains(n, "esu")
}

// applyCIM copies what the CIM report knows into h. The registry remains
// the source of the OS version; CIM adds the role, hardware, memory, disks,
// CPU, boot time, domain and console user.
func applyCIM(h *Host, r cimReport) {
	for _, e := range r.Errors {
		h.Problems = append(h.Problems, "wmi "+oneLine(e))
	}
	if len(r.ComputerSystem) > 0 {
		cs := r.ComputerSystem[0]
		h.Hardware.Manufacturer = strings.TrimSpace(cs.Manufacturer)
		h.Hardware.Model = strings.TrimSpace(cs.Model)
		h.MemoryBytes = cs.TotalPhysicalMemory.uint()
		switch {
		case cs.PartOfDomain && cs.Domain != "":
			h.Domain, h.DomainType = strings.ToLower(cs.Domain), DomainJoined
		case cs.Workgroup != "":
			h.Domain, h.DomainType = cs.Workgroup, DomainWorkgroup
		}
		switch cs.DomainRole.uint() {
		case 4, 5:
			h.OS.Role = RoleDomainController
		case 2, 3:
			h.OS.Role = RoleServer
		case 0, 1:
			if h.OS.Role == "" && cs.DomainRole != "" {
				h.OS.Role = RoleWorkstation
			}
		}
		if h.PrimaryUser == "" {
			h.PrimaryUser = strings.TrimSpace(cs.UserName)
		}
		if h.FQDN == "" && cs.PartOfDomain && cs.DNSHostName != "" {
			h.FQDN = strings.ToLower(cs.DNSHostName + "." + cs.Domain)
		}
	}
	if len(r.Product) > 0 {
		p := r.Product[0]
		h.Hardware.HardwareUUID = strings.TrimSpace(p.UUID)
		h.Hardware.Serial = strings.TrimSpace(p.IdentifyingNumber)
		if h.Hardware.Manufacturer == "" {
			h.Hardware.Manufacturer = strings.TrimSpace(p.Vendor)
		}
		if h.Hardware.Model == "" {
			h.Hardware.Model = strings.TrimSpace(p.Name)
		}
	}
	if len(r.BIOS) > 0 && isBogus(h.Hardware.Serial) {
		if s := strings.TrimSpace(r.BIOS[0].SerialNumber); !isBogus(s) {
			h.Hardware.Serial = s
		}
	}
	if len(r.OperatingSystem) > 0 {
		os := r.OperatingSystem[0]
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(os.LastBootUpTime)); err == nil {
			h.LastBoot = t.UTC().Truncate(time.Second)
		}
		if h.OS.Name == "" || h.OS.Name == "Windows" {
			build, _ := strconv.Atoi(os.BuildNumber)
			h.OS.Name = windowsProductName(os.Caption, build, os.ProductType.uint() > 1)
		}
		if h.OS.Version == "" {
			h.OS.Version = os.Version
		}
	}
	var cores, threads int
	for _, p := range r.Processor {
		if h.CPU.Model == "" {
			h.CPU.Model = strings.Join(strings.Fields(p.Name), " ")
		}
		cores += int(p.NumberOfCores.uint())
		threads += int(p.NumberOfLogicalProcessors.uint())
	}
	h.CPU.Cores, h.CPU.Threads = cores, threads
	for _, d := range r.LogicalDisk {
		h.Disks = append(h.Disks, Disk{
			Mount:     d.DeviceID,
			FS:        d.FileSystem,
			SizeBytes: d.Size.uint(),
			FreeBytes: d.FreeSpace.uint(),
		})
	}
	if l := windowsLicensing(r.Licensing); l != nil {
		h.Licensing = l
	}
}

// windowsRebootReasons turns the registry's pending-reboot markers into
// reasons.
func windowsRebootReasons(cbsRebootPending, wuRebootRequired bool, pendingFileRenames []string) []RebootReason {
	var rs []RebootReason
	if cbsRebootPending {
		rs = append(rs, RebootCBS)
	}
	if wuRebootRequired {
		rs = append(rs, RebootWindowsUpdate)
	}
	for _, f := range pendingFileRenames {
		if strings.TrimSpace(f) != "" {
			rs = append(rs, RebootFileRename)
			break
		}
	}
	return rs
}

// uninstallEntry is one subkey of an ...\CurrentVersion\Uninstall key.
type uninstallEntry struct {
	KeyName          string `json:"key"`
	DisplayName      string `json:"DisplayName,omitempty"`
	DisplayVersion   string `json:"DisplayVersion,omitempty"`
	Publisher        string `json:"Publisher,omitempty"`
	InstallDate      string `json:"InstallDate,omitempty"`
	ParentKeyName    string `json:"ParentKeyName,omitempty"`
	ReleaseType      string `json:"ReleaseType,omitempty"`
	SystemComponent  uint64 `json:"SystemComponent,omitempty"`
	WindowsInstaller uint64 `json:"WindowsInstaller,omitempty"`
}

var (
	kbInNameRE    = regexp.MustCompile(`\(KB\d{6,8}\)|^KB\d{6,8}$`)
	productGUIDRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
)

// softwareFromUninstall maps Uninstall entries read from one registry view
// to Software, the way Programs and Features lists them: entries without a
// DisplayName, system components, child entries (ParentKeyName) and
// updates (ReleaseType, "(KBnnnnnnn)" names: Windows Update reports those)
// are left out. Windows Installer products (WindowsInstaller=1 or a
// {ProductCode} key name) get source "msi", others "registry". arch is the
// registry view's architecture ("amd64", "386"; "" for per-user keys).
func softwareFromUninstall(entries []uninstallEntry, arch string) []pkgmgr.Software {
	var out []pkgmgr.Software
	for _, e := range entries {
		name := strings.TrimSpace(e.DisplayName)
		if name == "" || e.SystemComponent == 1 || strings.TrimSpace(e.ParentKeyName) != "" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(e.ReleaseType)) {
		case "security update", "update", "hotfix", "update rollup", "service pack":
			continue
		}
		if kbInNameRE.MatchString(name) {
			continue
		}
		s := pkgmgr.Software{
			Name:    name,
			Version: strings.TrimSpace(e.DisplayVersion),
			Vendor:  strings.TrimSpace(e.Publisher),
			Source:  "registry",
			Arch:    arch,
		}
		if e.WindowsInstaller == 1 || productGUIDRE.MatchString(strings.TrimSpace(e.KeyName)) {
			s.Source = "msi"
		}
		if t, err := time.Parse("20060102", strings.TrimSpace(e.InstallDate)); err == nil {
			s.InstallDate = t
		}
		out = append(out, s)
	}
	return out
}

// dedupeSoftware sorts software and drops exact duplicates (the same
// product registered under HKLM and a user's hive).
func dedupeSoftware(s []pkgmgr.Software) []pkgmgr.Software {
	slices.SortFunc(s, compareSoftware)
	return slices.CompactFunc(s, func(a, b pkgmgr.Software) bool {
		return a.Name == b.Name && a.Version == b.Version && a.Arch == b.Arch && a.Source == b.Source
	})
}
