package webtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser;
// $PATCHRING_CHROMIUM overrides it.
const ChromiumPath = "/usr/bin/chromium"

// Viewport is the browser window: a common 1280px laptop.
const (
	ViewportWidth  = 1280
	ViewportHeight = 860
)

// actionTimeout bounds each browser step, so a page that never loads fails
// the test instead of hanging it.
const actionTimeout = 30 * time.Second

// Browser is a headless Chromium tab on an Env. Its methods fail the test
// on error; they are not safe for concurrent use (one tab, one goroutine).
type Browser struct {
	t   testing.TB
	env *Env
	ctx context.Context
}

// chromium returns the browser's path or skips (fails in CI).
func chromium(t testing.TB) string {
	t.Helper()
	path := os.Getenv("PATCHRING_CHROMIUM")
	if path == "" {
		path = ChromiumPath
	}
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil && os.Getenv("PATCHRING_CHROMIUM") == "" {
			return p
		}
		msg := fmt.Sprintf("headless Chromium not found at %s: install Debian's chromium package (apt-get install chromium) or set PATCHRING_CHROMIUM", path)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// Browser starts a fresh headless Chromium (new profile, no cookies) for
// this test; it is closed when the test ends.
func (e *Env) Browser(t testing.TB) *Browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser without a timeout: the first Run binds its life
	// to the context it is given.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(ViewportWidth, ViewportHeight)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &Browser{t: t, env: e, ctx: ctx}
}

// Context returns the tab's context for chromedp calls the helpers do not
// cover; give it a timeout.
func (b *Browser) Context() context.Context { return b.ctx }

func (b *Browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, actionTimeout)
}

// Do runs actions, failing the test on error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Go opens a path (or a full URL) and returns the HTTP status of the page
// it ends on.
func (b *Browser) Go(path string) int {
	b.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.env.URL + path
	}
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("open %s: %v", u, err)
	}
	return int(resp.Status)
}

// Navigate runs actions that cause a page load (clicking a link, submitting
// a form) and returns the status of the page that loads.
func (b *Browser) Navigate(actions ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.t.Fatalf("navigate: %v", err)
	}
	return int(resp.Status)
}

// Submit clicks an element that loads a page — a submit button or a link,
// by CSS selector — and returns the status of the page that loads.
func (b *Browser) Submit(button string) int {
	b.t.Helper()
	return b.Navigate(chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
}

// Fill replaces the value of an input.
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	// Empty the field by script: chromedp.Clear fails on an empty textarea.
	clear := chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var e=document.querySelector(%q); if(!e) return false; e.value=""; return true})()`, sel))
	b.Do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := clear(ctx, t)
		return err
	}), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// Select chooses an option of a select by value.
func (b *Browser) Select(sel, value string) {
	b.t.Helper()
	b.Do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// Click clicks an element that does not navigate (a <summary>, a tab).
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Text returns the visible text of the first element matching sel.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Count returns the number of elements matching sel, without waiting.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// Location returns the current URL's path and query.
func (b *Browser) Location() string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

// Login logs in through the login form and fails the test unless it ends
// on a console page.
func (b *Browser) Login(email, password string) {
	b.t.Helper()
	if st := b.Go("/login"); st != 200 {
		b.t.Fatalf("login page: status %d", st)
	}
	b.Fill("#f-email", email)
	b.Fill("#f-password", password)
	if st := b.Submit("form.login-card button[type=submit]"); st != 200 {
		b.t.Fatalf("log in as %s: status %d at %s", email, st, b.Location())
	}
	if strings.HasPrefix(b.Location(), "/login") {
		b.t.Fatalf("log in as %s: still on the login page: %s", email, b.Text("form.login-card"))
	}
}

// AcceptDialogs answers every confirm() of the page with OK from now on.
func (b *Browser) AcceptDialogs() {
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			// Answer from another goroutine: the receiving one must keep
			// draining events.
			go func() {
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}()
}

// ArtifactsDir is where screenshots go: $PATCHRING_ARTIFACTS, or
// artifacts/screenshots at the repository root.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PATCHRING_ARTIFACTS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "artifacts", "screenshots")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found above the working directory; set PATCHRING_ARTIFACTS")
		}
		dir = parent
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9._-]+`)

// Screenshot saves a full-page PNG as NAME.png in the artifacts directory
// and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	dir := ArtifactsDir(b.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(strings.ToLower(name), "-")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// Download clicks an element that downloads a file (a link with the
// download attribute, a form's submit button) and returns the file's
// bytes once the browser has saved it.
func (b *Browser) Download(sel string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := b.step()
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible),
	)
	if err != nil {
		b.t.Fatalf("download %s: %v", sel, err)
	}
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("download %s was canceled", sel)
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.t.Fatalf("read the download: %v", err)
			}
			return data
		}
	}
	b.t.Fatalf("download %s: no completed download", sel)
	return nil
}

// Value returns the current value of an input, select or text area.
func (b *Browser) Value(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}
