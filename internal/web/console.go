package web

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Options configure the console.
type Options struct {
	Logger *slog.Logger
	// Now is the clock of the login rate limiter and of relative times on
	// pages; time.Now when nil. Session expiry follows the store's clock.
	Now func() time.Time
	// Secure marks cookies Secure and gives the session cookie the __Host-
	// prefix. Set it whenever browsers reach the console over HTTPS,
	// directly or through a TLS-terminating proxy.
	Secure bool
	// Sessions bounds sessions; server.DefaultSessionPolicy when zero.
	Sessions server.SessionPolicy
	// StaleAfter is how long a managed asset's agent may stay silent
	// before the console counts it as stale; 7 days when zero.
	StaleAfter time.Duration
	// LoginLimits tune the login rate limiter; DefaultLoginLimits when zero.
	LoginLimits LoginLimits
	// Version is shown in the footer.
	Version string
}

// DefaultStaleAfter is the default of Options.StaleAfter.
const DefaultStaleAfter = 7 * 24 * time.Hour

// Console is the web console. Create it with New; it is safe for
// concurrent use.
type Console struct {
	srv        *server.Server
	logger     *slog.Logger
	now        func() time.Time
	secure     bool
	policy     server.SessionPolicy
	staleAfter time.Duration
	version    string

	cookie      string // session cookie name
	flashCookie string
	pages       map[string]*template.Template
	static      *staticFiles
	limiter     *loginLimiter
	mux         *http.ServeMux
	handler     http.Handler
}

// New builds the console over srv. It fails only if an embedded template
// does not parse.
func New(srv *server.Server, opts Options) (*Console, error) {
	c := &Console{
		srv:        srv,
		logger:     opts.Logger,
		now:        opts.Now,
		secure:     opts.Secure,
		policy:     opts.Sessions,
		staleAfter: opts.StaleAfter,
		version:    opts.Version,
		mux:        http.NewServeMux(),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.policy == (server.SessionPolicy{}) {
		c.policy = server.DefaultSessionPolicy
	}
	if c.staleAfter <= 0 {
		c.staleAfter = DefaultStaleAfter
	}
	c.cookie, c.flashCookie = "patchring_session", "patchring_flash"
	if c.secure {
		// __Host- cookies must be Secure, have Path=/ and no Domain, so
		// no other host (a sibling subdomain) can set or shadow them.
		c.cookie, c.flashCookie = "__Host-"+c.cookie, "__Host-"+c.flashCookie
	}
	c.limiter = newLoginLimiter(opts.LoginLimits)
	var err error
	if c.static, err = loadStatic(); err != nil {
		return nil, err
	}
	if c.pages, err = c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.crossOriginDenied))
	c.handler = c.headers(cop.Handler(c.mux))
	return c, nil
}

// Handler returns the console's handler. Mount it at "/" beside the API;
// more specific patterns (/api/v1/, /agent/v1/, /healthz) win.
func (c *Console) Handler() http.Handler { return c.handler }

// contentSecurityPolicy allows nothing but the console's own scripts,
// styles, images and forms. There is no 'unsafe-inline': pages carry no
// inline script, style element or style attribute (the charts use SVG
// presentation attributes and classes).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the browser-only security headers on every console
// response.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("Referrer-Policy", "same-origin")
		if c.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// session is the logged-in user of a request.
type session struct {
	Actor patch.Actor
	// secret is the session cookie's value.
	secret string
	// CSRF is the form token of this session.
	CSRF    string
	Session *patch.Session
}

// handlerFunc is a console handler: it writes a response or returns an
// error for c.fail to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// maxFormBytes bounds form posts; file uploads, when they come, set their
// own limit.
const maxFormBytes = 1 << 20

// handle registers a handler that requires a logged-in user. For unsafe
// methods it also checks the form's CSRF token.
func (c *Console) handle(pattern string, h handlerFunc) {
	c.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := c.authenticate(r)
		if err != nil {
			c.toLogin(w, r, err)
			return
		}
		r = r.WithContext(patch.NewContextWithActor(r.Context(), s.Actor))
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, s, patch.WrapError(err, patch.KindInvalid, "The form could not be read."))
				return
			}
			if !validCSRF(s.secret, r.PostForm.Get(csrfField)) {
				c.fail(w, r, s, patch.Errorf(patch.KindForbidden, "This form has expired or did not come from this console. Go back, reload the page and try again."))
				return
			}
		}
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate resolves the session cookie.
func (c *Console) authenticate(r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.cookie)
	if err != nil || ck.Value == "" {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Please log in.")
	}
	actor, sess, err := c.srv.ResumeSession(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	return &session{Actor: actor, secret: ck.Value, CSRF: csrfToken(ck.Value), Session: sess}, nil
}

// toLogin answers a request without a valid session: browsers go to the
// login page and come back afterwards; an unavailable database is an error
// page, not a login prompt.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, err error) {
	if k := patch.ErrorKind(err); k != patch.KindUnauthenticated && k != patch.KindForbidden {
		c.fail(w, r, nil, err)
		return
	}
	if _, cerr := r.Cookie(c.cookie); cerr == nil {
		c.clearCookie(w, c.cookie)
		c.setFlash(w, flashInfo, "Your session has ended; please log in again.")
	}
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns next when it is a path on this server, else "/": the
// login redirect must not become an open redirect.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// statusOf maps error kinds to page statuses.
var statusOf = map[patch.Kind]int{
	patch.KindInternal:        http.StatusInternalServerError,
	patch.KindInvalid:         http.StatusBadRequest,
	patch.KindNotFound:        http.StatusNotFound,
	patch.KindConflict:        http.StatusConflict,
	patch.KindUnauthenticated: http.StatusUnauthorized,
	patch.KindForbidden:       http.StatusForbidden,
	patch.KindUnavailable:     http.StatusServiceUnavailable,
	patch.KindTooLarge:        http.StatusRequestEntityTooLarge,
}

// ErrorPage is the page shown for an error.
type ErrorPage struct {
	Page
	Status  int
	Heading string
	Message string
}

// fail renders err as an error page. Internal causes are logged with the
// request id and never shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		err = patch.WrapError(mbe, patch.KindTooLarge, "The form is too large.")
	}
	k := patch.ErrorKind(err)
	if k == patch.KindUnauthenticated {
		c.toLogin(w, r, err)
		return
	}
	status := statusOf[k]
	p := &ErrorPage{Status: status, Message: patch.ErrorMessage(err)}
	switch k {
	case patch.KindNotFound:
		p.Heading = "Not found"
	case patch.KindForbidden:
		p.Heading = "Not allowed"
	case patch.KindUnavailable:
		p.Heading = "Temporarily unavailable"
	case patch.KindInternal:
		p.Heading = "Something went wrong"
		p.Message = "The console could not show this page. The error has been logged; quote the request id below when you report it."
	default:
		p.Heading = "This did not work"
	}
	if status >= 500 {
		c.logger.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "request_id", patch.RequestIDFromContext(r.Context()), "err", err)
	}
	p.Title = p.Heading
	if rerr := c.render(w, r, s, status, tmplError, p); rerr != nil {
		c.logger.ErrorContext(r.Context(), "render error page", "err", rerr)
		http.Error(w, p.Message, status)
	}
}

// notFound is the console's answer for unknown paths.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := c.authenticate(r)
	if s != nil {
		r = r.WithContext(patch.NewContextWithActor(r.Context(), s.Actor))
	}
	c.fail(w, r, s, patch.Errorf(patch.KindNotFound, "There is no page at %s.", r.URL.Path))
}

// crossOriginDenied renders CrossOriginProtection's refusal.
func (c *Console) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	c.logger.WarnContext(r.Context(), "cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	c.fail(w, r, nil, patch.Errorf(patch.KindForbidden, "Cross-origin request refused: forms of this console can only be submitted from its own pages."))
}
