package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// The exception register: request (technicians, admins and client owners),
// sign-off (a client-owner user of the exception's client, and nobody
// else), revocation (MSP staff, or the client owner withdrawing), and
// expiry (the evaluator, at the hard expiry). Every step is audited and
// appended to the client's evidence chain by the store.

// ExceptionInput requests an exception.
type ExceptionInput struct {
	ClientID  patch.ClientID              `json:"client_id"`
	Lane      patch.ExceptionLane         `json:"lane,omitempty" enum:"standard,legacy" doc:"legacy: an isolated lane for assets that cannot take updates; defaults to standard"`
	Scope     patch.ExceptionScope        `json:"scope,omitzero" doc:"Required: one asset selector and one update selector"`
	Reason    string                      `json:"reason,omitempty" maxLength:"4000" doc:"Required"`
	TicketRef string                      `json:"ticket_ref,omitempty" maxLength:"200" doc:"Required: the support ticket the exception was agreed in"`
	Controls  []patch.CompensatingControl `json:"controls,omitempty"`
	StartsAt  time.Time                   `json:"starts_at,omitzero" doc:"When it takes effect once signed off; default at sign-off"`
	ExpiresAt time.Time                   `json:"expires_at,omitzero" doc:"Required: the hard expiry, at most the policy's maximum away"`
}

// RequestException files an exception request. The client owner must sign
// it off before it pauses any SLA clock.
func (s *Server) RequestException(ctx context.Context, in ExceptionInput) (*patch.Exception, error) {
	actor, err := patch.Authorize(ctx, patch.PermRequestChanges)
	if err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, in.ClientID)
	if err != nil {
		return nil, err
	}
	p, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	now := s.now()
	e := &patch.Exception{
		ID: patch.ExceptionID(patch.NewID(patch.PrefixException, now)), ClientID: in.ClientID, Lane: in.Lane, Scope: in.Scope,
		Reason: in.Reason, TicketRef: in.TicketRef, Controls: in.Controls, StartsAt: in.StartsAt, ExpiresAt: in.ExpiresAt,
	}
	if err := policy.CheckRequest(p, e, actor, now); err != nil {
		return nil, err
	}
	if err := s.checkExceptionScope(ctx, e); err != nil {
		return nil, err
	}
	if err := s.st.Exceptions.CreateException(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// checkExceptionScope refuses assets of other clients and unknown updates.
func (s *Server) checkExceptionScope(ctx context.Context, e *patch.Exception) error {
	for i, id := range e.Scope.AssetIDs {
		a, err := s.st.Assets.FindAssetByID(ctx, id)
		if err != nil || a.ClientID != e.ClientID {
			return patch.FieldError(fmt.Sprintf("scope.asset_ids[%d]", i), "asset %s is not an asset of this client", id)
		}
	}
	for i, id := range e.Scope.UpdateIDs {
		us, _, err := s.st.Findings.FindUpdates(ctx, patch.UpdateFilter{ID: &id, Limit: 1})
		if err != nil {
			return err
		}
		if len(us) == 0 {
			return patch.FieldError(fmt.Sprintf("scope.update_ids[%d]", i), "update %s is not in the catalog", id)
		}
	}
	return nil
}

// Exception returns one exception.
func (s *Server) Exception(ctx context.Context, id patch.ExceptionID) (*patch.Exception, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Exceptions.FindExceptionByID(ctx, id)
}

// Exceptions lists the exception register.
func (s *Server) Exceptions(ctx context.Context, f patch.ExceptionFilter) ([]*patch.Exception, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Exceptions.FindExceptions(ctx, f)
}

// signer resolves the client-owner user behind the caller: a console
// user, or an API token created by that user. Tokens not made by a user
// cannot sign off: the register must name a person.
func (s *Server) signer(ctx context.Context, actor patch.Actor, client patch.ClientID) (*patch.User, error) {
	var uid patch.UserID
	switch actor.Kind {
	case patch.ActorUser:
		uid = patch.UserID(actor.ID)
	case patch.ActorToken:
		t, err := s.st.Tokens.FindTokenByID(ctx, patch.TokenID(actor.ID))
		if err != nil {
			return nil, err
		}
		uid = t.UserID
	}
	if uid == "" {
		return nil, patch.Errorf(patch.KindForbidden, "A sign-off must come from a client-owner user: sign in to the console, or use a token that user created.")
	}
	u, err := s.st.Users.FindUserByID(ctx, uid)
	if err != nil {
		return nil, patch.Errorf(patch.KindForbidden, "The signing user was not found.")
	}
	if u.Role != patch.RoleClientOwner || u.ClientID != client || u.Disabled {
		return nil, patch.Errorf(patch.KindForbidden, "Only an active client-owner user of this client can sign off its exceptions.")
	}
	return u, nil
}

// SignOffException records the client owner's sign-off: the exception is
// approved and, from its start, active. Then the client is re-evaluated.
func (s *Server) SignOffException(ctx context.Context, id patch.ExceptionID, note string) (*patch.Exception, error) {
	actor, err := patch.Authorize(ctx, patch.PermSignOff)
	if err != nil {
		return nil, err
	}
	if len([]rune(note)) > 2000 {
		return nil, patch.FieldError("note", "must be at most 2000 characters")
	}
	x, err := s.st.Exceptions.FindExceptionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := s.signer(ctx, actor, x.ClientID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out, err := s.st.Exceptions.ChangeException(ctx, id, func(e *patch.Exception) (patch.ExceptionStep, error) {
		return policy.SignOff(e, patch.SignOff{UserID: u.ID, Name: u.Name, Email: u.Email, Via: actor, Note: note}, now)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.evaluateClient(ctx, out.ClientID, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeException ends an exception before its expiry, with a reason:
// MSP staff withdrawing it, or the client owner declining or withdrawing
// a sign-off. Its findings are back under the SLA at once.
func (s *Server) RevokeException(ctx context.Context, id patch.ExceptionID, reason string) (*patch.Exception, error) {
	actor, ok := patch.ActorFromContext(ctx)
	if !ok {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	if !actor.Can(patch.PermOperate) && !actor.Can(patch.PermSignOff) {
		return nil, patch.Errorf(patch.KindForbidden, "Your role (%s) does not allow this (%s).", actor.Role, patch.PermOperate)
	}
	now := s.now()
	out, err := s.st.Exceptions.ChangeException(ctx, id, func(e *patch.Exception) (patch.ExceptionStep, error) {
		return policy.Revoke(e, actor, reason, now)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.evaluateClient(ctx, out.ClientID, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// ExceptionFindings lists the findings an exception covers (open ones
// first, as the findings list shows them).
func (s *Server) ExceptionFindings(ctx context.Context, id patch.ExceptionID) ([]*FindingView, error) {
	x, err := s.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []*FindingView
	assets := x.Scope.AssetIDs
	if len(assets) == 0 {
		assets = []patch.AssetID{""} // every asset of the client: filtered below
	}
	st := patch.FindingOpen
	for _, a := range assets {
		q := FindingQuery{ClientID: x.ClientID, State: &st, Limit: patch.MaxLimit}
		if a != "" {
			q.AssetID = &a
		}
		for {
			page, total, err := s.Findings(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, v := range page {
				if v.covered(x) {
					out = append(out, v)
				}
			}
			q.Offset += len(page)
			if len(page) == 0 || q.Offset >= total {
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b *FindingView) int { return a.DueAt.Compare(b.DueAt) })
	if out == nil {
		out = []*FindingView{}
	}
	return out, nil
}
