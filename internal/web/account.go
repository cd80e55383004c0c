package web

import (
	"net/http"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

func (c *Console) accountRoutes() {
	c.handle("GET /account", c.account)
	c.handle("POST /account/password", c.changePassword)
}

// AccountPage is the logged-in user's own account.
type AccountPage struct {
	Page
	ClientName   string
	PasswordForm Form
	Sessions     []SessionRow
	IdleTimeout  string
}

// SessionRow is one of the user's sessions.
type SessionRow struct {
	*patch.Session
	Current bool
}

func (c *Console) loadAccount(r *http.Request, s *session, p *AccountPage) error {
	ctx := r.Context()
	p.Title, p.Section = "My account", sectionAccount
	if s.Actor.ClientID != "" {
		if cl, err := c.srv.Client(ctx, s.Actor.ClientID); err == nil {
			p.ClientName = cl.Name
		}
	}
	list, err := c.srv.Sessions(ctx)
	if err != nil {
		return err
	}
	for _, ss := range list {
		p.Sessions = append(p.Sessions, SessionRow{Session: ss, Current: s.Session != nil && ss.IDHash == s.Session.IDHash})
	}
	p.IdleTimeout = durationWords(c.policy.Idle)
	return nil
}

func (c *Console) account(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &AccountPage{PasswordForm: newForm(nil)}
	if err := c.loadAccount(r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplAccount, p)
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	var err error
	var ns *server.NewSession
	if f.Get("password") != f.Get("password_confirm") {
		err = patch.FieldError("password_confirm", "does not match the new password")
	} else {
		ns, err = c.srv.ChangeOwnPassword(r.Context(), server.PasswordChange{
			Current: f.Get("current_password"), New: f.Get("password"),
			Session: s.secret, UserAgent: r.UserAgent(), RemoteAddr: clientIP(r),
		}, c.policy)
	}
	if err != nil {
		p := &AccountPage{PasswordForm: newForm(nil)}
		if !p.PasswordForm.setError(err, "current_password", "password", "password_confirm") {
			return err
		}
		if lerr := c.loadAccount(r, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplAccount, p)
	}
	c.setSessionCookie(w, ns)
	return c.redirect(w, r, "/account", "Password changed. Your other sessions have been logged out.")
}
