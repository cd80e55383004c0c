package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for every parser. Each is seeded with the recorded samples
// of its kind from testdata, so `go test` runs them over real output and
// `go test -fuzz=FuzzX` explores from there. The parsers must never panic
// on any input.

func addSeeds(f *testing.F, pattern string, extra ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if filepath.Ext(name) == ".json" && filepath.Ext(name[:len(name)-5]) == ".golden" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, e := range extra {
		f.Add([]byte(e))
	}
}

func FuzzParseOSRelease(f *testing.F) {
	addSeeds(f, "linux/os-release.*", "NAME='x\nID=\"\\", "=\n==\nA=\"\\\"")
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = linuxOS(parseOSRelease(b), string(b))
	})
}

func FuzzParseMeminfo(f *testing.F) {
	addSeeds(f, "linux/meminfo.*", "MemTotal:", "MemTotal: 99999999999999999999 kB", "MemTotal: 18446744073709551615 kB")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMeminfo(b)
	})
}

func FuzzParseCPUInfo(f *testing.F) {
	addSeeds(f, "linux/cpuinfo.*", "processor:\ncore id:1\n\n", ":::\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		c := parseCPUInfo(b)
		if c.Cores < 0 || c.Threads < 0 || (c.Threads > 0 && c.Cores > c.Threads) {
			t.Errorf("parseCPUInfo = %+v", c)
		}
	})
}

func FuzzParseMounts(f *testing.F) {
	addSeeds(f, "linux/mounts.*", `/dev/x /a\04 ext4 rw 0 0`, `\ \\ \0`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = localDisks(parseMounts(b))
	})
}

func FuzzParseBtime(f *testing.F) {
	addSeeds(f, "linux/stat.*", "btime -1", "btime 99999999999999999999")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseBtime(b)
	})
}

func FuzzParseWho(f *testing.F) {
	addSeeds(f, "linux/who.*", "a b (", "a b )", "a b ()")
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = primaryUser("", parseWho(b))
	})
}

func FuzzParseQueryUser(f *testing.F) {
	addSeeds(f, "windows/query-user.*", ">", ">a 1 2", " H\n>")
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseQueryUser(b)
	})
}

func FuzzParseRealmAndResolv(f *testing.F) {
	addSeeds(f, "linux/realm-list.*", "search\n", "domain .\n", " configured: x\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseRealmList(b)
		_ = parseResolvConf(b)
	})
}

func FuzzParseCIMReport(f *testing.F) {
	addSeeds(f, "windows/cim.*", `{"Processor":{"NumberOfCores":1e400}}`, `{"Licensing":[null]}`, "\xef\xbb\xbf{")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseCIMReport(b)
		if err != nil {
			return
		}
		var h Host
		applyCIM(&h, r)
		_ = h.IdentityKeys()
		_, _ = h.Serviceable()
	})
}

func FuzzParseSwVers(f *testing.F) {
	addSeeds(f, "darwin/sw_vers.*", "ProductVersion: 10.", "ProductVersion:10.x.y")
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := macOSFromSwVers(b)
		if err == nil {
			_, _ = Serviceability(o)
		}
	})
}

func FuzzApplySysctl(f *testing.F) {
	addSeeds(f, "darwin/sysctl.*", "kern.boottime: { sec = }", "kern.boottime: sec =")
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Host
		_ = applySysctl(&h, b)
	})
}

func FuzzParseIOReg(f *testing.F) {
	addSeeds(f, "darwin/ioreg.*", `"IOPlatformUUID" = <"x`, `| "model" = <"">`)
	f.Fuzz(func(t *testing.T, b []byte) {
		h := Host{Hardware: parseIORegPlatform(b)}
		_ = h.IdentityKey()
	})
}

func FuzzParseApplications(f *testing.F) {
	addSeeds(f, "darwin/applications.*", `{"SPApplicationsDataType":[{"_name":"a","path":".app/"}]}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseApplications(b)
	})
}

func FuzzIdentityKey(f *testing.F) {
	f.Add("{4C4C4544-0042-3510-8052-B4C04F4E4B33}", "B5RNKS3", "Latitude", "uninitialized")
	f.Add("", "To Be Filled By O.E.M.", "", "")
	f.Fuzz(func(t *testing.T, uuid, serial, model, machineID string) {
		h := Host{Hardware: Hardware{HardwareUUID: uuid, Serial: serial, Model: model, MachineID: machineID}}
		keys := h.IdentityKeys()
		again := Host{Hardware: Hardware{HardwareUUID: " " + uuid + " ", Serial: serial, Model: model, MachineID: machineID}}.IdentityKeys()
		if len(keys) > 0 && (len(again) == 0 || again[0] != keys[0]) && normaliseUUID(uuid) != "" {
			t.Errorf("surrounding spaces changed the key: %q vs %q", keys, again)
		}
	})
}

func FuzzServiceability(f *testing.F) {
	f.Add("6.3.9600", "9600.1", "ServerStandard", "Windows Server 2012 R2")
	f.Add("", "x.y", "", "")
	f.Fuzz(func(t *testing.T, version, build, edition, name string) {
		ok, reason := Serviceability(OS{Family: FamilyWindows, Version: version, Build: build, Edition: edition, Name: name})
		if reason == "" {
			t.Errorf("Serviceability(%q, %q) = %v with no reason", version, build, ok)
		}
	})
}
