package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/report"
	"github.com/patchring/patchring/internal/report/reporttest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// clinicE2E is a real server on an SQLite file behind real HTTP, with an
// injected clock, holding one clinic's October 2026: detections, a
// failed install remediated by a later install, approvals, a signed-off
// legacy exception with compensating controls, and a month of daily
// compliance snapshots.
type clinicE2E struct {
	t      *testing.T
	data   string
	db     *sqlstore.DB
	srv    *server.Server
	clock  *patchtest.Clock
	url    string
	admin  string
	client *patch.Client
	ehr    *patch.Asset
}

func newClinicE2E(t *testing.T) *clinicE2E {
	t.Helper()
	data := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(data, sqlite.FileName))
	must(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(t.Context())
	must(t, err)
	clock := patchtest.NewClock(time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC))
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Inventory: db, Findings: db, Keys: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db,
		Evidence: db, Checkpoints: db, EvidenceKeys: db, Reports: db},
		server.Options{Now: clock.Now, Evidence: server.EvidenceOptions{KeyName: "patch.northstar.example", Generator: "patchring test"}})
	m := httpapi.NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m}).Handler())
	mux.Handle("GET "+httpapi.WellKnownEvidenceKeys, httpapi.EvidenceKeysHandler(srv))
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	sys := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))
	must(t, srv.EnsureEvidenceKey(sys))
	tok, err := srv.CreateToken(sys, server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	must(t, err)
	e := &clinicE2E{t: t, data: data, db: db, srv: srv, clock: clock, url: ts.URL, admin: tok.Secret}
	e.seed()
	return e
}

func (e *clinicE2E) seed() {
	t := e.t
	admin := patchtest.AdminContext(t.Context())
	_, err := e.srv.SetMSPName(admin, "Northstar Managed IT")
	must(t, err)
	e.client, err = e.srv.CreateClient(admin, server.ClientInput{Name: "Riverside Family Clinic", ContactName: "Dr. Elena Vásquez"})
	must(t, err)
	site := patchtest.Site(e.client.ID, "Riverside Main Clinic", "America/Chicago")
	must(t, e.db.CreateSite(admin, site))
	mk := func(host, class string, role patch.AssetRole, os patch.OS, ephi string, crit patch.Criticality, managed bool) *patch.Asset {
		a := patchtest.Asset(e.client.ID, host)
		a.SiteID, a.Class, a.Role, a.OS, a.Criticality, a.Managed, a.LastSeen = site.ID, class, role, os, crit, managed, e.clock.Now()
		a.Source = patch.SourceAgent
		if !managed {
			a.Source = patch.SourceDiscovery
		}
		if ephi != "" {
			a.Tags = map[string]string{patch.TagEPHI: ephi}
		}
		must(t, e.db.CreateAsset(admin, a))
		return a
	}
	win11 := patch.OS{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Build: "22631.4460"}
	e.ehr = mk("srv-ehr", patch.ClassCoreServer, patch.RoleServer, patch.OS{Family: patch.OSWindows, Name: "Windows Server 2022 Standard",
		Version: "10.0.20348", Build: "20348.2849"}, "yes", patch.CriticalityCritical, true)
	exam := mk("ws-exam-01", patch.ClassWorkstation, patch.RoleWorkstation, win11, "yes", patch.CriticalityMedium, true)
	adm := mk("ws-admin-01", patch.ClassWorkstation, patch.RoleWorkstation, win11, "no", patch.CriticalityLow, true)
	us := mk("ws-ultrasound", patch.ClassDoNotDisrupt, patch.RoleWorkstation, patch.OS{Family: patch.OSWindows, Name: "Windows 10 Enterprise LTSC 2019",
		Version: "10.0.17763", Build: "17763.6532"}, "yes", patch.CriticalityHigh, true)
	mk("prn-01", patch.ClassWorkstation, patch.RoleWorkstation, patch.OS{Family: patch.OSOther, Name: "HP JetDirect printer"}, "", patch.CriticalityLow, false)

	kb := func(id string, cvss float64, kev bool, cves ...string) patch.ScannedUpdate {
		return patch.ScannedUpdate{Update: patch.Update{Source: "wua", VendorID: id + ".1", Package: id, Title: "2026-10 Security Update " + id, Product: "Windows",
			Version: "1", Classification: "security", VendorSeverity: "Critical", KBs: []string{id}, CVEs: cves, CVSS: cvss, KnownExploited: kev,
			ReleaseDate: time.Date(2026, 9, 8, 18, 0, 0, 0, time.UTC)}} // September's Patch Tuesday: not out-of-band
	}
	scan := func(a *patch.Asset, missing ...patch.ScannedUpdate) {
		_, err := e.db.RecordScan(admin, patch.ScanResult{AssetID: a.ID, At: e.clock.Now(), Sources: []patch.UpdateSource{"wua"}, Missing: missing})
		must(t, err)
	}
	ehrKB, examKB, usKB := kb("KB5044281", 9.8, true, "CVE-2026-21001"), kb("KB5044284", 7.5, false, "CVE-2026-21002"), kb("KB5044290", 8.1, false)
	// The admin workstation's update is never installed in October.
	admKB := kb("KB5044299", 6.5, false, "CVE-2026-21009")
	// 2 Oct: the scans find the month's updates; the default policy
	// approves critical security updates at once.
	scan(e.ehr, ehrKB)
	scan(exam, examKB)
	scan(us, usKB)
	scan(adm, admKB)
	_, err = e.srv.EvaluateClient(admin, e.client.ID)
	must(t, err)

	// The ultrasound workstation is vendor-locked: a legacy exception
	// with compensating controls, signed off by the clinic's owner.
	owner := patchtest.User("owner@riverside.example", patch.RoleClientOwner, e.client.ID)
	owner.Name = "Dr. Elena Vásquez"
	must(t, e.db.CreateUser(admin, owner))
	x, err := e.srv.RequestException(admin, server.ExceptionInput{ClientID: e.client.ID, Lane: patch.LaneLegacy,
		Scope: patch.ExceptionScope{AssetIDs: []patch.AssetID{us.ID}, AllUpdates: true}, Reason: "Vendor-locked ultrasound workstation; the vendor certifies no updates",
		TicketRef: "PSA-4411", Controls: []patch.CompensatingControl{
			{Kind: patch.ControlSegmentation, Description: "VLAN 40, no internet access"},
			{Kind: patch.ControlExtraMonitoring, Description: "EDR in audit mode, weekly log review"}},
		ExpiresAt: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	ownerTok, _ := patchtest.Token("owner", patch.RoleClientOwner, e.client.ID)
	ownerTok.UserID = owner.ID
	must(t, e.db.CreateToken(admin, ownerTok))
	ownerCtx := patch.NewContextWithActor(t.Context(), patch.Actor{Kind: patch.ActorToken, ID: string(ownerTok.ID), Name: owner.Name,
		Role: patch.RoleClientOwner, ClientID: e.client.ID})
	_, err = e.srv.SignOffException(ownerCtx, x.ID, "approved at the practice meeting")
	must(t, err)

	// 3 Oct: the EHR server is patched and verified; the exam workstation's
	// install fails (as the rollout engine will record it)...
	e.clock.Set(time.Date(2026, 10, 3, 2, 0, 0, 0, time.UTC))
	examFinding := e.findingOf(exam.ID)
	agentCtx := patch.NewContextWithActor(t.Context(), patch.Actor{Kind: patch.ActorAgent, ID: "agt_exam01", Name: "ws-exam-01", ClientID: e.client.ID})
	must(t, e.db.AppendEvidence(agentCtx, patch.EvidenceEvent{ClientID: e.client.ID, Type: patch.EventInstallFailed,
		Subject: patch.EvidenceSubject{AssetID: exam.ID, UpdateID: examFinding.UpdateID}, Details: map[string]string{"exit_code": "0x80070643"}}))
	scan(e.ehr)
	// ... and is retried and verified on 5 Oct.
	e.clock.Set(time.Date(2026, 10, 5, 2, 0, 0, 0, time.UTC))
	scan(exam)
	for d := 6; d <= 31; d += 5 {
		e.clock.Set(time.Date(2026, 10, d, 2, 0, 0, 0, time.UTC))
		for _, a := range e.sortedManaged() {
			switch a.ID {
			case us.ID:
				scan(a, usKB)
			case adm.ID:
				scan(a, admKB)
			default:
				scan(a)
			}
		}
	}
	_, err = e.srv.EvaluateClient(admin, e.client.ID)
	must(t, err)

	// 1 Nov, 03:00: October is over; its daily snapshots are taken.
	e.clock.Set(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	var days []patch.Day
	for d := patch.Day("2026-10-01"); d <= "2026-10-31"; d = d.Add(1) {
		days = append(days, d)
	}
	_, err = e.srv.TakeSnapshots(admin, days)
	must(t, err)
	_, err = e.srv.SignCheckpoints(admin)
	must(t, err)
}

func (e *clinicE2E) sortedManaged() []*patch.Asset {
	as, _, err := e.db.FindAssets(patchtest.AdminContext(e.t.Context()), patch.AssetFilter{ClientID: &e.client.ID, Limit: 100})
	must(e.t, err)
	return slices.DeleteFunc(as, func(a *patch.Asset) bool { return !a.Managed })
}

func (e *clinicE2E) findingOf(a patch.AssetID) *patch.Finding {
	fs, _, err := e.db.FindFindings(patchtest.AdminContext(e.t.Context()), patch.FindingFilter{AssetID: &a})
	must(e.t, err)
	if len(fs) != 1 {
		e.t.Fatalf("asset %s has %d findings", a, len(fs))
	}
	return fs[0]
}

// cli runs the CLI against the server and fails unless it exits 0.
func (e *clinicE2E) cli(args ...string) (string, string) {
	e.t.Helper()
	code, out, errOut := e.try(args...)
	if code != 0 {
		e.t.Fatalf("patchring %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

func (e *clinicE2E) try(args ...string) (int, string, string) {
	e.t.Helper()
	return runCLI(e.t, map[string]string{"PATCHRING_SERVER": e.url, "PATCHRING_TOKEN": e.admin, "PATCHRING_DATA": e.data}, "", args...)
}

// getJSON calls the API as the admin.
func (e *clinicE2E) getJSON(path string, out any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.url+path, nil)
	must(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	must(e.t, json.Unmarshal(b, out))
}

func TestClinicPatchHealthPDF(t *testing.T) {
	e := newClinicE2E(t)
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "health.pdf")
	// One command for the month's Patch Health PDF.
	_, stderr := e.cli("report", "generate", "--client", string(e.client.ID), "--kind", "patch-health", "--period", "2026-10", "-o", pdfPath)
	if !strings.Contains(stderr, "wrote "+pdfPath) {
		t.Errorf("stderr = %q", stderr)
	}
	pdf, err := os.ReadFile(pdfPath)
	must(t, err)
	text := reporttest.PDFText(t, pdf)
	for _, want := range []string{"Patch Health Report", "Riverside Family Clinic", "October 2026", "Northstar Managed IT", "Servers", "Workstations",
		"PSA-4411", "ws-ultrasound", "VLAN 40, no internet access", "ws-exam-01", "Install failed", "verified installed", "srv-ehr (ePHI)",
		"known exploited", "Discovered, no agent (unmanaged)", "prn-01"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Patch Health PDF lacks %q", want)
		}
	}
	if *keepPDF != "" {
		must(t, os.WriteFile(*keepPDF, pdf, 0o644))
	}

	t.Run("NumbersEqualTheComplianceAPI", func(t *testing.T) {
		jsonPath := filepath.Join(dir, "health.json")
		out, _ := e.cli("report", "list", "--client", string(e.client.ID), "--kind", "patch-health", "--json")
		var reps []patch.Report
		must(t, json.Unmarshal([]byte(out), &reps))
		if len(reps) != 1 {
			t.Fatalf("reports = %d", len(reps))
		}
		e.cli("report", "download", string(reps[0].ID), "--format", "json", "-o", jsonPath)
		b, err := os.ReadFile(jsonPath)
		must(t, err)
		var doc report.PatchHealth
		must(t, json.Unmarshal(b, &doc))
		if len(doc.ByKind) != 2 || len(doc.ByOS) == 0 || len(doc.ByTier) == 0 || len(doc.ByClass) == 0 {
			t.Fatalf("report ratings: %d kinds, %d OSes, %d tiers, %d classes", len(doc.ByKind), len(doc.ByOS), len(doc.ByTier), len(doc.ByClass))
		}
		type history struct {
			Days    []json.RawMessage `json:"days"`
			Average struct {
				RatingPct *float64 `json:"rating_pct"`
				StrictPct *float64 `json:"strict_pct"`
				TargetPct *float64 `json:"target_pct"`
				Met       *bool    `json:"met"`
				Days      int      `json:"days"`
				DaysMet   int      `json:"days_met"`
				MinPct    *float64 `json:"min_pct"`
			} `json:"average"`
		}
		for _, group := range [][]report.Rating{doc.ByKind, doc.ByOS, doc.ByTier, doc.ByClass} {
			for _, r := range group {
				var h history
				q := url.Values{"client_id": {string(e.client.ID)}, "dim": {r.Dim}, "key": {r.Key}, "from": {"2026-10-01"}, "to": {"2026-10-31"}}
				e.getJSON("/api/v1/compliance/history?"+q.Encode(), &h)
				a := h.Average
				if !eqf(a.RatingPct, r.RatingPct) || !eqf(a.StrictPct, r.StrictPct) || !eqf(a.TargetPct, r.TargetPct) || !eqb(a.Met, r.Met) ||
					a.Days != r.Days || a.DaysMet != r.DaysMet || !eqf(a.MinPct, r.MinPct) {
					t.Errorf("%s/%s: report %s/%s/%s met %v days %d; API %s/%s/%s met %v days %d", r.Dim, r.Key, fv(r.RatingPct), fv(r.StrictPct),
						fv(r.TargetPct), bv(r.Met), r.Days, fv(a.RatingPct), fv(a.StrictPct), fv(a.TargetPct), bv(a.Met), a.Days)
				}
				if r.Dim == "kind" && r.Days != 30 {
					t.Errorf("%s/%s was rated on %d days, want 30 (2 to 31 October)", r.Dim, r.Key, r.Days)
				}
			}
		}
		var m server.ComplianceMetrics
		q := url.Values{"client_id": {string(e.client.ID)}, "from": {"2026-10-01T00:00:00Z"}, "to": {"2026-11-01T00:00:00Z"}}
		e.getJSON("/api/v1/compliance/metrics?"+q.Encode(), &m)
		if !jsonEqual(t, m.SLAAttainment, doc.SLA) || !jsonEqual(t, m.TimeToRemediate, doc.Remediation) || !jsonEqual(t, m.FailureRates, doc.FailureRates) {
			t.Errorf("metrics differ:\nAPI    %s %s\nreport %s %s", js(m.SLAAttainment), js(m.TimeToRemediate), js(doc.SLA), js(doc.Remediation))
		}
		if all := m.SLAAttainment[0]; all.Met+all.Missed == 0 {
			t.Errorf("no SLA outcome in October: the fixture proves nothing (%+v)", all)
		}
		// The numbers in the PDF are the JSON's.
		for _, r := range doc.ByKind {
			if s := fmt.Sprintf("%.2f %%", *r.RatingPct); !strings.Contains(text, s) {
				t.Errorf("the PDF lacks %s's rating %s", r.Label, s)
			}
		}
	})
}

var keepPDF = flag.String("keep-pdf", "", "write the clinic's Patch Health PDF here, to look at")

func eqf(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func eqb(a, b *bool) bool    { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func fv(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}
func bv(v *bool) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}
func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	return js(a) == js(b)
}

// zipEntry is one file of a bundle, in archive order.
type zipEntry struct {
	name string
	data []byte
}

func readZip(t *testing.T, path string) []zipEntry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	must(t, err)
	defer zr.Close()
	var out []zipEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		must(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		must(t, err)
		out = append(out, zipEntry{f.Name, b})
	}
	return out
}

func writeZip(t *testing.T, path string, es []zipEntry) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		w, err := zw.Create(e.name)
		must(t, err)
		_, err = w.Write(e.data)
		must(t, err)
	}
	must(t, zw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o600))
}

func TestClinicEvidenceBundle(t *testing.T) {
	e := newClinicE2E(t)
	dir := t.TempDir()
	bundle, keys := filepath.Join(dir, "bundle.zip"), filepath.Join(dir, "keys.txt")
	// One command for the bundle; the keys come from the well-known path,
	// without a token.
	e.cli("evidence", "bundle", "--client", string(e.client.ID), "--period", "2026-10", "-o", bundle)
	code, out, errOut := runCLI(t, map[string]string{}, "", "evidence", "keys", "--server", e.url, "-o", keys)
	if code != 0 {
		t.Fatalf("evidence keys: %d %s %s", code, out, errOut)
	}
	verify := func(path string, keyArgs ...string) (int, string) {
		t.Helper()
		args := append([]string{"evidence", "verify", path}, keyArgs...)
		code, out, errOut := runCLI(t, map[string]string{}, "", args...)
		return code, out + errOut
	}
	code, msg := verify(bundle, "--key", keys)
	if code != 0 || !strings.Contains(msg, "VERIFIED") {
		t.Fatalf("the genuine bundle does not verify: exit %d\n%s", code, msg)
	}
	entries := readZip(t, bundle)
	names := make([]string, len(entries))
	byName := map[string][]byte{}
	for i, en := range entries {
		names[i] = en.name
		byName[en.name] = en.data
	}
	for _, want := range []string{"README.txt", server.BundleEPHIInventory, server.BundleRiskLog, evidence.ChainPath, server.BundleControls,
		evidence.ManifestPath, evidence.SignaturePath} {
		if byName[want] == nil {
			t.Errorf("the bundle lacks %s (has %v)", want, names)
		}
	}

	t.Run("Artifacts", func(t *testing.T) {
		ephi := string(byName[server.BundleEPHIInventory])
		for _, h := range []string{"srv-ehr", "ws-exam-01", "ws-ultrasound"} {
			if !strings.Contains(ephi, h) {
				t.Errorf("ePHI inventory lacks %s", h)
			}
		}
		if strings.Contains(ephi, "ws-admin-01") || strings.Contains(ephi, "prn-01") {
			t.Error("ePHI inventory lists a device not tagged ephi=yes")
		}
		if !strings.Contains(string(byName["README.txt"]), "1 devices carry no\n   ePHI classification") {
			t.Errorf("README does not count the unclassified printer:\n%s", byName["README.txt"])
		}
		log := strings.Split(strings.TrimSpace(string(byName[server.BundleRiskLog])), "\n")
		if len(log) != 5 || !strings.HasPrefix(log[1], "1,") || !strings.Contains(log[1], "srv-ehr") || !strings.Contains(log[1], "true,critical") {
			t.Errorf("risk log: the known-exploited EHR update should rank first:\n%s", strings.Join(log, "\n"))
		}
		if !strings.Contains(log[1], "rule") {
			t.Errorf("risk log row lacks why it was approved: %s", log[1])
		}
		controls := string(byName[server.BundleControls])
		if strings.Count(controls, "PSA-4411") != 2 || !strings.Contains(controls, "network_segmentation,\"VLAN 40, no internet access\"") ||
			!strings.Contains(controls, "Dr. Elena Vásquez") {
			t.Errorf("controls register:\n%s", controls)
		}
		chain, err := evidence.ReadChain(bytes.NewReader(byName[evidence.ChainPath]))
		must(t, err)
		types := map[string]int{}
		for _, en := range chain {
			types[string(en.Type)]++
		}
		for _, ty := range []string{"detected", "approved", "excepted", "exception_signed_off", "install_failed", "verified"} {
			if types[ty] == 0 {
				t.Errorf("the chain has no %s event (%v)", ty, types)
			}
		}
		var reports []string
		for _, n := range names {
			if strings.HasPrefix(n, "reports/") {
				reports = append(reports, n)
			}
		}
		for _, want := range []string{"reports/patch-health-riverside-family-clinic-2026-10.pdf", "reports/patch-detail-riverside-family-clinic-2026-10.csv",
			"reports/inventory-riverside-family-clinic-2026-10-software.csv"} {
			if !slices.Contains(reports, want) {
				t.Errorf("bundle reports lack %s: %v", want, reports)
			}
		}
		reporttest.PDFText(t, byName["reports/patch-health-riverside-family-clinic-2026-10.pdf"])
	})

	// Tampering, each on a fresh copy, through the CLI.
	tampered := func(name string, mutate func([]zipEntry) []zipEntry) string {
		cp := make([]zipEntry, len(entries))
		for i, en := range entries {
			cp[i] = zipEntry{en.name, bytes.Clone(en.data)}
		}
		path := filepath.Join(dir, name+".zip")
		writeZip(t, path, mutate(cp))
		return path
	}
	flipByte := func(file string) func([]zipEntry) []zipEntry {
		return func(es []zipEntry) []zipEntry {
			for i := range es {
				if es[i].name == file {
					d := es[i].data
					j := len(d) / 2
					for d[j] == '\n' || d[j] == '"' || d[j] == '\\' {
						j++
					}
					d[j] ^= 0x01
				}
			}
			return es
		}
	}
	chainLines := func(es []zipEntry, f func([]string) []string) []zipEntry {
		for i := range es {
			if es[i].name == evidence.ChainPath {
				lines := strings.SplitAfter(string(es[i].data), "\n")
				lines = f(lines[:len(lines)-1])
				es[i].data = []byte(strings.Join(lines, ""))
			}
		}
		return es
	}
	chain, err := evidence.ReadChain(bytes.NewReader(byName[evidence.ChainPath]))
	must(t, err)
	mid := len(chain) / 2
	seqMid := chain[mid].Seq
	tests := []struct {
		name   string
		path   string
		keys   []string
		expect []string // every one must appear in the output
	}{
		{"ByteInEveryFile", "", nil, nil}, // expanded below
		{"DropChainEntry", tampered("drop", func(es []zipEntry) []zipEntry {
			return chainLines(es, func(ls []string) []string { return slices.Delete(ls, mid, mid+1) })
		}), []string{"--key", keys}, []string{fmt.Sprintf("entry %d missing (sequence jumps %d → %d)", seqMid, seqMid-1, seqMid+1),
			"file evidence-chain.jsonl: size is"}},
		{"ReorderChainEntries", tampered("reorder", func(es []zipEntry) []zipEntry {
			return chainLines(es, func(ls []string) []string { ls[mid], ls[mid+1] = ls[mid+1], ls[mid]; return ls })
		}), []string{"--key", keys}, []string{"out of order", "file evidence-chain.jsonl: SHA-256 mismatch (altered?)"}},
		{"TruncateChain", tampered("truncate", func(es []zipEntry) []zipEntry {
			return chainLines(es, func(ls []string) []string { return ls[:len(ls)-1] })
		}), []string{"--key", keys}, []string{fmt.Sprintf("entry %d missing (the file ends at entry %d", chain[len(chain)-1].Seq, chain[len(chain)-2].Seq)}},
		{"SwapTheKey", bundle, []string{"--key", otherKey(t)}, []string{"untrusted-key", "which is not in the trusted set"}},
		{"NoKey", bundle, nil, []string{"authenticity not established: no trusted key was given"}},
		{"ResignedWithAnotherKey", resigned(t, entries, filepath.Join(dir, "resigned.zip")), []string{"--key", keys},
			[]string{"manifest signed by key evil.example", "not in the trusted set"}},
		{"ExtraFile", tampered("extra", func(es []zipEntry) []zipEntry { return append(es, zipEntry{"reports/extra.pdf", []byte("%PDF-1.4")}) }),
			[]string{"--key", keys}, []string{`file "reports/extra.pdf" is in the bundle but not listed in the manifest`}},
		{"MissingFile", tampered("missing", func(es []zipEntry) []zipEntry {
			return slices.DeleteFunc(es, func(e zipEntry) bool { return e.name == server.BundleControls })
		}), []string{"--key", keys}, []string{"file compensating-controls.csv is listed in the manifest but missing from the bundle"}},
	}
	for _, tt := range tests {
		if tt.name == "ByteInEveryFile" {
			t.Run(tt.name, func(t *testing.T) {
				for _, n := range names {
					path := tampered("flip-"+strings.ReplaceAll(n, "/", "_"), flipByte(n))
					code, msg := verify(path, "--key", keys)
					if code != 1 {
						t.Errorf("%s altered: exit %d, want 1\n%s", n, code, msg)
						continue
					}
					var want string
					switch {
					case n == evidence.ManifestPath, n == evidence.SignaturePath:
						want = "manifest"
					default:
						want = "file " + n + ": SHA-256 mismatch (altered?)"
					}
					if strings.HasPrefix(n, "checkpoints/") {
						want = n
					}
					if !strings.Contains(msg, want) {
						t.Errorf("%s altered: the output does not say %q:\n%s", n, want, msg)
					}
					if n == evidence.ChainPath && !strings.Contains(msg, "evidence-chain.jsonl: entry") {
						t.Errorf("an altered chain entry is not named:\n%s", msg)
					}
				}
			})
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			code, msg := verify(tt.path, tt.keys...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, msg)
			}
			if !strings.Contains(msg, "FAILED") {
				t.Errorf("output does not say FAILED:\n%s", msg)
			}
			for _, w := range tt.expect {
				if !strings.Contains(msg, w) {
					t.Errorf("output does not say %q:\n%s", w, msg)
				}
			}
		})
	}

	t.Run("UsageErrors", func(t *testing.T) {
		for _, args := range [][]string{
			{"evidence", "verify"},
			{"evidence", "verify", bundle, "--key", "not-a-key-and-not-a-file"},
			{"evidence", "verify", bundle, bundle},
		} {
			if code, _, errOut := runCLI(t, map[string]string{}, "", args...); code != 2 {
				t.Errorf("patchring %s: exit %d, want 2 (%s)", strings.Join(args, " "), code, errOut)
			}
		}
		if code, _, _ := runCLI(t, map[string]string{}, "", "evidence", "verify", filepath.Join(dir, "nope.zip"), "--key", keys); code != 1 {
			t.Errorf("a missing bundle file: exit %d, want 1", code)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		code, out, _ := runCLI(t, map[string]string{}, "", "evidence", "verify", bundle, "--key", keys, "--json")
		var res struct {
			OK       bool   `json:"ok"`
			ClientID string `json:"client_id"`
			Chain    struct {
				StartSize, EndSize uint64
			} `json:"chain"`
			Findings []any `json:"findings"`
		}
		must(t, json.Unmarshal([]byte(out), &res))
		if code != 0 || !res.OK || res.ClientID != string(e.client.ID) || len(res.Findings) != 0 {
			t.Errorf("JSON result = %s", out)
		}
	})

	t.Run("RotationKeepsOldBundlesValid", func(t *testing.T) {
		e.clock.Set(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
		out, _ := e.cli("api", "POST", "/api/v1/evidence/keys/rotate", "--data", `{"reason":"annual rotation"}`)
		if !strings.Contains(out, `"clients": 1`) {
			t.Errorf("rotation said %s", out)
		}
		newKeys := filepath.Join(dir, "keys2.txt")
		if code, o, eo := runCLI(t, map[string]string{}, "", "evidence", "keys", "--server", e.url, "-o", newKeys); code != 0 {
			t.Fatalf("evidence keys: %s %s", o, eo)
		}
		ks, err := os.ReadFile(newKeys)
		must(t, err)
		if strings.Count(string(ks), "\npatch.northstar.example/") != 2 || !strings.Contains(string(ks), "# retired") {
			t.Errorf("published keys after rotation:\n%s", ks)
		}
		// The October bundle, signed by the retired key, still verifies
		// against the published set; November's carries the rotation.
		if code, msg := verify(bundle, "--key", newKeys); code != 0 {
			t.Errorf("the old bundle no longer verifies: %s", msg)
		}
		nov := filepath.Join(dir, "nov.zip")
		e.cli("evidence", "bundle", "--client", string(e.client.ID), "--period", "2026-11", "-o", nov)
		if code, msg := verify(nov, "--key", newKeys); code != 0 {
			t.Errorf("the November bundle does not verify: %s", msg)
		}
		if code, msg := verify(nov, "--key", keys); code != 1 || !strings.Contains(msg, "not in the trusted set") {
			t.Errorf("the November bundle verifies against the old key alone: %s", msg)
		}
		novChain, err := evidence.ReadChain(bytes.NewReader(entryOf(t, nov, evidence.ChainPath)))
		must(t, err)
		if len(novChain) == 0 || novChain[0].Type != evidence.EventKeyRotated || novChain[0].PrevHash != chain[len(chain)-1].Hash {
			t.Errorf("November's chain should start with the rotation, linked to October's last entry: %+v", novChain)
		}
	})
}

func entryOf(t *testing.T, path, name string) []byte {
	t.Helper()
	for _, e := range readZip(t, path) {
		if e.name == name {
			return e.data
		}
	}
	t.Fatalf("%s has no %s", path, name)
	return nil
}

// otherKey returns the public key of a stranger.
func otherKey(t *testing.T) string {
	t.Helper()
	k, err := evidence.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "patch.northstar.example/2026-10-02")
	must(t, err)
	return k.Public().String()
}

// resigned alters the controls register and rebuilds a consistent,
// signed bundle with an attacker's key: only the key reveals it.
func resigned(t *testing.T, entries []zipEntry, path string) string {
	t.Helper()
	zr := map[string][]byte{}
	var m evidence.Manifest
	for _, e := range entries {
		zr[e.name] = e.data
	}
	must(t, json.Unmarshal(zr[evidence.ManifestPath], &m))
	evil, err := evidence.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)), "evil.example")
	must(t, err)
	var buf bytes.Buffer
	bw, err := evidence.NewBundleWriter(&buf, evidence.BundleInfo{ClientID: m.ClientID, ClientName: m.ClientName, PeriodStart: m.PeriodStart,
		PeriodEnd: m.PeriodEnd, GeneratedAt: m.GeneratedAt, Generator: m.Generator}, evil)
	must(t, err)
	for _, f := range m.Files {
		if f.Path == evidence.ChainPath || strings.HasPrefix(f.Path, "checkpoints/") {
			continue
		}
		data := zr[f.Path]
		if f.Path == server.BundleControls {
			data = bytes.ReplaceAll(data, []byte("VLAN 40"), []byte("VLAN 99"))
		}
		must(t, bw.AddFile(f.Path, data))
	}
	chain, err := evidence.ReadChain(bytes.NewReader(zr[evidence.ChainPath]))
	must(t, err)
	must(t, bw.AddChain(evidence.ChainSegment{StartSize: m.Chain.StartSize, StartHead: m.Chain.StartHead, Entries: chain}))
	must(t, bw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

func TestFilenameOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`attachment; filename="evidence-riverside-2026-10.zip"`, "evidence-riverside-2026-10.zip"},
		{`inline; filename="health.pdf"`, "health.pdf"},
		{`attachment; filename="../../etc/passwd"`, "default"},
		{`attachment; filename="C:\\x"`, "default"},
		{`attachment; filename=".bashrc"`, "default"},
		{`attachment`, "default"},
		{``, "default"},
	} {
		if got := filenameOf(tc.in, "default"); got != tc.want {
			t.Errorf("filenameOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzFilenameOf: whatever a server sends, the CLI writes only a plain
// file name in the current directory.
func FuzzFilenameOf(f *testing.F) {
	for _, s := range []string{`attachment; filename="a.zip"`, `filename="../x"`, `filename=""`, `filename="a/b"`, `x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := filenameOf(s, "default")
		if got == "" || strings.ContainsAny(got, "/\\:\n\r\x00") || strings.HasPrefix(got, ".") || filepath.Base(got) != got {
			t.Fatalf("filenameOf(%q) = %q", s, got)
		}
	})
}
