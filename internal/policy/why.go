package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Why says in plain words why a finding is not patched (yet). Code is a
// stable identifier for filtering and for the console to pick an icon;
// Text is the sentence for people. The vocabulary is listed in
// docs/policy.md.
type Why struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// Why codes, in the order they are considered: the first that applies is
// the answer.
const (
	WhyVerified         = "verified"           // resolved: a scan showed it installed
	WhySuperseded       = "superseded"         // resolved: a newer update replaced it
	WhyRetired          = "retired"            // resolved: the asset or source was removed
	WhyLegacyLane       = "legacy_lane"        // the asset is in the isolated exception lane
	WhyExcepted         = "excepted"           // an exception pauses the clock
	WhyDeclined         = "declined"           // a person declined the update
	WhyExceptionPending = "exception_pending"  // an exception awaits sign-off or its start
	WhyNotManaged       = "not_managed"        // no agent: patched by hand
	WhyAgentOffline     = "agent_offline"      // the agent has not checked in
	WhyNotApproved      = "not_approved"       // waiting for an approval
	WhyInstallFailed    = "install_failed"     // deployment failed
	WhyRebootPending    = "reboot_pending"     // installed, waiting for a reboot
	WhyRingNotPromoted  = "ring_not_promoted"  // the asset's ring has not been reached
	WhyWaitingForWindow = "waiting_for_window" // approved, waiting for a window
	WhyNoWindow         = "no_window"          // the cell's windows never open
	WhyNoSLA            = "no_sla"             // the policy has no cell for it
	WhyDeploying        = "deploying"          // approved and allowed to deploy now
)

// timeFormat is how reasons show times, in the asset's zone.
const timeFormat = "Mon 2 Jan 2006 15:04 MST"

func (e *Engine) why(s Subject, ev *Evaluation, zone *time.Location) Why {
	f, u, a := s.Finding, s.Update, s.Asset
	at := func(t time.Time) string { return t.In(zone).Format(timeFormat) }
	if f.State == patch.FindingResolved {
		switch f.Resolution {
		case patch.ResolvedVerified:
			return Why{WhyVerified, "Installed and verified on " + at(f.ResolvedAt) + "."}
		case patch.ResolvedSuperseded:
			return Why{WhySuperseded, "Replaced by a newer update on " + at(f.ResolvedAt) + "; the newer finding carries the SLA clock."}
		}
		return Why{WhyRetired, "Closed on " + at(f.ResolvedAt) + ": the asset or its update source was removed."}
	}
	if x := ev.Exception; x != nil {
		by := "the client owner"
		if x.SignOff != nil {
			by = x.SignOff.Name
		}
		if x.Lane == patch.LaneLegacy {
			kinds := make([]string, len(x.Controls))
			for i, c := range x.Controls {
				kinds[i] = strings.ReplaceAll(string(c.Kind), "_", " ")
			}
			return Why{WhyLegacyLane, fmt.Sprintf("Legacy asset in the isolated exception lane until %s, signed off by %s: %s. Compensating controls: %s. Ticket %s.",
				at(x.ExpiresAt), by, strings.TrimSuffix(x.Reason, "."), strings.Join(kinds, ", "), x.TicketRef)}
		}
		return Why{WhyExcepted, fmt.Sprintf("Excepted until %s, signed off by %s: %s (ticket %s).", at(x.ExpiresAt), by, strings.TrimSuffix(x.Reason, "."), x.TicketRef)}
	}
	if d := ev.Approval.Decision; d != nil && d.Decision == patch.ApprovalDeclined {
		return Why{WhyDeclined, fmt.Sprintf("Declined by %s on %s: %s.", d.DecidedBy.Name, at(d.DecidedAt), strings.TrimSuffix(d.Reason, "."))}
	}
	if x := ev.Pending; x != nil {
		if x.State == patch.ExceptionRequested {
			return Why{WhyExceptionPending, fmt.Sprintf("Exception %s (ticket %s) awaits the client owner's sign-off; the SLA clock keeps running.", x.ID, x.TicketRef)}
		}
		return Why{WhyExceptionPending, fmt.Sprintf("Exception %s is signed off and takes effect on %s; the SLA clock runs until then.", x.ID, at(x.StartsAt))}
	}
	if ev.Cell == nil {
		return Why{WhyNoSLA, fmt.Sprintf("The policy has no SLA cell for class %s and tier %s.", a.Class, ev.Tier)}
	}
	if !a.Managed {
		return Why{WhyNotManaged, fmt.Sprintf("No Patchring agent reports from this asset (it was added by %s); patch it by hand or install the agent.", a.Source)}
	}
	if a.LastSeen.IsZero() {
		return Why{WhyAgentOffline, "The agent has never checked in."}
	}
	if off := e.Policy.AgentOfflineAfter.MustParse(); off > 0 && e.Now.Sub(a.LastSeen) > off {
		return Why{WhyAgentOffline, "Agent offline since " + at(a.LastSeen) + "."}
	}
	if ev.Approval.State != patch.ApprovalApproved {
		switch {
		case ev.Approval.ManualOnly:
			return Why{WhyNotApproved, fmt.Sprintf("Not approved: %s assets take manual approval only; approve the update to deploy it.", a.Class)}
		case ev.Approval.Rule != "":
			return Why{WhyNotApproved, fmt.Sprintf("Not approved yet: rule %s approves it on %s.", ev.Approval.Rule, at(ev.Approval.At))}
		}
		return Why{WhyNotApproved, fmt.Sprintf("Not approved: no auto-approval rule matches (%s, tier %s); approve it by hand.", orDash(u.Classification), ev.Tier)}
	}
	if n := s.Facts.Failures; n > 0 {
		msg := fmt.Sprintf("Failed %d times", n)
		if n == 1 {
			msg = "Failed once"
		}
		if s.Facts.LastFailure != "" {
			msg += "; last error: " + strings.TrimSuffix(s.Facts.LastFailure, ".")
		}
		return Why{WhyInstallFailed, msg + "."}
	}
	if s.Facts.RebootPending {
		r := ev.Cell.Reboot
		switch r.Mode {
		case patch.RebootManual:
			return Why{WhyRebootPending, "Installed; the reboot waits for manual approval."}
		case patch.RebootNever:
			return Why{WhyRebootPending, "Installed; waiting for a reboot, which this policy never does: reboot it by hand."}
		case patch.RebootUserPrompted:
			return Why{WhyRebootPending, fmt.Sprintf("Installed; waiting for the user to reboot (up to %d deferrals).", r.Deferrals)}
		}
		return Why{WhyRebootPending, "Installed; waiting for the scheduled reboot (" + r.Slot + ")."}
	}
	if s.Facts.WaitingForRing != "" {
		return Why{WhyRingNotPromoted, fmt.Sprintf("Waiting for ring %s to be promoted (this asset is in %s).", s.Facts.WaitingForRing, ev.Ring.Ring)}
	}
	if len(ev.Cell.Windows) == 0 {
		return Why{WhyDeploying, "Approved; no maintenance window applies, so it deploys at the next rollout run."}
	}
	o := ev.NextWindow
	if o == nil {
		return Why{WhyNoWindow, fmt.Sprintf("No maintenance window: %s never opens again; fix the policy's windows.", strings.Join(ev.Cell.Windows, ", "))}
	}
	if o.Contains(e.Now) {
		return Why{WhyDeploying, fmt.Sprintf("Approved and inside the %s window until %s: deployment is due now.", o.Window, at(o.End))}
	}
	text := fmt.Sprintf("Waiting for the maintenance window %s on %s.", o.Window, at(o.Start))
	if !ev.Clock.DueAt.IsZero() && o.Start.After(ev.Clock.DueAt) {
		text = fmt.Sprintf("Waiting for the maintenance window %s on %s, after the due time %s.", o.Window, at(o.Start), at(ev.Clock.DueAt))
	}
	return Why{WhyWaitingForWindow, text}
}

func orDash(s string) string {
	if s == "" {
		return "unclassified"
	}
	return s
}
