package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// The exception lifecycle as pure transitions. Each returns the step to
// record (audit action, evidence event, alert) and changes e in place; the
// store applies them under a row lock, so two people signing off or a
// sign-off racing the expiry resolve cleanly.

// CheckRequest validates a new exception request against the policy: a
// hard expiry in the future and no further than the lane's maximum from
// now, a start (if any) before it. It sets the request fields.
func CheckRequest(p *patch.Policy, e *patch.Exception, by patch.Actor, now time.Time) error {
	e.State = patch.ExceptionRequested
	e.RequestedBy, e.RequestedAt, e.UpdatedAt = by, now, now
	if e.Lane == "" {
		e.Lane = patch.LaneStandard
	}
	if e.Controls == nil {
		e.Controls = []patch.CompensatingControl{}
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if !e.ExpiresAt.After(now) {
		return patch.FieldError("expires_at", "must be in the future")
	}
	limit := p.Exceptions.MaxDays
	if e.Lane == patch.LaneLegacy {
		limit = p.Exceptions.LegacyMaxDays
	}
	if e.ExpiresAt.After(now.AddDate(0, 0, limit)) {
		return patch.FieldError("expires_at", "must be at most %d days away for a %s exception (the policy's maximum); renew with a new request when it ends", limit, e.Lane)
	}
	if !e.StartsAt.IsZero() && e.StartsAt.Before(now.Add(-time.Minute)) {
		return patch.FieldError("starts_at", "must not be in the past")
	}
	return nil
}

// SignOff records the client owner's sign-off: requested → approved, and
// on to active at once when the exception starts now or has started.
func SignOff(e *patch.Exception, s patch.SignOff, now time.Time) (patch.ExceptionStep, error) {
	if e.State != patch.ExceptionRequested {
		return patch.ExceptionStep{}, patch.Errorf(patch.KindConflict, "Exception %s is %s; only a requested exception can be signed off.", e.ID, e.State)
	}
	if !now.Before(e.ExpiresAt) {
		return patch.ExceptionStep{}, patch.Errorf(patch.KindConflict, "Exception %s expired on %s before it was signed off; request a new one.", e.ID, e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	s.At = now
	e.SignOff = &s
	e.State, e.ApprovedAt, e.UpdatedAt = patch.ExceptionApproved, now, now
	activate(e, now)
	return patch.ExceptionStep{Action: "exception.sign_off", Event: patch.EventExceptionSignedOff, Details: map[string]string{
		"signed_off_by": s.Name, "signed_off_user": string(s.UserID), "state": string(e.State),
		"expires_at": e.ExpiresAt.UTC().Format(time.RFC3339),
	}}, nil
}

func activate(e *patch.Exception, now time.Time) bool {
	if e.State == patch.ExceptionApproved && !now.Before(e.StartsAt) && now.Before(e.ExpiresAt) {
		e.State, e.ActivatedAt, e.UpdatedAt = patch.ExceptionActive, maxTime(e.StartsAt, e.ApprovedAt), now
		return true
	}
	return false
}

// Advance moves an exception along with time: approved → active at its
// start, and requested, approved or active → expired at its hard expiry
// (an alert is raised for exceptions that were signed off: their findings
// are back under the SLA). It reports false when nothing is due.
func Advance(e *patch.Exception, now time.Time) (patch.ExceptionStep, bool) {
	if e.State.Ended() {
		return patch.ExceptionStep{}, false
	}
	if !now.Before(e.ExpiresAt) {
		was := e.State
		e.State, e.EndedAt, e.EndReason, e.UpdatedAt = patch.ExceptionExpired, e.ExpiresAt, "reached its hard expiry", now
		step := patch.ExceptionStep{Action: "exception.expire", Event: patch.EventExceptionExpired, Details: map[string]string{
			"previous_state": string(was), "expires_at": e.ExpiresAt.UTC().Format(time.RFC3339),
		}}
		if was != patch.ExceptionRequested {
			step.Alert = &patch.Alert{
				ClientID: e.ClientID, Kind: patch.AlertExceptionExpired, Severity: patch.AlertWarning,
				SubjectType: "exception", SubjectID: string(e.ID),
				Message: fmt.Sprintf("Exception %s (%s, ticket %s) expired on %s; its findings are back under the SLA.", e.ID, e.Scope, e.TicketRef, e.ExpiresAt.UTC().Format("2 Jan 2006 15:04 MST")),
				Details: map[string]string{"ticket_ref": e.TicketRef, "lane": string(e.Lane), "scope": e.Scope.String()},
			}
		}
		return step, true
	}
	if activate(e, now) {
		return patch.ExceptionStep{Action: "exception.activate", Event: patch.EventExcepted, Details: map[string]string{
			"state": string(e.State), "expires_at": e.ExpiresAt.UTC().Format(time.RFC3339),
		}}, true
	}
	return patch.ExceptionStep{}, false
}

// Revoke ends an exception before its expiry, with a reason: withdrawn
// by the MSP, declined or withdrawn by the client owner.
func Revoke(e *patch.Exception, by patch.Actor, reason string, now time.Time) (patch.ExceptionStep, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return patch.ExceptionStep{}, patch.FieldError("reason", "is required to revoke an exception")
	}
	if len([]rune(reason)) > 2000 {
		return patch.ExceptionStep{}, patch.FieldError("reason", "must be at most 2000 characters")
	}
	if e.State.Ended() {
		return patch.ExceptionStep{}, patch.Errorf(patch.KindConflict, "Exception %s is already %s.", e.ID, e.State)
	}
	was := e.State
	e.State, e.EndedAt, e.EndedBy, e.EndReason, e.UpdatedAt = patch.ExceptionRevoked, now, &by, reason, now
	return patch.ExceptionStep{Action: "exception.revoke", Event: patch.EventExceptionRevoked, Details: map[string]string{
		"previous_state": string(was), "reason": reason,
	}}, nil
}
