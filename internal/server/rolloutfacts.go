package server

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// What the rollout knows, for the rest of Patchring: the facts "why not
// patched" needs (failed N times, reboot pending, ring not promoted), and
// for compliance and reports the per-ring failure counts, the failed
// installs (the "UPDATES – Failed" monitor) and how failures were
// remediated. Only verified installs count as installed anywhere: these
// facts are about deployments, never a substitute for a verifying scan.

// NewDeploymentFacts returns the rollout's DeploymentFacts over a rollout
// store, for Stores.Deployments.
func NewDeploymentFacts(st patch.RolloutStore) DeploymentFacts {
	return deploymentFacts{st: st}
}

type deploymentFacts struct{ st patch.RolloutStore }

// FindingFacts returns, for each finding a cycle targeted, what its latest
// deployment says: failed attempts (with the last error), a pending
// reboot, or the ring whose promotion it waits for.
func (f deploymentFacts) FindingFacts(ctx context.Context, client patch.ClientID, ids []patch.FindingID) (map[patch.FindingID]policy.Facts, error) {
	out := map[patch.FindingID]policy.Facts{}
	if len(ids) == 0 {
		return out, nil
	}
	pairs, err := f.st.FindingDeployments(ctx, client, ids)
	if err != nil || len(pairs) == 0 {
		return out, err
	}
	var depIDs []patch.DeploymentID
	for _, ts := range pairs {
		for _, t := range ts {
			depIDs = append(depIDs, t.DeploymentID)
		}
	}
	slices.Sort(depIDs)
	depIDs = slices.Compact(depIDs)
	deps := map[patch.DeploymentID]*patch.Deployment{}
	for start := 0; start < len(depIDs); start += patch.MaxLimit {
		chunk := depIDs[start:min(start+patch.MaxLimit, len(depIDs))]
		page, _, err := f.st.FindDeployments(ctx, patch.DeploymentFilter{ClientID: &client, IDs: chunk, Limit: patch.MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			deps[d.ID] = d
		}
	}
	cycles := map[patch.CycleID]*patch.Cycle{}
	for fid, ts := range pairs {
		// The latest deployment of the finding's update on its asset.
		var d *patch.Deployment
		var t *patch.DeploymentTarget
		for _, ft := range ts {
			x := deps[ft.DeploymentID]
			if x == nil || (d != nil && !x.UpdatedAt.After(d.UpdatedAt)) {
				continue
			}
			if tt := x.Target(ft.UpdateID); tt != nil {
				d, t = x, tt
			}
		}
		if d == nil || t.State == patch.TargetSkipped || (t.State == patch.TargetVerified && d.State == patch.DeploySucceeded) {
			continue
		}
		var facts policy.Facts
		switch d.State {
		case patch.DeployRetryWait, patch.DeployFailed, patch.DeployRolledBack:
			facts.Failures, facts.LastFailure = max(d.Failures, 1), d.LastError
		case patch.DeployRebootPending, patch.DeployRebooting:
			facts.RebootPending = true
		case patch.DeployPending:
			c := cycles[d.CycleID]
			if c == nil {
				var err error
				if c, err = f.st.FindCycleByID(ctx, d.CycleID); err != nil {
					return nil, err
				}
				cycles[d.CycleID] = c
			}
			if c.Active() {
				facts.WaitingForRing = gatingRing(c, d.Ring)
			}
		default:
			continue
		}
		out[fid] = facts
	}
	return out, nil
}

// gatingRing returns the ring a deployment of ring waits for: the last
// started ring before it that is not promoted yet.
func gatingRing(c *patch.Cycle, ring string) string {
	out := ""
	for _, r := range c.Rings {
		if r.Key == ring {
			break
		}
		if r.State != patch.RingPromoted {
			out = r.Key
			if r.State != patch.RingWaiting {
				return r.Key
			}
		}
	}
	return out
}

// RolloutSummaryQuery selects the cycles of a summary.
type RolloutSummaryQuery struct {
	ClientID patch.ClientID
	// Since and Until bound the cycles by creation (zero: unbounded).
	Since, Until time.Time
}

// RolloutSummary is what compliance and reports read of the rollout.
type RolloutSummary struct {
	ClientID patch.ClientID `json:"client_id"`
	// Cycles are the period's cycles with each ring's progress: members,
	// succeeded, failed, rolled back, results and failure rate.
	Cycles []*CycleView `json:"cycles"`
	// Failed are the installs that failed at least once, with how they
	// ended.
	Failed []FailedInstall `json:"failed"`
	// Remediation counts how failed installs ended.
	Remediation RemediationCounts `json:"remediation"`
}

// FailedInstall is one deployment target that failed: an update on an
// asset.
type FailedInstall struct {
	CycleID      patch.CycleID      `json:"cycle_id"`
	DeploymentID patch.DeploymentID `json:"deployment_id"`
	AssetID      patch.AssetID      `json:"asset_id"`
	Hostname     string             `json:"hostname"`
	Ring         string             `json:"ring"`
	UpdateID     patch.UpdateID     `json:"update_id"`
	FindingID    patch.FindingID    `json:"finding_id"`
	Package      string             `json:"package"`
	Version      string             `json:"version"`
	// Outcome is retrying (a later attempt is due), escalated (attempts
	// exhausted, ticket open), rolled_back (unhealthy, undone),
	// remediated (a later attempt succeeded and was verified), skipped (a
	// person took the update out of the cycle) or cancelled.
	Outcome   string         `json:"outcome"`
	Failures  int            `json:"failures"`
	LastError string         `json:"last_error"`
	FailedAt  time.Time      `json:"failed_at"`
	TicketID  patch.TicketID `json:"ticket_id,omitempty"`
}

// Failure outcomes.
const (
	OutcomeRetrying   = "retrying"
	OutcomeEscalated  = "escalated"
	OutcomeRolledBack = "rolled_back"
	OutcomeRemediated = "remediated"
	OutcomeSkipped    = "skipped"
	OutcomeCancelled  = "cancelled"
)

// RemediationCounts counts failed installs by how they ended.
type RemediationCounts struct {
	Failed     int `json:"failed"`
	Retrying   int `json:"retrying"`
	Remediated int `json:"remediated"`
	Escalated  int `json:"escalated"`
	RolledBack int `json:"rolled_back"`
	Skipped    int `json:"skipped"`
	Cancelled  int `json:"cancelled"`
}

// RolloutSummary returns a client's cycles of a period with per-ring
// failure counts, every failed install and how it was remediated. It is
// the rollout's read model for compliance ("UPDATES – Failed") and the
// Patch Health report.
func (s *Server) RolloutSummary(ctx context.Context, q RolloutSummaryQuery) (*RolloutSummary, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, q.ClientID); err != nil {
		return nil, err
	}
	out := &RolloutSummary{ClientID: q.ClientID, Cycles: []*CycleView{}, Failed: []FailedInstall{}}
	for off := 0; ; {
		page, total, err := s.st.Rollouts.FindCycles(ctx, patch.CycleFilter{ClientID: &q.ClientID, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if (!q.Since.IsZero() && c.CreatedAt.Before(q.Since)) || (!q.Until.IsZero() && !c.CreatedAt.Before(q.Until)) {
				continue
			}
			ds, err := s.cycleDeployments(ctx, c.ID)
			if err != nil {
				return nil, err
			}
			out.Cycles = append(out.Cycles, view(c, ds))
			for _, d := range ds {
				out.Failed = append(out.Failed, failedInstalls(d)...)
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	for _, f := range out.Failed {
		out.Remediation.Failed++
		switch f.Outcome {
		case OutcomeRetrying:
			out.Remediation.Retrying++
		case OutcomeRemediated:
			out.Remediation.Remediated++
		case OutcomeEscalated:
			out.Remediation.Escalated++
		case OutcomeRolledBack:
			out.Remediation.RolledBack++
		case OutcomeSkipped:
			out.Remediation.Skipped++
		case OutcomeCancelled:
			out.Remediation.Cancelled++
		}
	}
	return out, nil
}

// FailedInstalls lists the installs failing now on a client's assets
// (retrying, escalated or rolled back, in any cycle not superseded by a
// later success), for the "UPDATES – Failed" monitor. asset, when set,
// limits it to one asset.
func (s *Server) FailedInstalls(ctx context.Context, client patch.ClientID, asset *patch.AssetID) ([]FailedInstall, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	latest := map[string]FailedInstall{}
	ok := map[string]time.Time{}
	for off := 0; ; {
		page, total, err := s.st.Rollouts.FindDeployments(ctx, patch.DeploymentFilter{ClientID: &client, AssetID: asset, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			for _, t := range d.Targets {
				key := string(d.AssetID) + " " + string(t.UpdateID)
				if t.State == patch.TargetVerified && d.UpdatedAt.After(ok[key]) {
					ok[key] = d.UpdatedAt
				}
			}
			for _, f := range failedInstalls(d) {
				key := string(f.AssetID) + " " + string(f.UpdateID)
				if f.Outcome == OutcomeRetrying || f.Outcome == OutcomeEscalated || f.Outcome == OutcomeRolledBack {
					if cur, seen := latest[key]; !seen || f.FailedAt.After(cur.FailedAt) {
						latest[key] = f
					}
				}
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	out := []FailedInstall{}
	for key, f := range latest {
		if ok[key].After(f.FailedAt) {
			continue // installed and verified since
		}
		out = append(out, f)
	}
	rolloutSortFailed(out)
	return out, nil
}

// failedInstalls lists a deployment's targets that failed, with how each
// ended.
func failedInstalls(d *patch.Deployment) []FailedInstall {
	failedOnce := d.Failures > 0 || d.State == patch.DeployRolledBack || d.State == patch.DeployFailed || d.State == patch.DeployRetryWait
	if !failedOnce {
		return nil
	}
	var out []FailedInstall
	for _, t := range d.Targets {
		outcome := ""
		switch {
		case d.State == patch.DeployRolledBack && t.State == patch.TargetRolledBack:
			outcome = OutcomeRolledBack
		case d.State == patch.DeployFailed:
			outcome = OutcomeEscalated
		case d.State == patch.DeployRetryWait && t.State == patch.TargetFailed:
			outcome = OutcomeRetrying
		case d.State == patch.DeploySucceeded && t.State == patch.TargetVerified && d.Failures > 0:
			outcome = OutcomeRemediated
		case t.State == patch.TargetSkipped && t.Detail != "" && d.Failures > 0:
			outcome = OutcomeSkipped
		case d.State == patch.DeployCancelled && d.Failures > 0:
			outcome = OutcomeCancelled
		}
		if outcome == "" {
			continue
		}
		out = append(out, FailedInstall{CycleID: d.CycleID, DeploymentID: d.ID, AssetID: d.AssetID, Hostname: d.Hostname, Ring: d.Ring,
			UpdateID: t.UpdateID, FindingID: t.FindingID, Package: t.Package, Version: t.Version, Outcome: outcome,
			Failures: max(d.Failures, 1), LastError: d.LastError, FailedAt: d.FailedAt, TicketID: d.TicketID})
	}
	return out
}

// rolloutSortFailed orders failed installs newest first.
func rolloutSortFailed(fs []FailedInstall) {
	slices.SortFunc(fs, func(a, b FailedInstall) int {
		return cmp.Or(b.FailedAt.Compare(a.FailedAt), strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.Package, b.Package))
	})
}
