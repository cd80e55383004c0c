package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/rollout"
)

// The demo's patch cycle history: the clinic's October cycle, completed
// ring by ring (canary, pilot, production) on the update its machines
// installed most widely, and the manufacturer's November cycle, halted in
// canary by two failed installs, with its ticket open. Both are built from
// the demo's real findings and stored as the scheduler would have left
// them, with the time of every step; the scheduler then keeps them as they
// are (one complete, one waiting for a person).

// cycleStore is what the cycle history needs of the store (the demo's
// store is the SQL store, which has all of it).
type cycleStore interface {
	patch.RolloutStore
	patch.LeaseStore
	patch.FindingStore
	patch.AssetStore
}

func seedCycles(ctx context.Context, st patch.AssetStore, now time.Time, res *Result) error {
	cs, ok := st.(cycleStore)
	if !ok {
		return nil
	}
	byName := map[string]*patch.Client{}
	for _, c := range res.Clients {
		byName[c.Name] = c
	}
	holder := "demo seed"
	lease, held, err := cs.AcquireLease(ctx, "rollout-scheduler", holder, 10*time.Minute)
	if err != nil {
		return fmt.Errorf("take the scheduler lease: %w", err)
	}
	if !held {
		return nil // a running server schedules: leave its cycles alone
	}
	defer func() { _ = cs.ReleaseLease(ctx, "rollout-scheduler", holder) }()
	if c := byName[clinic]; c != nil {
		if err := completedCycle(ctx, cs, lease, c, now); err != nil {
			return fmt.Errorf("clinic cycle: %w", err)
		}
	}
	if c := byName[manufacturer]; c != nil {
		if err := haltedCycle(ctx, cs, lease, c, now); err != nil {
			return fmt.Errorf("manufacturer cycle: %w", err)
		}
	}
	return nil
}

// widest returns the findings of the update most assets have, from fs.
func widest(fs []*patch.Finding) []*patch.Finding {
	by := map[patch.UpdateID][]*patch.Finding{}
	for _, f := range fs {
		if f.Update != nil {
			by[f.UpdateID] = append(by[f.UpdateID], f)
		}
	}
	var best []*patch.Finding
	for _, v := range by {
		if len(v) > len(best) || (len(v) == len(best) && len(v) > 0 && v[0].UpdateID < best[0].UpdateID) {
			best = v
		}
	}
	slices.SortFunc(best, func(a, b *patch.Finding) int { return strings.Compare(string(a.AssetID), string(b.AssetID)) })
	return best
}

// demoCycle builds a cycle over the findings: the first two assets in
// canary, the next four in pilot, the rest in production.
func demoCycle(c *patch.Client, name string, fs []*patch.Finding, created time.Time) (*patch.Cycle, []*patch.Deployment) {
	u := fs[0].Update
	cy := &patch.Cycle{ID: patch.CycleID(patch.NewID(patch.PrefixCycle, created)), ClientID: c.ID, Kind: patch.CycleMonthly, Name: name,
		State: patch.CycleRunning, CreatedBy: "Sam Okafor", CreatedAt: created,
		Updates: []patch.CycleUpdate{{UpdateID: u.ID, Source: u.Source, Package: u.Package, Version: u.Version, Title: u.Title}},
		Rings: []patch.CycleRing{
			{Key: "canary", Name: "Canary", State: patch.RingDeploying, StartedAt: created,
				Promotion: &patch.Promotion{Soak: "24h", FailureThresholdPct: 10, MinSample: 3, Approver: patch.ApproverAutomatic}},
			{Key: "pilot", Name: "Pilot", State: patch.RingWaiting,
				Promotion: &patch.Promotion{Soak: "72h", FailureThresholdPct: 5, MinSample: 5, Approver: patch.ApproverMSP}},
			{Key: "production", Name: "Production", State: patch.RingWaiting},
		}}
	var ds []*patch.Deployment
	for i, f := range fs {
		ring := "production"
		switch {
		case i < 2:
			ring = "canary"
		case i < 6:
			ring = "pilot"
		}
		ds = append(ds, &patch.Deployment{ID: patch.DeploymentID(patch.NewID(patch.PrefixDeployment, created)), CycleID: cy.ID, ClientID: c.ID,
			AssetID: f.AssetID, Ring: ring, State: patch.DeployPending,
			Targets: []patch.DeploymentTarget{{UpdateID: f.UpdateID, FindingID: f.ID, Source: u.Source, VendorID: u.VendorID, Package: u.Package,
				Version: u.Version, FromVersion: f.InstalledVersion, Tier: f.Tier, State: patch.TargetPending}}})
	}
	return cy, ds
}

// deployed marks a deployment installed, verified and healthy at t.
func deployed(d *patch.Deployment, t time.Time) {
	d.State, d.Step, d.Attempts = patch.DeploySucceeded, 1, 1
	d.ScheduledAt, d.SentAt, d.InstalledAt = t, t.Add(3*time.Minute), t.Add(9*time.Minute)
	d.VerifiedAt, d.CompletedAt = t.Add(14*time.Minute), t.Add(15*time.Minute)
	d.WindowEnd = t.Add(4 * time.Hour)
	d.Targets[0].State = patch.TargetVerified
}

func hostnames(ctx context.Context, st patch.AssetStore, ds []*patch.Deployment) error {
	for _, d := range ds {
		a, err := st.FindAssetByID(ctx, d.AssetID)
		if err != nil {
			return err
		}
		d.Hostname = a.Hostname
	}
	return nil
}

func cycleEvents(c *patch.Cycle, ds []*patch.Deployment) []patch.EvidenceEvent {
	var evs []patch.EvidenceEvent
	ev := func(typ string, d *patch.Deployment, details map[string]string) {
		subj := patch.EvidenceSubject{CycleID: string(c.ID)}
		if d != nil {
			subj.AssetID, subj.UpdateID = d.AssetID, d.Targets[0].UpdateID
			details["deployment"], details["ring"] = string(d.ID), d.Ring
		}
		evs = append(evs, patch.EvidenceEvent{ClientID: c.ClientID, Type: typ, Subject: subj, Details: details})
	}
	ev(patch.EventCycleCreated, nil, map[string]string{"name": c.Name, "kind": string(c.Kind), "assets": fmt.Sprint(len(ds))})
	for _, d := range ds {
		if d.ScheduledAt.IsZero() {
			continue
		}
		t := d.Targets[0]
		ev(patch.EventScheduled, d, map[string]string{"package": t.Package, "version": t.Version, "window": "nightly", "window_end": d.WindowEnd.UTC().Format(time.RFC3339)})
		ev(patch.EventSent, d, map[string]string{"package": t.Package, "version": t.Version, "delivered_at": d.SentAt.UTC().Format(time.RFC3339)})
		if d.State == patch.DeploySucceeded {
			ev(patch.EventInstalled, d, map[string]string{"package": t.Package, "version": t.Version, "previous_version": t.FromVersion,
				"agent_time": d.InstalledAt.UTC().Format(time.RFC3339)})
		} else {
			ev(patch.EventInstallFailed, d, map[string]string{"package": t.Package, "version": t.Version, "reason": d.LastError,
				"agent_time": d.FailedAt.UTC().Format(time.RFC3339)})
		}
	}
	return evs
}

// completedCycle is the clinic's October cycle, completed.
func completedCycle(ctx context.Context, cs cycleStore, lease patch.Lease, c *patch.Client, now time.Time) error {
	since := now.Add(-45 * 24 * time.Hour)
	st := patch.FindingResolved
	fs, _, err := cs.FindFindings(ctx, patch.FindingFilter{ClientID: &c.ID, State: &st, ResolvedSince: &since, WithUpdate: true, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	fs = slices.DeleteFunc(fs, func(f *patch.Finding) bool { return f.Resolution != patch.ResolvedVerified })
	fs = widest(fs)
	if len(fs) < 8 {
		return nil
	}
	fs = fs[:min(len(fs), 40)]
	first := fs[0].ResolvedAt
	for _, f := range fs {
		if f.ResolvedAt.Before(first) {
			first = f.ResolvedAt
		}
	}
	created := first.Add(-2 * 24 * time.Hour).Truncate(time.Hour)
	cy, ds := demoCycle(c, "October 2026", fs, created)
	if err := hostnames(ctx, cs, ds); err != nil {
		return err
	}
	canary, pilot, prod := created.Add(11*time.Hour), created.Add(35*time.Hour), created.Add(5*24*time.Hour+11*time.Hour)
	for _, d := range ds {
		deployed(d, map[string]time.Time{"canary": canary, "pilot": pilot, "production": prod}[d.Ring])
	}
	r := cy.Rings
	r[0].State, r[0].DeployedAt, r[0].SoakUntil, r[0].PromotedAt, r[0].PromotedBy = patch.RingPromoted, canary.Add(15*time.Minute), canary.Add(24*time.Hour+15*time.Minute), pilot, rollout.EngineName
	r[1].State, r[1].StartedAt, r[1].DeployedAt, r[1].SoakUntil = patch.RingPromoted, pilot, pilot.Add(15*time.Minute), pilot.Add(72*time.Hour+15*time.Minute)
	r[1].PromotedAt, r[1].PromotedBy = prod.Add(-time.Hour), "Sam Okafor (MSP): pilot quiet for three days"
	r[2].State, r[2].StartedAt, r[2].DeployedAt = patch.RingCompleted, prod.Add(-time.Hour), prod.Add(15*time.Minute)
	events := cycleEvents(cy, ds)
	if err := cs.CreateCycle(ctx, cy, ds, nil); err != nil {
		return err
	}
	cy.State, cy.CompletedAt = patch.CycleCompleted, prod.Add(30*time.Minute)
	events = append(events, patch.EvidenceEvent{ClientID: c.ID, Type: patch.EventCycleCompleted, Subject: patch.EvidenceSubject{CycleID: string(cy.ID)},
		Details: map[string]string{"succeeded": fmt.Sprint(len(ds)), "failed": "0"}})
	return cs.ApplyCycleStep(ctx, patch.CycleStep{Lease: lease, Cycle: cy, Events: events})
}

// haltedCycle is the manufacturer's November cycle: two of its three
// canaries failed to install, so it halted before pilot, with a ticket.
func haltedCycle(ctx context.Context, cs cycleStore, lease patch.Lease, c *patch.Client, now time.Time) error {
	st := patch.FindingOpen
	fs, _, err := cs.FindFindings(ctx, patch.FindingFilter{ClientID: &c.ID, State: &st, WithUpdate: true, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	fs = slices.DeleteFunc(fs, func(f *patch.Finding) bool { return f.Update == nil || f.Update.Source == "" })
	fs = widest(fs)
	if len(fs) < 8 {
		return nil
	}
	fs = fs[:min(len(fs), 30)]
	created := now.Add(-30 * time.Hour).Truncate(time.Hour)
	cy, ds := demoCycle(c, "November 2026", fs, created)
	// Three canaries: move the first pilot machine up.
	ds[2].Ring = "canary"
	if err := hostnames(ctx, cs, ds); err != nil {
		return err
	}
	at := created.Add(11 * time.Hour)
	var failing []string
	for i, d := range ds {
		if d.Ring != "canary" {
			continue
		}
		if i == 0 {
			deployed(d, at)
			continue
		}
		d.State, d.Step, d.Attempts, d.Failures = patch.DeployRetryWait, 1, 1, 1
		d.ScheduledAt, d.SentAt, d.FailedAt, d.WindowEnd = at, at.Add(3*time.Minute), at.Add(12*time.Minute), at.Add(4*time.Hour)
		d.NextAttemptAt = d.FailedAt.Add(time.Hour)
		detail := "0x80070643: a fatal error occurred during installation"
		if d.Targets[0].Source != "wua" {
			detail = "dpkg: error processing package " + d.Targets[0].Package + " (--configure)"
		}
		d.Targets[0].State, d.Targets[0].Detail = patch.TargetFailed, detail
		d.LastError = "install failed: " + d.Targets[0].Package + ": " + d.Targets[0].Detail
		failing = append(failing, fmt.Sprintf("- %s (retry_wait): %s", d.Hostname, d.LastError))
	}
	slices.Sort(failing)
	events := cycleEvents(cy, ds)
	if err := cs.CreateCycle(ctx, cy, ds, nil); err != nil {
		return err
	}
	haltAt := at.Add(20 * time.Minute)
	b := rollout.Breach{Ring: "canary", Failed: 2, Results: 3, RatePct: 66.67, ThresholdPct: 10, MinSample: 3}
	tk := &patch.Ticket{ID: patch.TicketID(patch.NewID(patch.PrefixTicket, haltAt)), ClientID: c.ID, Kind: patch.TicketCycleHalted,
		Title: fmt.Sprintf("Patch cycle %q halted in ring canary", cy.Name),
		Body: b.String() + "\n\nNothing new starts until someone resumes the cycle, skips the bad update, or aborts it.\n\nFailures:\n" +
			strings.Join(failing, "\n"),
		CycleID: cy.ID, Ring: "canary", CreatedBy: rollout.EngineName}
	cy.State, cy.HaltedAt, cy.HaltRing, cy.HaltReason, cy.TicketID = patch.CycleHalted, haltAt, "canary", b.String(), tk.ID
	events = append(events, patch.EvidenceEvent{ClientID: c.ID, Type: patch.EventCycleHalted, Subject: patch.EvidenceSubject{CycleID: string(cy.ID)},
		Details: map[string]string{"ring": "canary", "failed": "2", "results": "3", "threshold_pct": "10", "ticket": string(tk.ID)}})
	return cs.ApplyCycleStep(ctx, patch.CycleStep{Lease: lease, Cycle: cy, Tickets: []*patch.Ticket{tk}, Events: events})
}
