package server

import (
	"context"
	"time"

	"github.com/patchring/patchring/internal/password"
	"github.com/patchring/patchring/internal/patch"
)

// UserInput creates a console user.
type UserInput struct {
	Email    string         `json:"email" maxLength:"254"`
	Name     string         `json:"name" minLength:"1" maxLength:"200"`
	Role     patch.Role     `json:"role" enum:"msp-admin,technician,auditor,client-owner"`
	ClientID patch.ClientID `json:"client_id,omitempty" doc:"Required for client-owner, empty otherwise"`
	Password string         `json:"password,omitempty" doc:"Initial password (at least 12 characters); omit to create a user who cannot log in yet" writeOnly:"true"`
}

// CreateUser creates a console user.
func (s *Server) CreateUser(ctx context.Context, in UserInput) (*patch.User, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageUsers); err != nil {
		return nil, err
	}
	u := &patch.User{
		ID:       patch.UserID(patch.NewID(patch.PrefixUser, s.now())),
		Email:    in.Email,
		Name:     in.Name,
		Role:     in.Role,
		ClientID: in.ClientID,
	}
	if in.Password != "" {
		h, err := hashPassword(in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	if err := s.st.Users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

func hashPassword(pw string) (string, error) {
	if err := password.Validate(pw); err != nil {
		return "", patch.FieldError("password", "%v", err)
	}
	h, err := password.Hash(pw, password.Default)
	if err != nil {
		return "", err
	}
	return h, nil
}

// User returns one user.
func (s *Server) User(ctx context.Context, id patch.UserID) (*patch.User, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageUsers); err != nil {
		return nil, err
	}
	return s.st.Users.FindUserByID(ctx, id)
}

// Users lists users.
func (s *Server) Users(ctx context.Context, f patch.UserFilter) ([]*patch.User, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageUsers); err != nil {
		return nil, 0, err
	}
	return s.st.Users.FindUsers(ctx, f)
}

// UserChange is a partial update of a user; Password sets a new one.
type UserChange struct {
	Name     *string         `json:"name,omitempty"`
	Role     *patch.Role     `json:"role,omitempty" enum:"msp-admin,technician,auditor,client-owner"`
	ClientID *patch.ClientID `json:"client_id,omitempty"`
	Disabled *bool           `json:"disabled,omitempty"`
	Password *string         `json:"password,omitempty" writeOnly:"true"`
}

// UpdateUser changes a user. An admin cannot disable or demote themselves,
// so an installation never locks out its last way in by accident.
func (s *Server) UpdateUser(ctx context.Context, id patch.UserID, ch UserChange) (*patch.User, error) {
	actor, err := patch.Authorize(ctx, patch.PermManageUsers)
	if err != nil {
		return nil, err
	}
	if actor.Kind == patch.ActorUser && actor.ID == string(id) {
		if (ch.Disabled != nil && *ch.Disabled) || (ch.Role != nil && *ch.Role != actor.Role) {
			return nil, patch.Errorf(patch.KindConflict, "You cannot disable or change the role of your own account.")
		}
	}
	upd := patch.UserUpdate{Name: ch.Name, Role: ch.Role, ClientID: ch.ClientID, Disabled: ch.Disabled}
	if ch.Password != nil {
		h, err := hashPassword(*ch.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &h
	}
	return s.st.Users.UpdateUser(ctx, id, upd)
}

// DeleteUser removes a user and their tokens.
func (s *Server) DeleteUser(ctx context.Context, id patch.UserID) error {
	actor, err := patch.Authorize(ctx, patch.PermManageUsers)
	if err != nil {
		return err
	}
	if actor.Kind == patch.ActorUser && actor.ID == string(id) {
		return patch.Errorf(patch.KindConflict, "You cannot delete your own account.")
	}
	return s.st.Users.DeleteUser(ctx, id)
}

// dummyHash is verified against when a login names an unknown user, so the
// response time does not reveal which e-mail addresses exist.
var dummyHash, _ = password.Hash("patchring-dummy-password", password.Default)

// Login checks an e-mail and password and returns the user. Every failure
// gives the same KindUnauthenticated error.
func (s *Server) Login(ctx context.Context, email, pw string) (*patch.User, error) {
	fail := patch.Errorf(patch.KindUnauthenticated, "The e-mail address or password is wrong.")
	sys := patch.NewContextWithActor(ctx, patch.SystemActor("login"))
	e := patch.NormalizeEmail(email)
	us, _, err := s.st.Users.FindUsers(sys, patch.UserFilter{Email: &e, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 || us[0].PasswordHash == "" || us[0].Disabled {
		_ = password.Verify(pw, dummyHash)
		return nil, fail
	}
	u := us[0]
	if err := password.Verify(pw, u.PasswordHash); err != nil {
		return nil, fail
	}
	if err := s.st.Users.RecordLogin(ctx, u.ID); err != nil {
		s.logger.Warn("record login", "user", u.ID, "err", err)
	}
	u.LastLoginAt = s.now().UTC().Truncate(time.Millisecond)
	return u, nil
}
