package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/policy"
)

// testPolicy covers the policy stores: policies, the MSP canary, update
// decisions, tier overrides, the exception register, alerts and SLA
// evaluations, each with its audit trail, evidence and tenant isolation.
func testPolicy(t *testing.T, open Opener) {
	f := newFixture(t, open)
	srv := patchtest.Asset(f.a.ID, "srv-1", patchtest.Linux)
	must(t, f.db.CreateAsset(f.admin, srv))
	ws := patchtest.Asset(f.a.ID, "ws-1")
	must(t, f.db.CreateAsset(f.admin, ws))
	srvB := patchtest.Asset(f.b.ID, "srv-b", patchtest.Linux)
	must(t, f.db.CreateAsset(f.admin, srvB))
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, a := range []*patch.Asset{srv, ws, srvB} {
		_, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: at, Sources: []patch.UpdateSource{"apt"},
			Missing: []patch.ScannedUpdate{aptUpdate("openssl", "3.0.15-1"), aptUpdate("curl", "7.88.1-10")}})
		must(t, err)
	}
	us, _, err := f.db.FindUpdates(f.admin, patch.UpdateFilter{Query: patchtest.Ptr("openssl")})
	must(t, err)
	openssl := us[0].ID
	auditCount := func(t *testing.T, action string) int {
		t.Helper()
		_, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: &action})
		must(t, err)
		return n
	}

	t.Run("Policies", func(t *testing.T) {
		_, err := f.db.FindPolicy(f.admin, f.a.ID)
		wantKind(t, err, patch.KindNotFound)
		p := policy.Default(f.a)
		must(t, f.db.PutPolicy(f.admin, p))
		if p.Version != 1 || p.UpdatedBy != "test-admin" || p.UpdatedAt.IsZero() {
			t.Errorf("after first put: version %d by %q at %v", p.Version, p.UpdatedBy, p.UpdatedAt)
		}
		got, err := f.db.FindPolicy(f.admin, f.a.ID)
		must(t, err)
		if !reflect.DeepEqual(got, p) {
			t.Errorf("FindPolicy =\n%+v\nwant\n%+v", got, p)
		}
		// Optimistic concurrency: a stale version is refused, 0 overwrites.
		stale := policy.Default(f.a)
		stale.Version = 5
		wantField(t, f.db.PutPolicy(f.admin, stale), patch.KindConflict, "version")
		got.SLA.Matrix[0].Deadline = "12h"
		must(t, f.db.PutPolicy(f.admin, got))
		over := policy.Default(f.a)
		must(t, f.db.PutPolicy(f.admin, over))
		if over.Version != 3 {
			t.Errorf("version after three puts = %d", over.Version)
		}
		if n := auditCount(t, "policy.update"); n != 3 {
			t.Errorf("policy.update audit entries = %d, want 3", n)
		}
		es, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("policy.update"), Limit: 1})
		must(t, err)
		var before, after patch.Policy
		must(t, json.Unmarshal(es[0].Before, &before))
		must(t, json.Unmarshal(es[0].After, &after))
		if before.SLA.Matrix[0].Deadline != "12h" || after.SLA.Matrix[0].Deadline != "24h" || es[0].ClientID != f.a.ID {
			t.Errorf("audit before/after = %s / %s", before.SLA.Matrix[0].Deadline, after.SLA.Matrix[0].Deadline)
		}
		// Another client's owner sees nothing and changes nothing.
		_, err = f.db.FindPolicy(f.ownB, f.a.ID)
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.PutPolicy(f.ownB, policy.Default(f.a)), patch.KindNotFound)
		_, err = f.db.FindPolicy(f.ownA, f.a.ID)
		must(t, err)
	})

	t.Run("MSPCanary", func(t *testing.T) {
		c, err := f.db.FindMSPCanary(f.admin)
		must(t, err)
		if c.Version != 0 || len(c.Assets) != 0 {
			t.Errorf("initial canary = %+v", c)
		}
		c.Tags = []patch.TagRef{{Key: "msp-canary"}}
		must(t, f.db.PutMSPCanary(f.admin, c))
		wantKind(t, f.db.PutMSPCanary(f.ownA, &patch.MSPCanary{}), patch.KindForbidden)
		stale := &patch.MSPCanary{Version: 7}
		wantField(t, f.db.PutMSPCanary(f.admin, stale), patch.KindConflict, "version")
		got, err := f.db.FindMSPCanary(f.ownB)
		must(t, err)
		if got.Version != 1 || len(got.Tags) != 1 {
			t.Errorf("canary = %+v", got)
		}
	})

	t.Run("Decisions", func(t *testing.T) {
		d := &patch.UpdateDecision{ClientID: f.a.ID, UpdateID: openssl, Decision: patch.ApprovalDeclined}
		wantField(t, f.db.DecideUpdate(f.admin, d), patch.KindInvalid, "reason")
		wantKind(t, f.db.DecideUpdate(f.admin, &patch.UpdateDecision{ClientID: f.a.ID, UpdateID: "upd_01KA0000000000000000000000", Decision: patch.ApprovalApproved}), patch.KindNotFound)
		d.Reason = "breaks the PACS viewer"
		must(t, f.db.DecideUpdate(f.admin, d))
		must(t, f.db.DecideUpdate(f.admin, &patch.UpdateDecision{ClientID: f.a.ID, UpdateID: openssl, Decision: patch.ApprovalApproved}))
		ds, n, err := f.db.FindDecisions(f.admin, patch.DecisionFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 1 || ds[0].Decision != patch.ApprovalApproved || ds[0].DecidedBy.Name != "test-admin" || ds[0].DecidedAt.IsZero() {
			t.Errorf("decisions = %d %+v", n, ds)
		}
		// One evidence event per open finding of the update in the client
		// (two assets), for each decision.
		ev, _, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, UpdateID: &openssl, Types: []string{patch.EventDeclined, patch.EventApproved}})
		must(t, err)
		if len(ev) != 4 || ev[0].Type != patch.EventDeclined || ev[0].Details["reason"] != "breaks the PACS viewer" || ev[2].Type != patch.EventApproved || ev[0].Subject.AssetID == "" {
			t.Errorf("decision evidence = %+v", ev)
		}
		if auditCount(t, "update.decline") != 1 || auditCount(t, "update.approve") != 1 {
			t.Error("decisions not audited")
		}
		// Isolation.
		wantKind(t, f.db.DecideUpdate(f.ownB, &patch.UpdateDecision{ClientID: f.a.ID, UpdateID: openssl, Decision: patch.ApprovalApproved}), patch.KindNotFound)
		_, n, err = f.db.FindDecisions(f.ownB, patch.DecisionFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d decisions of A", n)
		}
		wantKind(t, f.db.ClearDecision(f.ownB, f.a.ID, openssl), patch.KindNotFound)
		must(t, f.db.ClearDecision(f.admin, f.a.ID, openssl))
		wantKind(t, f.db.ClearDecision(f.admin, f.a.ID, openssl), patch.KindNotFound)
	})

	t.Run("TierOverrides", func(t *testing.T) {
		yes := true
		o := &patch.TierOverride{ClientID: f.a.ID, UpdateID: openssl, Tier: "critical"}
		wantField(t, f.db.SetTierOverride(f.admin, o), patch.KindInvalid, "reason")
		o.Reason, o.Emergency = "exploited in the wild", &yes
		must(t, f.db.SetTierOverride(f.admin, o))
		os, n, err := f.db.FindTierOverrides(f.admin, patch.TierOverrideFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 1 || os[0].Tier != "critical" || os[0].Emergency == nil || !*os[0].Emergency || os[0].SetBy.Name != "test-admin" {
			t.Errorf("overrides = %+v", os)
		}
		o2 := &patch.TierOverride{ClientID: f.a.ID, UpdateID: openssl, Tier: "routine", Reason: "mitigated by config"}
		must(t, f.db.SetTierOverride(f.admin, o2))
		os, _, err = f.db.FindTierOverrides(f.admin, patch.TierOverrideFilter{UpdateID: &openssl})
		must(t, err)
		if len(os) != 1 || os[0].Tier != "routine" || os[0].Emergency != nil {
			t.Errorf("replaced override = %+v", os)
		}
		wantKind(t, f.db.SetTierOverride(f.ownB, &patch.TierOverride{ClientID: f.a.ID, UpdateID: openssl, Tier: "x", Reason: "y"}), patch.KindNotFound)
		_, n, err = f.db.FindTierOverrides(f.ownB, patch.TierOverrideFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d overrides", n)
		}
		wantField(t, f.db.DeleteTierOverride(f.admin, f.a.ID, openssl, ""), patch.KindInvalid, "reason")
		wantKind(t, f.db.DeleteTierOverride(f.ownB, f.a.ID, openssl, "x"), patch.KindNotFound)
		must(t, f.db.DeleteTierOverride(f.admin, f.a.ID, openssl, "no longer needed"))
		if auditCount(t, "tier_override.set") != 2 || auditCount(t, "tier_override.delete") != 1 {
			t.Error("overrides not audited")
		}
	})

	t.Run("Exceptions", func(t *testing.T) {
		now := time.Now().UTC()
		x := &patch.Exception{ID: patch.ExceptionID(patch.NewID(patch.PrefixException, now)), ClientID: f.a.ID, Lane: patch.LaneLegacy,
			State: patch.ExceptionRequested, Scope: patch.ExceptionScope{AssetIDs: []patch.AssetID{srv.ID}, AllUpdates: true},
			Reason: "Runs the X-ray modality", TicketRef: "PSA-77",
			Controls:    []patch.CompensatingControl{{Kind: patch.ControlSegmentation, Description: "isolated VLAN"}},
			RequestedBy: patch.Actor{Kind: patch.ActorToken, Name: "tech"}, RequestedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), UpdatedAt: now}
		bad := *x
		bad.TicketRef = ""
		wantField(t, f.db.CreateException(f.admin, &bad), patch.KindInvalid, "ticket_ref")
		wantKind(t, f.db.CreateException(f.ownB, x), patch.KindNotFound)
		must(t, f.db.CreateException(f.admin, x))
		got, err := f.db.FindExceptionByID(f.ownA, x.ID)
		must(t, err)
		if !reflect.DeepEqual(got, x) {
			t.Errorf("FindExceptionByID =\n%+v\nwant\n%+v", got, x)
		}
		// A failing step changes nothing.
		_, err = f.db.ChangeException(f.admin, x.ID, func(e *patch.Exception) (patch.ExceptionStep, error) {
			e.State = patch.ExceptionActive
			return patch.ExceptionStep{}, errors.New("no")
		})
		if err == nil {
			t.Fatal("a failing step succeeded")
		}
		// Sign-off through the policy's transition.
		signed, err := f.db.ChangeException(f.ownA, x.ID, func(e *patch.Exception) (patch.ExceptionStep, error) {
			return policy.SignOff(e, patch.SignOff{UserID: "usr_1", Name: "Dr. Owner"}, now)
		})
		must(t, err)
		if signed.State != patch.ExceptionActive || signed.SignOff == nil || signed.SignOff.Name != "Dr. Owner" {
			t.Errorf("after sign-off: %+v", signed)
		}
		// Another client's owner cannot see or touch it.
		_, err = f.db.FindExceptionByID(f.ownB, x.ID)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.ChangeException(f.ownB, x.ID, func(e *patch.Exception) (patch.ExceptionStep, error) { return patch.ExceptionStep{}, nil })
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindExceptions(f.ownB, patch.ExceptionFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d exceptions", n)
		}
		// Expiry raises one alert, however often it is raised.
		for range 2 {
			_, err = f.db.ChangeException(f.admin, x.ID, func(e *patch.Exception) (patch.ExceptionStep, error) {
				step, _ := policy.Advance(e, e.ExpiresAt.Add(time.Second))
				if step.Alert == nil {
					step.Alert = &patch.Alert{ClientID: e.ClientID, Kind: patch.AlertExceptionExpired, Severity: patch.AlertWarning, SubjectType: "exception", SubjectID: string(e.ID), Message: "again"}
				}
				return step, nil
			})
			must(t, err)
		}
		es, n, err := f.db.FindExceptions(f.admin, patch.ExceptionFilter{ClientID: &f.a.ID, States: []patch.ExceptionState{patch.ExceptionExpired}})
		must(t, err)
		if n != 1 || !es[0].EndedAt.Equal(x.ExpiresAt) {
			t.Errorf("expired exceptions = %d %+v", n, es)
		}
		open := true
		alerts, n, err := f.db.FindAlerts(f.ownA, patch.AlertFilter{Open: &open})
		must(t, err)
		if n != 1 || alerts[0].Kind != patch.AlertExceptionExpired || alerts[0].SubjectID != string(x.ID) || alerts[0].Details["ticket_ref"] != "PSA-77" {
			t.Errorf("alerts = %d %+v", n, alerts)
		}
		_, n, err = f.db.FindAlerts(f.ownB, patch.AlertFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d alerts", n)
		}
		// Every step is in the audit log and the evidence chain.
		for _, action := range []string{"exception.request", "exception.sign_off", "exception.expire"} {
			if auditCount(t, action) == 0 {
				t.Errorf("no %s audit entry", action)
			}
		}
		ev, _, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, Types: []string{patch.EventExcepted, patch.EventExceptionSignedOff, patch.EventExceptionExpired}})
		must(t, err)
		if len(ev) < 3 || ev[0].Subject.ExceptionID != string(x.ID) || ev[0].Subject.AssetID != srv.ID || ev[0].Details["state"] != "requested" ||
			ev[1].Type != patch.EventExceptionSignedOff || ev[2].Type != patch.EventExceptionExpired {
			t.Errorf("exception evidence = %+v", ev)
		}
	})

	t.Run("Evaluations", func(t *testing.T) {
		st := patch.FindingOpen
		fs, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{AssetID: &srv.ID, State: &st})
		must(t, err)
		due := time.Now().UTC().Truncate(time.Millisecond).Add(24 * time.Hour)
		ev := patch.FindingEvaluation{FindingID: fs[0].ID, State: patch.FindingOpen, Tier: "high", Emergency: true, Approval: patch.ApprovalApproved,
			DueAt: due, SLAStatus: patch.SLAOnTrack, ExceptionID: "exc_x",
			Events: []patch.EvidenceEvent{{ClientID: f.a.ID, Type: patch.EventApproved, Subject: patch.EvidenceSubject{AssetID: srv.ID, UpdateID: fs[0].UpdateID}, Details: map[string]string{"source": "rule"}}}}
		stale := patch.FindingEvaluation{FindingID: fs[1].ID, State: patch.FindingResolved, Tier: "x"}
		n, err := f.db.SaveEvaluations(f.admin, []patch.FindingEvaluation{ev, stale})
		must(t, err)
		if n != 1 {
			t.Errorf("SaveEvaluations wrote %d, want 1 (the other changed state)", n)
		}
		got, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{ID: &fs[0].ID})
		must(t, err)
		g := got[0]
		if g.Tier != "high" || !g.Emergency || g.Approval != patch.ApprovalApproved || !g.DueAt.Equal(due) || g.SLAStatus != patch.SLAOnTrack || g.ExceptionID != "exc_x" || g.EvaluatedAt.IsZero() {
			t.Errorf("evaluated finding = %+v", g)
		}
		if other, _, _ := f.db.FindFindings(f.admin, patch.FindingFilter{ID: &fs[1].ID}); other[0].Tier != "" {
			t.Errorf("stale evaluation written: %+v", other[0])
		}
		evs, _, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, Types: []string{patch.EventApproved}, AssetID: &srv.ID})
		must(t, err)
		if len(evs) == 0 || evs[len(evs)-1].Details["source"] != "rule" {
			t.Errorf("evaluation evidence = %+v", evs)
		}
		// A client owner of B cannot write A's findings.
		n, err = f.db.SaveEvaluations(f.ownB, []patch.FindingEvaluation{{FindingID: fs[1].ID, State: patch.FindingOpen, Tier: "pwned"}})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B evaluated %d findings of A", n)
		}

		// What the evaluator must look at: open findings, paged by id.
		toEval := func(ctx context.Context, asset *patch.AssetID) []*patch.Finding {
			t.Helper()
			var all []*patch.Finding
			var after patch.FindingID
			for {
				page, err := f.db.FindingsToEvaluate(ctx, f.a.ID, asset, after, 1)
				must(t, err)
				if len(page) == 0 {
					return all
				}
				if page[0].Update == nil {
					t.Fatalf("finding %s without its update", page[0].ID)
				}
				all = append(all, page...)
				after = page[len(page)-1].ID
			}
		}
		if got := toEval(f.admin, nil); len(got) != 4 {
			t.Errorf("findings to evaluate = %d, want the 4 open ones of A", len(got))
		}
		if got := toEval(f.ownB, nil); len(got) != 0 {
			t.Errorf("client owner of B gets %d findings of A to evaluate", len(got))
		}
		// Resolved findings still carrying an open status (or never
		// evaluated) are included until they are evaluated as resolved.
		_, err = f.db.RecordScan(f.admin, patch.ScanResult{AssetID: srv.ID, At: time.Now(), Sources: []patch.UpdateSource{"apt"}})
		must(t, err)
		resolved := toEval(f.admin, &srv.ID)
		if len(resolved) != 2 || resolved[0].State != patch.FindingResolved || resolved[1].State != patch.FindingResolved {
			t.Fatalf("after resolving srv-1: %d findings", len(resolved))
		}
		_, err = f.db.SaveEvaluations(f.admin, []patch.FindingEvaluation{
			{FindingID: fs[0].ID, State: patch.FindingResolved, Tier: "high", SLAStatus: patch.SLAMet, DueAt: due},
			{FindingID: fs[1].ID, State: patch.FindingResolved, Tier: "high", SLAStatus: patch.SLAMetLate, DueAt: due},
		})
		must(t, err)
		if got := toEval(f.admin, &srv.ID); len(got) != 0 {
			t.Errorf("after evaluating the resolved finding: %+v", got)
		}
	})

	t.Run("DeleteClientWithPolicy", func(t *testing.T) {
		c := patchtest.Client("")
		must(t, f.db.CreateClient(f.admin, c))
		must(t, f.db.PutPolicy(f.admin, policy.Default(c)))
		must(t, f.db.DeleteClient(f.admin, c.ID))
		_, err := f.db.FindPolicy(f.admin, c.ID)
		wantKind(t, err, patch.KindNotFound)
	})
}
