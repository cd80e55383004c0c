package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/web"
	"github.com/patchring/patchring/internal/web/webtest"
)

// HTTP-level tests of the console: real server, real SQLite, no browser.

func TestSecurityHeaders(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.HTTPClient(t)
	r := c.Get("/login")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /login = %d", r.Status)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe code: %q", csp)
	}
	for h, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// Pages carry no inline script, style element or style attribute, so
	// the CSP costs nothing.
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	clinic := env.Client(t, webtest.Clinic)
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle="|\son[a-z]+="`)
	for _, path := range []string{"/", "/clients/" + string(clinic.ID), "/audit", "/settings", "/account", "/assets"} {
		r := admin.Get(path)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s = %d", path, r.Status)
			continue
		}
		if m := inline.FindString(r.Body); m != "" {
			t.Errorf("%s has inline code or style: %q", path, m)
		}
	}
}

func TestStaticFilesAreHashedAndCached(t *testing.T) {
	env := webtest.Start(t, webtest.Options{NoDemo: true})
	c := env.HTTPClient(t)
	page := c.Get("/login").Body
	css := regexp.MustCompile(`href="(/static/console\.[0-9a-f]{10}\.css)"`).FindStringSubmatch(page)
	if css == nil {
		t.Fatalf("login page links no hashed stylesheet:\n%s", page)
	}
	r := c.Get(css[1])
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("GET %s = %d %s", css[1], r.Status, r.Header.Get("Content-Type"))
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control = %q", cc)
	}
	if r := c.Get("/static/console.0000000000.css"); r.Status != http.StatusNotFound {
		t.Errorf("stale hash: %d, want 404", r.Status)
	}
	if r := c.Get("/favicon.ico"); r.Status != http.StatusOK {
		t.Errorf("favicon: %d", r.Status)
	}
}

func TestLoginSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP", true: "Secure"}[secure], func(t *testing.T) {
			env := webtest.Start(t, webtest.Options{Secure: secure})
			c := env.HTTPClient(t)
			r := c.Post("/login", url.Values{"email": {webtest.AdminEmail}, "password": {env.Password}})
			if r.Status != http.StatusSeeOther || r.Location != "/" {
				t.Fatalf("login = %d → %q", r.Status, r.Location)
			}
			set := (&http.Response{Header: r.Header}).Cookies()
			if len(set) != 1 {
				t.Fatalf("login sets %d cookies: %v", len(set), set)
			}
			ck := set[0]
			wantName := "patchring_session"
			if secure {
				wantName = "__Host-patchring_session"
			}
			if ck.Name != wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("session cookie = %+v", ck)
			}
			if len(ck.Value) < 40 {
				t.Errorf("session secret %q is short", ck.Value)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.HTTPClient(t)
	for _, tc := range []struct {
		name     string
		form     url.Values
		status   int
		contains string
	}{
		{"WrongPassword", url.Values{"email": {webtest.AdminEmail}, "password": {"wrong password"}}, http.StatusUnauthorized, "e-mail address or password is wrong"},
		{"UnknownUser", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}}, http.StatusUnauthorized, "e-mail address or password is wrong"},
		{"Empty", url.Values{"email": {""}, "password": {""}}, http.StatusBadRequest, "E-mail is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post("/login", tc.form)
			if r.Status != tc.status || !strings.Contains(r.Body, tc.contains) {
				t.Errorf("status %d, want %d; body mentions %q: %v", r.Status, tc.status, tc.contains, strings.Contains(r.Body, tc.contains))
			}
			if strings.Contains(r.Body, "wrong password") {
				t.Errorf("the password is echoed back")
			}
		})
	}
}

func TestLoginRedirectStaysLocal(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	for next, want := range map[string]string{
		"/settings":             "/settings",
		"/assets?os=linux":      "/assets?os=linux",
		"//evil.example/":       "/",
		"https://evil.example/": "/",
		"/\\evil.example":       "/",
		"javascript:alert(1)":   "/",
		"":                      "/",
		"/x\r\nSet-Cookie: a=b": "/",
	} {
		c := env.HTTPClient(t)
		r := c.Post("/login", url.Values{"email": {webtest.AdminEmail}, "password": {env.Password}, "next": {next}})
		if r.Location != want {
			t.Errorf("next=%q redirects to %q, want %q", next, r.Location, want)
		}
	}
}

func TestSessionRotationAndLogout(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.TechEmail, env.Password)
	u, _ := url.Parse(env.URL)
	first := c.HTTP.Jar.Cookies(u)[0].Value
	// Logging in again in the same browser replaces the session.
	c.Post("/login", url.Values{"email": {webtest.TechEmail}, "password": {env.Password}})
	second := c.HTTP.Jar.Cookies(u)[0].Value
	if first == second {
		t.Fatal("login did not rotate the session id")
	}
	if _, _, err := env.Server.ResumeSession(t.Context(), first); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("the replaced session still works: %v", err)
	}
	// Session fixation: an attacker plants their own session id in the
	// victim's browser; the victim's login replaces it (and ends it), so
	// the attacker cannot ride the victim's session.
	attacker := env.Login(t, webtest.AuditorEmail, env.Password)
	planted := attacker.HTTP.Jar.Cookies(u)[0].Value
	victim := env.HTTPClient(t)
	victim.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "patchring_session", Value: planted}})
	victim.Post("/login", url.Values{"email": {webtest.AdminEmail}, "password": {env.Password}})
	if got := victim.HTTP.Jar.Cookies(u)[0].Value; got == planted {
		t.Errorf("login kept the planted session id")
	}
	if actor, _, err := env.Server.ResumeSession(t.Context(), planted); err == nil {
		t.Errorf("the planted session still works, as %s", actor.Name)
	}
	// Logout ends the session on the server, not just in the browser.
	if r := c.Get("/account"); r.Status != http.StatusOK {
		t.Fatalf("GET /account = %d", r.Status)
	}
	if r := c.Post("/logout", nil); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("logout = %d → %q", r.Status, r.Location)
	}
	if _, _, err := env.Server.ResumeSession(t.Context(), second); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("session works after logout: %v", err)
	}
	if r := c.Get("/account"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Errorf("after logout GET /account = %d → %q", r.Status, r.Location)
	}
	// Both events are in the audit log.
	for _, action := range []string{"user.login", "user.logout"} {
		_, n, err := env.Server.AuditLog(env.Admin(t.Context()), patch.AuditFilter{Action: &action})
		if err != nil || n == 0 {
			t.Errorf("audit entries for %s: %d, %v", action, n, err)
		}
	}
}

func TestFormToken(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.AdminEmail, env.Password)
	c.Get("/settings")
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"Missing", "", http.StatusForbidden},
		{"Wrong", "AAAA", http.StatusForbidden},
		{"OtherSession", csrfOf(t, env.Login(t, webtest.TechEmail, env.Password)), http.StatusForbidden},
		{"Right", c.CSRF, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post("/settings/msp", url.Values{"name": {"Acme " + tc.name}, "csrf": {tc.token}})
			if r.Status != tc.status {
				t.Errorf("POST with %s token = %d, want %d", tc.name, r.Status, tc.status)
			}
		})
	}
	m, err := env.Server.MSP(env.Admin(t.Context()))
	if err != nil || m.Name != "Acme Right" {
		t.Errorf("MSP name = %v, %v; want only the post with the right token applied", m, err)
	}
}

func csrfOf(t *testing.T, c *webtest.Client) string {
	t.Helper()
	c.Get("/account")
	return c.CSRF
}

func TestCrossOriginPostRefused(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.AdminEmail, env.Password)
	c.Get("/settings")
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"SecFetchSiteCrossSite", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"SecFetchSiteSameSite", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"ForeignOrigin", map[string]string{"Origin": "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"name": {"Evil"}, "csrf": {c.CSRF}}
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/settings/msp", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			if r := c.Do(req); r.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403 even with a valid form token", r.Status)
			}
		})
	}
	if m, _ := env.Server.MSP(env.Admin(t.Context())); m.Name == "Evil" {
		t.Error("a cross-origin post changed the MSP name")
	}
}

func TestBearerTokensAreNotAcceptedByTheConsole(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.HTTPClient(t)
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/settings", nil)
	req.Header.Set("Authorization", "Bearer "+env.Demo.Token)
	if r := c.Do(req); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Errorf("console with a bearer token = %d → %q, want the login page", r.Status, r.Location)
	}
}

func TestLoginRateLimit(t *testing.T) {
	env := webtest.Start(t, webtest.Options{LoginLimits: web.LoginLimits{
		PerPair:    web.Limit{Burst: 3, Every: time.Minute},
		PerIP:      web.Limit{Burst: 100, Every: time.Second},
		PerAccount: web.Limit{Burst: 100, Every: time.Second},
	}})
	c := env.HTTPClient(t)
	bad := url.Values{"email": {webtest.TechEmail}, "password": {"not the password"}}
	good := url.Values{"email": {webtest.TechEmail}, "password": {env.Password}}
	for i := range 3 {
		if r := c.Post("/login", bad); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, r.Status)
		}
	}
	// The bucket is empty: even the right password waits.
	r := c.Post("/login", good)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, "Too many login attempts") {
		t.Fatalf("4th attempt = %d, want 429 with Retry-After", r.Status)
	}
	// Another account from the same address is not affected.
	if r := c.Post("/login", url.Values{"email": {webtest.AuditorEmail}, "password": {env.Password}}); r.Status != http.StatusSeeOther {
		t.Errorf("other account = %d", r.Status)
	}
	// A minute later one attempt is allowed again, and success costs nothing.
	env.Clock.Advance(time.Minute)
	for i := range 3 {
		if r := c.Post("/login", good); r.Status != http.StatusSeeOther {
			t.Fatalf("success %d after waiting: %d", i+1, r.Status)
		}
	}
}

func TestFormErrorsNameTheField(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.AdminEmail, env.Password)
	c.Get("/settings")
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		want   string // in the field's error element
		field  string
	}{
		{"DuplicateEmail", "/settings/users", url.Values{"email": {webtest.TechEmail}, "name": {"X"}, "role": {"auditor"}}, http.StatusConflict, "already exists", "email"},
		{"OwnerWithoutClient", "/settings/users", url.Values{"email": {"new@x.example"}, "name": {"X"}, "role": {"client-owner"}}, http.StatusBadRequest, "is required for the client-owner role", "client_id"},
		{"ShortPassword", "/settings/users", url.Values{"email": {"new@x.example"}, "name": {"X"}, "role": {"auditor"}, "password": {"short"}}, http.StatusBadRequest, "", "password"},
		{"BadExpiry", "/settings/tokens", url.Values{"name": {"t"}, "expires_at": {"next tuesday"}}, http.StatusBadRequest, "must be a date", "token-expires_at"},
		{"PastExpiry", "/settings/tokens", url.Values{"name": {"t"}, "expires_at": {"2001-01-01"}}, http.StatusBadRequest, "must be in the future", "token-expires_at"},
		{"EmptyMSPName", "/settings/msp", url.Values{"name": {""}}, http.StatusBadRequest, "", "msp-name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post(tc.path, tc.form)
			if r.Status != tc.status {
				t.Errorf("status %d, want %d", r.Status, tc.status)
			}
			m := regexp.MustCompile(`id="e-f-` + regexp.QuoteMeta(tc.field) + `">(.*?)</div>`).FindStringSubmatch(r.Body)
			if m == nil || !strings.Contains(m[1], tc.want) {
				t.Errorf("no error %q next to input %s", tc.want, tc.field)
			}
			if strings.Contains(r.Body, `value="short"`) {
				t.Error("a password is echoed back into the form")
			}
		})
	}
}

func TestAssetsCSVExport(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic, law := env.Client(t, webtest.Clinic), env.Client(t, webtest.LawFirm)
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	r := admin.Get("/clients/" + string(clinic.ID) + "/assets.csv?os=windows")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, "riverside-family-clinic-assets.csv") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fam := patch.OSWindows
	_, n, err := env.Server.Assets(env.Admin(t.Context()), patch.AssetFilter{ClientID: &clinic.ID, OSFamily: &fam})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != n {
		t.Errorf("CSV has %d rows, want %d", len(rows)-1, n)
	}
	// A client owner exports only their own client.
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	if r := owner.Get("/clients/" + string(law.ID) + "/assets.csv"); r.Status != http.StatusNotFound {
		t.Errorf("owner exports another client: %d", r.Status)
	}
	r = owner.Get("/assets.csv?client=" + string(law.ID))
	if rows, _ := csv.NewReader(strings.NewReader(r.Body)).ReadAll(); len(rows) > 1 {
		t.Errorf("owner's export of another client has %d rows", len(rows)-1)
	}
	if r := admin.Get("/assets.csv?os=beos"); r.Status != http.StatusBadRequest {
		t.Errorf("bad filter export = %d, want 400", r.Status)
	}
}

// TestRoleMatrix checks what each role gets for each page: the server's
// authorization shows through as statuses, and navigation follows it.
func TestRoleMatrix(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic, law := env.Client(t, webtest.Clinic), env.Client(t, webtest.LawFirm)
	users := map[string]patch.UserID{}
	for _, u := range env.Demo.Users {
		users[u.Email] = u.ID
	}
	clinicPage, lawPage := "/clients/"+string(clinic.ID), "/clients/"+string(law.ID)
	userPage := "/settings/users/" + string(users[webtest.TechEmail])
	type want map[string]int
	for _, tc := range []struct {
		email string
		pages want
		nav   []string // nav items that must (or, prefixed "-", must not) show
	}{
		{webtest.AdminEmail, want{"/": 200, clinicPage: 200, lawPage: 200, clinicPage + "/users": 200, "/audit": 200, "/settings": 200, userPage: 200, "/account": 200},
			[]string{"Overview", "Assets", "Audit log", "Settings"}},
		{webtest.TechEmail, want{"/": 200, lawPage: 200, clinicPage + "/users": 403, "/audit": 403, "/settings": 200, userPage: 403},
			[]string{"Overview", "-Audit log"}},
		{webtest.AuditorEmail, want{"/": 200, lawPage: 200, "/audit": 200, userPage: 403},
			[]string{"Overview", "Audit log"}},
		{webtest.ClinicOwnerEmail, want{"/": 303, clinicPage: 200, lawPage: 404, clinicPage + "/sites": 200, "/audit": 200, userPage: 403, "/settings": 200},
			[]string{"My client", "-Overview", "-Assets"}},
	} {
		t.Run(tc.email, func(t *testing.T) {
			c := env.Login(t, tc.email, env.Password)
			for path, st := range tc.pages {
				if r := c.Get(path); r.Status != st {
					t.Errorf("GET %s = %d, want %d", path, r.Status, st)
				}
			}
			nav := regexp.MustCompile(`(?s)<nav class="nav".*?</nav>`).FindString(c.Get("/account").Body)
			for _, item := range tc.nav {
				if name, ok := strings.CutPrefix(item, "-"); ok {
					if strings.Contains(nav, "<span>"+name+"</span>") {
						t.Errorf("navigation shows %q", name)
					}
				} else if !strings.Contains(nav, "<span>"+item+"</span>") {
					t.Errorf("navigation lacks %q", item)
				}
			}
		})
	}
}

func TestChangeOwnPassword(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	other := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	c.Get("/account")
	r := c.Post("/account/password", url.Values{"current_password": {env.Password}, "password": {"a new passphrase here"}, "password_confirm": {"a different one"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "does not match") {
		t.Errorf("mismatched confirmation = %d", r.Status)
	}
	r = c.Post("/account/password", url.Values{"current_password": {"guess"}, "password": {"a new passphrase here"}, "password_confirm": {"a new passphrase here"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "is not your current password") {
		t.Errorf("wrong current password = %d", r.Status)
	}
	r = c.Post("/account/password", url.Values{"current_password": {env.Password}, "password": {"a new passphrase here"}, "password_confirm": {"a new passphrase here"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change password = %d", r.Status)
	}
	// This browser stays logged in with a new session; the other is out.
	if r := c.Get("/account"); r.Status != http.StatusOK || !strings.Contains(r.Body, "Password changed") {
		t.Errorf("after the change GET /account = %d", r.Status)
	}
	if r := other.Get("/account"); r.Status != http.StatusSeeOther {
		t.Errorf("other session after the change: %d, want a redirect to login", r.Status)
	}
	env.Login(t, webtest.ClinicOwnerEmail, "a new passphrase here")
}

func TestAdminUserActions(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	tech := env.Login(t, webtest.TechEmail, env.Password)
	var techID patch.UserID
	for _, u := range env.Demo.Users {
		if u.Email == webtest.TechEmail {
			techID = u.ID
		}
	}
	page := "/settings/users/" + string(techID)
	admin.Get(page)
	if r := admin.Post(page+"/disable", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("disable = %d", r.Status)
	}
	if r := tech.Get("/account"); r.Status != http.StatusSeeOther {
		t.Errorf("a disabled user's session still works: %d", r.Status)
	}
	if r := admin.Post(page+"/enable", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("enable = %d", r.Status)
	}
	r := admin.Post(page+"/password", url.Values{"password": {"reset by the admin"}, "password_confirm": {"reset by the admin"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("reset password = %d", r.Status)
	}
	env.Login(t, webtest.TechEmail, "reset by the admin")
	// An admin cannot disable themselves (the server refuses; the page says so).
	var adminID patch.UserID
	for _, u := range env.Demo.Users {
		if u.Email == webtest.AdminEmail {
			adminID = u.ID
		}
	}
	if r := admin.Post("/settings/users/"+string(adminID)+"/disable", nil); r.Status != http.StatusConflict || !strings.Contains(r.Body, "cannot disable") {
		t.Errorf("self-disable = %d", r.Status)
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	c := env.Login(t, webtest.AdminEmail, env.Password)
	if r := c.Get("/logout"); r.Status != http.StatusNotFound {
		t.Errorf("GET /logout = %d, want 404 (logging out takes a form post)", r.Status)
	}
	if r := c.Get("/account"); r.Status != http.StatusOK {
		t.Errorf("GET /logout logged out: %d", r.Status)
	}
	if r := c.Get("/clients/cli_nope"); r.Status != http.StatusNotFound {
		t.Errorf("unknown client = %d", r.Status)
	}
	if r := c.Get("/assets?os=beos&managed=maybe"); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "must be one of windows") {
		t.Errorf("bad filters = %d", r.Status)
	}
	if r := env.HTTPClient(t).Get("/nothing-here"); r.Status != http.StatusNotFound {
		t.Errorf("anonymous unknown path = %d", r.Status)
	}
}
