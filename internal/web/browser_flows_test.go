package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/web/webtest"
)

// Browser tests of the patch-management flows the issue names: an
// exception requested by the MSP and signed off by the client owner, a
// ring transition approved by the MSP on a cycle real agents run, and a
// report downloaded as a PDF.

func TestBrowserExceptionSignOff(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	// An asset of the clinic with a breached finding.
	breached := patch.SLABreached
	open := patch.FindingOpen
	fs, _, err := env.Server.Findings(env.Admin(t.Context()), server.FindingQuery{ClientID: clinic.ID, State: &open, SLAStatus: &breached, Limit: 1})
	if err != nil || len(fs) == 0 {
		t.Fatalf("no breached finding in the clinic: %v", err)
	}
	host := fs[0].Hostname

	// A technician requests an exception for that asset, all updates.
	tech := env.Browser(t)
	tech.Login(webtest.TechEmail, env.Password)
	tech.Go(base + "/exceptions")
	tech.Click("[data-testid=request-exception]")
	tech.Fill("#f-assets", host)
	tech.Click(`input[name=update_mode][value=all]`)
	tech.Fill("#f-reason", "The backup vendor certifies this release next month.")
	tech.Select("#f-expires_at", "2026-12-20")
	tech.Select("#f-c0-control_kind_0", string(patch.ControlRestrictedAccess))
	tech.Fill("#f-c0-control_desc_0", "Admin access only from the jump host")
	// Without a ticket the form comes back with the error on the ticket.
	if st := tech.Submit("[data-testid=exception-form] button[type=submit]"); st != http.StatusBadRequest {
		t.Fatalf("request without a ticket: status %d", st)
	}
	if msg := tech.Text(".field.has-error .field-error"); !strings.Contains(msg, "Ticket") {
		t.Errorf("error shown = %q, want it on the ticket", msg)
	}
	if v := tech.Value("#f-reason"); !strings.Contains(v, "backup vendor") {
		t.Errorf("the reason typed was lost: %q", v)
	}
	tech.Screenshot("exception-request-error")
	tech.Fill("#f-ticket_ref", "PSA-5120")
	if st := tech.Submit("[data-testid=exception-form] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("request: status %d: %s", st, tech.Text("main"))
	}
	loc := tech.Location()
	if !strings.HasPrefix(loc, "/exceptions/exc_") {
		t.Fatalf("after the request at %s", loc)
	}
	if s := tech.Text("[data-testid=exception-state]"); !strings.Contains(s, "Awaiting sign-off") {
		t.Errorf("new exception state = %q", s)
	}
	if tech.Count("[data-testid=sign-off]") != 0 {
		t.Errorf("a technician is offered the sign-off")
	}
	id := patch.ExceptionID(strings.TrimPrefix(loc, "/exceptions/"))

	// The client owner finds it in the register and signs it off.
	owner := env.Browser(t)
	owner.Login(webtest.ClinicOwnerEmail, env.Password)
	owner.Go("/exceptions?view=requested")
	if !strings.Contains(owner.Text("[data-testid=exceptions]"), "backup vendor") {
		t.Fatalf("the owner's register lacks the request: %s", owner.Text("[data-testid=exceptions]"))
	}
	owner.Screenshot("owner-exceptions-awaiting")
	owner.Submit(fmt.Sprintf(`[data-testid=exceptions] a[href="/exceptions/%s"]`, id))
	owner.Fill("#f-note", "Agreed with the backup vendor on the phone.")
	if st := owner.Submit("[data-testid=sign-off] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("sign-off: status %d", st)
	}
	if s := owner.Text("[data-testid=exception-state]"); !strings.Contains(s, "Active") {
		t.Errorf("state after sign-off = %q", s)
	}
	if !strings.Contains(owner.Text("main"), "Signed off by Dr. Elena Vasquez") && !strings.Contains(owner.Text("main"), "by Dr. Elena Vasquez") {
		t.Errorf("the page does not name the signer: %s", owner.Text("main"))
	}
	owner.Screenshot("exception-signed-off")
	var x *patch.Exception
	x, err = env.Server.Exception(env.Admin(t.Context()), id)
	if err != nil {
		t.Fatal(err)
	}
	if x.State != patch.ExceptionActive || x.SignOff == nil || x.SignOff.Note != "Agreed with the backup vendor on the phone." || x.SignOff.Via.Kind != patch.ActorUser {
		t.Errorf("stored exception = %s, sign-off %+v", x.State, x.SignOff)
	}
	// The asset's breached finding is now paused under it.
	tech.Go(base + "/findings?sla=paused")
	if !strings.Contains(tech.Text("[data-testid=findings]"), host) {
		t.Errorf("%s's findings are not paused after the sign-off", host)
	}
}

func TestBrowserDownloadReportPDF(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic := env.Client(t, webtest.Clinic)
	b := env.Browser(t)
	b.Login(webtest.ClinicOwnerEmail, env.Password)
	b.Go("/clients/" + string(clinic.ID) + "/reports")
	b.Select("#f-kind", string(patch.ReportPatchHealth))
	b.Select("#f-period", "2026-10")
	if st := b.Submit("[data-testid=generate-report] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("generate: status %d", st)
	}
	if !strings.HasPrefix(b.Location(), "/reports/rep_") {
		t.Fatalf("after generating at %s", b.Location())
	}
	b.Screenshot("report")
	pdf := b.Download(`[data-testid=report-files] a[data-format=pdf]`)
	if !strings.HasPrefix(string(pdf), "%PDF-") || len(pdf) < 10_000 || !strings.Contains(string(pdf[len(pdf)-1024:]), "%%EOF") {
		t.Fatalf("the download is not a whole PDF: %d bytes starting %q", len(pdf), pdf[:min(16, len(pdf))])
	}
	csv := b.Download(`[data-testid=report-files] a[data-format=csv]`)
	if !strings.HasPrefix(string(csv), "section,item,field,value") {
		t.Errorf("the CSV starts %q", csv[:min(40, len(csv))])
	}
}

// ringFleet is a client of its own with three machines running the real
// agent against the test server, one per ring.
type ringFleet struct {
	env      *webtest.Env
	client   *patch.Client
	machines map[string]*agent.Agent
	assets   map[string]patch.AssetID
}

var openssl = pkgmgr.Update{ID: "openssl=3.0.16-1~deb12u1", Package: "openssl", Title: "openssl", InstalledVersion: "3.0.15-1~deb12u1",
	AvailableVersion: "3.0.16-1~deb12u1", Classification: pkgmgr.ClassSecurity, Origin: "Debian-Security"}

// round is what happens every few minutes: the agents check in and run
// their jobs, the scheduler takes a step, and they check in again.
func (f *ringFleet) round(t *testing.T) {
	t.Helper()
	for _, name := range []string{"canary-01", "pilot-01", "prod-01"} {
		if err := f.machines[name].RunOnce(t.Context()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := f.env.Server.RolloutRound(t.Context()); err != nil {
		t.Fatalf("rollout round: %v", err)
	}
	for _, name := range []string{"canary-01", "pilot-01", "prod-01"} {
		if err := f.machines[name].RunOnce(t.Context()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestBrowserApproveRingTransition(t *testing.T) {
	// The agents bound their installs by real deadlines, so the clock
	// starts now; sessions outlive the simulated days of soaking.
	env := webtest.Start(t, webtest.Options{NoDemo: true, Now: time.Now().UTC().Truncate(time.Minute),
		Sessions: server.SessionPolicy{Idle: 30 * 24 * time.Hour, Lifetime: 60 * 24 * time.Hour}})
	admin := env.Admin(t.Context())
	if _, err := env.Server.CreateUser(admin, server.UserInput{Email: webtest.AdminEmail, Name: "Sam Okafor", Role: patch.RoleMSPAdmin, Password: env.Password}); err != nil {
		t.Fatal(err)
	}
	cl, err := env.Server.CreateClient(admin, server.ClientInput{Name: "Lakeside Dental"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Server.CreateSite(admin, server.SiteInput{ClientID: cl.ID, Name: "Main office", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	// Deploy at any time, restart without a slot: the test is about rings.
	pol, err := env.Server.PolicyOf(admin, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pol.SLA.Matrix {
		pol.SLA.Matrix[i].Windows = nil
		pol.SLA.Matrix[i].Reboot = patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 1}
		pol.SLA.Matrix[i].ManualApproval = false
	}
	if _, err := env.Server.PutPolicy(admin, cl.ID, pol, false); err != nil {
		t.Fatal(err)
	}

	b := env.Browser(t)
	b.Login(webtest.AdminEmail, env.Password)

	// An enrollment secret from the console, with its install commands.
	b.Go("/settings/agents")
	b.Click("[data-testid=new-enrollment]")
	b.Select("#f-client_id", string(cl.ID))
	b.Fill("#f-name", "Lakeside servers")
	b.Fill("#f-max_uses", "3")
	if st := b.Submit("[data-testid=create-secret] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("create secret: status %d", st)
	}
	secret := strings.TrimSpace(b.Text("#enroll-secret"))
	if install := b.Text("[data-testid=install-linux]"); !strings.Contains(install, secret) || !strings.Contains(install, env.URL) {
		t.Errorf("install command %q lacks the secret or the server", install)
	}
	b.Screenshot("settings-enrollment-secret")

	f := &ringFleet{env: env, client: cl, machines: map[string]*agent.Agent{}, assets: map[string]patch.AssetID{}}
	for _, m := range []struct{ name, ring string }{{"canary-01", "canary"}, {"pilot-01", "pilot"}, {"prod-01", "production"}} {
		fake := pkgmgrtest.New(pkgmgr.SourceApt, openssl)
		fake.SetSoftware(pkgmgr.Software{Name: "openssl", Version: openssl.InstalledVersion, Source: "dpkg", Vendor: "Debian"},
			pkgmgr.Software{Name: "postgresql-15", Version: "15.8-0+deb12u1", Source: "dpkg", Vendor: "Debian"})
		name := m.name
		opts := agent.Options{
			StateDir: t.TempDir(), Managers: []pkgmgr.Manager{fake}, HTTPClient: http.DefaultClient,
			Collect: func(context.Context) (inventory.Host, error) {
				return inventory.Host{Hostname: name, OS: inventory.OS{Family: inventory.FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)",
					Version: "12", Role: inventory.RoleServer}, CPU: inventory.CPU{Model: "Intel Xeon", Cores: 4, Threads: 8},
					MemoryBytes: 16 << 30, Hardware: inventory.Hardware{HardwareUUID: "uuid-" + name, Manufacturer: "Dell Inc.", Model: "PowerEdge R350"}}, nil
			},
			Rand: func() float64 { return 0 }, Hooks: map[string]agent.Hook{},
			Reboot: func(context.Context, time.Duration, string) error { return nil }, Now: env.Clock.Now,
		}
		st, err := agent.Enroll(t.Context(), opts, env.URL, secret, false)
		if err != nil {
			t.Fatalf("enroll %s: %v", name, err)
		}
		if f.machines[name], err = agent.New(opts); err != nil {
			t.Fatal(err)
		}
		f.assets[name] = patch.AssetID(st.AssetID)
		ring := m.ring
		if _, err := env.Server.UpdateAsset(admin, f.assets[name], patch.AssetUpdate{Ring: &ring}); err != nil {
			t.Fatal(err)
		}
		if err := f.machines[name].RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// The agents list and the asset page show what the agent reported.
	b.Go("/settings/agents?client=" + string(cl.ID))
	if n := b.Count("[data-testid=agents] tbody tr td a.strong"); n != 3 {
		t.Errorf("agents listed = %d, want 3", n)
	}
	b.Go("/assets/" + string(f.assets["canary-01"]))
	if inv := b.Text("[data-slot=inventory]"); !strings.Contains(inv, "PowerEdge R350") || !strings.Contains(inv, "Agent online") {
		t.Errorf("inventory section: %s", inv)
	}
	if sw := b.Text("[data-slot=software]"); !strings.Contains(sw, "postgresql-15") {
		t.Errorf("software section lacks postgresql-15: %s", sw)
	}
	if fs := b.Text("[data-slot=findings]"); !strings.Contains(fs, "openssl") {
		t.Errorf("findings section lacks openssl: %s", fs)
	}
	b.Screenshot("asset-with-agent")

	// Start the cycle in the console.
	b.Go("/clients/" + string(cl.ID) + "/cycles")
	b.Click("[data-testid=start-cycle]")
	b.Fill("#f-name", "November 2026")
	if st := b.Submit("[data-testid=create-cycle] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("start the cycle: status %d: %s", st, b.Text("main"))
	}
	cycleURL := b.Location()
	if !strings.HasPrefix(cycleURL, "/cycles/cyc_") {
		t.Fatalf("after starting the cycle at %s", cycleURL)
	}
	id := patch.CycleID(strings.TrimPrefix(cycleURL, "/cycles/"))
	ringState := func(ring string) patch.RingState {
		t.Helper()
		cv, err := env.Server.Cycle(admin, id)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := cv.Ring(ring)
		return r.State
	}

	f.round(t) // canary installs
	f.round(t) // and is verified
	if st := ringState("canary"); st != patch.RingSoaking {
		ds, _, _ := env.Server.CycleDeployments(admin, patch.DeploymentFilter{CycleID: &id})
		for _, d := range ds {
			t.Logf("%s %s %s %+v jobs %d", d.Hostname, d.Ring, d.State, d.Deployment.Targets, len(d.Jobs))
		}
		t.Fatalf("canary = %s, want soaking", st)
	}
	env.Clock.Advance(24*time.Hour + time.Minute)
	f.round(t) // canary promoted automatically; pilot installs
	f.round(t)
	if st := ringState("pilot"); st != patch.RingSoaking {
		t.Fatalf("pilot = %s, want soaking", st)
	}
	env.Clock.Advance(72*time.Hour + time.Minute)
	f.round(t)
	if st := ringState("pilot"); st != patch.RingAwaitingApproval {
		t.Fatalf("pilot = %s, want awaiting approval", st)
	}

	// The MSP approves the move from pilot to production in the console.
	b.Go(cycleURL)
	if b.Count("[data-testid=approve-pilot]") != 1 {
		t.Fatalf("no approval form for pilot: %s", b.Text("[data-testid=rings]"))
	}
	b.Screenshot("cycle-awaiting-approval")
	b.Fill("#f-approve-pilot-note", "Pilot quiet for three days")
	if st := b.Submit("[data-testid=approve-pilot] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("approve: status %d", st)
	}
	if !strings.Contains(b.Text(".flash"), "Ring pilot approved") {
		t.Errorf("flash = %q", b.Text(".flash"))
	}
	if st := ringState("pilot"); st != patch.RingPromoted {
		t.Errorf("pilot after approval = %s", st)
	}
	if by := b.Text(`[data-ring=pilot]`); !strings.Contains(by, "(MSP): Pilot quiet for three days") {
		t.Errorf("the ring does not say who approved: %s", by)
	}
	f.round(t)
	f.round(t)
	f.round(t)
	b.Go(cycleURL)
	if st := b.Text("[data-testid=cycle-state]"); !strings.Contains(st, "Completed") {
		t.Errorf("cycle after production = %q", st)
	}
	if !strings.Contains(b.Text("[data-testid=deployments]"), "verified") {
		t.Errorf("deployments show no verified step")
	}
	b.Screenshot("cycle-completed-agents")
}
