package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
	"github.com/patchring/patchring/internal/policy"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlstore"
)

// A fleet of real agents (package agent, with scripted package managers)
// talking the real protocol to real servers over HTTP, on a real database:
// the rollout end to end, minus the operating system.

// rolloutServer is a server with every store on db, its scheduler named
// holder.
func rolloutServer(t *testing.T, db *sqlstore.DB, clock *patchtest.Clock, holder string) *server.Server {
	t.Helper()
	return server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
		Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Deployments: server.NewDeploymentFacts(db),
		Rollouts: db, Tickets: db, Leases: db, Runbooks: db, ScanResults: db,
	}, server.Options{Now: clock.Now, Agents: server.AgentOptions{PublicURL: "https://p.example", Jitter: func() float64 { return 0 }},
		Rollout: server.RolloutOptions{Holder: holder, LeaseTTL: time.Minute}})
}

// fleetClock starts at the real time: the agent bounds installs with
// context deadlines taken from the server's (test) clock, and those run
// on the real one.
func fleetClock() *patchtest.Clock { return patchtest.NewClock(time.Now().UTC().Truncate(time.Minute)) }

// fleetPkg is the package every machine of the fleet misses.
var fleetPkg = pkgmgr.Update{ID: "openssl=3.0.16-1~deb12u1", Package: "openssl", Title: "openssl", InstalledVersion: "3.0.15-1~deb12u1",
	AvailableVersion: "3.0.16-1~deb12u1", Classification: pkgmgr.ClassSecurity, Origin: "Debian-Security"}

// machine is one fake machine: a real agent with a scripted backend.
type machine struct {
	name  string
	fake  *flakyManager
	agent *agent.Agent
	asset patch.AssetID
	// via is the server the machine talks to (index into fleet.urls).
	via int
}

// flakyManager is pkgmgrtest.Fake whose installs can be made to fail and
// which can roll back.
type flakyManager struct {
	*pkgmgrtest.Fake
	mu          sync.Mutex
	failInstall bool
	installs    int
	rollbacks   int
}

func (m *flakyManager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	m.mu.Lock()
	m.installs++
	fail := m.failInstall
	m.mu.Unlock()
	if fail {
		res := pkgmgr.InstallResult{}
		for _, t := range req.Targets {
			res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemFailed, Detail: "dpkg: error processing package openssl (--configure)"})
		}
		return res, nil
	}
	res, err := m.Fake.Install(ctx, req)
	for i := range res.Items {
		res.Items[i].FromVersion = fleetPkg.InstalledVersion
	}
	return res, err
}

func (m *flakyManager) Rollback(ctx context.Context, req pkgmgr.RollbackRequest) (pkgmgr.InstallResult, error) {
	m.mu.Lock()
	m.rollbacks++
	m.mu.Unlock()
	m.SetMissing(fleetPkg)
	res := pkgmgr.InstallResult{}
	for _, t := range req.Targets {
		res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemInstalled, FromVersion: fleetPkg.AvailableVersion, ToVersion: t.Version})
	}
	return res, nil
}

func (m *flakyManager) counts() (installs, rollbacks int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.installs, m.rollbacks
}

type fleet struct {
	t        *testing.T
	db       *sqlstore.DB
	clock    *patchtest.Clock
	servers  []*server.Server
	urls     []string
	admin    context.Context
	client   *patch.Client
	machines []*machine
}

// newFleet starts one HTTP server per server.Server on db and enrolls
// machines into a new client, pinned to rings: e.g. canary 3, pilot 5,
// production 10.
func newFleet(t *testing.T, db *sqlstore.DB, clock *patchtest.Clock, servers []*server.Server, rings map[string]int) *fleet {
	t.Helper()
	f := &fleet{t: t, db: db, clock: clock, servers: servers, admin: patchtest.AdminContext(t.Context())}
	for _, s := range servers {
		must(t, s.EnsureCommandKey(t.Context()))
		h := httpapi.NewAgentProtocol(s, httpapi.AgentProtocolOptions{}).Handler()
		// The agents adopt the server's clock from the Date header: it
		// must be the test's clock.
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(hs.Close)
		f.urls = append(f.urls, hs.URL)
	}
	srv := servers[0]
	var err error
	f.client, err = srv.CreateClient(f.admin, server.ClientInput{Name: fmt.Sprintf("Riverside Clinic %d", time.Now().UnixNano())})
	must(t, err)
	site := patchtest.Site(f.client.ID, "Main", "UTC")
	must(t, db.CreateSite(f.admin, site))
	sec, err := srv.CreateEnrollmentSecret(f.admin, server.EnrollmentSecretInput{ClientID: f.client.ID, Name: "fleet", SiteID: site.ID})
	must(t, err)
	// Every cell deploys at any time with user-prompted reboots; the
	// rings are the defaults (canary automatic, pilot by the MSP).
	p, err := srv.PolicyOf(f.admin, f.client.ID)
	must(t, err)
	for i := range p.SLA.Matrix {
		p.SLA.Matrix[i].Windows = nil
		p.SLA.Matrix[i].Reboot = patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 1}
		p.SLA.Matrix[i].ManualApproval = false
	}
	_, err = srv.PutPolicy(f.admin, f.client.ID, p, false)
	must(t, err)
	n := 0
	for _, ring := range []string{"canary", "pilot", "production"} {
		for i := range rings[ring] {
			name := fmt.Sprintf("%s-%02d", ring, i)
			m := &machine{name: name, fake: &flakyManager{Fake: pkgmgrtest.New(pkgmgr.SourceApt, fleetPkg)}, via: n % len(servers)}
			n++
			opts := agent.Options{
				StateDir:   t.TempDir(),
				Managers:   []pkgmgr.Manager{m.fake},
				HTTPClient: http.DefaultClient,
				Collect: func(context.Context) (inventory.Host, error) {
					return inventory.Host{Hostname: name, OS: inventory.OS{Family: inventory.FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)",
						Version: "12", Role: inventory.RoleServer}, Hardware: inventory.Hardware{HardwareUUID: "uuid-" + name}}, nil
				},
				Rand:   func() float64 { return 0 },
				Hooks:  map[string]agent.Hook{},
				Reboot: func(context.Context, time.Duration, string) error { return nil },
				Now:    clock.Now,
			}
			st, err := agent.Enroll(t.Context(), opts, f.urls[m.via], sec.Secret, false)
			must(t, err)
			m.asset = patch.AssetID(st.AssetID)
			m.agent, err = agent.New(opts)
			must(t, err)
			_, err = srv.UpdateAsset(f.admin, m.asset, patch.AssetUpdate{Ring: &ring})
			must(t, err)
			f.machines = append(f.machines, m)
		}
	}
	f.checkIn()
	return f
}

// checkIn runs one agent cycle on every machine (scan, check-in, jobs,
// results).
func (f *fleet) checkIn() {
	f.t.Helper()
	for _, m := range f.machines {
		if err := m.agent.RunOnce(f.t.Context()); err != nil {
			f.t.Fatalf("%s: %v", m.name, err)
		}
	}
}

// round runs a scheduler round on every server (only the leader acts),
// then lets every machine check in.
func (f *fleet) round() {
	f.t.Helper()
	f.checkIn() // the agents check in every few minutes: they are online
	for _, s := range f.servers {
		if _, err := s.RolloutRound(f.t.Context()); err != nil {
			f.t.Fatalf("rollout round: %v", err)
		}
	}
	f.checkIn()
}

func (f *fleet) machine(name string) *machine {
	for _, m := range f.machines {
		if m.name == name {
			return m
		}
	}
	f.t.Fatalf("no machine %s", name)
	return nil
}

func (f *fleet) approve() {
	f.t.Helper()
	us, _, err := f.db.FindUpdates(f.admin, patch.UpdateFilter{ClientID: &f.client.ID})
	must(f.t, err)
	for _, u := range us {
		_, err := f.servers[0].DecideUpdate(f.admin, f.client.ID, server.DecisionInput{UpdateID: u.ID, Decision: patch.ApprovalApproved})
		must(f.t, err)
	}
}

func (f *fleet) deployments(id patch.CycleID) map[string]*server.DeploymentView {
	f.t.Helper()
	vs, _, err := f.servers[0].CycleDeployments(f.admin, patch.DeploymentFilter{CycleID: &id, Limit: patch.MaxLimit})
	must(f.t, err)
	out := map[string]*server.DeploymentView{}
	for _, v := range vs {
		out[v.Hostname] = v
	}
	return out
}

// TestRolloutThreeRings: the playbook's three-ring cycle through the real
// protocol — canary, 24h soak, automatic promotion; pilot, 72h soak, the
// MSP approves; production — every machine ends installed and verified,
// with the time of every step in the evidence chain.
func TestRolloutThreeRings(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	srv := rolloutServer(t, db, clock, "server-a")
	f := newFleet(t, db, clock, []*server.Server{srv}, map[string]int{"canary": 2, "pilot": 3, "production": 5})
	f.approve()
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	cv, err := srv.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID, Kind: patch.CycleMonthly, Name: "November 2026"})
	must(t, err)
	if len(cv.Updates) != 1 || cv.Rings[0].Progress.Members != 2 || cv.Rings[1].Progress.Members != 3 || cv.Rings[2].Progress.Members != 5 {
		t.Fatalf("cycle = %+v", cv)
	}
	// Why not patched: production waits for canary.
	prod := f.machine("production-00")
	st := patch.FindingOpen
	fv, _, err := srv.Findings(tech, server.FindingQuery{ClientID: f.client.ID, AssetID: &prod.asset, State: &st})
	must(t, err)
	if len(fv) != 1 || fv[0].Why.Code != policy.WhyRingNotPromoted || !strings.Contains(fv[0].Why.Text, "ring canary") {
		t.Fatalf("why not patched before canary = %+v", fv[0].Why)
	}

	f.round() // canary: install jobs handed out, run, results back
	f.round() // installed → verified (the agent scanned right after)
	c, err := srv.Cycle(tech, cv.ID)
	must(t, err)
	if c.Rings[0].State != patch.RingSoaking || c.Rings[0].Progress.Succeeded != 2 {
		t.Fatalf("canary = %+v", c.Rings[0])
	}
	for _, m := range f.machines[2:] {
		if n, _ := m.fake.counts(); n != 0 {
			t.Fatalf("%s installed before canary soaked", m.name)
		}
	}
	clock.Advance(24*time.Hour + time.Minute)
	f.round()
	f.round()
	c, _ = srv.Cycle(tech, cv.ID)
	if c.Rings[0].State != patch.RingPromoted || c.Rings[1].Progress.Succeeded != 3 || c.Rings[1].State != patch.RingSoaking {
		t.Fatalf("after canary's soak: %+v / %+v", c.Rings[0], c.Rings[1])
	}
	clock.Advance(72*time.Hour + time.Minute)
	f.round()
	c, _ = srv.Cycle(tech, cv.ID)
	if c.Rings[1].State != patch.RingAwaitingApproval {
		t.Fatalf("pilot = %s, want awaiting_approval", c.Rings[1].State)
	}
	// A client owner cannot approve the MSP's transition; the auditor
	// cannot either; a technician can.
	owner := patchtest.OwnerContext(t.Context(), f.client.ID)
	if _, err := srv.ApproveRing(owner, cv.ID, "pilot", server.ApproveRingInput{}); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("owner approving the MSP's ring: %v", err)
	}
	if _, err := srv.ApproveRing(patchtest.RoleContext(t.Context(), patch.RoleAuditor, ""), cv.ID, "pilot", server.ApproveRingInput{}); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("auditor approving: %v", err)
	}
	if _, err := srv.ApproveRing(tech, cv.ID, "canary", server.ApproveRingInput{}); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("approving the automatic canary: %v", err)
	}
	_, err = srv.ApproveRing(tech, cv.ID, "pilot", server.ApproveRingInput{Note: "pilot quiet for 3 days"})
	must(t, err)
	f.round()
	f.round()
	f.round()
	c, _ = srv.Cycle(tech, cv.ID)
	if c.State != patch.CycleCompleted {
		t.Fatalf("cycle = %s, assets %v", c.State, c.Assets)
	}
	for host, d := range f.deployments(cv.ID) {
		if d.State != patch.DeploySucceeded || d.Targets[0].State != patch.TargetVerified || d.SentAt.IsZero() || d.InstalledAt.IsZero() || d.VerifiedAt.IsZero() {
			t.Errorf("%s = %s %+v", host, d.State, d.Deployment)
		}
		if len(d.Jobs) != 1 || d.Jobs[0].Step != patch.StepInstall || d.Jobs[0].State != patch.JobSucceeded || d.Jobs[0].Deliveries != 1 {
			t.Errorf("%s jobs = %+v", host, d.Jobs)
		}
	}
	// The findings are verified by a scan, and say so.
	fv, _, err = srv.Findings(tech, server.FindingQuery{ClientID: f.client.ID, AssetID: &prod.asset})
	must(t, err)
	if len(fv) != 1 || fv[0].Resolution != patch.ResolvedVerified || fv[0].Why.Code != policy.WhyVerified {
		t.Errorf("production finding after the cycle = %+v", fv[0].Finding)
	}
	// Evidence: every step of one machine, each at its time.
	cid := string(cv.ID)
	evs, _, err := db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.client.ID, AssetID: &prod.asset, Limit: 100})
	must(t, err)
	var types []string
	for _, e := range evs {
		if e.Subject.CycleID == cid || e.Type == patch.EventVerified || e.Type == patch.EventDetected {
			types = append(types, e.Type)
		}
	}
	want := []string{"detected", "scheduled", "sent", "installed", "verified"}
	if !slices.Equal(types, want) {
		t.Errorf("evidence of %s = %v, want %v", prod.name, types, want)
	}
	all, _, err := db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.client.ID, CycleID: &cid, Limit: 1000})
	must(t, err)
	var cycleTypes []string
	for _, e := range all {
		if e.Subject.AssetID == "" {
			cycleTypes = append(cycleTypes, e.Type+":"+e.Details["ring"])
		}
	}
	wantCycle := []string{"cycle_created:", "ring_started:canary", "ring_promoted:canary", "ring_started:pilot", "ring_promoted:pilot",
		"ring_started:production", "cycle_completed:"}
	if !slices.Equal(cycleTypes, wantCycle) {
		t.Errorf("cycle evidence = %v, want %v", cycleTypes, wantCycle)
	}
	for _, e := range all {
		if e.Type == patch.EventRingPromoted && e.Details["ring"] == "pilot" && !strings.Contains(e.Actor.Name+e.Details["by"], "(MSP)") {
			t.Errorf("pilot promotion = %+v, want the approver named", e)
		}
	}
	sum, err := srv.RolloutSummary(tech, server.RolloutSummaryQuery{ClientID: f.client.ID})
	must(t, err)
	if len(sum.Cycles) != 1 || sum.Cycles[0].Rings[2].Progress.Succeeded != 5 || len(sum.Failed) != 0 {
		t.Errorf("summary = %+v", sum)
	}
}

// TestRolloutCanaryHalt: canary failures above the threshold halt the
// cycle before pilot, raise a ticket and say why on the findings; a
// technician skips nothing, resumes (audited, with evidence naming them)
// and the failures escalate after the last attempt.
func TestRolloutCanaryHalt(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	srv := rolloutServer(t, db, clock, "server-a")
	f := newFleet(t, db, clock, []*server.Server{srv}, map[string]int{"canary": 3, "pilot": 3, "production": 3})
	f.approve()
	for _, m := range f.machines[:2] {
		m.fake.failInstall = true
	}
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	cv, err := srv.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID})
	must(t, err)
	f.round()
	f.round()
	c, err := srv.Cycle(tech, cv.ID)
	must(t, err)
	if c.State != patch.CycleHalted || c.HaltRing != "canary" || c.TicketID == "" || c.Rings[0].Progress.Failed != 2 {
		t.Fatalf("cycle = %s ring %q ticket %q progress %+v", c.State, c.HaltRing, c.TicketID, c.Rings[0].Progress)
	}
	tk, err := srv.Ticket(tech, c.TicketID)
	must(t, err)
	if tk.Kind != patch.TicketCycleHalted || !strings.Contains(tk.Body, "canary-00 (retry_wait): install failed: openssl: dpkg: error processing package openssl") {
		t.Errorf("ticket = %+v", tk)
	}
	// Why not patched on a failing machine.
	m := f.machine("canary-00")
	st := patch.FindingOpen
	fv, _, err := srv.Findings(tech, server.FindingQuery{ClientID: f.client.ID, AssetID: &m.asset, State: &st})
	must(t, err)
	if fv[0].Why.Code != policy.WhyInstallFailed || !strings.Contains(fv[0].Why.Text, "Failed once; last error: install failed") {
		t.Errorf("why = %+v", fv[0].Why)
	}
	// Halted for a day: the retry does not start; pilot gets nothing.
	clock.Advance(25 * time.Hour)
	f.round()
	if n, _ := m.fake.counts(); n != 1 {
		t.Errorf("canary-00 installed %d times while halted, want 1", n)
	}
	for _, p := range f.machines[3:] {
		if n, _ := p.fake.counts(); n != 0 {
			t.Fatalf("%s installed during the halt", p.name)
		}
	}
	failed, err := srv.FailedInstalls(tech, f.client.ID, nil)
	must(t, err)
	if len(failed) != 2 || failed[0].Outcome != server.OutcomeRetrying {
		t.Errorf("failed installs = %+v", failed)
	}
	// Resume needs a reason; an owner cannot resume.
	if _, err := srv.ResumeCycle(tech, cv.ID, server.CycleActionInput{}); patch.ErrorField(err) != "reason" {
		t.Errorf("resume without a reason: %v", err)
	}
	if _, err := srv.ResumeCycle(patchtest.OwnerContext(t.Context(), f.client.ID), cv.ID, server.CycleActionInput{Reason: "x"}); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("owner resume: %v", err)
	}
	_, err = srv.ResumeCycle(tech, cv.ID, server.CycleActionInput{Reason: "canaries have a full disk; cleaning up"})
	must(t, err)
	tk, _ = srv.Ticket(tech, c.TicketID)
	if tk.State != patch.TicketResolved || !strings.Contains(tk.Resolution, "canaries have a full disk") {
		t.Errorf("ticket after resume = %+v", tk)
	}
	cid := string(cv.ID)
	evs, _, err := db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.client.ID, CycleID: &cid, Types: []string{patch.EventCycleHalted, patch.EventCycleResumed}})
	must(t, err)
	if len(evs) != 2 || evs[1].Actor.Name != "test-technician" || evs[1].Details["reason"] == "" || evs[0].Details["ticket"] != string(c.TicketID) {
		for _, e := range evs {
			t.Errorf("halt/resume evidence = %+v", *e)
		}
	}
	act := "cycle.resume"
	if _, n, _ := db.FindAuditEntries(f.admin, patch.AuditFilter{Action: &act}); n != 1 {
		t.Errorf("%d cycle.resume audit entries", n)
	}
	// The failing machines keep failing: retried with backoff, then
	// escalated with a ticket each; the rest of the cycle goes on.
	for range 20 {
		clock.Advance(3 * time.Hour)
		f.round()
	}
	ds := f.deployments(cv.ID)
	if d := ds["canary-00"]; d.State != patch.DeployFailed || d.Failures != 3 || d.TicketID == "" {
		t.Errorf("canary-00 = %s failures %d", d.State, d.Failures)
	}
	if ds["pilot-00"].State != patch.DeploySucceeded {
		t.Errorf("pilot-00 = %s", ds["pilot-00"].State)
	}
	open := patch.TicketOpen
	esc := patch.TicketEscalation
	if _, n, _ := srv.Tickets(tech, patch.TicketFilter{ClientID: &f.client.ID, Kind: &esc, State: &open}); n != 2 {
		t.Errorf("%d open escalation tickets, want 2", n)
	}
	sum, err := srv.RolloutSummary(tech, server.RolloutSummaryQuery{ClientID: f.client.ID})
	must(t, err)
	if sum.Remediation.Escalated != 2 || sum.Cycles[0].Rings[0].Progress.Waived != 2 {
		t.Errorf("summary remediation %+v, canary %+v", sum.Remediation, sum.Cycles[0].Rings[0].Progress)
	}
}

// TestRolloutHealthRollback: a failed health check rolls the update back
// through the agent's Rollbacker and records it.
func TestRolloutHealthRollback(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	srv := rolloutServer(t, db, clock, "server-a")
	f := newFleet(t, db, clock, []*server.Server{srv}, map[string]int{"canary": 1})
	f.approve()
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	rb := patch.DefaultRunbook(f.client.ID)
	rb.HealthChecks = []patch.HealthCheckSet{{Name: "ehr", Assets: patch.AssetSelector{Roles: []patch.AssetRole{patch.RoleServer}},
		Checks: []patch.HealthCheck{{Name: "ehr-web", Kind: patch.CheckTCP, Host: "127.0.0.1", Port: 1}}}}
	_, err := srv.PutRunbook(tech, f.client.ID, rb)
	must(t, err)
	bad := *rb
	bad.HealthChecks = []patch.HealthCheckSet{{Name: "x", Checks: []patch.HealthCheck{{Name: "shell", Kind: "command", Hook: "rm -rf /"}}}}
	if _, err := srv.PutRunbook(tech, f.client.ID, &bad); patch.ErrorField(err) != "health_checks[0].checks[0].hook" {
		t.Errorf("a command line as a hook: %v", err)
	}
	cv, err := srv.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID})
	must(t, err)
	for range 5 {
		f.round()
	}
	d := f.deployments(cv.ID)["canary-00"]
	if d.State != patch.DeployRolledBack || d.TicketID == "" {
		t.Fatalf("deployment = %s %+v", d.State, d.Deployment)
	}
	if _, rb := f.machines[0].fake.counts(); rb != 1 {
		t.Errorf("%d rollbacks", rb)
	}
	var steps []string
	for _, j := range d.Jobs {
		steps = append(steps, string(j.Step)+":"+string(j.State))
	}
	if !slices.Equal(steps, []string{"install:succeeded", "health:failed", "rollback:succeeded"}) {
		t.Errorf("jobs = %v", steps)
	}
	cid := string(cv.ID)
	evs, _, _ := db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.client.ID, CycleID: &cid, Types: []string{patch.EventHealthCheckFailed, patch.EventRolledBack}})
	if len(evs) != 2 || evs[0].Details["check"] != "ehr-web" || evs[1].Details["version"] != fleetPkg.InstalledVersion {
		t.Errorf("evidence = %+v", evs)
	}
	// The rolled-back update is missing again.
	st := patch.FindingOpen
	m := f.machines[0]
	fv, _, _ := srv.Findings(tech, server.FindingQuery{ClientID: f.client.ID, AssetID: &m.asset, State: &st})
	if len(fv) != 1 || fv[0].Why.Code != policy.WhyInstallFailed || !strings.Contains(fv[0].Why.Text, "health check failed: ehr-web") {
		t.Errorf("after the rollback: %d findings, why %+v", len(fv), fv[0].Why)
	}
}

// TestRolloutLeaderOnly: of two servers on one database only the lease
// holder advances cycles; the other takes over once the lease lapses.
func TestRolloutLeaderOnly(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	a, b := rolloutServer(t, db, clock, "server-a"), rolloutServer(t, db, clock, "server-b")
	led, err := a.RolloutRound(t.Context())
	if err != nil || !led {
		t.Fatalf("a: %v %v", led, err)
	}
	if led, err := b.RolloutRound(t.Context()); err != nil || led {
		t.Fatalf("b led while a holds the lease: %v %v", led, err)
	}
	clock.Advance(61 * time.Second)
	if led, err := b.RolloutRound(t.Context()); err != nil || !led {
		t.Fatalf("b did not take over the lapsed lease: %v %v", led, err)
	}
	if led, _ := a.RolloutRound(t.Context()); led || a.Leading() {
		t.Error("a still leads")
	}
	// RunRollout releases the lease when it stops.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.RunRollout(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RunRollout = %v", err)
	}
	if led, _ := a.RolloutRound(t.Context()); !led {
		t.Error("a could not lead after b released the lease")
	}
}

// TestRolloutSnapshotWebhook: on machines whose runbook asks for a
// snapshot by webhook, the server calls it, signed, before anything
// installs; a refusal fails the attempt and nothing installs.
func TestRolloutSnapshotWebhook(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	srv := rolloutServer(t, db, clock, "server-a")
	f := newFleet(t, db, clock, []*server.Server{srv}, map[string]int{"canary": 2})
	f.approve()
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	key, err := srv.WebhookPublicKey(tech)
	must(t, err)
	pub, err := agentapi.ParsePublicKey(key.PublicKey)
	must(t, err)
	var mu sync.Mutex
	calls := map[string]int{}
	hv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("Patchring-Timestamp"), 10, 64)
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get("Patchring-Signature"))
		if r.Header.Get("Patchring-Key-Id") != key.ID || !ed25519.Verify(pub, server.WebhookMessage(r.Header.Get("Patchring-Webhook-Id"), ts, body), sig) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			t.Error("the webhook's signature does not verify")
			return
		}
		var call server.SnapshotWebhook
		if err := json.Unmarshal(body, &call); err != nil || call.Event != "snapshot" || call.ClientID != f.client.ID {
			t.Errorf("webhook body = %s", body)
		}
		mu.Lock()
		calls[call.Hostname]++
		mu.Unlock()
		if call.Hostname == "canary-01" {
			http.Error(w, "datastore full", http.StatusInsufficientStorage)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer hv.Close()
	rb := patch.DefaultRunbook(f.client.ID)
	rb.Snapshots = []patch.SnapshotRule{{Name: "vms", Webhook: hv.URL + "/snapshot"}}
	_, err = srv.PutRunbook(tech, f.client.ID, rb)
	must(t, err)
	cv, err := srv.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID})
	must(t, err)
	for range 3 {
		f.round()
	}
	ds := f.deployments(cv.ID)
	if d := ds["canary-00"]; d.State != patch.DeploySucceeded || d.SnapshotAt.IsZero() || d.SnapshotAt.After(d.SentAt) {
		t.Errorf("canary-00 = %s, snapshot %s, sent %s", d.State, d.SnapshotAt, d.SentAt)
	}
	if d := ds["canary-01"]; d.State != patch.DeployRetryWait || !strings.Contains(d.LastError, "the snapshot webhook answered 507") {
		t.Errorf("canary-01 = %s %q", d.State, d.LastError)
	}
	if n, _ := f.machine("canary-01").fake.counts(); n != 0 {
		t.Errorf("canary-01 installed after its snapshot failed")
	}
	if calls["canary-00"] != 1 || calls["canary-01"] != 1 {
		t.Errorf("webhook calls = %v", calls)
	}
	cid := string(cv.ID)
	evs, _, _ := db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.client.ID, CycleID: &cid, Types: []string{patch.EventSnapshotTaken, patch.EventSnapshotFailed}})
	if len(evs) != 2 {
		t.Errorf("snapshot evidence = %d entries", len(evs))
	}
}
