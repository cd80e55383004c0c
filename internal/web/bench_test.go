package web_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/web/webtest"
)

// benchAssets is the fleet size the console must serve in under 300 ms
// per page (issue 8).
const benchAssets = 10000

// benchEnv is the demo MSP grown to benchAssets assets: one large client
// (3,000 assets) and 24 more of a few hundred each, with realistic OS,
// class, tag and last-seen spreads (about 8 % stale, 5 % discovered).
func benchEnv(b *testing.B) (*webtest.Env, *http.Cookie, *patch.Client) {
	b.Helper()
	env := webtest.Start(b, webtest.Options{})
	ctx := env.Admin(b.Context())
	now := env.Clock.Now()
	rnd := rand.New(rand.NewPCG(42, 7))
	have := env.Demo.Assets
	var big *patch.Client
	sizes := []int{3000}
	for range 24 {
		sizes = append(sizes, (benchAssets-have-3000)/24)
	}
	sizes[len(sizes)-1] += benchAssets - have - 3000 - 24*((benchAssets-have-3000)/24)
	oses := []patch.OS{
		{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631"},
		{Family: patch.OSWindows, Name: "Windows 10 Pro", Version: "10.0.19045"},
		{Family: patch.OSWindows, Name: "Windows Server 2022 Standard", Version: "10.0.20348"},
		{Family: patch.OSMacOS, Name: "macOS Sonoma", Version: "14.7.1"},
		{Family: patch.OSLinux, Name: "Ubuntu 24.04.1 LTS", Version: "24.04"},
		{Family: patch.OSOther, Name: "HP JetDirect printer"},
	}
	for ci, n := range sizes {
		c, err := env.Server.CreateClient(ctx, server.ClientInput{Name: fmt.Sprintf("Bench Client %02d", ci)})
		if err != nil {
			b.Fatal(err)
		}
		if ci == 0 {
			big = c
		}
		var sites []*patch.Site
		for si := range 3 {
			s, err := env.Server.CreateSite(ctx, server.SiteInput{ClientID: c.ID, Name: fmt.Sprintf("Site %d", si), TimeZone: "America/New_York"})
			if err != nil {
				b.Fatal(err)
			}
			sites = append(sites, s)
		}
		for i := range n {
			os := oses[rnd.IntN(len(oses))]
			a := &patch.Asset{
				ID:          patch.AssetID(patch.NewID(patch.PrefixAsset, now)),
				ClientID:    c.ID,
				SiteID:      sites[rnd.IntN(len(sites))].ID,
				Hostname:    fmt.Sprintf("host-%05d", i),
				OS:          os,
				Role:        patch.RoleWorkstation,
				Class:       patch.ClassWorkstation,
				Criticality: patch.CriticalityMedium,
				Tags:        map[string]string{"dept": fmt.Sprintf("d%d", rnd.IntN(8)), patch.TagEPHI: []string{"yes", "no"}[rnd.IntN(2)]},
				Managed:     rnd.IntN(20) != 0,
				Source:      patch.SourceAgent,
				Owner:       fmt.Sprintf("User %d", rnd.IntN(500)),
				LastSeen:    now.Add(-time.Duration(rnd.IntN(60)) * time.Minute),
			}
			if os.Family == patch.OSWindows && os.Name == "Windows Server 2022 Standard" || os.Family == patch.OSLinux {
				a.Role, a.Class = patch.RoleServer, patch.ClassServer
			}
			if !a.Managed {
				a.Source = patch.SourceDiscovery
			}
			if rnd.IntN(12) == 0 {
				a.LastSeen = now.Add(-time.Duration(8+rnd.IntN(40)) * 24 * time.Hour)
			}
			if err := env.DB.CreateAsset(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
	}
	ns, err := env.Server.StartSession(b.Context(), server.LoginInput{Email: webtest.AdminEmail, Password: env.Password}, server.SessionPolicy{Idle: 24 * time.Hour, Lifetime: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return env, &http.Cookie{Name: "patchring_session", Value: ns.Secret}, big
}

// BenchmarkPages measures the server time of each main page, from request
// to the last byte of HTML, on a database of 10,000 assets. Run it with
//
//	go test ./internal/web/ -run '^$' -bench BenchmarkPages -benchtime 20x
//
// and record the results in docs/benchmarks.md.
func BenchmarkPages(b *testing.B) {
	env, cookie, big := benchEnv(b)
	_, total, err := env.Server.Assets(env.Admin(b.Context()), patch.AssetFilter{Limit: 1})
	if err != nil || total != benchAssets {
		b.Fatalf("fleet has %d assets (%v), want %d", total, err, benchAssets)
	}
	one, _, err := env.Server.Assets(env.Admin(b.Context()), patch.AssetFilter{ClientID: &big.ID, Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	clientPage := "/clients/" + string(big.ID)
	admin := env.Admin(b.Context())
	// The large client's machines miss five updates each (15,000 open
	// findings), a month ago, evaluated against its policy: the findings,
	// compliance and asset pages then read a realistic amount of data.
	bigAssets, _, err := env.Server.Assets(admin, patch.AssetFilter{ClientID: &big.ID, Limit: patch.MaxLimit})
	if err != nil {
		b.Fatal(err)
	}
	for off := len(bigAssets); off < 3000; {
		page, _, err := env.Server.Assets(admin, patch.AssetFilter{ClientID: &big.ID, Limit: patch.MaxLimit, Offset: off})
		if err != nil || len(page) == 0 {
			break
		}
		bigAssets = append(bigAssets, page...)
		off += len(page)
	}
	scanned := env.Clock.Now().Add(-30 * 24 * time.Hour)
	for _, a := range bigAssets {
		if !a.Managed {
			continue
		}
		var missing []patch.ScannedUpdate
		for i, pkg := range []string{"openssl", "curl", "libxml2", "tzdata", "bash"} {
			missing = append(missing, patch.ScannedUpdate{InstalledVersion: "1.0-1", Update: patch.Update{Source: "apt", VendorID: pkg + "=2.0-1",
				Package: pkg, Title: pkg + " 2.0-1", Product: "Debian 12", Version: "2.0-1", Classification: []string{"security", "bugfix"}[i%2],
				CVEs: []string{fmt.Sprintf("CVE-2026-%04d", i)}}})
		}
		if _, err := env.DB.RecordScan(admin, patch.ScanResult{AssetID: a.ID, At: scanned, Sources: []patch.UpdateSource{"apt"}, Missing: missing}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := env.Server.EvaluateClient(admin, big.ID); err != nil {
		b.Fatal(err)
	}
	// Rate the whole fleet once, as the server's compliance loop does at
	// start, so the pages read a built index.
	if err := env.Server.RecomputeCompliance(admin); err != nil {
		b.Fatal(err)
	}
	var clinic *patch.Client
	for _, c := range env.Demo.Clients {
		if c.Name == webtest.Clinic {
			clinic = c
		}
	}
	clinicPage := "/clients/" + string(clinic.ID)
	cycles, _, err := env.Server.Cycles(admin, patch.CycleFilter{Limit: 1})
	if err != nil || len(cycles) == 0 {
		b.Fatalf("no demo cycle: %v", err)
	}
	excs, _, err := env.Server.Exceptions(admin, patch.ExceptionFilter{ClientID: &clinic.ID, Limit: 1})
	if err != nil || len(excs) == 0 {
		b.Fatalf("no demo exception: %v", err)
	}
	rep, err := env.Server.GenerateReport(admin, server.ReportRequest{ClientID: clinic.ID, Kind: patch.ReportPatchHealth, Period: "2026-10"})
	if err != nil {
		b.Fatal(err)
	}
	ehr, _, err := env.Server.Assets(admin, patch.AssetFilter{ClientID: &clinic.ID, Query: new("srv-ehr")})
	if err != nil || len(ehr) != 1 {
		b.Fatalf("srv-ehr: %v", err)
	}
	h := env.Console.Handler()
	for _, p := range []struct{ name, path string }{
		{"Overview", "/"},
		{"ClientAssets", clientPage},
		{"ClientAssetsSearchSortedLastPage", clientPage + "?q=host-0&sort=last_seen&dir=desc&page=20"},
		{"ClientAssetsTagFilter", clientPage + "?tag=ephi%3Dyes&os=windows"},
		{"ClientSites", clientPage + "/sites"},
		{"AllAssetsStale", "/assets?stale=1&sort=last_seen"},
		{"Asset", "/assets/" + string(one[0].ID)},
		{"AuditLog", "/audit"},
		{"AuditLogPage50", "/audit?page=50"},
		{"Settings", "/settings"},
		{"ClientCSV3000", clientPage + "/assets.csv"},
		// The patch-management pages: on the 3,000-asset client for what
		// grows with assets, on the clinic for what grows with findings.
		{"ClientCompliance3000", clientPage + "/compliance"},
		{"ComplianceGroup3000", clientPage + "/compliance/assets?dim=all"},
		{"ClientRings3000", clientPage + "/rings"},
		{"ClientMonitors3000", clientPage + "/monitors?kind=agent_offline"},
		{"ClientFindings15000", clientPage + "/findings"},
		{"ClientFindings15000Breached", clientPage + "/findings?sla=breached&tier=high"},
		{"AssetWithFiveFindings", "/assets/" + string(bigAssets[0].ID)},
		{"ClientCompliance", clinicPage + "/compliance"},
		{"ClientFindings", clinicPage + "/findings"},
		{"ClientFindingsBreached", clinicPage + "/findings?sla=breached"},
		{"ClientPolicy", clinicPage + "/policy"},
		{"ClientPolicyEdit", clinicPage + "/policy/edit"},
		{"ClientExceptions", clinicPage + "/exceptions"},
		{"ClientCycles", clinicPage + "/cycles"},
		{"ClientReports", clinicPage + "/reports"},
		{"ClientEvidence", clinicPage + "/evidence"},
		{"AssetWithFindings", "/assets/" + string(ehr[0].ID)},
		{"Cycle", "/cycles/" + string(cycles[0].ID)},
		{"AllCycles", "/cycles"},
		{"ExceptionRegister", "/exceptions?view=all"},
		{"Exception", "/exceptions/" + string(excs[0].ID)},
		{"AllReports", "/reports"},
		{"Report", "/reports/" + string(rep.ID)},
		{"SettingsAgents", "/settings/agents"},
		{"SettingsNotifications", "/settings/notifications"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d", p.path, rec.Code)
				}
			}
		})
	}
}
