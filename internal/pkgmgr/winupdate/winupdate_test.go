package winupdate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/pkgmgr"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func readRecords(t testing.TB, name string) []record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := parseDump(b)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestToUpdate_Golden(t *testing.T) {
	for _, name := range []string{"search-reconstructed-ps51", "search-single-de-ps7"} {
		t.Run(name, func(t *testing.T) {
			var ups []pkgmgr.Update
			for _, r := range readRecords(t, name+".json") {
				ups = append(ups, toUpdate(r))
			}
			golden(t, name, ups)
		})
	}
}

func TestToUpdate_Behaviour(t *testing.T) {
	rs := readRecords(t, "search-reconstructed-ps51.json")
	cu := toUpdate(rs[0])
	want := pkgmgr.Update{
		Source:               pkgmgr.SourceWindowsUpdate,
		ID:                   "5b1d2b3e-0a2c-4a55-9c1f-6f1a8e2d7c41.1",
		Package:              "KB5041585",
		Title:                "2024-08 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5041585)",
		Product:              "Windows 11",
		Classification:       pkgmgr.ClassSecurity,
		VendorClassification: "Security Updates",
		VendorSeverity:       "Critical",
		KBs:                  []string{"KB5041585"},
		CVEs:                 []string{"CVE-2024-38063", "CVE-2024-38106"},
		ReleaseDate:          time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC),
		Size:                 137438953472,
		RebootRequired:       true,
		Supersedes:           []string{"9a2b4e3c-1d7f-4e0b-8c55-2b6e1f0a9d13"},
	}
	if diff := cmp.Diff(want, cu); diff != "" {
		t.Errorf("cumulative update (-want +got):\n%s", diff)
	}
	var classes []pkgmgr.Classification
	for _, r := range rs {
		classes = append(classes, toUpdate(r).Classification)
	}
	wantClasses := []pkgmgr.Classification{pkgmgr.ClassSecurity, pkgmgr.ClassSecurity, pkgmgr.ClassCritical, pkgmgr.ClassDefinition, pkgmgr.ClassUpdateRollup}
	if diff := cmp.Diff(wantClasses, classes); diff != "" {
		t.Errorf("classifications (-want +got):\n%s", diff)
	}
	// German names classify through the category ID; one object, ISO date.
	de := readRecords(t, "search-single-de-ps7.json")
	if len(de) != 1 {
		t.Fatalf("single-object dump gave %d records", len(de))
	}
	u := toUpdate(de[0])
	if u.Classification != pkgmgr.ClassSecurity || u.VendorClassification != "Sicherheitsupdates" || !u.ReleaseDate.Equal(time.Date(2023, 11, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("German update = %+v", u)
	}
}

func TestClassify(t *testing.T) {
	cat := func(name, id string) category {
		return category{Name: name, CategoryID: id, Type: "UpdateClassification"}
	}
	tests := []struct {
		name string
		r    record
		want pkgmgr.Classification
	}{
		{"id wins over a foreign name", record{Categories: []category{cat("Mises à jour de sécurité", "{0FA1201D-4330-4FA8-8AE9-B877473B6441}")}}, pkgmgr.ClassSecurity},
		{"english name without id", record{Categories: []category{cat("Service Packs", "")}}, pkgmgr.ClassServicePack},
		{"upgrades are feature updates", record{Categories: []category{cat("Upgrades", "3689bdc8-b205-4af4-8d4a-a63924c5e9d5")}}, pkgmgr.ClassFeaturePack},
		{"feature packs", record{Categories: []category{cat("Feature Packs", "")}}, pkgmgr.ClassFeaturePack},
		{"tools", record{Categories: []category{cat("Tools", "b4832bd8-e735-4761-8daf-37f882276dab")}}, pkgmgr.ClassTool},
		{"plain updates", record{Categories: []category{cat("Updates", "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83")}}, pkgmgr.ClassBugfix},
		{"drivers", record{Categories: []category{cat("Drivers", "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0")}}, pkgmgr.ClassDriver},
		{"product categories are not classifications", record{Categories: []category{{Name: "Tools", Type: "Product"}}}, pkgmgr.ClassUnclassified},
		{"driver type without category", record{Type: 2}, pkgmgr.ClassDriver},
		{"nothing known", record{Categories: []category{cat("Guidance", "9511d615-35b2-47bb-927f-f73d8e9260bb")}}, pkgmgr.ClassUnclassified},
	}
	for _, tt := range tests {
		if got, _ := classify(tt.r); got != tt.want {
			t.Errorf("%s: classify = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	k := key("06351195-D8EA-467E-A4F0-9DB0128723D3", 201)
	if k != "06351195-d8ea-467e-a4f0-9db0128723d3.201" {
		t.Errorf("key = %q", k)
	}
	id, rev, err := parseKey(k)
	if err != nil || id != "06351195-d8ea-467e-a4f0-9db0128723d3" || rev != 201 {
		t.Errorf("parseKey(%q) = %q, %d, %v", k, id, rev, err)
	}
	for _, bad := range []string{"", "KB5041585", "06351195-d8ea-467e-a4f0-9db0128723d3", "x.1", "06351195-d8ea-467e-a4f0-9db0128723d3.-1", "06351195-d8ea-467e-a4f0-9db0128723d3.abc"} {
		if _, _, err := parseKey(bad); err == nil {
			t.Errorf("parseKey(%q) succeeded", bad)
		}
	}
}

func TestPlan(t *testing.T) {
	rs := readRecords(t, "search-reconstructed-ps51.json")
	pick, items := plan(rs, []pkgmgr.Target{
		{ID: "06351195-d8ea-467e-a4f0-9db0128723d3.201", Package: "KB3191869"},
		{ID: "11E5D690-361B-4CC6-AB4B-88FB87B008F6.199", Package: "KB4486711"}, // older revision approved
		{ID: "00000000-0000-0000-0000-000000000000.1", Package: "KB1"},
		{ID: "KB5041585", Package: "KB5041585"},
	})
	if diff := cmp.Diff([]int{1, -1, -1, -1}, pick); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	var got []string
	for _, it := range items {
		got = append(got, string(it.Status)+": "+it.Detail)
	}
	want := []string{
		": ",
		"skipped: Windows Update now offers revision 200, not the approved 199",
		"skipped: no longer offered (installed, superseded or hidden)",
		`failed: update id "KB5041585" is not GUID.revision`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		code   int32
		reboot bool
		want   pkgmgr.ItemStatus
	}{
		{orcSucceeded, false, pkgmgr.ItemInstalled},
		{orcSucceeded, true, pkgmgr.ItemInstalled},
		{orcSucceededWithErrors, false, pkgmgr.ItemInstalled},
		{orcFailed, false, pkgmgr.ItemFailed},
		{orcAborted, false, pkgmgr.ItemFailed},
		{orcNotStarted, false, pkgmgr.ItemSkipped},
	}
	for _, tt := range tests {
		if got, _ := outcome(tt.code, -2145124318, tt.reboot); got != tt.want {
			t.Errorf("outcome(%d) = %s, want %s", tt.code, got, tt.want)
		}
	}
	if _, d := outcome(orcFailed, -2145124318, false); !strings.Contains(d, "0x80240022") {
		t.Errorf("failure detail %q should carry the HRESULT in hex", d)
	}
}

func TestDecimalToInt64(t *testing.T) {
	dec := func(scale byte, neg bool, hi uint32, lo uint64) [16]byte {
		var b [16]byte
		binary.LittleEndian.PutUint16(b[0:2], 14) // VT_DECIMAL where wReserved lives
		b[2] = scale
		if neg {
			b[3] = 0x80
		}
		binary.LittleEndian.PutUint32(b[4:8], hi)
		binary.LittleEndian.PutUint64(b[8:16], lo)
		return b
	}
	tests := []struct {
		in   [16]byte
		want int64
	}{
		{dec(0, false, 0, 67042638), 67042638},
		{dec(0, false, 0, 137438953472), 137438953472},
		{dec(2, false, 0, 12345), 123},
		{dec(0, true, 0, 5), 0},
		{dec(0, false, 1, 0), 1<<63 - 1}, // beyond int64
	}
	for _, tt := range tests {
		if got := decimalToInt64(tt.in); got != tt.want {
			t.Errorf("decimalToInt64(% x) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeKB(t *testing.T) {
	for in, want := range map[string]string{"KB5032339": "5032339", "kb890830": "890830", "2267602": "2267602"} {
		if got, err := normalizeKB(in); err != nil || got != want {
			t.Errorf("normalizeKB(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "KB", "KB-1", "-5032339", "5032339 /quiet", "KB5032339;calc", "12345678901", "５０３２３３９"} {
		if _, err := normalizeKB(bad); err == nil {
			t.Errorf("normalizeKB(%q) succeeded", bad)
		}
	}
}

type fakeRunner struct {
	errs  map[string]error
	calls []pkgmgr.Command
}

func (f *fakeRunner) Run(_ context.Context, c pkgmgr.Command) ([]byte, error) {
	f.calls = append(f.calls, c)
	return nil, f.errs[c.String()]
}

func TestManager_Rollback(t *testing.T) {
	const wusa = `C:\Windows\System32\wusa.exe`
	f := &fakeRunner{errs: map[string]error{
		wusa + " /uninstall /kb:5041585 /quiet /norestart": &pkgmgr.ExitError{ExitCode: 3010},
		wusa + " /uninstall /kb:890830 /quiet /norestart":  &pkgmgr.ExitError{ExitCode: 0x240007},
		wusa + " /uninstall /kb:5005565 /quiet /norestart": &pkgmgr.ExitError{ExitCode: int(int32(-2145124329))},
	}}
	m := &Manager{runner: f, wusa: wusa}
	res, err := m.Rollback(t.Context(), pkgmgr.RollbackRequest{Targets: []pkgmgr.Target{
		{ID: "a", Package: "KB5041585"},
		{ID: "b", Package: "kb890830"},
		{ID: "c", Package: "5005565"},
		{ID: "d", Package: "KB5032339"},
		{ID: "e", Package: "KB1 /extract:C:\\"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, it.ID+" "+string(it.Status))
	}
	if diff := cmp.Diff([]string{"a installed", "b skipped", "c failed", "d installed", "e failed"}, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if !res.RebootRequired {
		t.Error("RebootRequired = false after wusa exit 3010")
	}
	wantCalls := []pkgmgr.Command{
		{Path: wusa, Args: []string{"/uninstall", "/kb:5041585", "/quiet", "/norestart"}},
		{Path: wusa, Args: []string{"/uninstall", "/kb:890830", "/quiet", "/norestart"}},
		{Path: wusa, Args: []string{"/uninstall", "/kb:5005565", "/quiet", "/norestart"}},
		{Path: wusa, Args: []string{"/uninstall", "/kb:5032339", "/quiet", "/norestart"}},
	}
	if diff := cmp.Diff(wantCalls, f.calls); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestParseDump_Errors(t *testing.T) {
	for _, in := range []string{"{", "[1]", `{"LastDeploymentChangeTime":"yesterday"}`, `{"RevisionNumber":"x"}`} {
		if _, err := parseDump([]byte(in)); err == nil {
			t.Errorf("parseDump(%q) succeeded", in)
		}
	}
	if rs, err := parseDump(nil); err != nil || len(rs) != 0 {
		t.Errorf("parseDump(empty) = %v, %v", rs, err)
	}
}

func FuzzParseDump(f *testing.F) {
	for _, n := range []string{"search-reconstructed-ps51.json", "search-single-de-ps7.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := parseDump(b)
		if err != nil {
			return
		}
		for _, r := range rs {
			u := toUpdate(r)
			if !strings.HasSuffix(u.ID, "."+itoa(r.RevisionNumber)) {
				t.Fatalf("ID %q does not end in the revision %d", u.ID, r.RevisionNumber)
			}
		}
	})
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

func FuzzDecimal(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		var raw [16]byte
		copy(raw[:], b)
		if decimalToInt64(raw) < 0 {
			t.Fatal("negative size")
		}
	})
}
