package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/report/reporttest"
)

// -keep writes the rendered samples to a directory, for a person to look
// at: go test ./internal/report -run TestRender -keep /tmp/reports
var keep = flag.String("keep", "", "directory to write rendered sample reports to")

func f64(v float64) *float64 { return &v }
func bp(v bool) *bool        { return &v }

// The client's name has accents, Greek and Cyrillic, which the PDF core
// fonts cannot print.
const clientName = "Clínica Família Ωμέγα — Клиника"

func sampleMeta(kind patch.ReportKind) Meta {
	oct, _ := patch.ParsePeriod("period", "2026-10")
	return Meta{ID: "rep_01TESTREPORT0000000000000000", Kind: kind, Title: kind.Title(), MSP: "Northstar Managed IT", ClientID: "cli_1",
		Client: clientName, Period: oct, AsOf: oct.End, GeneratedAt: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC),
		GeneratedBy: "report scheduler", Generator: "patchring test"}
}

func sampleRating(label, dim, key string, rating, target float64) Rating {
	return Rating{Label: label, PeriodAverage: compliance.PeriodAverage{Dim: dim, Key: key, From: "2026-10-01", To: "2026-10-31", Days: 31,
		DaysMet: 27, RatingPct: f64(rating), StrictPct: f64(rating - 1.5), TargetPct: f64(target), Met: bp(rating >= target),
		MinPct: f64(rating - 3), MaxPct: f64(100)},
		Now: &patch.RatingSnapshot{Assets: 12, Rated: 11}}
}

func sampleTrend(n int) Trend {
	var t Trend
	start := patch.Day("2026-10-02")
	srv, ws := make([]*float64, n), make([]*float64, n)
	for i := range n {
		t.Days = append(t.Days, start.Add(i))
		if i == 9 {
			continue // a day without a snapshot
		}
		srv[i], ws[i] = f64(93+float64(i%5)), f64(88+float64(i%7))
	}
	t.Series = []Series{{Name: "Servers", Values: srv, Target: f64(95)}, {Name: "Workstations", Values: ws, Target: f64(92)}}
	return t
}

func sampleExceptions() []Exception {
	return []Exception{{ID: "exc_01ULTRASOUND", Lane: patch.LaneLegacy, State: patch.ExceptionActive, Scope: "asset ast_1 × all updates",
		Assets: []string{"ws-ultrasound"}, Reason: "Vendor-locked ultrasound workstation on Windows 7", TicketRef: "PSA-4411",
		Controls:    []string{"network_segmentation: VLAN 40, no internet", "extra_monitoring: EDR in audit mode"},
		SignedOffBy: "Dr. Elena Vasquez", SignedOffAt: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), DaysToExpiry: 10, OpenDays: 91}}
}

func sampleRisks() []Risk {
	return []Risk{{Rank: 1, FindingID: "fnd_1", Hostname: "srv-ehr", EPHI: true, Criticality: "critical", Update: "2026-10 Cumulative Update for Windows Server 2022",
		KBs: []string{"KB5044281"}, CVEs: []string{"CVE-2026-1001", "CVE-2026-1002"}, CVSS: 9.8, KnownExploited: true, Tier: "critical",
		DetectedAt: time.Date(2026, 10, 8, 0, 0, 0, 0, time.UTC), DueAt: time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC),
		ResolvedAt: time.Date(2026, 10, 8, 22, 0, 0, 0, time.UTC), MetSLA: bp(true)}}
}

func samplePatchHealth() *PatchHealth {
	return &PatchHealth{Meta: sampleMeta(patch.ReportPatchHealth),
		Highlights: []string{"Servers averaged 96.25 % against a 95 % target: met.", "Workstations averaged 90.10 % against a 92 % target: not met."},
		ByKind:     []Rating{sampleRating("Servers", "kind", "server", 96.25, 95), sampleRating("Workstations", "kind", "workstation", 90.1, 92)},
		ByOS:       []Rating{sampleRating("Windows", "os", "windows", 93.5, 93), sampleRating("Linux", "os", "linux", 99, 95)},
		ByTier:     []Rating{sampleRating("critical", "tier", "critical", 97, 93.4)},
		ByClass:    []Rating{sampleRating("Core servers", "class", "core-server", 98, 95)},
		Excluded:   patch.FindingCounts{Excepted: 7, EmergencyMissing: 1, NotApproved: 2},
		Trend:      sampleTrend(30),
		SLA: []compliance.Attainment{{Met: 40, Missed: 2, AttainmentPct: f64(95.24), Emergency: 1, Excepted: 3},
			{Tier: "critical", Met: 10, Missed: 0, AttainmentPct: f64(100)}},
		Remediation:  []compliance.Remediation{{Count: 42, MedianHours: f64(30.5), P90Hours: f64(150)}},
		FailureRates: []compliance.FailureRate{{Succeeded: 120, Failed: 3, RatePct: f64(2.44)}},
		Failures: []Failure{{At: time.Date(2026, 10, 12, 3, 0, 0, 0, time.UTC), Hostname: "ws-exam-07", Update: "KB5044284", Event: patch.EventInstallFailed,
			Detail: "exit code 0x80070643", Remediation: "verified installed", RemediatedAt: time.Date(2026, 10, 13, 3, 0, 0, 0, time.UTC)},
			{At: time.Date(2026, 10, 20, 3, 0, 0, 0, time.UTC), Hostname: "srv-pacs", Update: "openssl 3.0.15", Event: patch.EventRolledBack, Detail: "health check: PACS port 104 closed"}},
		Exceptions: sampleExceptions(),
		TopRisks:   sampleRisks(),
		Gaps:       []GapCount{{Gap: "unmanaged", Label: gapLabel("unmanaged"), Assets: 7, Hosts: []string{"prn-01", "dev-unknown-01"}}},
	}
}

func sampleDocuments() []Document {
	detail := &PatchDetail{Meta: sampleMeta(patch.ReportPatchDetail), Assets: []AssetDetail{
		{ID: "ast_1", Hostname: "srv-ehr", Site: "Главный офис", OS: "Windows Server 2022 Standard 10.0.20348", OSFamily: "windows", Role: "server",
			Class: "core-server", Criticality: "critical", EPHI: "yes", Owner: "Dr. Müller", Managed: true, LastScan: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC),
			RatingPct: f64(95.5), Gaps: []string{},
			Open:  []FindingLine{{FindingID: "fnd_2", Update: "Microsoft Edge 130.0", Tier: "high", Approval: patch.ApprovalApproved, State: patch.FindingOpen, SLAStatus: patch.SLABreached, FirstSeen: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}},
			Fixed: []FindingLine{{FindingID: "fnd_1", Update: "KB5044281", Tier: "critical", State: patch.FindingResolved, Resolution: patch.ResolvedVerified, SLAStatus: patch.SLAMet}}},
		{ID: "ast_2", Hostname: "prn-01", OS: "HP JetDirect printer", OSFamily: "other", Role: "workstation", Class: "workstation", Gaps: []string{"unmanaged"}},
	}}
	qbr := &QBR{Meta: sampleMeta(patch.ReportQBR), Summary: []string{"Your servers met their patching target in every month of the quarter."},
		Quarter: []Rating{sampleRating("Servers", "kind", "server", 96, 95)},
		Months: []MonthScore{{Month: patch.MonthPeriod(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)),
			Kinds: []Rating{sampleRating("Servers", "kind", "server", 96, 95), sampleRating("Workstations", "kind", "workstation", 91, 92)}}},
		Trend: sampleTrend(92), Fixed: 130, CriticalFixed: 12, Exceptions: sampleExceptions(), TopRisks: sampleRisks(),
		Attention: []string{"The ultrasound exception expires on 2026-11-10: renew it with a new sign-off or retire the device."}}
	qbr.Period, _ = patch.ParsePeriod("period", "2026-Q4")
	inv := &Inventory{Meta: sampleMeta(patch.ReportInventory), Counts: []Count{{"Devices", 2}, {"Managed", 1}, {"ePHI", 1}},
		Assets: []InventoryAsset{{ID: "ast_1", Hostname: "srv-ehr", FQDN: "srv-ehr.riverside.local", Site: "Main", Owner: "=HYPERLINK(\"evil\")", Role: "server",
			Class: "core-server", EPHI: "yes", OSFamily: "windows", OS: "Windows Server 2022", IPs: []string{"10.20.0.5"}, Managed: true,
			Tags: map[string]string{"ephi": "yes", "app": "ehr"}, SoftwareSeen: 2}},
		Software: []SoftwareItem{{AssetID: "ast_1", Hostname: "srv-ehr", Name: "7-Zip", Version: "24.08", Source: "winget"},
			{AssetID: "ast_1", Hostname: "srv-ehr", Name: "Epic Hyperspace", Version: "2025.1", Vendor: "Epic", Source: "wua"}}}
	sc := &Scorecard{Meta: sampleMeta(patch.ReportScorecard), Rows: []ScorecardClient{{Name: "Northstar Managed IT (all clients)",
		Weeks: []compliance.ScorecardWeek{{From: "2026-10-05", To: "2026-10-11", CompliancePct: f64(94), TargetPct: f64(93), ExceptionsActive: 3,
			Installs: 80, InstallFailures: 2, FailureRatePct: f64(2.5), Tickets: 4, AfterHoursTickets: 1}}}}}
	sc.ClientID, sc.Client = "", ""
	return []Document{samplePatchHealth(), detail, qbr, inv, sc}
}

func TestRender(t *testing.T) {
	for _, d := range sampleDocuments() {
		m := d.Head()
		t.Run(string(m.Kind), func(t *testing.T) {
			files, err := Render(d)
			if err != nil {
				t.Fatal(err)
			}
			byFormat := map[patch.ReportFormat][]File{}
			for _, f := range files {
				if !strings.HasPrefix(f.Name, m.FileBase()) {
					t.Errorf("file %s is not named after %s", f.Name, m.FileBase())
				}
				byFormat[f.Format] = append(byFormat[f.Format], f)
				if *keep != "" {
					if err := os.MkdirAll(*keep, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(*keep, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, f := range patch.ReportFormats {
				if len(byFormat[f]) == 0 {
					t.Fatalf("no %s file", f)
				}
			}
			pdf := byFormat[patch.FormatPDF][0].Data
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("PDF starts with %q", pdf[:min(8, len(pdf))])
			}
			text := reporttest.PDFText(t, pdf)
			want := []string{m.Title, m.Period.Label(), "Report " + string(m.ID)}
			if m.Client != "" {
				want = append(want, clientName)
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("PDF text lacks %q", w)
				}
			}
			html := string(byFormat[patch.FormatHTML][0].Data)
			if !strings.Contains(html, "<title>") || !strings.Contains(html, m.Title) || strings.Contains(html, "http://") && strings.Contains(html, "<script") {
				t.Errorf("HTML is not a self-contained document")
			}
			var back map[string]any
			if err := json.Unmarshal(byFormat[patch.FormatJSON][0].Data, &back); err != nil {
				t.Errorf("JSON: %v", err)
			}
			for _, f := range byFormat[patch.FormatCSV] {
				r := csv.NewReader(bytes.NewReader(f.Data))
				recs, err := r.ReadAll()
				if err != nil || len(recs) < 1 {
					t.Errorf("%s: %d records, %v", f.Name, len(recs), err)
				}
			}
		})
	}
}

func TestPatchHealthNumbersInEveryFormat(t *testing.T) {
	d := samplePatchHealth()
	files, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	get := func(f patch.ReportFormat) []byte {
		for _, x := range files {
			if x.Format == f {
				return x.Data
			}
		}
		t.Fatalf("no %s", f)
		return nil
	}
	text := reporttest.PDFText(t, get(patch.FormatPDF))
	html := string(get(patch.FormatHTML))
	// Narrow PDF columns break long IDs at any character.
	if squashed := strings.ReplaceAll(text, " ", ""); !strings.Contains(squashed, "exc_01ULTRASOUND") {
		t.Error("PDF text lacks the exception's ID")
	}
	for _, w := range []string{"96.25 %", "90.10 %", "NOT MET", "95.24 %", "2026-11-10", "PSA-4411", "KB5044281",
		"Dr. Elena Vasquez", "ws-exam-07", "verified installed", "Discovered, no agent (unmanaged)", "7 excepted"} {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text lacks %q", w)
		}
		if !strings.Contains(html, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	// The CSV has every number at a findable address.
	recs, err := csv.NewReader(bytes.NewReader(get(patch.FormatCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	find := func(section, item, field string) string {
		for _, r := range recs {
			if r[0] == section && r[1] == item && r[2] == field {
				return r[3]
			}
		}
		return "<missing>"
	}
	for _, c := range []struct{ section, item, field, want string }{
		{"rating_by_kind", "server", "rating_pct", "96.25"},
		{"rating_by_kind", "workstation", "met", "false"},
		{"rating_by_os", "linux", "target_pct", "95.00"},
		{"sla_attainment", "all", "attainment_pct", "95.24"},
		{"exceptions", "exc_01ULTRASOUND", "expires_at", "2026-11-10T00:00:00Z"},
		{"trend", "2026-10-11", "Servers", ""}, // the day without a snapshot
		{"trend", "2026-10-02", "Servers", "93.00"},
		{"excluded", "as_of", "excepted", "7"},
	} {
		if got := find(c.section, c.item, c.field); got != c.want {
			t.Errorf("CSV %s/%s/%s = %q, want %q", c.section, c.item, c.field, got, c.want)
		}
	}
	var back PatchHealth
	if err := json.Unmarshal(get(patch.FormatJSON), &back); err != nil {
		t.Fatal(err)
	}
	if *back.ByKind[0].RatingPct != 96.25 || back.Exceptions[0].ExpiresAt != d.Exceptions[0].ExpiresAt {
		t.Errorf("JSON round trip changed numbers: %+v", back.ByKind[0])
	}
}

func TestCSVDefusesFormulas(t *testing.T) {
	docs := sampleDocuments()
	files, err := Render(docs[3])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Format == patch.FormatCSV && bytes.Contains(f.Data, []byte(",=HYPERLINK")) {
			t.Errorf("%s carries a live formula", f.Name)
		}
	}
}

func TestPatchDetailPDFBreaksPages(t *testing.T) {
	d := sampleDocuments()[1].(*PatchDetail)
	base := d.Assets[0]
	for i := range 120 {
		a := base
		a.ID = patch.AssetID("ast_" + string(rune('a'+i%26)))
		a.Hostname = "ws-exam-" + strings.Repeat("x", i%5)
		d.Assets = append(d.Assets, a)
	}
	pdf, err := renderPDF(d)
	if err != nil {
		t.Fatal(err)
	}
	if n := reporttest.PDFPages(t, pdf); n < 5 {
		t.Errorf("122 devices fit on %d pages", n)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Riverside Family Clinic":    "riverside-family-clinic",
		"Hartwell & Shaw LLP":        "hartwell-shaw-llp",
		"Клиника":                    "client",
		"  --Northfield  (NY)-- ":    "northfield-ny",
		strings.Repeat("abcdef", 20): strings.Repeat("abcdef", 10),
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
