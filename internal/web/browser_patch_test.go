package web_test

import (
	"net/http"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/web/webtest"
)

// TestBrowserPatchPages tours the patch-management pages as an MSP admin
// and saves a screenshot of each.
func TestBrowserPatchPages(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	b := env.Browser(t)
	b.Login(webtest.AdminEmail, env.Password)
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"client-compliance", base + "/compliance"},
		{"compliance-group", base + "/compliance/assets?dim=kind&key=workstation"},
		{"client-findings", base + "/findings"},
		{"client-monitors", base + "/monitors?kind=agent_offline&alarm=1"},
		{"client-assets", base},
		{"cycles", "/cycles"},
		{"client-cycles", base + "/cycles"},
		{"cycle-halted", "/cycles/" + string(demoCycle(t, env, patch.CycleHalted).ID)},
		{"cycle-completed", "/cycles/" + string(demoCycle(t, env, patch.CycleCompleted).ID)},
		{"asset-detail", "/assets/" + string(srvEHR(t, env).ID)},
	} {
		if st := b.Go(p.path); st != http.StatusOK {
			t.Errorf("%s: status %d", p.path, st)
		}
		b.Screenshot(p.name)
	}
}
