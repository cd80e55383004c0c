package inventory

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the .golden.json files in testdata")

// goldenParsers map a testdata file prefix to the parser that reads it.
// Every input file must have a parser and a golden file.
var goldenParsers = map[string]func(t *testing.T, in []byte) any{
	"linux/os-release.": func(t *testing.T, in []byte) any { return linuxOS(parseOSRelease(in), "") },
	"linux/cpuinfo.":    func(t *testing.T, in []byte) any { return parseCPUInfo(in) },
	"linux/mounts.":     func(t *testing.T, in []byte) any { return localDisks(parseMounts(in)) },
	"linux/meminfo.": func(t *testing.T, in []byte) any {
		n, err := parseMeminfo(in)
		if err != nil {
			t.Fatal(err)
		}
		return n
	},
	"linux/stat.": func(t *testing.T, in []byte) any {
		b, err := parseBtime(in)
		if err != nil {
			t.Fatal(err)
		}
		return b
	},
	"linux/who.":        func(t *testing.T, in []byte) any { return parseWho(in) },
	"linux/realm-list.": func(t *testing.T, in []byte) any { return parseRealmList(in) },
	"windows/query-user.": func(t *testing.T, in []byte) any {
		return parseQueryUser(in)
	},
	"windows/cim.": func(t *testing.T, in []byte) any {
		r, err := parseCIMReport(in)
		if err != nil {
			t.Fatal(err)
		}
		var h Host
		applyCIM(&h, r)
		return h
	},
	"windows/uninstall.": func(t *testing.T, in []byte) any {
		var entries []uninstallEntry
		if err := json.Unmarshal(in, &entries); err != nil {
			t.Fatal(err)
		}
		return dedupeSoftware(softwareFromUninstall(entries, "amd64"))
	},
	"darwin/ioreg.": func(t *testing.T, in []byte) any { return parseIORegPlatform(in) },
	"darwin/sw_vers.": func(t *testing.T, in []byte) any {
		o, err := macOSFromSwVers(in)
		if err != nil {
			t.Fatal(err)
		}
		return o
	},
	"darwin/sysctl.": func(t *testing.T, in []byte) any {
		var h Host
		if err := applySysctl(&h, in); err != nil {
			t.Fatal(err)
		}
		return h
	},
	"darwin/applications.": func(t *testing.T, in []byte) any {
		s, err := parseApplications(in)
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

// TestGolden runs every recorded sample in testdata through its parser and
// compares the result with the sample's .golden.json. Run with -update to
// rewrite the golden files after a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		rel := filepath.ToSlash(strings.TrimPrefix(in, "testdata"+string(filepath.Separator)))
		if strings.HasSuffix(rel, ".golden.json") || strings.HasSuffix(rel, "README.md") {
			continue
		}
		var parse func(*testing.T, []byte) any
		for prefix, p := range goldenParsers {
			if strings.HasPrefix(rel, prefix) {
				parse = p
			}
		}
		if parse == nil {
			t.Errorf("testdata/%s: no parser registered for this sample", rel)
			continue
		}
		n++
		t.Run(rel, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, in+".golden.json", parse(t, b))
		})
	}
	if n < 20 {
		t.Errorf("found %d samples in testdata, want at least 20", n)
	}
}

func checkGolden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
