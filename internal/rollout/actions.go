package rollout

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// A person's actions on a cycle. Each edits the cycle and its deployments
// in place and returns what else to store; the server checks who may act
// and the store applies the change at the cycle's current version.

func cycleEvent(c *patch.Cycle, typ string, details map[string]string) patch.EvidenceEvent {
	return patch.EvidenceEvent{ClientID: c.ClientID, Type: typ, Subject: patch.EvidenceSubject{CycleID: string(c.ID)}, Details: details}
}

func refuse(format string, args ...any) error {
	return patch.Errorf(patch.KindConflict, format, args...)
}

// Resume restarts a halted cycle. The failures counted so far are waived:
// only new failures count against the gates, so the cycle does not halt
// again at once on what the person just looked at.
func Resume(c *patch.Cycle, ds []*patch.Deployment, by, reason string, now time.Time) (patch.CycleChange, error) {
	if c.State != patch.CycleHalted {
		return patch.CycleChange{}, refuse("Cycle %s is %s, not halted; only a halted cycle can be resumed.", c.ID, c.State)
	}
	waived := map[string]int{}
	ch := patch.CycleChange{}
	for _, d := range ds {
		failing := d.State == patch.DeployRetryWait || d.State == patch.DeployFailed || d.State == patch.DeployRolledBack
		if failing && !d.Waived {
			d.Waived, d.UpdatedAt = true, now
			waived[d.Ring]++
			ch.Deployments = append(ch.Deployments, d)
		}
	}
	c.State, c.ResumedAt, c.ResumedBy = patch.CycleRunning, now, by
	details := map[string]string{"reason": reason, "halted_ring": c.HaltRing, "halted_at": ts(c.HaltedAt)}
	for k, n := range waived {
		details["waived."+k] = strconv.Itoa(n)
	}
	if c.TicketID != "" {
		details["ticket"] = string(c.TicketID)
		ch.ResolveTickets = append(ch.ResolveTickets, patch.TicketResolution{ID: c.TicketID, Resolution: "Cycle resumed by " + by + ": " + reason})
	}
	ch.Events = append(ch.Events, cycleEvent(c, patch.EventCycleResumed, details))
	Summarize(c, ds)
	return ch, nil
}

// Abort ends a cycle: deployments not finished are cancelled and their
// pending jobs withdrawn. In-flight installs on agents finish on their own;
// their results are still recorded.
func Abort(c *patch.Cycle, ds []*patch.Deployment, by, reason string, now time.Time) (patch.CycleChange, error) {
	if !c.Active() {
		return patch.CycleChange{}, refuse("Cycle %s is %s already.", c.ID, c.State)
	}
	ch := patch.CycleChange{ExpireJobs: true}
	n := 0
	for _, d := range ds {
		if !d.State.Terminal() {
			d.State, d.CompletedAt, d.LastError, d.UpdatedAt = patch.DeployCancelled, now, "cycle aborted by "+by, now
			ch.Deployments = append(ch.Deployments, d)
			n++
		}
	}
	c.State, c.CompletedAt = patch.CycleAborted, now
	details := map[string]string{"reason": reason, "cancelled": strconv.Itoa(n)}
	if c.TicketID != "" {
		ch.ResolveTickets = append(ch.ResolveTickets, patch.TicketResolution{ID: c.TicketID, Resolution: "Cycle aborted by " + by + ": " + reason})
	}
	ch.Events = append(ch.Events, cycleEvent(c, patch.EventCycleAborted, details))
	Summarize(c, ds)
	return ch, nil
}

// SkipUpdate takes one update out of an active cycle: targets not
// installed yet are skipped, and deployments that failed or were rolled
// back go back to waiting (with their failures forgiven) to deploy the
// other updates without it.
func SkipUpdate(c *patch.Cycle, ds []*patch.Deployment, update patch.UpdateID, by, reason string, now time.Time) (patch.CycleChange, error) {
	if !c.Active() {
		return patch.CycleChange{}, refuse("Cycle %s is %s; only an active cycle can change.", c.ID, c.State)
	}
	i := slices.IndexFunc(c.Updates, func(u patch.CycleUpdate) bool { return u.UpdateID == update })
	if i < 0 {
		return patch.CycleChange{}, patch.Errorf(patch.KindNotFound, "Update %s is not part of cycle %s.", update, c.ID)
	}
	u := &c.Updates[i]
	if u.Skipped {
		return patch.CycleChange{}, refuse("Update %s was skipped already by %s.", update, u.SkippedBy)
	}
	u.Skipped, u.SkippedBy, u.SkippedAt, u.SkipReason = true, by, now, reason
	ch := patch.CycleChange{}
	reset := 0
	for _, d := range ds {
		t := d.Target(update)
		if t == nil {
			continue
		}
		changed := false
		if t.State == patch.TargetPending || t.State == patch.TargetFailed {
			t.State, t.Detail, changed = patch.TargetSkipped, "skipped in the cycle by "+by, true
		}
		reopen := d.State == patch.DeployRetryWait || d.State == patch.DeployFailed || d.State == patch.DeployRolledBack
		if reopen {
			for j := range d.Targets {
				o := &d.Targets[j]
				if o.UpdateID != update && (o.State == patch.TargetRolledBack || o.State == patch.TargetFailed) {
					o.State, o.Detail = patch.TargetPending, ""
				}
			}
			d.State, d.Failures, d.NextAttemptAt, d.CompletedAt, d.Waived = patch.DeployWaiting, 0, time.Time{}, time.Time{}, false
			d.LastError = fmt.Sprintf("update %s skipped by %s; deploying the rest again", u.Package, by)
			changed = true
			reset++
		}
		if changed {
			d.UpdatedAt = now
			ch.Deployments = append(ch.Deployments, d)
		}
	}
	ch.Events = append(ch.Events, patch.EvidenceEvent{ClientID: c.ClientID, Type: patch.EventUpdateSkipped,
		Subject: patch.EvidenceSubject{CycleID: string(c.ID), UpdateID: update},
		Details: map[string]string{"reason": reason, "package": u.Package, "version": u.Version, "redeploying": strconv.Itoa(reset)}})
	Summarize(c, ds)
	return ch, nil
}

// Approve promotes a ring that soaked and passed its gate and waits for a
// person. Who may approve (the MSP or the client owner, as the policy
// says) is checked by the caller.
func Approve(c *patch.Cycle, ds []*patch.Deployment, ring, by string, now time.Time) (patch.CycleChange, error) {
	r, _ := c.Ring(ring)
	if r == nil {
		return patch.CycleChange{}, patch.Errorf(patch.KindNotFound, "Cycle %s has no ring %q.", c.ID, ring)
	}
	if c.State != patch.CycleRunning {
		return patch.CycleChange{}, refuse("Cycle %s is %s; resume it before approving a ring.", c.ID, c.State)
	}
	if r.State != patch.RingAwaitingApproval {
		return patch.CycleChange{}, refuse("Ring %s is %s, not awaiting approval.", ring, r.State)
	}
	r.State, r.PromotedAt, r.PromotedBy = patch.RingPromoted, now, by
	Summarize(c, ds)
	return patch.CycleChange{Events: []patch.EvidenceEvent{cycleEvent(c, patch.EventRingPromoted, map[string]string{"ring": ring, "by": by,
		"soaked_until": ts(r.SoakUntil), "failure_rate_pct": strconv.FormatFloat(r.Progress.FailureRatePct, 'f', -1, 64),
		"results": strconv.Itoa(r.Progress.Results)})}}, nil
}

// ApproveReboot approves the restart of deployments whose reboot waits
// for a person (manual reboot policy). ids empty approves every one of the
// cycle.
func ApproveReboot(c *patch.Cycle, ds []*patch.Deployment, ids []patch.DeploymentID, now time.Time) (patch.CycleChange, error) {
	if !c.Active() {
		return patch.CycleChange{}, refuse("Cycle %s is %s.", c.ID, c.State)
	}
	ch := patch.CycleChange{}
	for _, d := range ds {
		if len(ids) > 0 && !slices.Contains(ids, d.ID) {
			continue
		}
		if d.State != patch.DeployRebootPending || d.RebootApproved {
			if len(ids) > 0 {
				return patch.CycleChange{}, refuse("Deployment %s is %s; only a pending reboot can be approved.", d.ID, d.State)
			}
			continue
		}
		d.RebootApproved, d.UpdatedAt = true, now
		ch.Deployments = append(ch.Deployments, d)
	}
	if len(ch.Deployments) == 0 {
		return ch, refuse("No reboot of cycle %s waits for approval.", c.ID)
	}
	return ch, nil
}

// Halt stops a running cycle by hand: nothing new starts until someone
// resumes it. What is in flight finishes its runbook.
func Halt(c *patch.Cycle, ds []*patch.Deployment, by, reason string, now time.Time) (patch.CycleChange, error) {
	if c.State != patch.CycleRunning {
		return patch.CycleChange{}, refuse("Cycle %s is %s; only a running cycle can be halted.", c.ID, c.State)
	}
	ring := ""
	for _, r := range c.Rings {
		if r.State != patch.RingWaiting && r.State != patch.RingPromoted {
			ring = r.Key
			break
		}
	}
	c.State, c.HaltedAt, c.HaltRing, c.HaltReason, c.TicketID = patch.CycleHalted, now, ring, "Halted by "+by+": "+reason, ""
	Summarize(c, ds)
	return patch.CycleChange{Events: []patch.EvidenceEvent{cycleEvent(c, patch.EventCycleHalted, map[string]string{"ring": ring, "by": by, "reason": reason})}}, nil
}
