package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/web/webtest"
)

// These tests drive the console in headless Chromium against a real server
// with the demo MSP. They save screenshots of the main pages to
// artifacts/screenshots (or $PATCHRING_ARTIFACTS).

func TestBrowserAdminTour(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	if st := b.Go("/"); st != http.StatusOK || !strings.HasPrefix(b.Location(), "/login") {
		t.Fatalf("anonymous visit: status %d at %s, want the login page", st, b.Location())
	}
	b.Screenshot("login")
	b.Login(webtest.AdminEmail, env.Password)
	if loc := b.Location(); loc != "/" {
		t.Errorf("after login at %s, want /", loc)
	}
	if n := b.Count("[data-testid=tile]"); n != 3 {
		t.Errorf("overview shows %d client tiles, want 3", n)
	}
	for _, want := range []string{"Overview", "Assets", "Audit log", "Settings", "My account"} {
		if !strings.Contains(b.Text("nav.nav"), want) {
			t.Errorf("admin navigation lacks %q", want)
		}
	}
	b.Screenshot("overview")

	// A number on a tile leads to exactly the rows behind it.
	clinic := env.Client(t, webtest.Clinic)
	st := b.Submit(fmt.Sprintf(`a.count[href="/clients/%s?managed=no"]`, clinic.ID))
	if st != http.StatusOK {
		t.Fatalf("discovered link: status %d", st)
	}
	_, discovered, err := env.Server.Assets(env.Admin(t.Context()), patch.AssetFilter{ClientID: &clinic.ID, Managed: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Text("[data-testid=asset-total]"); !strings.HasPrefix(got, fmt.Sprintf("%d asset", discovered)) {
		t.Errorf("discovered link shows %q, want %d assets", got, discovered)
	}

	// Client page with search, filter, sort and paging.
	b.Go("/clients/" + string(clinic.ID))
	b.Screenshot("client-assets")
	b.Fill("#f-q", "srv-")
	b.Submit(".filters button[type=submit]")
	if loc := b.Location(); !strings.Contains(loc, "q=srv-") {
		t.Errorf("search went to %s", loc)
	}
	rows := b.Count("[data-testid=assets] tbody tr")
	if rows == 0 || rows > 10 {
		t.Errorf("search srv- shows %d rows", rows)
	}
	b.Go("/clients/" + string(clinic.ID) + "?sort=last_seen&dir=desc&page=2")
	if !strings.Contains(b.Text(".pager"), "Page 2 of 2") {
		t.Errorf("pager: %q", b.Text(".pager"))
	}
	b.Go("/clients/" + string(clinic.ID) + "/sites")
	b.Screenshot("client-sites")
	b.Go("/clients/" + string(clinic.ID) + "/users")
	if !strings.Contains(b.Text("[data-testid=users]"), webtest.ClinicOwnerEmail) {
		t.Errorf("client users tab lacks the owner")
	}

	// Asset page.
	assets, _, err := env.Server.Assets(env.Admin(t.Context()), patch.AssetFilter{ClientID: &clinic.ID, Query: new("srv-ehr")})
	if err != nil || len(assets) != 1 {
		t.Fatalf("find srv-ehr: %v %d", err, len(assets))
	}
	if st := b.Go("/assets/" + string(assets[0].ID)); st != http.StatusOK {
		t.Fatalf("asset page: status %d", st)
	}
	if h := b.Text("h1"); h != "srv-ehr" {
		t.Errorf("asset page heading %q", h)
	}
	for _, slot := range []string{"findings", "monitors", "evidence"} {
		if b.Count(fmt.Sprintf(`[data-slot=%q]`, slot)) != 1 {
			t.Errorf("asset page lacks the %s slot", slot)
		}
	}
	b.Screenshot("asset")

	b.Go("/assets?os=linux")
	b.Screenshot("assets-all-linux")
	b.Go("/audit")
	if b.Count("[data-testid=audit] tbody tr") < 10 {
		t.Errorf("audit log shows %d rows", b.Count("[data-testid=audit] tbody tr"))
	}
	b.Screenshot("audit")
	b.Go("/settings")
	b.Screenshot("settings")
	b.Go("/account")
	b.Screenshot("account")
	if st := b.Go("/no/such/page"); st != http.StatusNotFound {
		t.Errorf("unknown page: status %d", st)
	}
	b.Screenshot("not-found")
}

func TestBrowserClientOwnerIsolation(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic, law := env.Client(t, webtest.Clinic), env.Client(t, webtest.LawFirm)
	lawAssets, _, err := env.Server.Assets(env.Admin(t.Context()), patch.AssetFilter{ClientID: &law.ID, Limit: 1})
	if err != nil || len(lawAssets) == 0 {
		t.Fatal(err)
	}
	var lawOwner patch.UserID
	for _, u := range env.Demo.Users {
		if u.ClientID == law.ID {
			lawOwner = u.ID
		}
	}
	b := env.Browser(t)
	b.Login(webtest.ClinicOwnerEmail, env.Password)
	// The client owner's home is their client.
	if loc := b.Location(); loc != "/clients/"+string(clinic.ID) {
		t.Errorf("client owner lands on %s", loc)
	}
	nav := b.Text("nav.nav")
	for _, hidden := range []string{"Overview"} {
		if strings.Contains(nav, hidden) {
			t.Errorf("client owner's navigation shows %q", hidden)
		}
	}
	if !strings.Contains(nav, "My client") {
		t.Errorf("client owner's navigation lacks My client: %q", nav)
	}
	if b.Count(`.tabs a[href$="/users"]`) != 0 {
		t.Errorf("client owner sees the Users tab")
	}
	b.Screenshot("owner-client")

	// URL manipulation: another client's pages do not exist for them.
	for path, want := range map[string]int{
		"/clients/" + string(law.ID):                 http.StatusNotFound,
		"/clients/" + string(law.ID) + "/sites":      http.StatusNotFound,
		"/clients/" + string(law.ID) + "/assets.csv": http.StatusNotFound,
		"/assets/" + string(lawAssets[0].ID):         http.StatusNotFound,
		"/settings/users/" + string(lawOwner):        http.StatusForbidden,
		"/clients/" + string(clinic.ID) + "/users":   http.StatusForbidden,
	} {
		if st := b.Go(path); st != want {
			t.Errorf("client owner opens %s: status %d, want %d", path, st, want)
		}
	}
	b.Screenshot("owner-other-client-404")
	// Filtering the all-assets list by the other client shows nothing.
	b.Go("/assets?client=" + string(law.ID))
	if n := b.Count("[data-testid=assets] tbody tr td a.strong"); n != 0 {
		t.Errorf("client owner lists %d assets of another client", n)
	}
	// The audit log shows only their client's entries.
	b.Go("/audit?client=" + string(law.ID))
	if n := b.Count("[data-testid=audit] tbody tr td code"); n != 0 {
		t.Errorf("client owner sees %d audit entries of another client", n)
	}
	b.Go("/audit")
	if strings.Contains(b.Text("[data-testid=audit]"), law.Name) {
		t.Errorf("client owner's audit log mentions %s", law.Name)
	}
}

func TestBrowserCrossOriginPostRefused(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	b.Login(webtest.AdminEmail, env.Password)
	// A page on another origin (another port of the same host: same-site,
	// so the SameSite=Lax cookie is even sent) posts a form to the console.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/settings/tokens">
<input name="name" value="evil-token"><button id="go" type="submit">Win a prize</button></form>`, env.URL)
	}))
	defer evil.Close()
	b.Go(evil.URL)
	if st := b.Submit("#go"); st != http.StatusForbidden {
		t.Errorf("cross-origin POST: status %d, want 403", st)
	}
	if !strings.Contains(b.Text("main"), "Cross-origin request refused") {
		t.Errorf("refusal page says %q", b.Text("main"))
	}
	b.Screenshot("csrf-refused")
	tokens, _, err := env.Server.Tokens(env.Admin(t.Context()), patch.TokenFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if tok.Name == "evil-token" {
			t.Fatalf("the cross-origin form created a token")
		}
	}
}

func TestBrowserIdleTimeout(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	b.Login(webtest.TechEmail, env.Password)
	env.Clock.Advance(20 * time.Minute)
	if st := b.Go("/settings"); st != http.StatusOK || b.Location() != "/settings" {
		t.Fatalf("after 20 idle minutes: status %d at %s", st, b.Location())
	}
	env.Clock.Advance(31 * time.Minute) // past the 30-minute idle timeout
	b.Go("/account")
	if loc := b.Location(); loc != "/login?next=%2Faccount" {
		t.Fatalf("after 31 idle minutes at %s, want the login page", loc)
	}
	if !strings.Contains(b.Text(".flash"), "session has ended") {
		t.Errorf("login page does not say why: %q", b.Text("main"))
	}
	b.Screenshot("session-ended")
	// Logging in again returns to the page asked for.
	b.Fill("#f-email", webtest.TechEmail)
	b.Fill("#f-password", env.Password)
	b.Submit("form.login-card button[type=submit]")
	if loc := b.Location(); loc != "/account" {
		t.Errorf("after logging in again at %s, want /account", loc)
	}
}

func TestBrowserCreateUserAndToken(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	b.Login(webtest.AdminEmail, env.Password)
	b.Go("/settings")

	// A form with an error keeps the input and names the field.
	b.Click("#users details.create > summary")
	b.Fill("#f-email", "not-an-address")
	b.Fill("#f-name", "Jordan Lee")
	b.Select("#f-role", string(patch.RoleTechnician))
	if st := b.Submit("[data-testid=create-user] button[type=submit]"); st != http.StatusBadRequest {
		t.Errorf("invalid user: status %d, want 400", st)
	}
	if msg := b.Text("#users .field.has-error .field-error"); !strings.Contains(msg, "e-mail address") {
		t.Errorf("field error = %q", msg)
	}
	b.Screenshot("settings-user-error")

	b.Fill("#f-email", "jordan@northstar.example")
	b.Fill("#f-password", "a long enough password")
	if st := b.Submit("[data-testid=create-user] button[type=submit]"); st != http.StatusOK {
		b.Screenshot("failed-create-user")
		t.Fatalf("create user: status %d: %s", st, b.Text("#users"))
	}
	if !strings.Contains(b.Text(".flash"), "jordan@northstar.example created") {
		t.Errorf("flash = %q", b.Text(".flash"))
	}
	if !strings.Contains(b.Text("#users [data-testid=users]"), "Jordan Lee") {
		t.Errorf("new user not listed")
	}

	// Create a token; its secret is shown once and works against the API.
	b.Click("#tokens details.create > summary")
	b.Fill("#f-token-name", "backup-script")
	b.Select("#f-token-role", string(patch.RoleAuditor))
	if st := b.Submit("[data-testid=create-token] button[type=submit]"); st != http.StatusOK {
		t.Fatalf("create token: status %d", st)
	}
	secret := strings.TrimSpace(b.Text("#new-token-secret"))
	if !strings.HasPrefix(secret, patch.TokenPrefix) {
		t.Fatalf("token secret shown = %q", secret)
	}
	b.Screenshot("settings-token-created")
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"auditor"`) {
		t.Errorf("API with the new token: %d %s", resp.StatusCode, body)
	}
	// Reloading the settings page does not show the secret again.
	b.Go("/settings")
	if b.Count("#new-token-secret") != 0 {
		t.Errorf("the secret is shown a second time")
	}

	// Revoke it through the UI (confirm dialog accepted).
	b.AcceptDialogs()
	if st := b.Submit(`[data-testid=tokens] form[action$="/revoke"] button`); st != http.StatusOK {
		t.Fatalf("revoke: status %d", st)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with the revoked token: %d, want 401", resp.StatusCode)
	}

	// The new user can log in with the password the admin set.
	b2 := env.Browser(t)
	b2.Login("jordan@northstar.example", "a long enough password")
	if strings.Contains(b2.Text("nav.nav"), "Audit log") {
		t.Errorf("a technician sees the audit log in the navigation")
	}
}
