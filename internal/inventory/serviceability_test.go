package inventory

import (
	"strings"
	"testing"
)

func TestServiceability(t *testing.T) {
	win := func(name, version, build, edition string, role Role) OS {
		return OS{Family: FamilyWindows, Name: name, Version: version, Build: build, Edition: edition, Role: role}
	}
	tests := []struct {
		name       string
		os         OS
		want       bool
		wantReason string // substring
	}{
		// Clients. Versions are the NT numbers Microsoft publishes for each release.
		{"Windows 11 23H2", win("Windows 11 Pro", "10.0.22631", "22631.3447", "Professional", RoleWorkstation), true, "Windows 8.1 or later"},
		{"Windows 11 24H2", win("Windows 11 Enterprise", "10.0.26100", "26100.2894", "Enterprise", RoleWorkstation), true, ""},
		{"Windows 10 22H2", win("Windows 10 Pro", "10.0.19045", "19045.4291", "Professional", RoleWorkstation), true, ""},
		{"Windows 10 1507", win("Windows 10 Enterprise", "10.0.10240", "10240.16384", "Enterprise", RoleWorkstation), true, ""},
		{"Windows 8.1", win("Windows 8.1 Pro", "6.3.9600", "9600.20778", "Professional", RoleWorkstation), true, "NT 6.3.9600"},
		{"Windows 8.1 from WMI with revision", win("Windows 8.1", "6.3.9600.17400", "", "", ""), true, ""},
		{"Windows 8", win("Windows 8 Pro", "6.2.9200", "9200", "Professional", RoleWorkstation), false, "older than Windows 8.1"},
		{"Windows 7 SP1", win("Windows 7 Professional", "6.1.7601", "7601.24546", "Professional", RoleWorkstation), false, "older than Windows 8.1"},
		{"Windows 7 RTM", win("Windows 7 Ultimate", "6.1.7600", "7600", "Ultimate", RoleWorkstation), false, ""},
		{"Windows Vista", win("Windows Vista Business", "6.0.6002", "6002", "Business", RoleWorkstation), false, ""},
		{"Windows XP", win("Windows XP Professional", "5.1.2600", "2600", "", RoleWorkstation), false, ""},
		{"Version 6.3 without build", win("Windows 8.1", "6.3", "", "", ""), true, ""},
		{"Only build 9600", win("Windows", "", "9600.20778", "", ""), true, "build 9600"},
		{"Only build 7601", win("Windows", "", "7601", "", ""), false, "build 7601"},
		// Servers.
		{"Server 2012 R2 Standard", win("Windows Server 2012 R2 Standard", "6.3.9600", "9600.21620", "ServerStandard", RoleServer), true, "Windows Server 2012 R2 or later"},
		{"Server 2012 R2 Datacenter", win("Windows Server 2012 R2 Datacenter", "6.3.9600", "9600", "ServerDatacenter", RoleServer), true, ""},
		{"Server 2012", win("Windows Server 2012 Standard", "6.2.9200", "9200", "ServerStandard", RoleServer), false, "older than Windows Server 2012 R2"},
		{"Server 2008 R2 SP1", win("Windows Server 2008 R2 Enterprise", "6.1.7601", "7601", "ServerEnterprise", RoleServer), false, "older than Windows Server 2012 R2"},
		{"Server 2008", win("Windows Server 2008 Standard", "6.0.6003", "6003", "ServerStandard", RoleServer), false, ""},
		{"Server 2016", win("Windows Server 2016 Standard", "10.0.14393", "14393.6897", "ServerStandard", RoleServer), true, ""},
		{"Server 2019 Datacenter", win("Windows Server 2019 Datacenter", "10.0.17763", "17763.5696", "ServerDatacenter", RoleServer), true, ""},
		{"Server 2022 DC role", win("Windows Server 2022 Datacenter", "10.0.20348", "20348.2402", "ServerDatacenter", RoleDomainController), true, ""},
		{"Server 2025", win("Windows Server 2025 Standard", "10.0.26100", "26100.1742", "ServerStandard", RoleServer), true, ""},
		{"Server detected by name only", win("Windows Server 2012 Standard", "6.2.9200", "", "", ""), false, "Windows Server 2012 R2"},
		{"Server 2012 R2 Essentials", win("Windows Server 2012 R2 Essentials", "6.3.9600", "9600", "ServerSolution", RoleServer), false, "below Standard"},
		{"Server 2016 Essentials", win("Windows Server 2016 Essentials", "10.0.14393", "14393", "ServerSolution", RoleServer), false, "below Standard"},
		{"Server 2012 R2 Foundation", win("Windows Server 2012 R2 Foundation", "6.3.9600", "9600", "ServerFoundation", RoleServer), false, "below Standard"},
		{"Server Standard Evaluation", win("Windows Server 2022 Standard Evaluation", "10.0.20348", "20348", "ServerStandardEval", RoleServer), true, ""},
		// Unreadable.
		{"Garbage version", win("Windows", "ten", "", "", ""), false, "cannot read"},
		{"No version at all", win("Windows", "", "", "", ""), false, "cannot read"},
		// Other families.
		{"Debian", OS{Family: FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12"}, true, "no minimum linux version"},
		{"macOS", OS{Family: FamilyMacOS, Name: "macOS Sonoma", Version: "14.4.1"}, true, ""},
		{"Unknown family", OS{}, false, "unknown"},
		{"Other family", OS{Family: "freebsd"}, false, "not covered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Serviceability(tt.os)
			if got != tt.want {
				t.Errorf("Serviceability(%+v) = %v (%s), want %v", tt.os, got, reason, tt.want)
			}
			if reason == "" || !strings.Contains(reason, tt.wantReason) {
				t.Errorf("Serviceability(%+v) reason = %q, want it to contain %q", tt.os, reason, tt.wantReason)
			}
		})
	}
}

func TestHost_Serviceable(t *testing.T) {
	win11 := OS{Family: FamilyWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Role: RoleWorkstation}
	tests := []struct {
		name       string
		host       Host
		want       bool
		wantReason string
	}{
		{"Activated", Host{OS: win11, Licensing: &Licensing{Activated: true, LicenseStatus: LicenseLicensed}}, true, "activated"},
		{"NotificationMode", Host{OS: win11, Licensing: &Licensing{LicenseStatus: LicenseNotification}}, false, "Notification"},
		{"ActivationUnknown", Host{OS: win11}, false, "unknown"},
		{"TooOldEvenIfActivated", Host{OS: OS{Family: FamilyWindows, Version: "6.1.7601"}, Licensing: &Licensing{Activated: true}}, false, "older"},
		{"LinuxNeedsNoLicence", Host{OS: OS{Family: FamilyLinux, Version: "12"}}, true, "linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := tt.host.Serviceable()
			if got != tt.want || !strings.Contains(reason, tt.wantReason) {
				t.Errorf("Serviceable() = %v, %q; want %v and a reason containing %q", got, reason, tt.want, tt.wantReason)
			}
		})
	}
}
