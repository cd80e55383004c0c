package rollout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Summarize fills each ring's Progress from the cycle's deployments.
func Summarize(c *patch.Cycle, ds []*patch.Deployment) {
	for i := range c.Rings {
		r := &c.Rings[i]
		p := patch.RingProgress{}
		for _, d := range ds {
			if d.Ring != r.Key {
				continue
			}
			p.Members++
			switch d.State {
			case patch.DeployPending, patch.DeployWaiting, patch.DeployRebootPending:
				p.Pending++
			case patch.DeploySnapshotting, patch.DeployInstalling, patch.DeployRebooting, patch.DeployVerifying,
				patch.DeployHealthCheck, patch.DeployRollingBack:
				p.InProgress++
			case patch.DeploySucceeded:
				p.Succeeded++
			case patch.DeployRetryWait, patch.DeployFailed:
				p.Failed++
				if d.Waived {
					p.Waived++
				}
			case patch.DeployRolledBack:
				p.Failed++
				p.RolledBack++
				if d.Waived {
					p.Waived++
				}
			default:
				p.Skipped++
			}
		}
		p.Results = p.Succeeded + p.Failed
		if p.Results > 0 {
			p.FailureRatePct = pct(p.Failed-p.Waived, p.Results)
		}
		r.Progress = p
	}
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(int(float64(n)*10000/float64(of)+0.5)) / 100
}

// gate returns the promotion gate that judges ring i: its own, or for the
// last ring (which has none) the one before it, so that failures in
// production halt the cycle too.
func gate(c *patch.Cycle, i int) *patch.Promotion {
	for ; i >= 0; i-- {
		if p := c.Rings[i].Promotion; p != nil {
			return p
		}
	}
	return nil
}

// Breach describes a ring over its failure threshold.
type Breach struct {
	Ring         string
	Failed       int
	Results      int
	RatePct      float64
	ThresholdPct float64
	MinSample    int
}

func (b Breach) String() string {
	return fmt.Sprintf("Ring %s: %d of %d results failed (%.4g%%), above the %.4g%% threshold (minimum sample %d).",
		b.Ring, b.Failed, b.Results, b.RatePct, b.ThresholdPct, b.MinSample)
}

// Breached reports whether ring i is over its failure threshold: more
// than the threshold of its results failed (less those waived on resume),
// with at least the minimum sample — or, in a ring with fewer eligible
// members than the minimum sample, all of them.
func Breached(c *patch.Cycle, i int) (Breach, bool) {
	r := &c.Rings[i]
	g := gate(c, i)
	if g == nil || r.State == patch.RingWaiting {
		return Breach{}, false
	}
	p := r.Progress
	failed := p.Failed - p.Waived
	eligible := p.Members - p.Skipped
	sample := min(g.MinSample, eligible)
	b := Breach{Ring: r.Key, Failed: failed, Results: p.Results, RatePct: p.FailureRatePct, ThresholdPct: g.FailureThresholdPct, MinSample: g.MinSample}
	return b, failed > 0 && p.Results >= max(sample, 1) && p.FailureRatePct > g.FailureThresholdPct
}

func (e *engine) checkBreaches() {
	Summarize(e.c, e.ds)
	for i := range e.c.Rings {
		if b, ok := Breached(e.c, i); ok {
			e.halt(b)
			return
		}
	}
}

// halt stops the cycle and raises a ticket.
func (e *engine) halt(b Breach) {
	c := e.c
	c.State, c.HaltedAt, c.HaltRing, c.HaltReason = patch.CycleHalted, e.now, b.Ring, b.String()
	var lines []string
	for _, d := range e.ds {
		if d.Ring == b.Ring && !d.Waived && (d.State == patch.DeployRetryWait || d.State == patch.DeployFailed || d.State == patch.DeployRolledBack) {
			lines = append(lines, fmt.Sprintf("- %s (%s): %s", d.Hostname, d.State, d.LastError))
		}
	}
	slices.Sort(lines)
	t := &patch.Ticket{ID: patch.TicketID(e.newID(patch.PrefixTicket)), ClientID: c.ClientID, Kind: patch.TicketCycleHalted, State: patch.TicketOpen,
		Title: tail(fmt.Sprintf("Patch cycle %q halted in ring %s", c.Name, b.Ring), 200),
		Body: tail(b.String()+"\n\nNothing new starts until someone resumes the cycle, skips the bad update, or aborts it.\n\nFailures:\n"+
			strings.Join(lines, "\n"), 8000),
		CycleID: c.ID, Ring: b.Ring, CreatedBy: EngineName, CreatedAt: e.now}
	c.TicketID = t.ID
	e.out.Tickets = append(e.out.Tickets, t)
	e.event(patch.EventCycleHalted, nil, "", map[string]string{"ring": b.Ring, "failed": strconv.Itoa(b.Failed), "results": strconv.Itoa(b.Results),
		"failure_rate_pct": strconv.FormatFloat(b.RatePct, 'f', -1, 64), "threshold_pct": strconv.FormatFloat(b.ThresholdPct, 'f', -1, 64),
		"min_sample": strconv.Itoa(b.MinSample), "ticket": string(t.ID)})
}

// done reports whether a deployment no longer holds its ring back:
// finished, or installed with a reboot only a person (or nobody) will do.
func (e *engine) done(d *patch.Deployment) bool {
	if d.State.Terminal() {
		return true
	}
	if d.State != patch.DeployRebootPending || d.RebootApproved {
		return false
	}
	a := e.asset(d)
	if a == nil || a.Asset == nil {
		return true
	}
	cell, _ := e.cell(d, a)
	return cell.Reboot.Mode == patch.RebootManual || cell.Reboot.Mode == patch.RebootNever
}

// soak returns how long ring i soaks.
func (e *engine) soak(i int) time.Duration {
	if e.c.Kind == patch.CycleEmergency && e.in.Runbook.EmergencySoak != "" {
		return e.in.Runbook.EmergencySoak.MustParse()
	}
	if p := e.c.Rings[i].Promotion; p != nil {
		return p.Soak.MustParse()
	}
	return 0
}

// promote moves rings along: deployed → soaking → promoted (or awaiting a
// person's approval) → the next ring starts.
func (e *engine) promote() {
	c := e.c
	Summarize(c, e.ds)
	for i := range c.Rings {
		r := &c.Rings[i]
		last := i == len(c.Rings)-1
		if r.State == patch.RingDeploying {
			members := e.members(r.Key)
			if !allFunc(members, e.done) {
				return
			}
			r.DeployedAt = e.now
			e.cycleChanged = true
			if last || e.restEmpty(i) {
				// The last ring, or nothing after it to protect: no soak,
				// no approval; the empty rings after it are done too.
				for j := i; j < len(c.Rings); j++ {
					if j > i {
						c.Rings[j].StartedAt, c.Rings[j].DeployedAt = e.now, e.now
					}
					c.Rings[j].State = patch.RingCompleted
				}
				return
			}
			if len(members) == 0 {
				// Nothing to soak: an empty ring passes at once.
				r.State, r.PromotedAt, r.PromotedBy = patch.RingPromoted, e.now, EngineName+" (empty ring)"
				e.event(patch.EventRingPromoted, nil, "", map[string]string{"ring": r.Key, "by": r.PromotedBy})
			} else {
				r.State, r.SoakUntil = patch.RingSoaking, e.now.Add(e.soak(i))
			}
		}
		if r.State == patch.RingSoaking {
			if e.now.Before(r.SoakUntil) {
				return
			}
			if _, breached := Breached(c, i); breached {
				return // checkBreaches halts it
			}
			g := r.Promotion
			if g == nil || g.Approver == patch.ApproverAutomatic {
				r.State, r.PromotedAt, r.PromotedBy = patch.RingPromoted, e.now, EngineName
				e.event(patch.EventRingPromoted, nil, "", map[string]string{"ring": r.Key, "by": EngineName,
					"soaked_until": ts(r.SoakUntil), "failure_rate_pct": strconv.FormatFloat(r.Progress.FailureRatePct, 'f', -1, 64),
					"results": strconv.Itoa(r.Progress.Results)})
			} else {
				r.State = patch.RingAwaitingApproval
				e.cycleChanged = true
				return
			}
		}
		if r.State == patch.RingAwaitingApproval {
			return
		}
		if r.State == patch.RingPromoted && !last && c.Rings[i+1].State == patch.RingWaiting {
			next := &c.Rings[i+1]
			next.State, next.StartedAt = patch.RingDeploying, e.now
			e.cycleChanged = true
			e.event(patch.EventRingStarted, nil, "", map[string]string{"ring": next.Key, "after": r.Key})
			for _, d := range e.ds {
				if d.Ring == next.Key && d.State == patch.DeployPending {
					d.State = patch.DeployWaiting
					e.touch(d)
					e.start(d)
				}
			}
			Summarize(c, e.ds)
		}
	}
}

// restEmpty reports whether every ring after ring i has no members.
func (e *engine) restEmpty(i int) bool {
	for _, r := range e.c.Rings[i+1:] {
		if len(e.members(r.Key)) > 0 {
			return false
		}
	}
	return true
}

// complete ends the cycle when its last ring is complete and every
// deployment finished.
func (e *engine) complete() {
	c := e.c
	if c.State != patch.CycleRunning || len(c.Rings) == 0 || c.Rings[len(c.Rings)-1].State != patch.RingCompleted {
		return
	}
	if !allFunc(e.ds, func(d *patch.Deployment) bool { return d.State.Terminal() }) {
		return
	}
	c.State, c.CompletedAt = patch.CycleCompleted, e.now
	Summarize(c, e.ds)
	var ok, failed, skipped int
	for _, r := range c.Rings {
		ok += r.Progress.Succeeded
		failed += r.Progress.Failed
		skipped += r.Progress.Skipped
	}
	e.event(patch.EventCycleCompleted, nil, "", map[string]string{"succeeded": strconv.Itoa(ok), "failed": strconv.Itoa(failed), "skipped": strconv.Itoa(skipped)})
}

func allFunc[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if !f(v) {
			return false
		}
	}
	return true
}
