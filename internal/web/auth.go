package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// csrfField is the name of the hidden token input of every form.
const csrfField = "csrf"

// csrfToken derives the form token of a session from its secret. The
// token reveals nothing about the secret (HMAC is one-way), needs no
// storage, and changes whenever the session is rotated.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("patchring-csrf-v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validCSRF(secret, token string) bool {
	return token != "" && hmac.Equal([]byte(csrfToken(secret)), []byte(token))
}

// LoginPage is the login form.
type LoginPage struct {
	Page
	Form Form
	// Next is where to go after logging in.
	Next string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	next := localPath(r.URL.Query().Get("next"))
	if s, err := c.authenticate(r); err == nil && s != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := &LoginPage{Next: next}
	p.Title = "Log in"
	c.renderOrLog(w, r, nil, http.StatusOK, tmplLogin, p)
}

// login checks the credentials, rotates the session and sends the browser
// on. Failures answer with the login page and one message that does not
// say whether the e-mail address exists.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, nil, patch.WrapError(err, patch.KindInvalid, "The form could not be read."))
		return
	}
	email, pw := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
	p := &LoginPage{Next: localPath(r.PostForm.Get("next")), Form: newForm(r.PostForm, "email")}
	p.Title = "Log in"
	ip := clientIP(r)
	account := patch.NormalizeEmail(email)
	now := c.now()
	if email == "" || pw == "" {
		if email == "" {
			p.Form.Errors["email"] = "is required"
		}
		if pw == "" {
			p.Form.Errors["password"] = "is required"
		}
		c.renderOrLog(w, r, nil, http.StatusBadRequest, tmplLogin, p)
		return
	}
	if !c.limiter.allow(now, ip, account) {
		c.logger.WarnContext(r.Context(), "login rate-limited", "remote", ip, "account", account)
		w.Header().Set("Retry-After", "60")
		p.Form.Error = "Too many login attempts. Wait a minute and try again."
		c.renderOrLog(w, r, nil, http.StatusTooManyRequests, tmplLogin, p)
		return
	}
	var replaces string
	if ck, err := r.Cookie(c.cookie); err == nil {
		replaces = ck.Value
	}
	ns, err := c.srv.StartSession(r.Context(), server.LoginInput{
		Email: email, Password: pw, Replaces: replaces,
		UserAgent: r.UserAgent(), RemoteAddr: ip,
	}, c.policy)
	if err != nil {
		if patch.ErrorKind(err) != patch.KindUnauthenticated && patch.ErrorKind(err) != patch.KindForbidden {
			c.fail(w, r, nil, err)
			return
		}
		c.limiter.failed(now, ip, account)
		c.logger.InfoContext(r.Context(), "login failed", "remote", ip, "account", account)
		p.Form.Error = "The e-mail address or password is wrong."
		c.renderOrLog(w, r, nil, http.StatusUnauthorized, tmplLogin, p)
		return
	}
	c.setSessionCookie(w, ns)
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
}

// setSessionCookie sets the session cookie. It is a browser-session cookie
// (no Expires): the server enforces the idle timeout and the lifetime, and
// an expiry computed from the server's clock would be wrong on a browser
// whose clock is off.
func (c *Console) setSessionCookie(w http.ResponseWriter, ns *server.NewSession) {
	http.SetCookie(w, &http.Cookie{
		Name:     c.cookie,
		Value:    ns.Secret,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (c *Console) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.srv.EndSession(r.Context(), s.secret); err != nil {
		return err
	}
	c.clearCookie(w, c.cookie)
	c.setFlash(w, flashInfo, "You have logged out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// clientIP is the address the request came from. Forwarded headers are not
// trusted: behind a reverse proxy every request has the proxy's address,
// and the per-account limits still apply.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Flash kinds.
const (
	flashInfo    = "info"
	flashSuccess = "success"
	flashError   = "error"
)

// Flash is a one-time message shown on the next page after a redirect.
type Flash struct {
	Kind    string
	Message string
}

// setFlash stores a message for the next page in a short-lived cookie. It
// holds only text the console wrote itself and is escaped when shown.
func (c *Console) setFlash(w http.ResponseWriter, kind, msg string) {
	http.SetCookie(w, &http.Cookie{
		Name:     c.flashCookie,
		Value:    base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + msg)),
		Path:     "/",
		MaxAge:   60,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash reads and clears the flash message.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *Flash {
	ck, err := r.Cookie(c.flashCookie)
	if err != nil {
		return nil
	}
	c.clearCookie(w, c.flashCookie)
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	kind, msg, ok := strings.Cut(string(b), "\x00")
	if !ok || len(msg) > 500 {
		return nil
	}
	switch kind {
	case flashInfo, flashSuccess, flashError:
		return &Flash{Kind: kind, Message: msg}
	}
	return nil
}

// redirect answers a successful form post (post/redirect/get) with a flash
// message for the next page.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, to, msg string) error {
	if msg != "" {
		c.setFlash(w, flashSuccess, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}
