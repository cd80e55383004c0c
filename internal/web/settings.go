package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

func (c *Console) settingsRoutes() {
	c.handle("GET /settings", c.settings)
	c.handle("POST /settings/msp", c.setMSPName)
	c.handle("POST /settings/users", c.createUser)
	c.handle("GET /settings/users/{id}", c.user)
	c.handle("POST /settings/users/{id}/password", c.resetPassword)
	c.handle("POST /settings/users/{id}/disable", c.setUserDisabled(true))
	c.handle("POST /settings/users/{id}/enable", c.setUserDisabled(false))
	c.handle("POST /settings/tokens", c.createToken)
	c.handle("POST /settings/tokens/{id}/revoke", c.revokeToken)
}

// SettingsPage holds the MSP's name, console users and API tokens. Each
// section appears only when the server lets the user read it.
type SettingsPage struct {
	Page
	Tabs []NavLink
	// ManageMSP and ManageUsers show the admin sections.
	ManageMSP   bool
	ManageUsers bool
	MSPForm     Form
	Users       []UserRow
	UserForm    Form
	Tokens      []TokenRow
	TokenForm   Form
	// NewToken is a token just created; its secret is shown this once.
	NewToken   *server.NewToken
	Roles      []Option
	TokenRoles []Option
	Clients    []Option
}

// UserRow is a user in a list.
type UserRow struct {
	*patch.User
	Href       string
	ClientName string
}

// TokenRow is an API token in a list.
type TokenRow struct {
	*patch.Token
	ClientName string
	Active     bool
}

// loadSettings fills the sections the user may see. Forbidden sections are
// left out: the server decides, the page follows.
func (c *Console) loadSettings(ctx context.Context, s *session, p *SettingsPage) error {
	p.Title, p.Section = "Settings", sectionSettings
	p.Tabs = settingsNav("general")
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	p.Clients = []Option{{Value: "", Label: "— none (MSP-wide) —"}}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name})
	}
	for _, r := range patch.Roles {
		p.Roles = append(p.Roles, Option{Value: string(r), Label: roleName(r)})
	}
	p.ManageMSP = s.Actor.Can(patch.PermManageClients)
	if p.ManageMSP && p.MSPForm.Values.Get("name") == "" {
		if m, err := c.srv.MSP(ctx); err == nil {
			p.MSPForm.Values.Set("name", m.Name)
		}
	}
	users, _, err := c.srv.Users(ctx, patch.UserFilter{Limit: patch.MaxLimit})
	switch {
	case err == nil:
		p.ManageUsers = true
		for _, u := range users {
			p.Users = append(p.Users, UserRow{User: u, Href: "/settings/users/" + string(u.ID), ClientName: names[u.ClientID]})
		}
	case patch.ErrorKind(err) != patch.KindForbidden:
		return err
	}
	if p.ManageUsers {
		p.TokenRoles = append([]Option{{Value: "", Label: "My own role"}}, p.Roles...)
	}
	tokens, _, err := c.srv.Tokens(ctx, patch.TokenFilter{Limit: patch.MaxLimit})
	if err != nil && patch.ErrorKind(err) != patch.KindForbidden {
		return err
	}
	now := c.now()
	for _, t := range tokens {
		p.Tokens = append(p.Tokens, TokenRow{Token: t, ClientName: names[t.ClientID], Active: t.Active(now)})
	}
	return nil
}

func newSettingsPage() *SettingsPage {
	return &SettingsPage{MSPForm: newForm(nil), UserForm: newForm(nil), TokenForm: newForm(nil)}
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, s *session) error {
	p := newSettingsPage()
	if err := c.loadSettings(r.Context(), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplSettings, p)
}

// formStatus is the status of a page re-rendered with form errors.
func formStatus(err error) int {
	if st := statusOf[patch.ErrorKind(err)]; st >= 400 && st < 500 {
		return st
	}
	return http.StatusBadRequest
}

// settingsWithError re-renders the settings page with an error on one of
// its forms, or returns err when it is not the user's to fix.
func (c *Console) settingsWithError(w http.ResponseWriter, r *http.Request, s *session, p *SettingsPage, form *Form, err error, inputs ...string) error {
	if !form.setError(err, inputs...) {
		return err
	}
	if lerr := c.loadSettings(r.Context(), s, p); lerr != nil {
		return lerr
	}
	return c.render(w, r, s, formStatus(err), tmplSettings, p)
}

func (c *Console) setMSPName(w http.ResponseWriter, r *http.Request, s *session) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if _, err := c.srv.SetMSPName(r.Context(), name); err != nil {
		p := newSettingsPage()
		p.MSPForm = newForm(r.PostForm, "name")
		return c.settingsWithError(w, r, s, p, &p.MSPForm, err, "name")
	}
	return c.redirect(w, r, "/settings", "The MSP name is now "+name+".")
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	in := server.UserInput{
		Email:    strings.TrimSpace(f.Get("email")),
		Name:     strings.TrimSpace(f.Get("name")),
		Role:     patch.Role(f.Get("role")),
		ClientID: patch.ClientID(f.Get("client_id")),
		Password: f.Get("password"),
	}
	u, err := c.srv.CreateUser(r.Context(), in)
	if err != nil {
		p := newSettingsPage()
		p.UserForm = newForm(f, "email", "name", "role", "client_id")
		return c.settingsWithError(w, r, s, p, &p.UserForm, err, "email", "name", "role", "client_id", "password")
	}
	return c.redirect(w, r, "/settings#users", "User "+u.Email+" created.")
}

// tokenExpiry parses the optional expiry date of a new token: the end of
// that day, UTC.
func tokenExpiry(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, patch.FieldError("expires_at", "must be a date such as 2027-06-30")
	}
	return d.Add(24*time.Hour - time.Second), nil
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	p := newSettingsPage()
	p.TokenForm = newForm(f, "name", "role", "client_id", "expires_at")
	inputs := []string{"name", "role", "client_id", "expires_at"}
	exp, err := tokenExpiry(f.Get("expires_at"))
	if err != nil {
		return c.settingsWithError(w, r, s, p, &p.TokenForm, err, inputs...)
	}
	in := server.TokenInput{
		Name:      strings.TrimSpace(f.Get("name")),
		Role:      patch.Role(f.Get("role")),
		ClientID:  patch.ClientID(f.Get("client_id")),
		ExpiresAt: exp,
	}
	tok, err := c.srv.CreateToken(r.Context(), in)
	if err != nil {
		return c.settingsWithError(w, r, s, p, &p.TokenForm, err, inputs...)
	}
	// The secret is shown on this response only: no redirect, no cache.
	p.TokenForm = newForm(nil)
	p.NewToken = tok
	if err := c.loadSettings(r.Context(), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplSettings, p)
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := c.srv.RevokeToken(r.Context(), patch.TokenID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return c.redirect(w, r, "/settings#tokens", "Token "+t.Name+" revoked.")
}

// UserPage shows one user with the admin's actions on it.
type UserPage struct {
	Page
	User         *patch.User
	ClientName   string
	Self         bool
	PasswordForm Form
	Tokens       []TokenRow
}

func (c *Console) loadUser(ctx context.Context, id patch.UserID, s *session, p *UserPage) error {
	u, err := c.srv.User(ctx, id)
	if err != nil {
		return err
	}
	p.User, p.Self = u, s.Actor.Kind == patch.ActorUser && s.Actor.ID == string(u.ID)
	p.Title, p.Section = u.Name, sectionSettings
	p.Crumbs = []Link{{Label: "Settings", Href: "/settings"}, {Label: "Users", Href: "/settings#users"}}
	if u.ClientID != "" {
		if cl, err := c.srv.Client(ctx, u.ClientID); err == nil {
			p.ClientName = cl.Name
		}
	}
	uid := u.ID
	tokens, _, err := c.srv.Tokens(ctx, patch.TokenFilter{UserID: &uid, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	now := c.now()
	for _, t := range tokens {
		p.Tokens = append(p.Tokens, TokenRow{Token: t, Active: t.Active(now)})
	}
	return nil
}

func (c *Console) user(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &UserPage{PasswordForm: newForm(nil)}
	if err := c.loadUser(r.Context(), patch.UserID(r.PathValue("id")), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplUser, p)
}

func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.UserID(r.PathValue("id"))
	pw := r.PostForm.Get("password")
	p := &UserPage{PasswordForm: newForm(nil)}
	var err error
	if pw != r.PostForm.Get("password_confirm") {
		err = patch.FieldError("password_confirm", "does not match the new password")
	} else {
		_, err = c.srv.UpdateUser(r.Context(), id, server.UserChange{Password: &pw})
	}
	if err != nil {
		if !p.PasswordForm.setError(err, "password", "password_confirm") {
			return err
		}
		if lerr := c.loadUser(r.Context(), id, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplUser, p)
	}
	return c.redirect(w, r, "/settings/users/"+string(id), "Password reset. The user's sessions have ended; give them the new password.")
}

func (c *Console) setUserDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		id := patch.UserID(r.PathValue("id"))
		u, err := c.srv.UpdateUser(r.Context(), id, server.UserChange{Disabled: &disabled})
		if err != nil {
			if k := patch.ErrorKind(err); k != patch.KindConflict && k != patch.KindInvalid {
				return err
			}
			p := &UserPage{PasswordForm: newForm(nil)}
			if lerr := c.loadUser(r.Context(), id, s, p); lerr != nil {
				return lerr
			}
			p.Flash = &Flash{Kind: flashError, Message: patch.ErrorMessage(err)}
			return c.render(w, r, s, formStatus(err), tmplUser, p)
		}
		msg := "User " + u.Email + " enabled."
		if disabled {
			msg = "User " + u.Email + " disabled: their sessions and API tokens no longer work."
		}
		return c.redirect(w, r, "/settings/users/"+string(id), msg)
	}
}
