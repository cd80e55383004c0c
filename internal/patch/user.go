package patch

import (
	"strings"
	"time"
)

// User is a person who logs in to the console. Client owners belong to
// exactly one client; the other roles span all clients.
type User struct {
	ID       UserID   `json:"id"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	ClientID ClientID `json:"client_id,omitempty"`
	// PasswordHash is an argon2id PHC string; never serialised.
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
	LastLoginAt  time.Time `json:"last_login_at,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Validate checks the user's fields, including that exactly client owners
// have a client.
func (u *User) Validate() error {
	if err := validEmail("email", u.Email); err != nil {
		return err
	}
	if err := validName("name", u.Name, 200); err != nil {
		return err
	}
	if err := u.Role.Validate(); err != nil {
		return err
	}
	return validateRoleClient(u.Role, u.ClientID)
}

func validateRoleClient(r Role, c ClientID) error {
	switch {
	case r.ClientScoped() && c == "":
		return FieldError("client_id", "is required for the client-owner role")
	case !r.ClientScoped() && c != "":
		return FieldError("client_id", "must be empty for the %s role, which spans all clients", r)
	}
	return nil
}

// NormalizeEmail returns the canonical (lower-case, trimmed) form of an
// e-mail address used for uniqueness and login.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Actor returns the actor of a request authenticated as u.
func (u *User) Actor() Actor {
	return Actor{Kind: ActorUser, ID: string(u.ID), Name: u.Email, Role: u.Role, ClientID: u.ClientID}
}

// UserFilter selects users. Nil fields do not filter.
type UserFilter struct {
	ID       *UserID
	Email    *string
	ClientID *ClientID
	Role     *Role
	Offset   int
	Limit    int
}

// UserUpdate holds the fields of a partial update.
type UserUpdate struct {
	Name         *string   `json:"name,omitempty"`
	Role         *Role     `json:"role,omitempty"`
	ClientID     *ClientID `json:"client_id,omitempty"`
	Disabled     *bool     `json:"disabled,omitempty"`
	PasswordHash *string   `json:"-"`
}

// Apply applies u to user.
func (u UserUpdate) Apply(user *User) {
	set(&user.Name, u.Name)
	set(&user.Role, u.Role)
	set(&user.ClientID, u.ClientID)
	set(&user.Disabled, u.Disabled)
	set(&user.PasswordHash, u.PasswordHash)
}
