package server

import (
	"context"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// TokenInput creates an API token.
type TokenInput struct {
	Name string     `json:"name" minLength:"1" maxLength:"100"`
	Role patch.Role `json:"role,omitempty" enum:"msp-admin,technician,auditor,client-owner" doc:"Defaults to the caller's role"`
	// ClientID confines the token to one client; required for client-owner.
	ClientID patch.ClientID `json:"client_id,omitempty"`
	// ExpiresAt is when the token stops working; zero means never (revoke
	// it explicitly).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// NewToken is a created token with its secret, shown once.
type NewToken struct {
	*patch.Token
	Secret string `json:"secret" doc:"The token itself: shown only now, store it safely"`
}

// CreateToken creates an API token. MSP admins may create a token of any
// role; other callers only a token with their own role and client, so no
// token grants more than its creator holds.
func (s *Server) CreateToken(ctx context.Context, in TokenInput) (*NewToken, error) {
	actor, ok := patch.ActorFromContext(ctx)
	if !ok {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	if in.Role == "" {
		in.Role = actor.Role
		if in.ClientID == "" {
			in.ClientID = actor.ClientID
		}
	}
	if !actor.Can(patch.PermManageUsers) && (in.Role != actor.Role || in.ClientID != actor.ClientID) {
		return nil, patch.Errorf(patch.KindForbidden, "You can only create tokens with your own role (%s) and client.", actor.Role)
	}
	if actor.Kind == patch.ActorAgent {
		return nil, patch.Errorf(patch.KindForbidden, "Agents cannot create API tokens.")
	}
	now := s.now()
	if !in.ExpiresAt.IsZero() {
		if !in.ExpiresAt.After(now) {
			return nil, patch.FieldError("expires_at", "must be in the future")
		}
		if in.ExpiresAt.Sub(now) > patch.MaxTokenLifetime {
			return nil, patch.FieldError("expires_at", "must be within 5 years")
		}
	}
	secret := patch.NewSecret(patch.TokenPrefix)
	t := &patch.Token{
		ID:        patch.TokenID(patch.NewID(patch.PrefixToken, now)),
		Name:      in.Name,
		Role:      in.Role,
		ClientID:  in.ClientID,
		Hash:      patch.HashSecret(secret),
		Hint:      patch.SecretHint(secret),
		ExpiresAt: in.ExpiresAt,
	}
	if actor.Kind == patch.ActorUser {
		t.UserID = patch.UserID(actor.ID)
	}
	if err := s.st.Tokens.CreateToken(ctx, t); err != nil {
		return nil, err
	}
	return &NewToken{Token: t, Secret: secret}, nil
}

// Tokens lists tokens: all (in scope) for admins, the caller's own for
// others.
func (s *Server) Tokens(ctx context.Context, f patch.TokenFilter) ([]*patch.Token, int, error) {
	actor, err := patch.Authorize(ctx, patch.PermRead)
	if err != nil {
		return nil, 0, err
	}
	if !actor.Can(patch.PermManageUsers) {
		if actor.Kind != patch.ActorUser {
			return nil, 0, patch.Errorf(patch.KindForbidden, "Only MSP admins and logged-in users can list tokens.")
		}
		uid := patch.UserID(actor.ID)
		f.UserID = &uid
	}
	return s.st.Tokens.FindTokens(ctx, f)
}

// RevokeToken revokes a token: any token for admins, the caller's own
// (or the token making the call) for others.
func (s *Server) RevokeToken(ctx context.Context, id patch.TokenID) (*patch.Token, error) {
	actor, err := patch.Authorize(ctx, patch.PermRead)
	if err != nil {
		return nil, err
	}
	if !actor.Can(patch.PermManageUsers) {
		t, err := s.st.Tokens.FindTokenByID(ctx, id)
		if err != nil {
			return nil, err
		}
		own := (actor.Kind == patch.ActorToken && actor.ID == string(t.ID)) || (actor.Kind == patch.ActorUser && actor.ID == string(t.UserID))
		if !own {
			return nil, patch.Errorf(patch.KindNotFound, "Token %s not found.", id)
		}
	}
	return s.st.Tokens.RevokeToken(ctx, id)
}

// Authenticate resolves a bearer secret to the actor it stands for.
func (s *Server) Authenticate(ctx context.Context, secret string) (patch.Actor, error) {
	if len(secret) < 20 || len(secret) > 200 {
		return patch.Actor{}, patch.Errorf(patch.KindUnauthenticated, "The API token is invalid, expired or revoked.")
	}
	t, err := s.st.Tokens.AuthenticateToken(ctx, patch.HashSecret(secret))
	if err != nil {
		return patch.Actor{}, err
	}
	return t.Actor(), nil
}

// AuditLog lists audit entries.
func (s *Server) AuditLog(ctx context.Context, f patch.AuditFilter) ([]*patch.AuditEntry, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermReadAudit); err != nil {
		return nil, 0, err
	}
	return s.st.Audit.FindAuditEntries(ctx, f)
}
