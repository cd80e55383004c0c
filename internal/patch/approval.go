package patch

import (
	"context"
	"time"
)

// UpdateDecision is a person's decision about an update for one client:
// approve it for deployment or decline it. It overrides the client's
// auto-approval rules. A decline needs a reason; it stops deployment but
// not the SLA clock (only an exception does that).
type UpdateDecision struct {
	ClientID  ClientID  `json:"client_id"`
	UpdateID  UpdateID  `json:"update_id"`
	Decision  Approval  `json:"decision"`
	Reason    string    `json:"reason,omitempty"`
	DecidedBy Actor     `json:"decided_by"`
	DecidedAt time.Time `json:"decided_at"`
}

// Validate checks the decision's own fields.
func (d *UpdateDecision) Validate() error {
	if d.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if d.UpdateID == "" {
		return FieldError("update_id", "is required")
	}
	switch d.Decision {
	case ApprovalApproved:
	case ApprovalDeclined:
		if len(d.Reason) == 0 {
			return FieldError("reason", "is required to decline an update")
		}
	default:
		return FieldError("decision", "must be approved or declined (got %q)", string(d.Decision))
	}
	return validText("reason", d.Reason, 2000)
}

// TierOverride places one update in a tier for one client regardless of
// the severity mapping, and may set or clear its emergency flag. A reason
// is required; overrides are audited.
type TierOverride struct {
	ClientID ClientID `json:"client_id"`
	UpdateID UpdateID `json:"update_id"`
	// Tier is the tier key; empty leaves the mapped tier.
	Tier string `json:"tier,omitempty"`
	// Emergency, when set, overrides the emergency rule.
	Emergency *bool     `json:"emergency,omitempty"`
	Reason    string    `json:"reason"`
	SetBy     Actor     `json:"set_by"`
	SetAt     time.Time `json:"set_at"`
}

// Validate checks the override's own fields; that Tier is a tier of the
// client's policy is checked by the caller.
func (o *TierOverride) Validate() error {
	if o.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if o.UpdateID == "" {
		return FieldError("update_id", "is required")
	}
	if o.Tier == "" && o.Emergency == nil {
		return FieldError("tier", "is required (or set emergency)")
	}
	if err := validName("reason", o.Reason, 2000); err != nil {
		return err
	}
	return nil
}

// DecisionFilter selects update decisions.
type DecisionFilter struct {
	ClientID *ClientID
	UpdateID *UpdateID
	Decision *Approval
	Offset   int
	Limit    int
}

// TierOverrideFilter selects tier overrides.
type TierOverrideFilter struct {
	ClientID *ClientID
	UpdateID *UpdateID
	Offset   int
	Limit    int
}

// DecisionStore persists manual approval decisions and tier overrides.
type DecisionStore interface {
	// DecideUpdate records (or replaces) a decision. The client must be in
	// scope and the update in the catalog (KindNotFound otherwise). It
	// writes an update.approve or update.decline audit entry and appends an
	// approved or declined evidence event for every open finding of the
	// update in the client.
	DecideUpdate(ctx context.Context, d *UpdateDecision) error
	// ClearDecision removes a decision so the rules apply again; removing
	// none is KindNotFound. Audited as update.clear_decision.
	ClearDecision(ctx context.Context, client ClientID, update UpdateID) error
	FindDecisions(ctx context.Context, f DecisionFilter) ([]*UpdateDecision, int, error)
	// SetTierOverride records (or replaces) an override; audited as
	// tier_override.set.
	SetTierOverride(ctx context.Context, o *TierOverride) error
	// DeleteTierOverride removes an override, recording reason in the
	// audit entry; none is KindNotFound.
	DeleteTierOverride(ctx context.Context, client ClientID, update UpdateID, reason string) error
	FindTierOverrides(ctx context.Context, f TierOverrideFilter) ([]*TierOverride, int, error)
}

// FindingEvaluation is the policy-derived state of one finding, written
// by the SLA evaluator.
type FindingEvaluation struct {
	FindingID FindingID
	// State is the state the evaluation assumed; the row is left alone if
	// the finding changed state since.
	State       FindingState
	Tier        string
	Emergency   bool
	Approval    Approval
	DueAt       time.Time
	SLAStatus   SLAStatus
	ExceptionID ExceptionID
	// Events are evidence events to append with the change (an automatic
	// approval), in the same transaction.
	Events []EvidenceEvent
}

// EvaluationStore reads the findings the SLA evaluator must look at and
// writes its results.
type EvaluationStore interface {
	// FindingsToEvaluate returns a page of a client's findings whose policy
	// fields may still change, with their catalog entries: open findings,
	// and resolved ones not evaluated since they were resolved. Pages are
	// in ID order after the given ID (empty for the first); asset, when
	// set, narrows to one asset. A client out of scope has none. (Resolved
	// findings drop out once evaluated: they then carry met, met_late or no
	// status.)
	FindingsToEvaluate(ctx context.Context, client ClientID, asset *AssetID, after FindingID, limit int) ([]*Finding, error)
	// SaveEvaluations writes the policy fields and EvaluatedAt of findings
	// in scope, in one transaction, skipping findings that are gone or no
	// longer in the evaluated state. Evaluations are derived data and are
	// not audited; their evidence events are appended. It returns how many
	// findings were written.
	SaveEvaluations(ctx context.Context, evs []FindingEvaluation) (int, error)
}
