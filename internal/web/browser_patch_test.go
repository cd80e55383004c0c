package web_test

import (
	"net/http"
	"testing"

	"github.com/patchring/patchring/internal/web/webtest"
)

// TestBrowserPatchPages tours the patch-management pages as an MSP admin
// and saves a screenshot of each.
func TestBrowserPatchPages(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	b.Login(webtest.AdminEmail, env.Password)
	for _, p := range patchPages(t, env) {
		if st := b.Go(p.path); st != http.StatusOK {
			t.Errorf("%s: status %d", p.path, st)
		}
		b.Screenshot(p.name)
	}
}
