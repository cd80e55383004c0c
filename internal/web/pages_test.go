package web_test

import (
	"net/http"
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

// TestPatchPagesRender opens every patch-management page as an MSP admin
// and checks it renders with the numbers it is about.
func TestPatchPagesRender(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	for path, want := range map[string]string{
		"/":                  "Compliance",
		base + "/compliance": "Patch Health Compliance",
		base + "/compliance/assets?dim=os&key=windows":      "Windows",
		base + "/monitors?kind=agent_offline&alarm=1":       "Agent offline",
		base + "/compliance/findings?metric=sla_attainment": "SLA attainment",
		base + "/findings":                     "Why not patched",
		base + "/findings?sla=breached":        "Breached",
		"/assets/" + string(srvEHR(t, env).ID): "Next maintenance windows",
	} {
		r := admin.Get(path)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s = %d\n%s", path, r.Status, r.Body)
			continue
		}
		if !strings.Contains(r.Body, want) {
			t.Errorf("GET %s lacks %q", path, want)
		}
	}
}
