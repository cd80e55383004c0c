package policy

import (
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Facts are what the rollout side knows about a finding's deployment.
// The zero value means "nothing known": the reasons that need these facts
// are then not given.
type Facts struct {
	// Failures is how many install attempts failed; LastFailure the last
	// error.
	Failures    int
	LastFailure string
	// RebootPending is true when the update is installed and waits for a
	// reboot.
	RebootPending bool
	// WaitingForRing names the ring whose promotion the finding waits for.
	WaitingForRing string
}

// Engine evaluates the findings of one client at one instant. Build one
// per evaluation run and fill its fields before the first Evaluate; after
// that it is safe for concurrent use (its window cache is locked).
type Engine struct {
	Policy *patch.Policy
	Now    time.Time
	// Decisions and Overrides are the client's, by update.
	Decisions map[patch.UpdateID]*patch.UpdateDecision
	Overrides map[patch.UpdateID]*patch.TierOverride
	// Exceptions are the client's exceptions, in every state.
	Exceptions []*patch.Exception
	MSPCanary  *patch.MSPCanary

	windows *Windows
}

// NewEngine returns an engine for policy p at now.
func NewEngine(p *patch.Policy, now time.Time) *Engine {
	return &Engine{Policy: p, Now: now, Decisions: map[patch.UpdateID]*patch.UpdateDecision{},
		Overrides: map[patch.UpdateID]*patch.TierOverride{}, windows: NewWindows(p)}
}

// Windows returns the engine's window oracle.
func (e *Engine) Windows() *Windows { return e.windows }

// Subject is one finding with what it is evaluated against.
type Subject struct {
	Finding *patch.Finding
	Update  *patch.Update
	Asset   *patch.Asset
	// Zone is the asset's site time zone (UTC when it has no site).
	Zone  *time.Location
	Facts Facts
}

// Evaluation is everything the policy says about one finding.
type Evaluation struct {
	Severity Severity `json:"severity"`
	Tier     string   `json:"tier"`
	// TierOverride is the override that set the tier or emergency flag.
	TierOverride   *patch.TierOverride `json:"tier_override,omitempty"`
	Emergency      bool                `json:"emergency"`
	EmergencyBasis string              `json:"emergency_basis,omitempty"`
	// Cell is the SLA cell that applies; nil when the policy has none.
	Cell     *patch.SLACell `json:"cell,omitempty"`
	Approval ApprovalResult `json:"approval"`
	Clock    Clock          `json:"clock"`
	// Exception is the exception pausing the clock now, if any; Pending
	// one that covers the finding but is not in effect yet.
	Exception *patch.Exception `json:"-"`
	Pending   *patch.Exception `json:"-"`
	Ring      Placement        `json:"ring"`
	// NextWindow is the next opening of the cell's windows for the asset.
	NextWindow *NamedOccurrence `json:"next_window,omitempty"`
	Why        Why              `json:"why"`
}

// Stored returns the fields the evaluator writes on the finding.
func (ev Evaluation) Stored(f *patch.Finding) patch.FindingEvaluation {
	out := patch.FindingEvaluation{
		FindingID: f.ID, State: f.State, Tier: ev.Tier, Emergency: ev.Emergency,
		Approval: ev.Approval.State, DueAt: ev.Clock.DueAt, SLAStatus: ev.Clock.Status,
	}
	if ev.Exception != nil {
		out.ExceptionID = ev.Exception.ID
	}
	return out
}

// Changed reports whether the stored fields of f differ from ev's.
func (ev Evaluation) Changed(f *patch.Finding) bool {
	s := ev.Stored(f)
	return f.EvaluatedAt.IsZero() || f.Tier != s.Tier || f.Emergency != s.Emergency || f.Approval != s.Approval ||
		!f.DueAt.Equal(s.DueAt.Truncate(time.Millisecond)) || f.SLAStatus != s.SLAStatus || f.ExceptionID != string(s.ExceptionID)
}

// cell returns the SLA cell of a class and tier. A class without a cell
// and without a "*" cell for the tier (a class added after the policy was
// written) is held to the tier's strictest deadline, so that no class
// escapes the SLA.
func (e *Engine) cell(class, tier string) (*patch.SLACell, bool) {
	if c, ok := e.Policy.Cell(class, tier); ok {
		return &c, true
	}
	var best *patch.SLACell
	for i, c := range e.Policy.SLA.Matrix {
		if c.Tier == tier && (best == nil || c.Deadline.MustParse() < best.Deadline.MustParse()) {
			best = &e.Policy.SLA.Matrix[i]
		}
	}
	if best == nil {
		return nil, false
	}
	c := *best
	return &c, true
}

// Isolated reports whether an asset is in the legacy exception lane now.
func (e *Engine) Isolated(a *patch.Asset) bool {
	for _, x := range e.Exceptions {
		if x.Lane == patch.LaneLegacy && x.InEffect(e.Now) && x.Scope.CoversAsset(a) {
			return true
		}
	}
	return false
}

// Place returns the ring placement of an asset.
func (e *Engine) Place(a *patch.Asset) Placement {
	return Place(e.Policy.Rings, e.MSPCanary, a, e.Isolated(a))
}

// Evaluate applies the policy to one finding.
func (e *Engine) Evaluate(s Subject) Evaluation {
	p, f, u, a := e.Policy, s.Finding, s.Update, s.Asset
	zone := s.Zone
	if zone == nil {
		zone = time.UTC
	}
	var ev Evaluation
	ev.Severity = Classify(u)
	ev.Tier = TierOf(p, ev.Severity.Level)
	ov := e.Overrides[u.ID]
	if ov != nil && ov.Tier != "" {
		if _, ok := p.Tier(ov.Tier); ok {
			ev.Tier, ev.TierOverride = ov.Tier, ov
		}
	}
	ev.Emergency, ev.EmergencyBasis = Emergency(p, ev.Tier, u)
	if ov != nil && ov.Emergency != nil {
		ev.Emergency, ev.TierOverride = *ov.Emergency, ov
		ev.EmergencyBasis = "set by override: " + ov.Reason
		if !ev.Emergency {
			ev.EmergencyBasis = ""
		}
	}

	// Exceptions: the pauses of the clock and the one in effect now.
	var pauses []Interval
	for _, x := range e.Exceptions {
		if !x.Covers(a, u) {
			continue
		}
		if from, to, ok := x.Effect(); ok {
			pauses = append(pauses, Interval{From: from, To: to})
			if x.InEffect(e.Now) && (ev.Exception == nil || x.ExpiresAt.After(ev.Exception.ExpiresAt)) {
				ev.Exception = x
			}
		}
		if (x.State == patch.ExceptionRequested || x.State == patch.ExceptionApproved) && !x.InEffect(e.Now) && e.Now.Before(x.ExpiresAt) {
			if ev.Pending == nil {
				ev.Pending = x
			}
		}
	}

	cell, ok := e.cell(a.Class, ev.Tier)
	if ok {
		ev.Cell = cell
		ev.Approval = Approve(p, *cell, ev.Tier, u, e.Decisions[u.ID], e.Now)
		resolved := time.Time{}
		if f.State == patch.FindingResolved {
			resolved = f.ResolvedAt
		}
		ev.Clock = RunClock(ClockInput{
			Anchor: Anchor(p, f, u), Deadline: cell.Deadline.MustParse(), Pauses: pauses,
			Resolved: resolved, Verified: f.Resolution == patch.ResolvedVerified, Now: e.Now, DueSoonPct: p.SLA.DueSoonPct,
		})
		if f.State == patch.FindingOpen && len(cell.Windows) > 0 {
			if o, ok := e.windows.Next(cell.Windows, e.Now, zone); ok {
				ev.NextWindow = &o
			}
		}
	} else {
		ev.Approval = Approve(p, patch.SLACell{}, ev.Tier, u, e.Decisions[u.ID], e.Now)
	}
	if f.State == patch.FindingResolved {
		ev.Exception = nil
	}
	ev.Ring = e.Place(a)
	ev.Why = e.why(s, &ev, zone)
	return ev
}

// Covered returns the exceptions that cover a finding (in any state), for
// an exception's findings listing.
func Covered(xs []*patch.Exception, a *patch.Asset, u *patch.Update) []*patch.Exception {
	return slices.DeleteFunc(slices.Clone(xs), func(x *patch.Exception) bool { return !x.Covers(a, u) })
}
