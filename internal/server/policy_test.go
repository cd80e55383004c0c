package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/policy"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
)

// policyWorld is a server on real SQLite with one client, a site in
// Chicago, a core server, a do-not-disrupt system, a workstation and a
// legacy PC, and a client-owner user with a token of their own.
type policyWorld struct {
	srv           *server.Server
	db            *sqlstore.DB
	clock         *patchtest.Clock
	admin, tech   context.Context
	auditor       context.Context
	owner, ownerB context.Context
	ownerNoUser   context.Context
	c, cb         *patch.Client
	site          *patch.Site
	core, dnd, ws *patch.Asset
	legacy        *patch.Asset
	ownerUser     *patch.User
}

func newPolicyServer(t *testing.T) (*server.Server, *sqlstore.DB, *patchtest.Clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Time{})
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db}, server.Options{Now: clock.Now})
	return srv, db, clock
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newPolicyWorld(t *testing.T) *policyWorld {
	t.Helper()
	w := &policyWorld{}
	w.srv, w.db, w.clock = newPolicyServer(t)
	w.admin = patchtest.AdminContext(t.Context())
	w.tech = patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	w.auditor = patchtest.RoleContext(t.Context(), patch.RoleAuditor, "")
	var err error
	w.c, err = w.srv.CreateClient(w.admin, server.ClientInput{Name: "Riverside Clinic"})
	must(t, err)
	w.cb, err = w.srv.CreateClient(w.admin, server.ClientInput{Name: "Beta Law"})
	must(t, err)
	w.site = patchtest.Site(w.c.ID, "Main", "America/Chicago")
	must(t, w.db.CreateSite(w.admin, w.site))
	mk := func(host string, class string, opts ...func(*patch.Asset)) *patch.Asset {
		a := patchtest.Asset(w.c.ID, host, opts...)
		a.Class, a.SiteID, a.Managed, a.Source, a.LastSeen = class, w.site.ID, true, patch.SourceAgent, w.clock.Now()
		must(t, w.db.CreateAsset(w.admin, a))
		return a
	}
	server := func(a *patch.Asset) {
		a.Role, a.OS = patch.RoleServer, patch.OS{Family: patch.OSWindows, Name: "Windows Server 2022", Version: "10.0.20348"}
	}
	w.core = mk("dc-1", patch.ClassCoreServer, server)
	w.dnd = mk("pacs-1", patch.ClassDoNotDisrupt, server)
	w.ws = mk("ws-1", patch.ClassWorkstation)
	w.legacy = mk("xray-pc", patch.ClassWorkstation)
	w.ownerUser = patchtest.User("owner@riverside.example", patch.RoleClientOwner, w.c.ID)
	must(t, w.db.CreateUser(w.admin, w.ownerUser))
	tok, _ := patchtest.Token("owner laptop", patch.RoleClientOwner, w.c.ID)
	tok.UserID = w.ownerUser.ID
	must(t, w.db.CreateToken(w.admin, tok))
	w.owner = patch.NewContextWithActor(t.Context(), tok.Actor())
	bare, _ := patchtest.Token("owner script", patch.RoleClientOwner, w.c.ID)
	must(t, w.db.CreateToken(w.admin, bare))
	w.ownerNoUser = patch.NewContextWithActor(t.Context(), bare.Actor())
	w.ownerB = patchtest.OwnerContext(t.Context(), w.cb.ID)
	return w
}

// Windows updates of November 2026's Patch Tuesday.
func wuaUpdate(kb, severity, class string) patch.ScannedUpdate {
	return patch.ScannedUpdate{Update: patch.Update{
		Source: "wua", VendorID: kb + ".1", Package: kb, Title: "Update " + kb, Product: "Windows Server 2022", Version: "1",
		Classification: class, VendorSeverity: severity, KBs: []string{kb}, ReleaseDate: time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC),
	}}
}

func (w *policyWorld) scan(t *testing.T, a *patch.Asset, missing ...patch.ScannedUpdate) {
	t.Helper()
	_, err := w.db.RecordScan(w.admin, patch.ScanResult{AssetID: a.ID, At: w.clock.Now(), Sources: []patch.UpdateSource{"wua"}, Missing: missing})
	must(t, err)
}

func (w *policyWorld) findings(t *testing.T, ctx context.Context, a *patch.Asset) []*server.FindingView {
	t.Helper()
	st := patch.FindingOpen
	vs, _, err := w.srv.Findings(ctx, server.FindingQuery{ClientID: w.c.ID, AssetID: &a.ID, State: &st})
	must(t, err)
	return vs
}

func TestPolicyReadWriteAndAuthorization(t *testing.T) {
	w := newPolicyWorld(t)
	// A new client is held to the defaults (version 0).
	p, err := w.srv.PolicyOf(w.owner, w.c.ID)
	must(t, err)
	if p.Version != 0 || len(p.SLA.Matrix) == 0 {
		t.Fatalf("default policy = %+v", p)
	}
	_, err = w.srv.PolicyOf(w.ownerB, w.c.ID)
	if patch.ErrorKind(err) != patch.KindNotFound {
		t.Errorf("owner of B reads A's policy: %v", err)
	}
	for name, ctx := range map[string]context.Context{"auditor": w.auditor, "owner": w.owner} {
		if _, err := w.srv.PutPolicy(ctx, w.c.ID, p, false); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("%s puts a policy: %v", name, err)
		}
	}
	// Dry run: the exact diff, nothing stored.
	p.SLA.Matrix[0].Deadline = "12h"
	ch, err := w.srv.PutPolicy(w.tech, w.c.ID, p, true)
	must(t, err)
	if !ch.DryRun || len(ch.Changes) != 1 || ch.Changes[0].String() != `~ sla.matrix[core-server/critical].deadline: "24h" → "12h"` {
		t.Errorf("dry run = %+v", ch)
	}
	if got, _ := w.srv.PolicyOf(w.tech, w.c.ID); got.Version != 0 {
		t.Errorf("dry run stored version %d", got.Version)
	}
	// Invalid: refused with the field, nothing stored.
	bad := policy.Default(w.c)
	bad.SLA.Matrix[2].Windows = []string{"lunch"}
	_, err = w.srv.PutPolicy(w.tech, w.c.ID, bad, false)
	if patch.ErrorField(err) != "sla.matrix[2].windows[0]" {
		t.Errorf("invalid policy: %v", err)
	}
	// Apply.
	ch, err = w.srv.PutPolicy(w.tech, w.c.ID, p, false)
	must(t, err)
	if ch.Policy.Version != 1 {
		t.Errorf("version after apply = %d", ch.Policy.Version)
	}
	stale := policy.Default(w.c)
	stale.Version = 9
	if _, err := w.srv.PutPolicy(w.tech, w.c.ID, stale, true); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("stale version: %v", err)
	}
	other := policy.Default(w.cb)
	if _, err := w.srv.PutPolicy(w.tech, w.c.ID, other, false); patch.ErrorField(err) != "client_id" {
		t.Errorf("policy of another client: %v", err)
	}
	m, err := w.srv.SLAMatrixOf(w.auditor, w.c.ID)
	must(t, err)
	if len(m.Rows) != 5 || m.Rows[0].Cells[0].Deadline != "12h" || m.Rows[3].Cells[2].Reboot != "manual approval" {
		t.Errorf("SLA matrix = %+v", m.Rows)
	}
}

func TestFindingsDueAndWhy(t *testing.T) {
	w := newPolicyWorld(t)
	w.scan(t, w.core, wuaUpdate("KB5046616", "Critical", "security"))
	w.scan(t, w.dnd, wuaUpdate("KB5046617", "Low", "security"))
	res, err := w.srv.EvaluateClient(w.tech, w.c.ID)
	must(t, err)
	if res.Findings != 2 || res.Updated != 2 {
		t.Errorf("evaluation = %+v", res)
	}
	now := w.clock.Now()
	core := w.findings(t, w.owner, w.core)[0]
	if core.Tier != "critical" || core.Approval != patch.ApprovalApproved || !core.DueAt.Equal(now.Add(24*time.Hour)) || core.SLAStatus != patch.SLAOnTrack {
		t.Errorf("core server finding = %+v", core.Finding)
	}
	// 09:00 UTC is 03:00 in Chicago: inside the nightly window.
	if core.Why.Code != policy.WhyDeploying || core.TimeZone != "America/Chicago" {
		t.Errorf("core why = %+v", core.Why)
	}
	dnd := w.findings(t, w.owner, w.dnd)[0]
	if dnd.Tier != "routine" || dnd.Approval != patch.ApprovalPending || dnd.Why.Code != policy.WhyNotApproved || !dnd.DueAt.Equal(now.Add(30*24*time.Hour)) {
		t.Errorf("do-not-disrupt finding = %+v %+v", dnd.Finding, dnd.Why)
	}
	// Stored: the evaluator wrote the same.
	stored, _, err := w.db.FindFindings(w.admin, patch.FindingFilter{ID: &core.ID})
	must(t, err)
	if stored[0].SLAStatus != patch.SLAOnTrack || !stored[0].DueAt.Equal(core.DueAt) || stored[0].EvaluatedAt.IsZero() {
		t.Errorf("stored = %+v", stored[0])
	}
	// A day and a bit later the core finding is breached.
	w.clock.Advance(25 * time.Hour)
	must(t, w.srv.EvaluateAll(t.Context()))
	stored, _, err = w.db.FindFindings(w.admin, patch.FindingFilter{ID: &core.ID})
	must(t, err)
	if stored[0].SLAStatus != patch.SLABreached {
		t.Errorf("after 25h status = %s", stored[0].SLAStatus)
	}
	// Manual approval of the DND update; it then waits for the weekend window.
	_, err = w.srv.DecideUpdate(w.tech, w.c.ID, server.DecisionInput{UpdateID: dnd.UpdateID, Decision: patch.ApprovalApproved})
	must(t, err)
	dnd = w.findings(t, w.owner, w.dnd)[0]
	if dnd.Approval != patch.ApprovalApproved || dnd.Why.Code != policy.WhyWaitingForWindow || !strings.Contains(dnd.Why.Text, "weekend on Sat 14 Nov 2026 22:00 CST") {
		t.Errorf("after approval: %+v", dnd.Why)
	}
	// Declining needs a reason and shows it.
	if _, err := w.srv.DecideUpdate(w.tech, w.c.ID, server.DecisionInput{UpdateID: dnd.UpdateID, Decision: patch.ApprovalDeclined}); patch.ErrorField(err) != "reason" {
		t.Errorf("decline without reason: %v", err)
	}
	_, err = w.srv.DecideUpdate(w.tech, w.c.ID, server.DecisionInput{UpdateID: dnd.UpdateID, Decision: patch.ApprovalDeclined, Reason: "PACS vendor not certified"})
	must(t, err)
	if v := w.findings(t, w.owner, w.dnd)[0]; v.Why.Code != policy.WhyDeclined || !strings.Contains(v.Why.Text, "PACS vendor not certified") {
		t.Errorf("after decline: %+v", v.Why)
	}
	if _, err := w.srv.DecideUpdate(w.owner, w.c.ID, server.DecisionInput{UpdateID: dnd.UpdateID, Decision: patch.ApprovalApproved}); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("client owner approves: %v", err)
	}
	// A tier override makes the DND update critical: 7-day deadline.
	_, err = w.srv.SetTierOverride(w.tech, w.c.ID, dnd.UpdateID, server.TierOverrideInput{Tier: "critical", Reason: "exploited at a sister clinic"})
	must(t, err)
	if v := w.findings(t, w.owner, w.dnd)[0]; v.Tier != "critical" || !v.DueAt.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("after override: tier %s due %v", v.Tier, v.DueAt)
	}
	if _, err := w.srv.SetTierOverride(w.tech, w.c.ID, dnd.UpdateID, server.TierOverrideInput{Tier: "urgent", Reason: "x"}); patch.ErrorField(err) != "tier" {
		t.Errorf("override to unknown tier: %v", err)
	}
	// Next window for the DND asset.
	nw, err := w.srv.NextWindowFor(w.owner, w.dnd.ID)
	must(t, err)
	if nw.TimeZone != "America/Chicago" || nw.Next == nil || nw.Next.Window != "weekend" || len(nw.Tiers) != 3 {
		t.Errorf("next window = %+v", nw)
	}
}

// The exception lifecycle through the use cases: request, owner sign-off,
// pause, expiry with an alert, back under the SLA; every step audited and
// in the evidence chain.
func TestExceptionLifecycle(t *testing.T) {
	w := newPolicyWorld(t)
	w.scan(t, w.legacy, wuaUpdate("KB5046618", "Important", "security"), wuaUpdate("KB5046619", "Moderate", "security"))
	start := w.clock.Now()
	in := server.ExceptionInput{ClientID: w.c.ID, Lane: patch.LaneLegacy,
		Scope:  patch.ExceptionScope{AssetIDs: []patch.AssetID{w.legacy.ID}, AllUpdates: true},
		Reason: "Runs the X-ray modality software, which the vendor supports on this build only", TicketRef: "PSA-4411",
		Controls:  []patch.CompensatingControl{{Kind: patch.ControlSegmentation, Description: "modality VLAN, no internet"}, {Kind: patch.ControlRestrictedAccess, Description: "radiology staff only"}},
		ExpiresAt: start.Add(60 * 24 * time.Hour)}
	// Over the legacy maximum (365 days by default)?
	long := in
	long.ExpiresAt = start.Add(400 * 24 * time.Hour)
	if _, err := w.srv.RequestException(w.tech, long); patch.ErrorField(err) != "expires_at" {
		t.Errorf("too long: %v", err)
	}
	foreign := in
	foreign.Scope.AssetIDs = []patch.AssetID{"ast_01KA0000000000000000000000"}
	if _, err := w.srv.RequestException(w.tech, foreign); patch.ErrorField(err) != "scope.asset_ids[0]" {
		t.Errorf("unknown asset: %v", err)
	}
	if _, err := w.srv.RequestException(w.auditor, in); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("auditor requests: %v", err)
	}
	x, err := w.srv.RequestException(w.tech, in)
	must(t, err)
	if x.State != patch.ExceptionRequested {
		t.Fatalf("state = %s", x.State)
	}
	if v := w.findings(t, w.owner, w.legacy); v[0].Why.Code != policy.WhyExceptionPending {
		t.Errorf("pending why = %+v", v[0].Why)
	}
	// Only a client-owner user of this client signs off.
	for name, ctx := range map[string]context.Context{"technician": w.tech, "admin": w.admin, "token without user": w.ownerNoUser} {
		if _, err := w.srv.SignOffException(ctx, x.ID, ""); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("%s signs off: %v", name, err)
		}
	}
	if _, err := w.srv.SignOffException(w.ownerB, x.ID, ""); patch.ErrorKind(err) != patch.KindNotFound {
		t.Errorf("owner of another client signs off: %v", err)
	}
	w.clock.Advance(time.Hour)
	x, err = w.srv.SignOffException(w.owner, x.ID, "Agreed at the QBR")
	must(t, err)
	if x.State != patch.ExceptionActive || x.SignOff.UserID != w.ownerUser.ID || x.SignOff.Note != "Agreed at the QBR" {
		t.Fatalf("after sign-off: %+v", x)
	}
	if _, err := w.srv.SignOffException(w.owner, x.ID, ""); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("second sign-off: %v", err)
	}
	vs := w.findings(t, w.auditor, w.legacy)
	for _, v := range vs {
		if v.SLAStatus != patch.SLAPaused || v.Exception == nil || v.Exception.ID != x.ID || v.Why.Code != policy.WhyLegacyLane || v.Ring.By != policy.ByIsolated {
			t.Errorf("excepted finding = %+v why %+v ring %+v", v.Finding, v.Why, v.Ring)
		}
	}
	covered, err := w.srv.ExceptionFindings(w.owner, x.ID)
	must(t, err)
	if len(covered) != 2 {
		t.Errorf("exception covers %d findings, want 2", len(covered))
	}
	rings, err := w.srv.RingsOf(w.owner, w.c.ID)
	must(t, err)
	if len(rings.Isolated) != 1 || rings.Isolated[0].AssetID != w.legacy.ID || rings.Total != 4 {
		t.Errorf("rings = %+v", rings)
	}
	// At the hard expiry the loop expires it, raises an alert, and the
	// findings are back under the SLA.
	w.clock.Set(x.ExpiresAt.Add(time.Minute))
	must(t, w.srv.EvaluateAll(t.Context()))
	x, err = w.srv.Exception(w.owner, x.ID)
	must(t, err)
	if x.State != patch.ExceptionExpired {
		t.Errorf("state after expiry = %s", x.State)
	}
	open := true
	alerts, _, err := w.srv.Alerts(w.owner, patch.AlertFilter{Open: &open})
	must(t, err)
	if len(alerts) != 1 || alerts[0].Kind != patch.AlertExceptionExpired || alerts[0].SubjectID != string(x.ID) {
		t.Errorf("alerts = %+v", alerts)
	}
	for _, v := range w.findings(t, w.auditor, w.legacy) {
		if v.SLAStatus == patch.SLAPaused || v.Exception != nil {
			t.Errorf("finding still paused after expiry: %+v", v.Finding)
		}
		// High: 7 days from first seen, plus the 60 days less an hour paused.
		if v.Tier == "high" && !v.DueAt.Equal(start.Add(7*24*time.Hour+60*24*time.Hour-time.Hour)) {
			t.Errorf("due after expiry = %v", v.DueAt)
		}
	}
	// Every step is in the audit log and the evidence chain.
	entity := string(x.ID)
	es, _, err := w.srv.AuditLog(w.owner, patch.AuditFilter{EntityID: &entity})
	must(t, err)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, ",") != "exception.expire,exception.sign_off,exception.request" {
		t.Errorf("audit = %v", actions)
	}
	if es[0].Actor.Kind != patch.ActorSystem {
		t.Errorf("expiry recorded as %+v", es[0].Actor)
	}
	ev, _, err := w.db.FindEvidence(w.admin, patch.EvidenceFilter{ClientID: w.c.ID, Types: []string{patch.EventExcepted, patch.EventExceptionSignedOff, patch.EventExceptionExpired}})
	must(t, err)
	if len(ev) != 3 || ev[1].Details["signed_off_by"] != w.ownerUser.Name || ev[2].Type != patch.EventExceptionExpired {
		t.Errorf("evidence = %+v", ev)
	}
}

func TestRevokeException(t *testing.T) {
	w := newPolicyWorld(t)
	w.scan(t, w.ws, wuaUpdate("KB1", "Important", "security"))
	x, err := w.srv.RequestException(w.owner, server.ExceptionInput{ClientID: w.c.ID, Scope: patch.ExceptionScope{AllAssets: true, Product: "Windows Server 2022"},
		Reason: "Month-end close", TicketRef: "T-9", ExpiresAt: w.clock.Now().Add(5 * 24 * time.Hour)})
	must(t, err)
	_, err = w.srv.SignOffException(w.owner, x.ID, "")
	must(t, err)
	if v := w.findings(t, w.tech, w.ws)[0]; v.SLAStatus != patch.SLAPaused {
		t.Fatalf("not paused: %+v", v.Finding)
	}
	if _, err := w.srv.RevokeException(w.auditor, x.ID, "x"); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("auditor revokes: %v", err)
	}
	if _, err := w.srv.RevokeException(w.tech, x.ID, ""); patch.ErrorField(err) != "reason" {
		t.Errorf("revoke without reason: %v", err)
	}
	x, err = w.srv.RevokeException(w.owner, x.ID, "close finished early")
	must(t, err)
	if x.State != patch.ExceptionRevoked || x.EndReason != "close finished early" {
		t.Errorf("revoked = %+v", x)
	}
	if v := w.findings(t, w.tech, w.ws)[0]; v.SLAStatus == patch.SLAPaused {
		t.Errorf("still paused after revoke: %+v", v.Finding)
	}
}

func TestRunSLAEvaluatorStops(t *testing.T) {
	srv, _, _ := newPolicyServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := srv.RunSLAEvaluator(ctx); err != context.Canceled {
		t.Errorf("RunSLAEvaluator = %v, want context.Canceled", err)
	}
}
