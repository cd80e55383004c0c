package patch_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

func TestParseAssetCSV(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rows     int
		field    string
	}{
		{"OK", "hostname,os_family,role\nws-1,windows,workstation\n\nws-2,Linux,Server\n", 2, ""},
		{"BOMAndCase", "\ufeffHostname, OS_Family\nws-1,macos\n", 1, ""},
		{"Empty", "", 0, "line 1"},
		{"UnknownColumn", "hostname,colour\nws-1,red\n", 0, "line 1"},
		{"DuplicateColumn", "hostname,hostname\nws-1,ws-1\n", 0, "line 1"},
		{"NoKey", "owner\nbob\n", 0, "line 1"},
		{"BadFamily", "hostname,os_family\nws-1,windows\nws-2,beos\n", 0, "line 3: os_family"},
		{"BadRole", "hostname,role\nws-1,toaster\n", 0, "line 2: role"},
		{"BadEPHI", "hostname,ephi\nws-1,perhaps\n", 0, "line 2: ephi"},
		{"BadTags", "hostname,tags\nws-1,dept\n", 0, "line 2: tags"},
		{"EmptyHostname", "hostname,owner\n,bob\n", 0, "line 2: hostname"},
		{"Ragged", "hostname,owner\nws-1,bob,extra\n", 0, "line 2"},
		{"Quote", "hostname,owner\nws-1,\"bob\n", 0, "line 2"},
		{"ReadOnlyIgnored", "hostname,managed,last_seen\nws-1,yes,2026-01-01T00:00:00Z\n", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := patch.ParseAssetCSV(strings.NewReader(tc.in))
			if tc.field != "" {
				if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tc.field {
					t.Fatalf("err = %v (field %q), want field %q", err, patch.ErrorField(err), tc.field)
				}
				return
			}
			if err != nil || len(rows) != tc.rows {
				t.Fatalf("rows = %d, err %v; want %d", len(rows), err, tc.rows)
			}
		})
	}
	t.Run("Fields", func(t *testing.T) {
		rows, err := patch.ParseAssetCSV(strings.NewReader("id,hostname,site,os_family,os_version,ephi,tags,criticality\nast_1,WS-1,Main,linux,12,yes,dept=lab; floor=2,High\n"))
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		if r.Line != 2 || r.ID != "ast_1" || *r.Fields.Hostname != "WS-1" || *r.Site != "Main" || *r.Fields.OS.Family != patch.OSLinux ||
			*r.Fields.OS.Version != "12" || r.Fields.OS.Name != nil || r.Fields.SetTags["ephi"] != "yes" ||
			(*r.Fields.Tags)["floor"] != "2" || *r.Fields.Criticality != patch.CriticalityHigh || r.Fields.Owner != nil {
			t.Errorf("row = %+v", r)
		}
	})
	t.Run("TooMany", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("hostname\n")
		for range patch.MaxImportRows + 1 {
			b.WriteString("h\n")
		}
		if _, err := patch.ParseAssetCSV(strings.NewReader(b.String())); patch.ErrorKind(err) != patch.KindInvalid {
			t.Errorf("oversized import: %v", err)
		}
	})
}

func TestWriteAssetCSVRoundTrip(t *testing.T) {
	a := &patch.Asset{ID: "ast_1", Hostname: "ws-1", SiteID: "sit_1", OS: patch.OS{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631"},
		Role: patch.RoleWorkstation, Class: "workstation", Criticality: patch.CriticalityLow, Owner: "=HYPERLINK(\"http://evil\")",
		Tags: map[string]string{"ephi": "yes", "dept": "lab"}, Managed: true, Source: patch.SourceAgent,
		IPAddresses: []string{"10.0.0.1"}, FirstSeen: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var buf bytes.Buffer
	if err := patch.WriteAssetCSV(&buf, []*patch.Asset{a}, map[patch.SiteID]string{"sit_1": "Main"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `'=HYPERLINK`) {
		t.Errorf("formula not defused:\n%s", out)
	}
	rows, err := patch.ParseAssetCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	if *r.Site != "Main" || r.Fields.SetTags["ephi"] != "yes" || (*r.Fields.Tags)["dept"] != "lab" || *r.Fields.OS.Name != "Windows 11 Pro" {
		t.Errorf("round trip = %+v", r)
	}
}

func FuzzParseAssetCSV(f *testing.F) {
	f.Add("hostname,os_family,role,tags,ephi\nws-1,windows,workstation,a=b;c=d,yes\n")
	f.Add("id,site\nast_1,\"Main\"\"\"\n")
	f.Add("\ufeffhostname\n\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := patch.ParseAssetCSV(strings.NewReader(in))
		if err != nil {
			if patch.ErrorKind(err) != patch.KindInvalid {
				t.Fatalf("error of kind %v: %v", patch.ErrorKind(err), err)
			}
			return
		}
		for _, r := range rows {
			if r.Line < 2 {
				t.Fatalf("row line %d", r.Line)
			}
		}
	})
}
