package patch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ExceptionID identifies an exception; AlertID an alert.
type (
	ExceptionID string
	AlertID     string
)

// More ID prefixes.
const (
	PrefixException = "exc"
	PrefixAlert     = "alr"
)

// ExceptionState is where an exception stands. Persisted.
type ExceptionState string

// Exception states: requested → approved (by the client owner's sign-off)
// → active (from its start) → expired (at its hard expiry) | revoked (at
// any point before, with a reason). Only approved and active exceptions
// pause SLA clocks, and only between their start and their end.
const (
	ExceptionRequested ExceptionState = "requested"
	ExceptionApproved  ExceptionState = "approved"
	ExceptionActive    ExceptionState = "active"
	ExceptionExpired   ExceptionState = "expired"
	ExceptionRevoked   ExceptionState = "revoked"
)

// ExceptionStates lists the states in lifecycle order.
var ExceptionStates = []ExceptionState{ExceptionRequested, ExceptionApproved, ExceptionActive, ExceptionExpired, ExceptionRevoked}

// Ended reports whether the state is final.
func (s ExceptionState) Ended() bool { return s == ExceptionExpired || s == ExceptionRevoked }

// ExceptionLane separates ordinary deferrals from the isolated lane of
// legacy assets that cannot take updates at all. Persisted.
type ExceptionLane string

// Lanes.
const (
	LaneStandard ExceptionLane = "standard"
	LaneLegacy   ExceptionLane = "legacy"
)

// ControlKind is a kind of compensating control. Persisted.
type ControlKind string

// Compensating controls from the playbook.
const (
	ControlSegmentation     ControlKind = "network_segmentation"
	ControlRestrictedAccess ControlKind = "restricted_access"
	ControlExtraMonitoring  ControlKind = "extra_monitoring"
	ControlOther            ControlKind = "other"
)

// ControlKinds lists the control kinds.
var ControlKinds = []ControlKind{ControlSegmentation, ControlRestrictedAccess, ControlExtraMonitoring, ControlOther}

// CompensatingControl is one documented safeguard.
type CompensatingControl struct {
	Kind        ControlKind `json:"kind"`
	Description string      `json:"description"`
}

// ExceptionScope says which findings an exception covers: exactly one
// asset selector (AssetIDs, Tag or AllAssets) and exactly one update
// selector (UpdateIDs, Product or AllUpdates).
type ExceptionScope struct {
	AssetIDs  []AssetID  `json:"asset_ids,omitempty"`
	Tag       *TagRef    `json:"tag,omitempty"`
	AllAssets bool       `json:"all_assets,omitempty"`
	UpdateIDs []UpdateID `json:"update_ids,omitempty"`
	// Product matches Update.Product, case-insensitively.
	Product    string `json:"product,omitempty"`
	AllUpdates bool   `json:"all_updates,omitempty"`
}

// CoversAsset reports whether the scope's asset selector takes a.
func (s ExceptionScope) CoversAsset(a *Asset) bool {
	switch {
	case s.AllAssets:
		return true
	case s.Tag != nil:
		return s.Tag.Matches(a.Tags)
	}
	return slices.Contains(s.AssetIDs, a.ID)
}

// CoversUpdate reports whether the scope's update selector takes u.
func (s ExceptionScope) CoversUpdate(u *Update) bool {
	switch {
	case s.AllUpdates:
		return true
	case s.Product != "":
		return strings.EqualFold(strings.TrimSpace(u.Product), strings.TrimSpace(s.Product))
	}
	return slices.Contains(s.UpdateIDs, u.ID)
}

// String describes the scope for people: "assets ast_1, ast_2 × all updates".
func (s ExceptionScope) String() string {
	var a, u string
	switch {
	case s.AllAssets:
		a = "all assets"
	case s.Tag != nil:
		a = "assets tagged " + s.Tag.String()
	case len(s.AssetIDs) == 1:
		a = "asset " + string(s.AssetIDs[0])
	default:
		a = fmt.Sprintf("%d assets", len(s.AssetIDs))
	}
	switch {
	case s.AllUpdates:
		u = "all updates"
	case s.Product != "":
		u = "updates of " + s.Product
	case len(s.UpdateIDs) == 1:
		u = "update " + string(s.UpdateIDs[0])
	default:
		u = fmt.Sprintf("%d updates", len(s.UpdateIDs))
	}
	return a + " × " + u
}

// SignOff records the client owner who approved an exception.
type SignOff struct {
	UserID UserID    `json:"user_id"`
	Name   string    `json:"name"`
	Email  string    `json:"email"`
	At     time.Time `json:"at"`
	// Via is the actor that carried the sign-off: the user's console
	// session or a token made by that user.
	Via  Actor  `json:"via"`
	Note string `json:"note,omitempty"`
}

// Exception is an entry of the exception register: a deferral of some
// findings with a reason, a ticket, the client owner's sign-off, a hard
// expiry and compensating controls. There are no open-ended deferrals:
// renewing means a new request and a new sign-off.
type Exception struct {
	ID        ExceptionID           `json:"id"`
	ClientID  ClientID              `json:"client_id"`
	Lane      ExceptionLane         `json:"lane"`
	State     ExceptionState        `json:"state"`
	Scope     ExceptionScope        `json:"scope"`
	Reason    string                `json:"reason"`
	TicketRef string                `json:"ticket_ref"`
	Controls  []CompensatingControl `json:"controls"`

	RequestedBy Actor     `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	// StartsAt is when the exception takes effect once signed off; zero
	// means at sign-off.
	StartsAt  time.Time `json:"starts_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at"`

	SignOff     *SignOff  `json:"sign_off,omitempty"`
	ApprovedAt  time.Time `json:"approved_at,omitzero"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	// EndedAt, EndedBy and EndReason record the expiry or revocation.
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndedBy   *Actor    `json:"ended_by,omitempty"`
	EndReason string    `json:"end_reason,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the exception's own fields. Its maximum length, which
// depends on the client's policy, is checked by the caller.
func (e *Exception) Validate() error {
	if e.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if e.Lane != LaneStandard && e.Lane != LaneLegacy {
		return FieldError("lane", "must be standard or legacy (got %q)", string(e.Lane))
	}
	if !slices.Contains(ExceptionStates, e.State) {
		return FieldError("state", "unknown state %q", string(e.State))
	}
	if err := e.Scope.validate(); err != nil {
		return err
	}
	if err := validName("reason", e.Reason, 4000); err != nil {
		return err
	}
	if err := validName("ticket_ref", e.TicketRef, 200); err != nil {
		return FieldError("ticket_ref", "is required: every exception needs a support ticket (%s)", ErrorMessage(err))
	}
	if len(e.Controls) > 20 {
		return FieldError("controls", "must list at most 20 controls")
	}
	for i, c := range e.Controls {
		f := fmt.Sprintf("controls[%d]", i)
		if !slices.Contains(ControlKinds, c.Kind) {
			return FieldError(f+".kind", "must be one of network_segmentation, restricted_access, extra_monitoring, other (got %q)", string(c.Kind))
		}
		if err := validName(f+".description", c.Description, 2000); err != nil {
			return err
		}
	}
	if e.Lane == LaneLegacy {
		if len(e.Scope.AssetIDs) == 0 {
			return FieldError("scope.asset_ids", "the legacy lane is for named assets: list them")
		}
		if !e.Scope.AllUpdates {
			return FieldError("scope.all_updates", "must be true in the legacy lane: a legacy asset takes no updates")
		}
		if len(e.Controls) == 0 {
			return FieldError("controls", "the legacy lane needs documented compensating controls")
		}
	}
	if e.ExpiresAt.IsZero() {
		return FieldError("expires_at", "is required: every exception has a hard expiry")
	}
	if !e.StartsAt.IsZero() && !e.StartsAt.Before(e.ExpiresAt) {
		return FieldError("starts_at", "must be before expires_at")
	}
	return nil
}

func (s ExceptionScope) validate() error {
	n := 0
	if len(s.AssetIDs) > 0 {
		n++
	}
	if s.Tag != nil {
		n++
	}
	if s.AllAssets {
		n++
	}
	if n != 1 {
		return FieldError("scope", "needs exactly one of asset_ids, tag or all_assets")
	}
	n = 0
	if len(s.UpdateIDs) > 0 {
		n++
	}
	if s.Product != "" {
		n++
	}
	if s.AllUpdates {
		n++
	}
	if n != 1 {
		return FieldError("scope", "needs exactly one of update_ids, product or all_updates")
	}
	if len(s.AssetIDs) > 500 {
		return FieldError("scope.asset_ids", "must list at most 500 assets")
	}
	if len(s.UpdateIDs) > 500 {
		return FieldError("scope.update_ids", "must list at most 500 updates")
	}
	for i, id := range s.AssetIDs {
		if !ValidID(PrefixAsset, string(id)) {
			return FieldError(fmt.Sprintf("scope.asset_ids[%d]", i), "is not an asset id (got %q)", id)
		}
	}
	for i, id := range s.UpdateIDs {
		if !ValidID(PrefixUpdate, string(id)) {
			return FieldError(fmt.Sprintf("scope.update_ids[%d]", i), "is not an update id (got %q)", id)
		}
	}
	if s.Tag != nil {
		if err := validKey("scope.tag.key", s.Tag.Key, 40); err != nil {
			return err
		}
	}
	return validText("scope.product", s.Product, 200)
}

// Covers reports whether the exception's scope takes the finding of
// update u on asset a (whatever its state).
func (e *Exception) Covers(a *Asset, u *Update) bool {
	return e.Scope.CoversAsset(a) && e.Scope.CoversUpdate(u)
}

// Effect returns the interval during which the exception pauses SLA
// clocks, [from, to): from its start (or sign-off) to the earliest of its
// hard expiry and its revocation. An exception never signed off has none.
// The hard expiry bounds the interval even before the evaluator has
// marked the exception expired, so findings re-enter the SLA on time.
func (e *Exception) Effect() (from, to time.Time, ok bool) {
	if e.ApprovedAt.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	from = e.ApprovedAt
	if e.StartsAt.After(from) {
		from = e.StartsAt
	}
	to = e.ExpiresAt
	if !e.EndedAt.IsZero() && e.EndedAt.Before(to) {
		to = e.EndedAt
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, false
	}
	return from, to, true
}

// InEffect reports whether the exception pauses clocks at t.
func (e *Exception) InEffect(t time.Time) bool {
	from, to, ok := e.Effect()
	return ok && !t.Before(from) && t.Before(to)
}

// ExceptionFilter selects exceptions, newest first.
type ExceptionFilter struct {
	ID       *ExceptionID
	ClientID *ClientID
	States   []ExceptionState
	Lane     *ExceptionLane
	// ExpiresBefore selects exceptions whose hard expiry is before it.
	ExpiresBefore *time.Time
	Offset        int
	Limit         int
}

// ExceptionStep is what one change of an exception records besides the
// new state: its audit action, its evidence event and, for expiries, the
// alert to raise, all in the change's transaction.
type ExceptionStep struct {
	Action string // audit action: "exception.sign_off"
	Event  string // evidence event type; empty for none
	// Details are added to the evidence event.
	Details map[string]string
	Alert   *Alert
}

// ExceptionStore persists the exception register.
type ExceptionStore interface {
	// CreateException stores a new, validated exception in any state the
	// caller chose (requests are "requested"). The client must be in scope.
	// Audited as exception.request, with an "excepted" evidence event whose
	// details carry the state.
	CreateException(ctx context.Context, e *Exception) error
	FindExceptionByID(ctx context.Context, id ExceptionID) (*Exception, error)
	FindExceptions(ctx context.Context, f ExceptionFilter) ([]*Exception, int, error)
	// ChangeException locks the exception, lets fn change a copy of it and
	// stores the result with fn's step: the audit entry (before and
	// after), the evidence event and the alert, in one transaction. An
	// error from fn aborts without change. KindNotFound for an exception
	// out of scope.
	ChangeException(ctx context.Context, id ExceptionID, fn func(e *Exception) (ExceptionStep, error)) (*Exception, error)
}

// Alert severities.
const (
	AlertInfo     = "info"
	AlertWarning  = "warning"
	AlertCritical = "critical"
)

// Alert kinds raised so far.
const (
	// AlertExceptionExpired: an exception reached its hard expiry and its
	// findings are back under the SLA.
	AlertExceptionExpired = "exception_expired"
)

// Alert is something a person must look at, recorded for tickets and
// notifications (delivered by later features). An alert is open until
// ResolvedAt is set; at most one alert per client, kind and subject is
// open at a time.
type Alert struct {
	ID          AlertID           `json:"id"`
	ClientID    ClientID          `json:"client_id"`
	Kind        string            `json:"kind"`
	Severity    string            `json:"severity"`
	SubjectType string            `json:"subject_type"`
	SubjectID   string            `json:"subject_id"`
	Message     string            `json:"message"`
	Details     map[string]string `json:"details,omitempty"`
	RaisedAt    time.Time         `json:"raised_at"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
}

// AlertFilter selects alerts, newest first.
type AlertFilter struct {
	ClientID *ClientID
	Kind     *string
	// Open selects unresolved (true) or resolved (false) alerts.
	Open   *bool
	Offset int
	Limit  int
}

// AlertStore reads alerts. They are raised by the stores that detect
// their cause, in the same transaction.
type AlertStore interface {
	FindAlerts(ctx context.Context, f AlertFilter) ([]*Alert, int, error)
}
