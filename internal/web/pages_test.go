package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/web/webtest"
)

func srvEHR(t *testing.T, env *webtest.Env) *patch.Asset {
	t.Helper()
	clinic := env.Client(t, webtest.Clinic)
	as, _, err := env.Server.Assets(env.Admin(t.Context()), patch.AssetFilter{ClientID: &clinic.ID, Query: new("srv-ehr")})
	if err != nil || len(as) != 1 {
		t.Fatalf("find srv-ehr: %v %d", err, len(as))
	}
	return as[0]
}

// demoCycle returns a demo cycle in a state.
func demoCycle(t *testing.T, env *webtest.Env, st patch.CycleState) *patch.Cycle {
	t.Helper()
	cs, _, err := env.Server.Cycles(env.Admin(t.Context()), patch.CycleFilter{States: []patch.CycleState{st}, Limit: 1})
	if err != nil || len(cs) == 0 {
		t.Fatalf("no %s demo cycle: %v", st, err)
	}
	return cs[0].Cycle
}

// demoException returns a demo exception of the clinic.
func demoException(t *testing.T, env *webtest.Env) *patch.Exception {
	t.Helper()
	clinic := env.Client(t, webtest.Clinic)
	xs, _, err := env.Server.Exceptions(env.Admin(t.Context()), patch.ExceptionFilter{ClientID: &clinic.ID, Limit: 1})
	if err != nil || len(xs) == 0 {
		t.Fatalf("no demo exception of the clinic: %v", err)
	}
	return xs[0]
}

var inlineCode = regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle="|\son[a-z]+="`)

// patchPage is a page of the patch-management console: its screenshot
// name, path and a text it must show.
type patchPage struct{ name, path, want string }

// patchPages lists the main patch-management pages on the demo MSP.
func patchPages(t *testing.T, env *webtest.Env) []patchPage {
	t.Helper()
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	return []patchPage{
		{"overview", "/", "Compliance against target"},
		{"client-assets", base, "Export CSV"},
		{"client-compliance", base + "/compliance", "Patch Health Compliance"},
		{"compliance-group", base + "/compliance/assets?dim=kind&key=workstation", "Workstations"},
		{"compliance-metric", base + "/compliance/findings?metric=sla_attainment", "SLA attainment"},
		{"client-monitors", base + "/monitors?kind=agent_offline&alarm=1", "Agent offline"},
		{"client-findings", base + "/findings", "Why not patched"},
		{"client-findings-breached", base + "/findings?sla=breached", "Breached"},
		{"asset-detail", "/assets/" + string(srvEHR(t, env).ID), "Next maintenance windows"},
		{"cycles", "/cycles", "Patch cycles"},
		{"client-cycles", base + "/cycles", "Start a patch cycle"},
		{"cycle-halted", "/cycles/" + string(demoCycle(t, env, patch.CycleHalted).ID), "Resume"},
		{"cycle-completed", "/cycles/" + string(demoCycle(t, env, patch.CycleCompleted).ID), "Deployments"},
		{"exceptions", "/exceptions?view=all", "Exception register"},
		{"client-exceptions", base + "/exceptions", "Request an exception"},
		{"exception", "/exceptions/" + string(demoException(t, env).ID), "Open findings it covers"},
		{"client-policy", base + "/policy", "SLA matrix"},
		{"client-policy-edit", base + "/policy/edit", "Edit the patch policy"},
		{"client-rings", base + "/rings", "Gate to the next ring"},
		{"reports", "/reports", "Generate a report"},
		{"client-reports", base + "/reports", "Evidence for auditors"},
		{"client-evidence", base + "/evidence?verify=1", "Verified:"},
		{"settings-agents", "/settings/agents", "Enrollment secrets"},
		{"settings-notifications", "/settings/notifications", "Notification channels"},
		{"client-runbook", base + "/runbook", "Patching runbook"},
		{"client-sites", base + "/sites", "Import assets"},
	}
}

// TestPatchPagesRender opens every patch-management page as an MSP admin
// and checks it renders with what it is about.
func TestPatchPagesRender(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	for _, p := range patchPages(t, env) {
		r := admin.Get(p.path)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s = %d\n%s", p.path, r.Status, r.Body)
			continue
		}
		if !strings.Contains(r.Body, p.want) {
			t.Errorf("GET %s lacks %q", p.path, p.want)
		}
		// No inline code or style: the CSP forbids it.
		if m := inlineCode.FindString(r.Body); m != "" {
			t.Errorf("%s has inline code or style: %q", p.path, m)
		}
	}
}
