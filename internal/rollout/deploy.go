package rollout

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
	"github.com/patchring/patchring/internal/schedule"
)

// Protocol versions the engine needs from an agent.
const (
	// RunbookProtocol is the first agent protocol with health and
	// rollback jobs.
	RunbookProtocol = 2
)

// Timeouts of the engine's waits.
const (
	// ResultGrace is how long after a delivered job's deadline the engine
	// waits for its result before it counts the job as failed.
	ResultGrace = time.Hour
	// WebhookTimeout bounds how long a snapshot webhook may stay
	// unanswered.
	WebhookTimeout = 15 * time.Minute
	// VerifyTimeout bounds the wait for a fresh scan (and for the machine
	// to come back after a reboot).
	VerifyTimeout = 24 * time.Hour
	// HealthTimeout bounds how long a health job may wait for its agent.
	HealthTimeout = 2 * time.Hour
	// RebootJobTTL is how long a reboot job waits for the agent after its
	// slot.
	RebootJobTTL = 2 * time.Hour
	// ScanAfterReboot is how long after a scheduled restart the engine
	// asks for the fresh scan.
	ScanAfterReboot = 5 * time.Minute
	// AnytimeWindow is the window of an SLA cell without windows.
	AnytimeWindow = 24 * time.Hour
)

func (e *engine) asset(d *patch.Deployment) *Asset { return e.in.Assets[d.AssetID] }

// jobs returns the jobs of a deployment's current step.
func (e *engine) jobs(d *patch.Deployment) []*Job {
	var out []*Job
	for _, j := range e.in.Jobs[d.ID] {
		if j.StepNo == d.Step {
			out = append(out, j)
		}
	}
	return out
}

// verdict is what one job's state and outcome mean.
type verdict int

const (
	vWaiting      verdict = iota // no answer yet
	vOK                          // succeeded
	vFailed                      // failed, refused, or never answered after delivery
	vNotDelivered                // the agent never took it before it expired: catch up later
)

// judge reads one job.
func (e *engine) judge(j *Job) (verdict, string) {
	if o := j.Outcome; o != nil {
		switch o.Status {
		case "succeeded":
			return vOK, ""
		case "partial":
			return vFailed, cmp.Or(o.Error, "some targets failed")
		case "refused":
			return vFailed, "the agent refused the job: " + cmp.Or(o.Error, "no reason given")
		}
		return vFailed, cmp.Or(o.Error, "the job failed")
	}
	if j.Webhook {
		switch j.State {
		case patch.JobSucceeded:
			return vOK, ""
		case patch.JobFailed, patch.JobRefused:
			return vFailed, cmp.Or(j.Error, "the snapshot webhook failed")
		}
		if e.now.After(j.CreatedAt.Add(WebhookTimeout)) {
			return vFailed, "the snapshot webhook did not answer in time"
		}
		return vWaiting, ""
	}
	delivered := j.Deliveries > 0 || !j.DeliveredAt.IsZero()
	switch {
	case !delivered && !e.now.Before(j.ExpiresAt):
		return vNotDelivered, ""
	case j.State == patch.JobRefused:
		return vFailed, cmp.Or(j.Error, "the agent refused the job")
	case delivered && e.now.After(j.ExpiresAt.Add(ResultGrace)):
		return vFailed, "no result from the agent"
	}
	return vWaiting, ""
}

// step processes the outcome of a deployment's current step.
func (e *engine) step(d *patch.Deployment) {
	a := e.asset(d)
	if a == nil || a.Asset == nil {
		e.cancel(d, "the asset was removed")
		return
	}
	switch d.State {
	case patch.DeployPending:
		if e.started(d) {
			d.State = patch.DeployWaiting
			e.touch(d)
		}
	case patch.DeploySnapshotting:
		e.stepSnapshot(d)
	case patch.DeployInstalling:
		e.stepInstall(d)
	case patch.DeployRebootPending:
		e.stepRebootPending(d, a)
	case patch.DeployRebooting:
		e.stepRebooting(d, a)
	case patch.DeployVerifying:
		e.stepVerify(d, a)
	case patch.DeployHealthCheck:
		e.stepHealth(d)
	case patch.DeployRollingBack:
		e.stepRollback(d)
	}
}

// start begins a new attempt of a waiting deployment when its ring runs,
// its agent is online and a window leaves enough time.
func (e *engine) start(d *patch.Deployment) {
	if !e.started(d) {
		return
	}
	switch d.State {
	case patch.DeployRetryWait:
		if e.now.Before(d.NextAttemptAt) {
			return
		}
		d.State, d.NextAttemptAt = patch.DeployWaiting, time.Time{}
		e.touch(d)
	case patch.DeployWaiting:
	default:
		return
	}
	a := e.asset(d)
	if a == nil || a.Asset == nil {
		e.cancel(d, "the asset was removed")
		return
	}
	if e.refreshTargets(d, a) {
		e.touch(d)
	}
	var todo, installed, verified int
	for _, t := range d.Targets {
		switch t.State {
		case patch.TargetPending, patch.TargetFailed:
			todo++
		case patch.TargetInstalled:
			installed++
		case patch.TargetVerified:
			verified++
		}
	}
	switch {
	case todo == 0 && installed > 0:
		// An earlier attempt installed everything; it failed later
		// (reboot, verification): go on from there.
		e.afterInstall(d, a)
		return
	case todo == 0 && verified > 0:
		e.health(d, a)
		return
	case todo == 0:
		d.State, d.CompletedAt = patch.DeploySkipped, e.now
		d.LastError = "nothing left to install"
		e.touch(d)
		return
	}
	r, _ := e.c.Ring(d.Ring)
	grace := e.in.Runbook.CatchUpGrace.MustParse()
	if a.AgentID == "" || !a.Online {
		if grace > 0 && !r.StartedAt.IsZero() && e.now.After(r.StartedAt.Add(grace)) {
			d.State, d.CompletedAt = patch.DeployMissed, e.now
			d.LastError = "the agent did not check in within the catch-up grace (" + string(e.in.Runbook.CatchUpGrace) + ")"
			e.touch(d)
		}
		return
	}
	end, how, ok := e.window(d, a)
	if !ok {
		return
	}
	budget := e.in.Runbook.InstallBudget.MustParse()
	d.Step++
	d.WindowEnd, d.ScheduledAt, d.LastError = end, e.now, ""
	d.SentAt, d.SnapshotAt, d.InstalledAt, d.RebootRequestAt, d.RebootedAt, d.VerifiedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	d.RebootRequired, d.RebootApproved = false, false
	e.touch(d)
	for _, t := range d.Targets {
		if t.State == patch.TargetPending || t.State == patch.TargetFailed {
			e.event(patch.EventScheduled, d, t.UpdateID, map[string]string{"package": t.Package, "version": t.Version,
				"attempt": strconv.Itoa(d.Attempts + 1), "window": how, "window_end": ts(end), "latest_start": ts(end.Add(-budget))})
		}
	}
	if rule, ok := e.in.Runbook.Snapshot(a.Asset); ok {
		d.State = patch.DeploySnapshotting
		req := JobRequest{Step: patch.StepSnapshot, ExpiresAt: end.Add(-budget), Deadline: end}
		if rule.Webhook != "" {
			req.Webhook = rule.Webhook
		} else {
			req.Hook = rule.Hook
		}
		e.job(d, a, req)
		return
	}
	e.install(d, a, end.Add(-budget))
}

// refreshTargets marks skipped the targets of updates skipped in the cycle
// and those a scan showed installed before this cycle installed them.
func (e *engine) refreshTargets(d *patch.Deployment, a *Asset) bool {
	changed := false
	for i := range d.Targets {
		t := &d.Targets[i]
		if t.State != patch.TargetPending && t.State != patch.TargetFailed {
			continue
		}
		if u := e.cycleUpdate(t.UpdateID); u != nil && u.Skipped {
			t.State, t.Detail, changed = patch.TargetSkipped, "skipped in the cycle by "+u.SkippedBy, true
			continue
		}
		if f, ok := a.Findings[t.FindingID]; ok && !f.Open {
			t.State, changed = patch.TargetSkipped, true
			t.Detail = "no longer missing: installed outside the cycle"
			if !f.Verified {
				t.Detail = "no longer missing"
			}
		}
	}
	return changed
}

func (e *engine) cycleUpdate(id patch.UpdateID) *patch.CycleUpdate {
	for i := range e.c.Updates {
		if e.c.Updates[i].UpdateID == id {
			return &e.c.Updates[i]
		}
	}
	return nil
}

// cell returns the SLA cell of a deployment: the asset's class and its
// most urgent target's tier.
func (e *engine) cell(d *patch.Deployment, a *Asset) (patch.SLACell, bool) {
	p := e.in.Policy
	if p == nil {
		return patch.SLACell{}, false
	}
	best := -1
	for _, t := range d.Targets {
		i := slices.IndexFunc(p.Tiers, func(tr patch.Tier) bool { return tr.Key == t.Tier })
		if i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		if len(p.Tiers) == 0 {
			return patch.SLACell{}, false
		}
		best = len(p.Tiers) - 1
	}
	return p.Cell(a.Asset.Class, p.Tiers[best].Key)
}

// window returns the end of the window an attempt may start in now, and
// which window it is; false when none leaves the install budget.
func (e *engine) window(d *patch.Deployment, a *Asset) (time.Time, string, bool) {
	budget := e.in.Runbook.InstallBudget.MustParse()
	cell, ok := e.cell(d, a)
	if !ok || len(cell.Windows) == 0 {
		return e.now.Add(max(AnytimeWindow, 2*budget)), "anytime", true
	}
	zone := a.Zone
	if zone == nil {
		zone = time.UTC
	}
	if o, ok := e.windows.Open(cell.Windows, e.now, zone); ok && o.End.Sub(e.now) > budget {
		return o.End, o.Window, true
	}
	if e.in.Runbook.DeployAtDeadline && !a.DueAt.IsZero() && !e.now.Before(a.DueAt) {
		return e.now.Add(budget + time.Minute), "sla_deadline", true
	}
	return time.Time{}, "", false
}

// NextWindow returns when a waiting deployment can next start: the next
// opening of its windows that leaves the install budget. False when its
// windows never open (or it needs none).
func NextWindow(p *patch.Policy, rb *patch.Runbook, d *patch.Deployment, a *Asset, now time.Time) (time.Time, bool) {
	e := &engine{in: Input{Policy: p, Runbook: rb}, now: now, windows: nil}
	if p == nil {
		return time.Time{}, false
	}
	e.windows = policy.NewWindows(p)
	cell, ok := e.cell(d, a)
	if !ok || len(cell.Windows) == 0 {
		return time.Time{}, false
	}
	o, ok := e.windows.Next(cell.Windows, now, cmp.Or(a.Zone, time.UTC))
	return o.Start, ok
}

// install hands out one install job per source for the targets still to
// install, which must start by latest.
func (e *engine) install(d *patch.Deployment, a *Asset, latest time.Time) {
	bySource := map[patch.UpdateSource][]Target{}
	var sources []patch.UpdateSource
	for _, t := range d.Targets {
		if t.State != patch.TargetPending && t.State != patch.TargetFailed {
			continue
		}
		if _, ok := bySource[t.Source]; !ok {
			sources = append(sources, t.Source)
		}
		bySource[t.Source] = append(bySource[t.Source], Target{ID: t.VendorID, Package: t.Package, Version: t.Version})
	}
	d.State = patch.DeployInstalling
	e.touch(d)
	for _, src := range sources {
		e.job(d, a, JobRequest{Step: patch.StepInstall, Source: src, Install: bySource[src], ExpiresAt: latest, Deadline: d.WindowEnd})
	}
}

// job queues a job for the deployment's current step.
func (e *engine) job(d *patch.Deployment, a *Asset, r JobRequest) {
	r.ID = e.newID(patch.PrefixAgentJob)
	r.DeploymentID, r.AssetID, r.AgentID, r.StepNo = d.ID, d.AssetID, a.AgentID, d.Step
	if r.Deadline.IsZero() || r.Deadline.Before(r.ExpiresAt) {
		r.Deadline = r.ExpiresAt
	}
	e.out.Jobs = append(e.out.Jobs, r)
}

// newStep starts a new step number (so that outcomes of the previous
// step's jobs no longer count).
func (e *engine) newStep(d *patch.Deployment) {
	d.Step++
	e.touch(d)
}

func (e *engine) stepSnapshot(d *patch.Deployment) {
	jobs := e.jobs(d)
	if len(jobs) == 0 {
		e.backToWaiting(d)
		return
	}
	v, why := e.judge(jobs[0])
	switch v {
	case vWaiting:
		return
	case vNotDelivered:
		e.backToWaiting(d)
		return
	case vFailed:
		details := map[string]string{"reason": why}
		if o := jobs[0].Outcome; o != nil && o.Output != "" {
			details["output"] = tail(o.Output, 2000)
		}
		e.event(patch.EventSnapshotFailed, d, "", details)
		e.fail(d, "the snapshot failed: "+why+"; nothing was installed")
		return
	}
	at := e.now
	if o := jobs[0].Outcome; o != nil && !o.FinishedAt.IsZero() {
		at = o.FinishedAt
	}
	d.SnapshotAt = at
	e.touch(d)
	details := map[string]string{"agent_time": ts(at)}
	if jobs[0].Webhook {
		details["via"] = "webhook"
	} else if o := jobs[0].Outcome; o != nil && o.Output != "" {
		details["output"] = tail(o.Output, 2000)
	}
	e.event(patch.EventSnapshotTaken, d, "", details)
	if e.c.State != patch.CycleRunning {
		// Halted while the snapshot ran: nothing new installs.
		e.backToWaiting(d)
		return
	}
	// The install may use what the snapshot left of the budget, but at
	// least half of it.
	budget := e.in.Runbook.InstallBudget.MustParse()
	need := max(budget-e.now.Sub(d.ScheduledAt), budget/2)
	latest := d.WindowEnd.Add(-need)
	if !latest.After(e.now) {
		e.backToWaiting(d)
		return
	}
	e.newStep(d)
	e.install(d, e.asset(d), latest)
}

// backToWaiting returns a deployment to wait for its next window, without
// counting a failure (its agent did not take the job in time).
func (e *engine) backToWaiting(d *patch.Deployment) {
	d.State = patch.DeployWaiting
	e.touch(d)
}

func (e *engine) stepInstall(d *patch.Deployment) {
	jobs := e.jobs(d)
	if len(jobs) == 0 {
		e.backToWaiting(d)
		return
	}
	// Sent: the agent took the job. (The "sent" evidence is appended by
	// the store when the job is handed out, in the check-in's
	// transaction; see the package doc.)
	for _, j := range jobs {
		if !j.DeliveredAt.IsZero() && d.SentAt.IsZero() {
			d.SentAt = j.DeliveredAt
			d.Attempts++
			e.touch(d)
		}
	}
	verdicts := make([]verdict, len(jobs))
	whys := make([]string, len(jobs))
	for i, j := range jobs {
		verdicts[i], whys[i] = e.judge(j)
		if verdicts[i] == vWaiting {
			return
		}
	}
	var failures []string
	var finished time.Time
	reboot := false
	for i, j := range jobs {
		if verdicts[i] == vNotDelivered {
			continue
		}
		o := j.Outcome
		if o != nil {
			finished = later(finished, o.FinishedAt)
			reboot = reboot || o.RebootRequired
		}
		seen := map[int]bool{}
		if o != nil {
			for _, it := range o.Items {
				ti := slices.IndexFunc(d.Targets, func(t patch.DeploymentTarget) bool {
					return t.Source == j.Source && (t.VendorID == it.ID || (it.ID == "" && t.Package == it.Package))
				})
				if ti < 0 || seen[ti] {
					continue
				}
				seen[ti] = true
				t := &d.Targets[ti]
				if it.FromVersion != "" && t.State != patch.TargetInstalled {
					t.FromVersion = it.FromVersion
				}
				switch it.Status {
				case "installed":
					t.State, t.Detail = patch.TargetInstalled, ""
				case "skipped":
					// Nothing was done (the backend found nothing to do):
					// only the verification scan can tell whether the
					// update is there.
					t.State, t.Detail = patch.TargetInstalled, "the backend skipped it: "+it.Detail
				default:
					t.State, t.Detail = patch.TargetFailed, tail(cmp.Or(it.Detail, whys[i], "failed"), 500)
					failures = append(failures, t.Package+": "+t.Detail)
				}
			}
		}
		// Targets the agent did not report on failed with the job.
		for ti := range d.Targets {
			t := &d.Targets[ti]
			if seen[ti] || t.Source != j.Source || (t.State != patch.TargetPending && t.State != patch.TargetFailed) {
				continue
			}
			why := cmp.Or(whys[i], "the agent did not report on it")
			if verdicts[i] == vOK {
				why = "the agent did not report on it"
			}
			t.State, t.Detail = patch.TargetFailed, tail(why, 500)
			failures = append(failures, t.Package+": "+t.Detail)
			if o == nil {
				// No result ever came: the engine is the one to say so.
				// (What an agent reports is appended by the store as it
				// arrives.)
				e.event(patch.EventInstallFailed, d, t.UpdateID, map[string]string{"package": t.Package, "version": t.Version, "reason": t.Detail, "job": j.ID})
			}
		}
	}
	e.touch(d)
	if len(failures) > 0 {
		e.fail(d, "install failed: "+strings.Join(failures, "; "))
		return
	}
	if slices.ContainsFunc(d.Targets, func(t patch.DeploymentTarget) bool { return t.State == patch.TargetPending }) {
		// A source's job expired before its agent took it: the rest waits
		// for the next window.
		e.backToWaiting(d)
		return
	}
	d.InstalledAt = earlier(cmp.Or(finished, e.now), e.now) // agent clocks can run ahead
	d.RebootRequired = d.RebootRequired || reboot
	e.afterInstall(d, e.asset(d))
}

// afterInstall goes on with the reboot (if one is needed) or the
// verification.
func (e *engine) afterInstall(d *patch.Deployment, a *Asset) {
	e.touch(d)
	if !d.RebootRequired || !d.RebootedAt.IsZero() {
		e.verify(d)
		return
	}
	cell, _ := e.cell(d, a)
	d.State = patch.DeployRebootPending
	switch cell.Reboot.Mode {
	case patch.RebootScheduled:
		slot, err := schedule.ParseSlot(cell.Reboot.Slot)
		if err != nil {
			return // never for a valid policy: wait for a person
		}
		next, ok := slot.Next(e.now, cmp.Or(a.Zone, time.UTC))
		if ok {
			d.NextAttemptAt = next
		}
		e.stepRebootPending(d, a)
	case patch.RebootUserPrompted:
		e.reboot(d, a, cell.Reboot)
	case patch.RebootManual:
		e.stepRebootPending(d, a)
	}
}

// reboot hands out the reboot job.
func (e *engine) reboot(d *patch.Deployment, a *Asset, rp patch.RebootPolicy) {
	req := &RebootRequest{DelaySeconds: 60, Message: "Updates were installed; this machine restarts in a minute."}
	details := map[string]string{"mode": string(rp.Mode)}
	if rp.Mode == patch.RebootUserPrompted {
		delay := cmp.Or(e.in.Runbook.RebootPromptDelay.MustParse(), 15*time.Minute)
		req.DelaySeconds = int(delay / time.Second)
		req.Message = fmt.Sprintf("Updates were installed. Save your work: this computer restarts in %d minutes.", int(delay/time.Minute))
		details["deferrals"] = strconv.Itoa(rp.Deferrals)
	}
	if rp.Mode == patch.RebootScheduled {
		details["slot"] = rp.Slot
	}
	if d.RebootApproved {
		details["approved"] = "true"
	}
	d.State, d.NextAttemptAt, d.RebootRequestAt = patch.DeployRebooting, time.Time{}, time.Time{}
	e.newStep(d)
	e.event(patch.EventRebootRequested, d, "", details)
	e.job(d, a, JobRequest{Step: patch.StepReboot, Reboot: req, ExpiresAt: e.now.Add(RebootJobTTL)})
}

// rebootedBy reports whether a scan after t says the machine no longer
// waits for a restart.
func rebootedAfter(a *Asset, t time.Time) bool {
	return a.LastScanAt.After(t) && (a.RebootRequired == nil || !*a.RebootRequired)
}

func (e *engine) stepRebootPending(d *patch.Deployment, a *Asset) {
	if !d.InstalledAt.IsZero() && rebootedAfter(a, d.InstalledAt) && a.RebootRequired != nil {
		// Someone restarted it (the manual reboot happened).
		d.RebootedAt = a.LastScanAt
		e.event(patch.EventRebooted, d, "", map[string]string{"observed_at": ts(a.LastScanAt), "by": "outside patchring"})
		e.verify(d)
		return
	}
	cell, _ := e.cell(d, a)
	switch {
	case cell.Reboot.Mode == patch.RebootScheduled && !d.NextAttemptAt.IsZero() && !e.now.Before(d.NextAttemptAt):
		e.reboot(d, a, cell.Reboot)
	case d.RebootApproved:
		e.reboot(d, a, cell.Reboot)
	}
}

func (e *engine) stepRebooting(d *patch.Deployment, a *Asset) {
	jobs := e.jobs(d)
	if d.RebootRequestAt.IsZero() {
		// Waiting for the reboot job's result.
		if len(jobs) == 0 {
			e.fail(d, "the reboot job was lost")
			return
		}
		v, why := e.judge(jobs[0])
		switch v {
		case vWaiting:
			return
		case vNotDelivered:
			e.fail(d, "the agent did not take the reboot job in time")
			return
		case vFailed:
			e.fail(d, "the reboot failed: "+why)
			return
		}
		at := e.now
		if o := jobs[0].Outcome; o != nil && !o.RebootAt.IsZero() {
			at = o.RebootAt
		}
		d.RebootRequestAt = at
		d.NextAttemptAt = at.Add(VerifyTimeout)
		e.touch(d)
	}
	if rebootedAfter(a, d.RebootRequestAt) {
		d.RebootedAt, d.NextAttemptAt = a.LastScanAt, time.Time{}
		e.event(patch.EventRebooted, d, "", map[string]string{"requested_at": ts(d.RebootRequestAt), "observed_at": ts(a.LastScanAt)})
		e.verify(d)
		return
	}
	if e.now.After(d.RebootRequestAt.Add(VerifyTimeout)) {
		e.fail(d, "the machine did not report back after the restart")
		return
	}
	// Ask for the fresh scan once the restart is due, and again if the
	// last request went unanswered.
	if e.now.After(d.RebootRequestAt.Add(ScanAfterReboot)) && e.noOpenJob(d, patch.StepVerify) {
		e.newStep(d)
		e.job(d, a, JobRequest{Step: patch.StepVerify, Scan: true, ExpiresAt: e.now.Add(HealthTimeout)})
	}
}

// noOpenJob reports whether no job of the current step waits for an
// answer (a step of kind step).
func (e *engine) noOpenJob(d *patch.Deployment, step patch.RolloutStep) bool {
	for _, j := range e.jobs(d) {
		if j.Step == step {
			if v, _ := e.judge(j); v == vWaiting {
				return false
			}
		}
	}
	return true
}

// verify waits for a scan finished after the install (and the restart).
func (e *engine) verify(d *patch.Deployment) {
	d.State = patch.DeployVerifying
	d.NextAttemptAt = e.now.Add(VerifyTimeout)
	e.touch(d)
	e.stepVerify(d, e.asset(d))
}

func (e *engine) stepVerify(d *patch.Deployment, a *Asset) {
	since := later(d.InstalledAt, d.RebootedAt)
	if a.LastScanAt.IsZero() || a.LastScanAt.Before(since) {
		if !d.NextAttemptAt.IsZero() && e.now.After(d.NextAttemptAt) {
			e.fail(d, "no scan reported back after the install")
			return
		}
		if e.noOpenJob(d, patch.StepVerify) && a.Online {
			e.newStep(d)
			e.job(d, a, JobRequest{Step: patch.StepVerify, Scan: true, ExpiresAt: e.now.Add(HealthTimeout)})
		}
		return
	}
	var missing []string
	for i := range d.Targets {
		t := &d.Targets[i]
		if t.State != patch.TargetInstalled {
			continue
		}
		f, ok := a.Findings[t.FindingID]
		switch {
		case ok && f.Verified:
			t.State, t.Detail = patch.TargetVerified, ""
		case ok && f.Open:
			t.State, t.Detail = patch.TargetFailed, "a scan after the install still reports it missing"
			missing = append(missing, t.Package)
			e.event(patch.EventVerifyFailed, d, t.UpdateID, map[string]string{"package": t.Package, "version": t.Version,
				"scanned_at": ts(a.LastScanAt)})
		default:
			// Resolved without a verification (the asset's source was
			// removed): nothing to prove either way.
			t.State, t.Detail = patch.TargetSkipped, "the finding closed without a verification"
		}
	}
	e.touch(d)
	d.NextAttemptAt = time.Time{}
	if len(missing) > 0 {
		e.fail(d, "not verified: a scan after the install still reports "+strings.Join(missing, ", ")+" missing")
		return
	}
	d.VerifiedAt = a.LastScanAt
	e.health(d, a)
}

// health runs the asset's health checks, or finishes the deployment when
// it has none.
func (e *engine) health(d *patch.Deployment, a *Asset) {
	checks := e.in.Runbook.Checks(a.Asset)
	if len(checks) == 0 {
		e.succeed(d)
		return
	}
	if a.Protocol < RunbookProtocol {
		e.escalate(d, fmt.Sprintf("the agent speaks protocol %d and cannot run health checks; upgrade it (the update stays installed and unchecked)", a.Protocol))
		return
	}
	d.State = patch.DeployHealthCheck
	d.NextAttemptAt = e.now.Add(VerifyTimeout)
	e.newStep(d)
	e.job(d, a, JobRequest{Step: patch.StepHealth, Health: checks, ExpiresAt: e.now.Add(HealthTimeout)})
}

func (e *engine) stepHealth(d *patch.Deployment) {
	a := e.asset(d)
	jobs := e.jobs(d)
	if len(jobs) == 0 {
		e.health(d, a)
		return
	}
	v, why := e.judge(jobs[0])
	switch v {
	case vWaiting:
		return
	case vNotDelivered:
		if e.now.After(d.NextAttemptAt) {
			e.fail(d, "the agent did not run the health checks in time")
			return
		}
		e.newStep(d)
		e.job(d, a, JobRequest{Step: patch.StepHealth, Health: e.in.Runbook.Checks(a.Asset), ExpiresAt: e.now.Add(HealthTimeout)})
		return
	}
	var failed, failedNames, passed []string
	if o := jobs[0].Outcome; o != nil {
		for _, c := range o.Checks {
			if c.OK {
				passed = append(passed, c.Name)
			} else {
				failed = append(failed, c.Name+": "+cmp.Or(c.Detail, "failed"))
				failedNames = append(failedNames, c.Name)
			}
		}
	}
	if v == vFailed && len(failed) == 0 {
		failed = append(failed, why)
	}
	d.HealthCheckedAt = e.now
	if o := jobs[0].Outcome; o != nil && !o.FinishedAt.IsZero() {
		d.HealthCheckedAt = o.FinishedAt
	}
	d.NextAttemptAt = time.Time{}
	e.touch(d)
	if len(failed) == 0 {
		e.event(patch.EventHealthCheckPassed, d, "", map[string]string{"check": strings.Join(passed, ", "), "agent_time": ts(d.HealthCheckedAt)})
		e.succeed(d)
		return
	}
	e.event(patch.EventHealthCheckFailed, d, "", map[string]string{"check": tail(strings.Join(failedNames, ", "), 2000),
		"reason": tail(strings.Join(failed, "; "), 4000), "passed": strings.Join(passed, ", "), "agent_time": ts(d.HealthCheckedAt)})
	d.LastError = tail("health check failed: "+strings.Join(failed, "; "), 2000)
	e.rollback(d, a)
}

// rollback undoes the install as the runbook says.
func (e *engine) rollback(d *patch.Deployment, a *Asset) {
	mode := e.in.Runbook.Rollback.OnHealthFailure
	if mode == patch.RollbackNone {
		e.escalate(d, d.LastError+"; the runbook does not roll back")
		return
	}
	if a.Protocol < RunbookProtocol {
		e.escalate(d, d.LastError+fmt.Sprintf("; the agent speaks protocol %d and cannot roll back", a.Protocol))
		return
	}
	d.State = patch.DeployRollingBack
	d.NextAttemptAt = e.now.Add(VerifyTimeout)
	e.newStep(d)
	if rule, ok := e.in.Runbook.Snapshot(a.Asset); ok && mode == patch.RollbackSnapshot && rule.RestoreHook != "" && !d.SnapshotAt.IsZero() {
		e.job(d, a, JobRequest{Step: patch.StepRestore, Hook: rule.RestoreHook, ExpiresAt: e.now.Add(HealthTimeout)})
		return
	}
	bySource := map[patch.UpdateSource][]Target{}
	var sources []patch.UpdateSource
	for _, t := range d.Targets {
		if (t.State != patch.TargetInstalled && t.State != patch.TargetVerified) || t.FromVersion == "" {
			continue
		}
		if _, ok := bySource[t.Source]; !ok {
			sources = append(sources, t.Source)
		}
		bySource[t.Source] = append(bySource[t.Source], Target{ID: t.VendorID, Package: t.Package, Version: t.FromVersion})
	}
	if len(sources) == 0 {
		e.event(patch.EventRollbackFailed, d, "", map[string]string{"reason": "no previous version is known"})
		e.escalate(d, d.LastError+"; rollback impossible: no previous version is known")
		return
	}
	for _, src := range sources {
		e.job(d, a, JobRequest{Step: patch.StepRollback, Source: src, Rollback: bySource[src], ExpiresAt: e.now.Add(HealthTimeout)})
	}
}

func (e *engine) stepRollback(d *patch.Deployment) {
	jobs := e.jobs(d)
	if len(jobs) == 0 {
		e.rollback(d, e.asset(d))
		return
	}
	var problems []string
	for _, j := range jobs {
		v, why := e.judge(j)
		switch v {
		case vWaiting:
			return
		case vNotDelivered:
			if e.now.Before(d.NextAttemptAt) {
				// Hand it out again: the rollback must happen.
				e.newStep(d)
				e.rollback(d, e.asset(d))
				return
			}
			problems = append(problems, "the agent did not take the rollback job in time")
		case vFailed:
			problems = append(problems, why)
		}
	}
	restore := len(jobs) == 1 && jobs[0].Step == patch.StepRestore
	for _, j := range jobs {
		o := j.Outcome
		for i := range d.Targets {
			t := &d.Targets[i]
			if t.State != patch.TargetInstalled && t.State != patch.TargetVerified {
				continue
			}
			if !restore && (t.Source != j.Source || t.FromVersion == "") {
				continue
			}
			ok := o != nil && o.Status == "succeeded"
			detail := ""
			if o != nil && !restore {
				for _, it := range o.Items {
					if it.ID == t.VendorID || it.Package == t.Package {
						ok = it.Status == "installed" || it.Status == "skipped"
						detail = it.Detail
					}
				}
			}
			details := map[string]string{"package": t.Package, "previous_version": t.Version, "version": t.FromVersion, "job": j.ID}
			if restore {
				details["via"] = "snapshot"
				delete(details, "version")
			}
			if o != nil {
				details["agent_time"] = ts(o.FinishedAt)
			}
			if ok {
				t.State, t.Detail = patch.TargetRolledBack, ""
				e.event(patch.EventRolledBack, d, t.UpdateID, details)
			} else {
				details["reason"] = cmp.Or(detail, "rollback failed")
				e.event(patch.EventRollbackFailed, d, t.UpdateID, details)
				problems = append(problems, t.Package+": "+details["reason"])
			}
		}
	}
	d.NextAttemptAt = time.Time{}
	d.RolledBackAt = e.now
	e.touch(d)
	if len(problems) > 0 {
		e.escalate(d, d.LastError+"; rollback failed: "+strings.Join(problems, "; "))
		return
	}
	d.State, d.CompletedAt = patch.DeployRolledBack, e.now
	e.ticket(d, patch.TicketEscalation, fmt.Sprintf("%s: rolled back after a failed health check", d.Hostname),
		d.LastError+"\n\nThe previous state was restored. Decide whether to skip the update for this client or fix the system and deploy again.")
}

func (e *engine) succeed(d *patch.Deployment) {
	d.State, d.CompletedAt, d.NextAttemptAt, d.LastError = patch.DeploySucceeded, e.now, time.Time{}, ""
	e.touch(d)
}

func (e *engine) cancel(d *patch.Deployment, why string) {
	if d.State.Terminal() {
		return
	}
	d.State, d.CompletedAt, d.LastError = patch.DeployCancelled, e.now, why
	e.touch(d)
}

// fail records a failed attempt: retried after a backoff, or escalated
// after the last attempt.
func (e *engine) fail(d *patch.Deployment, why string) {
	d.Failures++
	d.LastError, d.FailedAt = tail(why, 2000), e.now
	e.touch(d)
	rem := e.in.Runbook.Remediation
	if d.Failures >= rem.MaxAttempts {
		e.escalate(d, why)
		return
	}
	d.State = patch.DeployRetryWait
	d.NextAttemptAt = e.now.Add(Backoff(rem, d.Failures))
}

// Backoff is the wait after the n-th failure: the runbook's backoff,
// doubled after each failure, capped.
func Backoff(r patch.RemediationPolicy, n int) time.Duration {
	d, maxD := r.Backoff.MustParse(), r.MaxBackoff.MustParse()
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	if maxD > 0 {
		d = min(d, maxD)
	}
	return d
}

// escalate fails a deployment for good and raises a ticket.
func (e *engine) escalate(d *patch.Deployment, why string) {
	d.State, d.CompletedAt, d.NextAttemptAt = patch.DeployFailed, e.now, time.Time{}
	d.LastError, d.FailedAt = tail(why, 2000), e.now
	e.touch(d)
	t := e.ticket(d, patch.TicketEscalation, fmt.Sprintf("%s: patching failed after %d attempts", d.Hostname, d.Failures),
		why+"\n\nPackages: "+packages(d)+".")
	e.event(patch.EventEscalated, d, "", map[string]string{"failures": strconv.Itoa(d.Failures), "reason": tail(why, 2000), "ticket": string(t.ID)})
}

// ticket raises a ticket about a deployment.
func (e *engine) ticket(d *patch.Deployment, kind patch.TicketKind, title, body string) *patch.Ticket {
	t := &patch.Ticket{ID: patch.TicketID(e.newID(patch.PrefixTicket)), ClientID: e.c.ClientID, Kind: kind, State: patch.TicketOpen,
		Title: tail(title, 200), Body: tail(body, 8000), CycleID: e.c.ID, DeploymentID: d.ID, AssetID: d.AssetID, Ring: d.Ring,
		CreatedBy: EngineName, CreatedAt: e.now}
	d.TicketID = t.ID
	e.out.Tickets = append(e.out.Tickets, t)
	return t
}

// packages lists a deployment's packages (of the given target states, or
// all) for people.
func packages(d *patch.Deployment, states ...patch.TargetState) string {
	var out []string
	for _, t := range d.Targets {
		if len(states) == 0 || slices.Contains(states, t.State) {
			out = append(out, t.Package+" "+t.Version)
		}
	}
	return tail(strings.Join(out, ", "), 4000)
}

// tail keeps at most n bytes of s, on a rune boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && s[0]&0xC0 == 0x80 {
		s = s[1:]
	}
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
