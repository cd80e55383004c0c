package inventory

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestWindowsOS(t *testing.T) {
	tests := []struct {
		name string
		in   windowsVersion
		want OS
	}{
		{
			name: "Windows11ReportsWindows10InProductName",
			in:   windowsVersion{ProductName: "Windows 10 Pro", EditionID: "Professional", DisplayVersion: "23H2", CurrentVersion: "6.3", CurrentBuild: "22631", InstallationType: "Client", Major: 10, HasMajor: true, UBR: 3447, HasUBR: true},
			want: OS{Family: FamilyWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Build: "22631.3447", Edition: "Professional", Release: "23H2", Role: RoleWorkstation, Kernel: "10.0.22631.3447"},
		},
		{
			name: "Windows11FirstBuild",
			in:   windowsVersion{ProductName: "Windows 10 Enterprise", CurrentBuild: "22000", Major: 10, HasMajor: true, InstallationType: "Client"},
			want: OS{Family: FamilyWindows, Name: "Windows 11 Enterprise", Version: "10.0.22000", Build: "22000", Role: RoleWorkstation, Kernel: "10.0.22000"},
		},
		{
			name: "Windows10LastBuildStaysWindows10",
			in:   windowsVersion{ProductName: "Windows 10 Pro", CurrentBuild: "19045", ReleaseID: "2009", DisplayVersion: "22H2", Major: 10, HasMajor: true, UBR: 4291, HasUBR: true, InstallationType: "Client"},
			want: OS{Family: FamilyWindows, Name: "Windows 10 Pro", Version: "10.0.19045", Build: "19045.4291", Release: "22H2", Role: RoleWorkstation, Kernel: "10.0.19045.4291"},
		},
		{
			name: "Windows10BeforeDisplayVersionUsesReleaseId",
			in:   windowsVersion{ProductName: "Windows 10 Enterprise", CurrentBuild: "17763", ReleaseID: "1809", Major: 10, HasMajor: true, InstallationType: "Client"},
			want: OS{Family: FamilyWindows, Name: "Windows 10 Enterprise", Version: "10.0.17763", Build: "17763", Release: "1809", Role: RoleWorkstation, Kernel: "10.0.17763"},
		},
		{
			name: "Server2022NameNeverRenamed",
			in:   windowsVersion{ProductName: "Windows Server 2022 Datacenter", EditionID: "ServerDatacenter", CurrentBuild: "20348", DisplayVersion: "21H2", InstallationType: "Server Core", Major: 10, HasMajor: true, UBR: 2402, HasUBR: true},
			want: OS{Family: FamilyWindows, Name: "Windows Server 2022 Datacenter", Version: "10.0.20348", Build: "20348.2402", Edition: "ServerDatacenter", Release: "21H2", Role: RoleServer, Kernel: "10.0.20348.2402"},
		},
		{
			name: "Server2025WithWindows10StyleNameIsNotRenamed",
			in:   windowsVersion{ProductName: "Windows Server 2025 Standard", EditionID: "ServerStandard", CurrentBuild: "26100", InstallationType: "Server", Major: 10, HasMajor: true},
			want: OS{Family: FamilyWindows, Name: "Windows Server 2025 Standard", Version: "10.0.26100", Build: "26100", Edition: "ServerStandard", Role: RoleServer, Kernel: "10.0.26100"},
		},
		{
			name: "Windows81HasNoMajorNumber",
			in:   windowsVersion{ProductName: "Windows 8.1 Pro", EditionID: "Professional", CurrentVersion: "6.3", CurrentBuild: "9600", UBR: 20778, HasUBR: true, InstallationType: "Client"},
			want: OS{Family: FamilyWindows, Name: "Windows 8.1 Pro", Version: "6.3.9600", Build: "9600.20778", Edition: "Professional", Role: RoleWorkstation, Kernel: "6.3.9600.20778"},
		},
		{
			name: "Windows7ServicePack",
			in:   windowsVersion{ProductName: "Windows 7 Professional", EditionID: "Professional", CurrentVersion: "6.1", CurrentBuild: "7601", CSDVersion: "Service Pack 1", InstallationType: "Client"},
			want: OS{Family: FamilyWindows, Name: "Windows 7 Professional", Version: "6.1.7601", Build: "7601", Edition: "Professional", Release: "Service Pack 1", Role: RoleWorkstation, Kernel: "6.1.7601"},
		},
		{
			name: "EmptyRegistry",
			in:   windowsVersion{},
			want: OS{Family: FamilyWindows, Name: "Windows"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, windowsOS(tt.in)); diff != "" {
				t.Errorf("windowsOS() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWindowsProductName(t *testing.T) {
	tests := []struct {
		product string
		build   int
		server  bool
		want    string
	}{
		{"Microsoft Windows 11 Pro", 22631, false, "Windows 11 Pro"},
		{"Windows 10 Home", 26100, false, "Windows 11 Home"},
		{"Windows 10 Pro for Workstations", 22621, false, "Windows 11 Pro for Workstations"},
		{"Windows 10 Pro", 21996, false, "Windows 10 Pro"},
		{"Windows 10 Enterprise multi-session", 22631, true, "Windows 10 Enterprise multi-session"},
		{"Microsoft Windows Server 2016 Standard", 14393, true, "Windows Server 2016 Standard"},
		{"", 22631, false, "Windows"},
	}
	for _, tt := range tests {
		if got := windowsProductName(tt.product, tt.build, tt.server); got != tt.want {
			t.Errorf("windowsProductName(%q, %d, %v) = %q, want %q", tt.product, tt.build, tt.server, got, tt.want)
		}
	}
}

func TestWindowsLicensing(t *testing.T) {
	tests := []struct {
		name string
		rows []cimLicensing
		want *Licensing
	}{
		{"None", nil, nil},
		{"Retail", []cimLicensing{{Name: "Windows(R), Professional edition", LicenseStatus: "1", Description: "Windows(R) Operating System, RETAIL channel"}},
			&Licensing{Activated: true, LicenseStatus: LicenseLicensed, Product: "Windows(R), Professional edition", Channel: "RETAIL"}},
		{"GraceIsNotActivated", []cimLicensing{{Name: "Windows(R), ServerStandard edition", LicenseStatus: "2", Description: "Windows(R) Operating System, VOLUME_KMSCLIENT channel"}},
			&Licensing{LicenseStatus: LicenseOOBGrace, Product: "Windows(R), ServerStandard edition", Channel: "VOLUME_KMSCLIENT"}},
		{"OEMWithColon", []cimLicensing{{Name: "Windows(R), Core edition", LicenseStatus: "1", Description: "Windows(R) Operating System, OEM:DM channel"}},
			&Licensing{Activated: true, LicenseStatus: LicenseLicensed, Product: "Windows(R), Core edition", Channel: "OEM_DM"}},
		{"UnknownStatus", []cimLicensing{{Name: "Windows(R), Enterprise edition", LicenseStatus: "9"}},
			&Licensing{LicenseStatus: LicenseUnknown, Product: "Windows(R), Enterprise edition"}},
		{"ESUAddOnFirstIsSkipped", []cimLicensing{
			{Name: "Windows(R), Client-ESU-Year1 add-on for Education,Enterprise,Professional", LicenseStatus: "1", Description: "Windows(R) Operating System, VOLUME_MAK channel"},
			{Name: "Windows(R), Professional edition", LicenseStatus: "0", Description: "Windows(R) Operating System, RETAIL channel"},
		}, &Licensing{LicenseStatus: LicenseUnlicensed, Product: "Windows(R), Professional edition", Channel: "RETAIL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, windowsLicensing(tt.rows)); diff != "" {
				t.Errorf("windowsLicensing() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCIMReport_Errors(t *testing.T) {
	for _, in := range []string{"", "not json", `{"ComputerSystem": 5}`, `{"Processor": [{"NumberOfCores": {}}]}`} {
		if _, err := parseCIMReport([]byte(in)); err == nil {
			t.Errorf("parseCIMReport(%q) succeeded, want an error", in)
		}
	}
	// PowerShell prints a warning before the JSON on some hosts.
	r, err := parseCIMReport([]byte("WARNING: something\r\n{\"ComputerSystem\":{\"Name\":\"A\"}}"))
	if err != nil || len(r.ComputerSystem) != 1 || r.ComputerSystem[0].Name != "A" {
		t.Errorf("parseCIMReport with a leading warning = %+v, %v", r, err)
	}
}

func TestEncodePowerShell(t *testing.T) {
	enc := encodePowerShell("Get-Date | ConvertTo-Json # é")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	if got := string(utf16.Decode(u)); got != "Get-Date | ConvertTo-Json # é" {
		t.Errorf("round trip = %q", got)
	}
	if len(windowsInventoryScript) > 8000 {
		// powershell.exe's command line is limited to 32767 UTF-16 units;
		// base64 of UTF-16 quadruples the script.
		t.Errorf("inventory script is %d bytes; keep it under 8000", len(windowsInventoryScript))
	}
}

func TestWindowsRebootReasons(t *testing.T) {
	tests := []struct {
		cbs, wu bool
		renames []string
		want    []RebootReason
	}{
		{false, false, nil, nil},
		{false, false, []string{"", ""}, nil},
		{true, false, nil, []RebootReason{RebootCBS}},
		{true, true, []string{`\??\C:\Windows\Temp\x.tmp`, ""}, []RebootReason{RebootCBS, RebootWindowsUpdate, RebootFileRename}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, windowsRebootReasons(tt.cbs, tt.wu, tt.renames)); diff != "" {
			t.Errorf("windowsRebootReasons(%v, %v, %q) mismatch (-want +got):\n%s", tt.cbs, tt.wu, tt.renames, diff)
		}
	}
}

func TestParseOSRelease_Quoting(t *testing.T) {
	in := "# comment\nNAME=\"Fancy \\\"Linux\\\"\"\nID=fancy\nVERSION_ID='1.0'\nBROKEN LINE\n=novalue\nVARIANT=\"Server Edition\"\nEMPTY=\n"
	got := parseOSRelease([]byte(in))
	want := map[string]string{"NAME": `Fancy "Linux"`, "ID": "fancy", "VERSION_ID": "1.0", "VARIANT": "Server Edition", "EMPTY": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseOSRelease mismatch (-want +got):\n%s", diff)
	}
}

func TestLinuxOS(t *testing.T) {
	tests := []struct {
		name          string
		rel           map[string]string
		debianVersion string
		want          OS
	}{
		{"DebianPointRelease", map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"}, "12.5\n",
			OS{Family: FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Build: "12.5", Release: "bookworm", Distribution: "debian"}},
		{"DebianTestingHasNoNumber", map[string]string{"PRETTY_NAME": "Debian GNU/Linux trixie/sid", "ID": "debian"}, "trixie/sid",
			OS{Family: FamilyLinux, Name: "Debian GNU/Linux trixie/sid", Distribution: "debian"}},
		{"ArchRolling", map[string]string{"NAME": "Arch Linux", "ID": "arch", "BUILD_ID": "rolling"}, "",
			OS{Family: FamilyLinux, Name: "Arch Linux", Build: "rolling", Distribution: "arch"}},
		{"FedoraVariant", map[string]string{"PRETTY_NAME": "Fedora Linux 40 (Server Edition)", "ID": "fedora", "VERSION_ID": "40", "VARIANT": "Server Edition"}, "",
			OS{Family: FamilyLinux, Name: "Fedora Linux 40 (Server Edition)", Version: "40", Edition: "Server Edition", Distribution: "fedora"}},
		{"Empty", map[string]string{}, "", OS{Family: FamilyLinux, Name: "Linux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, linuxOS(tt.rel, tt.debianVersion)); diff != "" {
				t.Errorf("linuxOS mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewerKernel(t *testing.T) {
	tests := []struct {
		running   string
		installed []string
		want      string
	}{
		{"6.1.0-18-amd64", []string{"6.1.0-18-amd64", "6.1.0-21-amd64", "6.1.0-17-amd64"}, "6.1.0-21-amd64"},
		{"6.1.0-21-amd64", []string{"6.1.0-18-amd64", "6.1.0-21-amd64"}, ""},
		{"5.14.0-70.13.1.el9_0.x86_64", []string{"5.14.0-427.13.1.el9_4.x86_64", "5.14.0-70.13.1.el9_0.x86_64"}, "5.14.0-427.13.1.el9_4.x86_64"},
		{"6.8.0-31-generic", []string{"6.8.0-9-generic"}, ""},
		{"6.18.44-fc-v669", nil, ""},
	}
	for _, tt := range tests {
		got, ok := newerKernel(tt.running, tt.installed)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("newerKernel(%q, %q) = %q, %v; want %q", tt.running, tt.installed, got, ok, tt.want)
		}
	}
}

func TestChooseFQDN(t *testing.T) {
	tests := []struct {
		host       string
		candidates []string
		want       string
	}{
		{"web1", []string{"web1", "web1.corp.example.com\n"}, "web1.corp.example.com"},
		{"web1", []string{"WEB1.Corp.Example.COM."}, "web1.corp.example.com"},
		{"web1", []string{"web1"}, ""},
		{"web1", []string{"other.example.com"}, ""},
		{"web1", []string{"web1.localdomain"}, ""},
		{"web1.corp.example.com", []string{"web1.corp.example.com"}, "web1.corp.example.com"},
		{"web1", []string{"hostname: Name or service not known"}, ""},
	}
	for _, tt := range tests {
		if got := chooseFQDN(tt.host, tt.candidates...); got != tt.want {
			t.Errorf("chooseFQDN(%q, %q) = %q, want %q", tt.host, tt.candidates, got, tt.want)
		}
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nameserver 10.255.255.53\n", ""},
		{"search corp.example.com example.com\nnameserver 192.0.2.1\n", "corp.example.com"},
		{"domain a.example\nsearch b.example c.example\n", "b.example"},
		{"# search x.example\n; domain y.example\ndomain z.example.\n", "z.example"},
		{"search .\n", ""},
	}
	for _, tt := range tests {
		if got := parseResolvConf([]byte(tt.in)); got != tt.want {
			t.Errorf("parseResolvConf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRealmList_NotConfigured(t *testing.T) {
	in := "example.com\n  type: kerberos\n  domain-name: example.com\n  configured: no\n  server-software: active-directory\n"
	if got := parseRealmList([]byte(in)); got != "" {
		t.Errorf("parseRealmList(discovered, not joined) = %q, want \"\"", got)
	}
}

func TestUnescapeOctal(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/media/My\040Passport`, "/media/My Passport"},
		{`/a\011tab\134back`, "/a\ttab\\back"},
		{`/trailing\04`, `/trailing\04`},
		{`/bad\999`, `/bad\999`},
		{`\`, `\`},
	}
	for _, tt := range tests {
		if got := unescapeOctal(tt.in); got != tt.want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPrimaryUser(t *testing.T) {
	tests := []struct {
		name     string
		console  string
		sessions []Session
		want     string
	}{
		{"ConsoleUserWins", `CORP\jane`, []Session{{User: "ops"}, {User: "ops"}}, `CORP\jane`},
		{"ConsoleSessionBeatsMoreRemoteSessions", "", []Session{{User: "ops"}, {User: "ops"}, {User: "jane", Console: true}}, "jane"},
		{"MostSessions", "", []Session{{User: "root"}, {User: "ops"}, {User: "ops"}}, "ops"},
		{"TieAlphabetical", "", []Session{{User: "zed"}, {User: "amy"}}, "amy"},
		{"Nobody", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := primaryUser(tt.console, tt.sessions); got != tt.want {
				t.Errorf("primaryUser() = %q, want %q", got, tt.want)
			}
		})
	}
	b := []byte("jane     tty2         2024-04-15 09:03 (tty2)\nops pts/0 Apr 15 10:20 (198.51.100.7)\nops pts/1 Apr 15 10:21 (198.51.100.7)\n")
	if got := primaryUser("", parseWho(b)); got != "jane" {
		t.Errorf("primaryUser(who) = %q, want jane (console)", got)
	}
}

func TestAddresses(t *testing.T) {
	addr := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	nics := []nic{
		{Name: "lo", Up: true, Loopback: true, MAC: "", Addrs: addr("127.0.0.1", "::1")},
		{Name: "eth0", Up: true, MAC: "02:FC:00:00:00:01", Addrs: addr("192.0.2.2", "fe80::1", "fd00::2")},
		{Name: "wlan0", Up: false, MAC: "a4:5e:60:c1:22:33", Addrs: addr("198.51.100.9")},
		{Name: "docker0", Up: true, MAC: "02:42:ac:11:00:01", Addrs: addr("172.17.0.1")},
		{Name: "br0", Up: true, MAC: "52:54:00:12:34:56", Virtual: true, Addrs: addr("203.0.113.4", "169.254.3.3")},
		{Name: "vEthernet (Default Switch)", Up: true, MAC: "00:15:5d:01:02:03", Addrs: addr("172.20.0.1")},
		{Name: "utun3", Up: true, MAC: "", Addrs: addr("fe80::aa")},
		{Name: "eth1", Up: true, MAC: "00:00:00:00:00:00"},
		{Name: "ib0", Up: true, MAC: "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c"},
		{Name: "eth0.10", Up: true, MAC: "02:fc:00:00:00:01", Addrs: addr("192.0.2.2")},
	}
	ips, macs := addresses(nics)
	wantIPs := []string{"172.20.0.1", "192.0.2.2", "203.0.113.4", "fd00::2"}
	wantMACs := []string{"02:fc:00:00:00:01", "a4:5e:60:c1:22:33"}
	if diff := cmp.Diff(wantIPs, ips); diff != "" {
		t.Errorf("IPs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantMACs, macs); diff != "" {
		t.Errorf("MACs mismatch (-want +got):\n%s", diff)
	}
}

func TestApplySysctl_Errors(t *testing.T) {
	var h Host
	err := applySysctl(&h, []byte("kern.boottime: { sec = x }\nhw.ncpu: 4\n"))
	if err == nil || !strings.Contains(err.Error(), "kern.boottime") || !strings.Contains(err.Error(), "hw.memsize") {
		t.Errorf("applySysctl(bad) error = %v, want boottime and memsize errors", err)
	}
	if h.CPU.Threads != 4 {
		t.Errorf("applySysctl kept %d threads, want 4 despite the errors", h.CPU.Threads)
	}
	h = Host{}
	if err := applySysctl(&h, []byte("hw.memsize: 8589934592\nhw.machine: x86_64\nsysctl.proc_translated: 1\n")); err != nil {
		t.Fatal(err)
	}
	if h.OS.Arch != "arm64" {
		t.Errorf("under Rosetta arch = %q, want arm64", h.OS.Arch)
	}
}

func TestMacOSFromSwVers(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		wantErr  bool
	}{
		{"ProductName:\tmacOS\nProductVersion:\t14.4.1\nBuildVersion:\t23E224\n", "macOS Sonoma", false},
		{"ProductName:\t\tmacOS\nProductVersion:\t\t26.0\nBuildVersion:\t\t25A354\n", "macOS Tahoe", false},
		{"ProductName:\tmacOS\nProductVersion:\t11.7.10\nBuildVersion:\t20G1427\n", "macOS Big Sur", false},
		{"ProductName:\tMac OS X\nProductVersion:\t10.11.6\nBuildVersion:\t15G31\n", "OS X El Capitan", false},
		{"ProductName:\tmacOS\nProductVersion:\t99.1\nBuildVersion:\t99A1\n", "macOS 99.1", false},
		{"garbage", "", true},
	}
	for _, tt := range tests {
		got, err := macOSFromSwVers([]byte(tt.in))
		if (err != nil) != tt.wantErr || got.Name != tt.wantName {
			t.Errorf("macOSFromSwVers(%q) = %q, %v; want %q (error %v)", tt.in, got.Name, err, tt.wantName, tt.wantErr)
		}
	}
}

func TestDarwinMountWanted(t *testing.T) {
	tests := []struct {
		mount, fs string
		local     bool
		want      bool
	}{
		{"/", "apfs", true, true},
		{"/System/Volumes/Data", "apfs", true, false},
		{"/System/Volumes/VM", "apfs", true, false},
		{"/dev", "devfs", true, false},
		{"/Volumes/Backup", "hfs", true, true},
		{"/Volumes/share", "smbfs", false, false},
		{"/System/Volumes/Data/home", "autofs", true, false},
	}
	for _, tt := range tests {
		if got := darwinMountWanted(tt.mount, tt.fs, tt.local); got != tt.want {
			t.Errorf("darwinMountWanted(%q, %q, %v) = %v, want %v", tt.mount, tt.fs, tt.local, got, tt.want)
		}
	}
}

func TestConsoleUser(t *testing.T) {
	for in, want := range map[string]string{"jane\n": "jane", "root\n": "", "": "", "two words": ""} {
		if got := consoleUser([]byte(in)); got != want {
			t.Errorf("consoleUser(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormaliseArch(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "ARM64": "arm64", "i686": "386",
		"x86": "386", "armv7l": "arm", "ppc64le": "ppc64le", "": "", "mips64": "mips64",
	} {
		if got := normaliseArch(in); got != want {
			t.Errorf("normaliseArch(%q) = %q, want %q", in, got, want)
		}
	}
}
