package demo

import "github.com/patchring/patchring/internal/patch"

const (
	clinic       = "Riverside Family Clinic"
	lawFirm      = "Hartwell & Shaw LLP"
	manufacturer = "Northfield Precision Manufacturing"
)

// Operating systems as agents report them.
var (
	win11 = []patch.OS{
		{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Build: "22631.4460", Arch: "amd64"},
		{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.26100", Build: "26100.2314", Arch: "amd64"},
		{Family: patch.OSWindows, Name: "Windows 11 Enterprise", Version: "10.0.22631", Build: "22631.4317", Arch: "amd64"},
	}
	win10 = []patch.OS{
		{Family: patch.OSWindows, Name: "Windows 10 Pro", Version: "10.0.19045", Build: "19045.5131", Arch: "amd64"},
		{Family: patch.OSWindows, Name: "Windows 10 Pro", Version: "10.0.19045", Build: "19045.4894", Arch: "amd64"},
	}
	win10LTSC = []patch.OS{
		{Family: patch.OSWindows, Name: "Windows 10 Enterprise LTSC 2019", Version: "10.0.17763", Build: "17763.6532", Arch: "amd64"},
		{Family: patch.OSWindows, Name: "Windows 10 IoT Enterprise LTSC 2021", Version: "10.0.19044", Build: "19044.5131", Arch: "amd64"},
	}
	win7 = []patch.OS{
		{Family: patch.OSWindows, Name: "Windows 7 Professional", Version: "6.1.7601", Build: "7601.24544", Arch: "amd64"},
	}
	srv2022 = []patch.OS{{Family: patch.OSWindows, Name: "Windows Server 2022 Standard", Version: "10.0.20348", Build: "20348.2849", Arch: "amd64"}}
	srv2019 = []patch.OS{{Family: patch.OSWindows, Name: "Windows Server 2019 Standard", Version: "10.0.17763", Build: "17763.6532", Arch: "amd64"}}
	srv2016 = []patch.OS{{Family: patch.OSWindows, Name: "Windows Server 2016 Standard", Version: "10.0.14393", Build: "14393.7515", Arch: "amd64"}}
	srv2012 = []patch.OS{{Family: patch.OSWindows, Name: "Windows Server 2012 R2 Standard", Version: "6.3.9600", Build: "9600.21620", Arch: "amd64"}}
	macs    = []patch.OS{
		{Family: patch.OSMacOS, Name: "macOS Sonoma", Version: "14.7.1", Build: "23H222", Arch: "arm64"},
		{Family: patch.OSMacOS, Name: "macOS Sequoia", Version: "15.1", Build: "24B83", Arch: "arm64"},
		{Family: patch.OSMacOS, Name: "macOS Ventura", Version: "13.7.1", Build: "22H221", Arch: "amd64"},
	}
	debian12 = []patch.OS{{Family: patch.OSLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Build: "12.8", Kernel: "6.1.0-27-amd64", Arch: "amd64"}}
	ubuntu   = []patch.OS{
		{Family: patch.OSLinux, Name: "Ubuntu 22.04.5 LTS", Version: "22.04", Build: "22.04.5", Kernel: "5.15.0-125-generic", Arch: "amd64"},
		{Family: patch.OSLinux, Name: "Ubuntu 24.04.1 LTS", Version: "24.04", Build: "24.04.1", Kernel: "6.8.0-49-generic", Arch: "amd64"},
	}
	rhel = []patch.OS{
		{Family: patch.OSLinux, Name: "Red Hat Enterprise Linux 8.10 (Ootpa)", Version: "8.10", Build: "8.10", Kernel: "4.18.0-553.27.1.el8_10.x86_64", Arch: "amd64"},
		{Family: patch.OSLinux, Name: "Rocky Linux 9.4 (Blue Onyx)", Version: "9.4", Build: "9.4", Kernel: "5.14.0-427.42.1.el9_4.x86_64", Arch: "amd64"},
	}
	unknown = []patch.OS{{Family: patch.OSOther, Name: "Unknown (network device)"}}
	printer = []patch.OS{{Family: patch.OSOther, Name: "HP JetDirect printer"}}
)

var clients = []clientSpec{
	{
		name:       clinic,
		notes:      "HIPAA covered entity. EHR and PACS hold ePHI. Clinic hours Mon–Sat 07:00–19:00; patch servers Sunday night.",
		contact:    "Dr. Elena Vasquez",
		email:      "it@riversideclinic.example",
		ownerEmail: "owner@riversideclinic.example",
		sites: []siteSpec{
			{"Riverside Main Clinic", "1200 River Rd, Springfield IL", "America/Chicago", "10.20.0.0/22"},
			{"Oak Street Satellite", "45 Oak St, Springfield IL", "America/Chicago", "10.21.0.0/24"},
		},
		people: []string{"Dr. Elena Vasquez", "Dr. Marcus Lee", "Nurse Aisha Khan", "Front desk (shared)", "Billing: Tom Becker", "Dr. Hannah Cho", "Lab: Raj Patel"},
		groups: []group{
			{prefix: "srv-ehr", count: 1, os: srv2022, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityCritical, ephi: "yes", site: 0, extraTags: map[string]string{"app": "ehr"}},
			{prefix: "srv-pacs", count: 1, os: ubuntu[:1], role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityCritical, ephi: "yes", site: 0, extraTags: map[string]string{"app": "pacs"}},
			{prefix: "srv-dc", count: 2, os: srv2019, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityHigh, ephi: "no", site: 0},
			{prefix: "srv-files", count: 1, os: srv2016, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityHigh, ephi: "yes", site: 0},
			{prefix: "srv-backup", count: 1, os: debian12, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityHigh, ephi: "yes", site: 0},
			{prefix: "ws-exam", count: 28, os: win11, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, ephi: "yes", dept: []string{"family-medicine", "pediatrics", "radiology"}, owners: true, site: -1, stale: true},
			{prefix: "ws-front", count: 10, os: win10, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, ephi: "yes", dept: []string{"reception", "billing"}, owners: true, site: -1, stale: true},
			{prefix: "ws-admin", count: 8, os: win11, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, ephi: "no", dept: []string{"administration"}, owners: true, site: 0},
			{prefix: "mac-admin", count: 6, os: macs, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, ephi: "no", dept: []string{"administration", "marketing"}, owners: true, site: 0, stale: true},
			{prefix: "kiosk-checkin", count: 4, os: win10LTSC, role: patch.RoleKiosk, class: patch.ClassKiosk, criticality: patch.CriticalityMedium, ephi: "yes", site: -1},
			{prefix: "ws-ultrasound", count: 1, os: win7, role: patch.RoleWorkstation, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityHigh, ephi: "yes", site: 0, extraTags: map[string]string{"legacy": "vendor-locked"}},
			{prefix: "lab-analyzer", count: 2, os: win10LTSC, role: patch.RoleWorkstation, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityHigh, ephi: "yes", site: 0, extraTags: map[string]string{"app": "lab"}},
			{prefix: "dev-unknown", count: 3, os: unknown, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, site: -1, unmanaged: true},
			{prefix: "prn", count: 4, os: printer, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, site: -1, unmanaged: true},
		},
	},
	{
		name:       lawFirm,
		notes:      "Litigation firm; document management must be up 07:00–22:00 local in both offices. Partners travel with MacBooks.",
		contact:    "Grace Hartwell",
		email:      "ops@hartwellshaw.example",
		ownerEmail: "owner@hartwellshaw.example",
		sites: []siteSpec{
			{"New York Office", "350 Fifth Ave, New York NY", "America/New_York", "10.40.0.0/23"},
			{"London Office", "1 Fleet St, London", "Europe/London", "10.41.0.0/24"},
		},
		people: []string{"Grace Hartwell", "Oliver Shaw", "Associate: Mia Chen", "Associate: Daniel Brooks", "Paralegal: Zoe Adams", "Records: Ian Wright", "Associate: Leila Haddad"},
		groups: []group{
			{prefix: "srv-dms", count: 1, os: srv2016, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityCritical, ephi: "no", site: 0, extraTags: map[string]string{"app": "document-management"}},
			{prefix: "srv-dc", count: 2, os: srv2022, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityHigh, ephi: "no", site: -1},
			{prefix: "srv-web", count: 1, os: debian12, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityMedium, ephi: "no", site: 0},
			{prefix: "srv-print", count: 1, os: srv2019, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityLow, ephi: "no", site: 0},
			{prefix: "lt-ny", count: 32, os: win11, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, ephi: "no", dept: []string{"litigation", "corporate", "ip"}, owners: true, site: 0, stale: true},
			{prefix: "lt-ldn", count: 16, os: win11, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, ephi: "no", dept: []string{"litigation", "corporate"}, owners: true, site: 1, stale: true},
			{prefix: "mbp", count: 12, os: macs, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityHigh, ephi: "no", dept: []string{"partners"}, owners: true, site: -1, stale: true},
			{prefix: "ws-records", count: 4, os: win10, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, ephi: "no", dept: []string{"records"}, owners: true, site: 0},
			{prefix: "kiosk-lobby", count: 2, os: win10LTSC, role: patch.RoleKiosk, class: patch.ClassKiosk, criticality: patch.CriticalityLow, site: -1},
			{prefix: "dev-unknown", count: 2, os: unknown, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, site: -1, unmanaged: true},
		},
	},
	{
		name:       manufacturer,
		notes:      "Two plants running 24/5. Line HMIs and the SCADA server are do-not-disrupt: patch only in the Sunday shutdown with plant manager approval.",
		contact:    "Karl Brenner",
		email:      "it@northfieldprecision.example",
		ownerEmail: "owner@northfieldprecision.example",
		sites: []siteSpec{
			{"Detroit Plant", "8800 Industrial Dr, Detroit MI", "America/Detroit", "10.60.0.0/22"},
			{"Stuttgart Plant", "Industriestr. 12, Stuttgart", "Europe/Berlin", "10.61.0.0/23"},
		},
		people: []string{"Karl Brenner", "Plant mgr: Denise Walker", "Eng: Lukas Meyer", "Eng: Priya Shah", "QA: Frank Novak", "Purchasing: Amy Ross", "Eng: Jonas Weber", "Office: Carla Diaz"},
		groups: []group{
			{prefix: "srv-scada", count: 1, os: srv2012, role: patch.RoleServer, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityCritical, site: 0, extraTags: map[string]string{"zone": "ot"}},
			{prefix: "srv-erp", count: 2, os: rhel, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityCritical, site: 0, extraTags: map[string]string{"app": "erp"}},
			{prefix: "srv-dc", count: 2, os: srv2019, role: patch.RoleServer, class: patch.ClassCoreServer, criticality: patch.CriticalityHigh, site: -1},
			{prefix: "srv-mes", count: 1, os: srv2016, role: patch.RoleServer, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityCritical, site: 1, extraTags: map[string]string{"zone": "ot"}},
			{prefix: "srv-files", count: 2, os: ubuntu, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityMedium, site: -1},
			{prefix: "hmi-line", count: 24, os: win10LTSC, role: patch.RoleKiosk, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityHigh, site: -1, extraTags: map[string]string{"zone": "ot"}},
			{prefix: "ws-eng", count: 18, os: win11, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityMedium, dept: []string{"engineering", "quality"}, owners: true, site: -1, stale: true},
			{prefix: "ws-office", count: 30, os: append(append([]patch.OS{}, win11...), win10...), role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, dept: []string{"purchasing", "sales", "hr", "finance"}, owners: true, site: -1, stale: true},
			{prefix: "mac-design", count: 4, os: macs, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, dept: []string{"design"}, owners: true, site: 0},
			{prefix: "ws-cnc", count: 6, os: win7, role: patch.RoleWorkstation, class: patch.ClassDoNotDisrupt, criticality: patch.CriticalityHigh, site: 0, extraTags: map[string]string{"zone": "ot", "legacy": "vendor-locked"}},
			{prefix: "kiosk-floor", count: 8, os: win10LTSC, role: patch.RoleKiosk, class: patch.ClassKiosk, criticality: patch.CriticalityLow, site: -1},
			{prefix: "lnx-edge", count: 6, os: debian12, role: patch.RoleServer, class: patch.ClassServer, criticality: patch.CriticalityMedium, site: -1, extraTags: map[string]string{"zone": "ot"}},
			{prefix: "dev-unknown", count: 5, os: unknown, role: patch.RoleWorkstation, class: patch.ClassWorkstation, criticality: patch.CriticalityLow, site: -1, unmanaged: true},
		},
	},
}
