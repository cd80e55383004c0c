package webtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Client is a browser-like HTTP client for console tests that need no
// JavaScript: it keeps cookies, does not follow redirects (tests look at
// them), and sends form posts the way a browser on the console's own page
// would (same-origin Sec-Fetch-Site and Origin, the page's form token).
type Client struct {
	t    testing.TB
	env  *Env
	HTTP *http.Client
	// CSRF is the form token last seen on a page.
	CSRF string
}

// Response is a read response.
type Response struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// HTTPClient returns a client without a session.
func (e *Env) HTTPClient(t testing.TB) *Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, env: e, HTTP: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Login returns a client logged in as email.
func (e *Env) Login(t testing.TB, email, password string) *Client {
	t.Helper()
	c := e.HTTPClient(t)
	r := c.Post("/login", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("log in as %s: status %d", email, r.Status)
	}
	return c
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Do sends a request and reads the response, remembering the page's form
// token.
func (c *Client) Do(req *http.Request) Response {
	c.t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Location: resp.Header.Get("Location")}
	if m := csrfInput.FindStringSubmatch(r.Body); m != nil {
		c.CSRF = m[1]
	}
	return r
}

// Get fetches a path.
func (c *Client) Get(path string) Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.env.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(req)
}

// Post submits a form from the console's own page, adding the form token
// unless form sets "csrf" itself.
func (c *Client) Post(path string, form url.Values) Response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && c.CSRF != "" {
		form.Set("csrf", c.CSRF)
	}
	req, err := http.NewRequest(http.MethodPost, c.env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", c.env.URL)
	return c.Do(req)
}
