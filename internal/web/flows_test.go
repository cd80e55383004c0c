package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/web/webtest"
)

// HTTP tests of the patch-management forms: each posts what the page's
// form posts and checks the server's state and the page's answer.

func TestPolicyEditForm(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	page := admin.Get(base + "/policy/edit")
	if page.Status != http.StatusOK {
		t.Fatalf("edit page: %d", page.Status)
	}
	form := formValues(t, page.Body, "policy-form")
	if form.Get("sla.matrix[0].deadline") == "" || form.Get("windows[0].name") == "" {
		t.Fatalf("the form lacks the matrix or the windows: %v", form)
	}

	t.Run("FieldErrorNextToItsInput", func(t *testing.T) {
		bad := cloneValues(form)
		bad.Set("sla.matrix[1].deadline", "soon")
		bad.Set("action", "save")
		r := admin.Post(base+"/policy", bad)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("bad deadline: status %d", r.Status)
		}
		if !strings.Contains(r.Body, `id="e-f-sla.matrix[1].deadline"`) || !strings.Contains(r.Body, `value="soon"`) {
			t.Errorf("the error is not shown next to sla.matrix[1].deadline with the typed value")
		}
		// An unknown window named in a cell: the error goes to the cell's
		// windows input, not to a hidden sub-path.
		bad = cloneValues(form)
		bad.Set("sla.matrix[2].windows", "nightly, lunchtime")
		bad.Set("action", "preview")
		r = admin.Post(base+"/policy", bad)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `id="e-f-sla.matrix[2].windows"`) || !strings.Contains(r.Body, "lunchtime") {
			t.Errorf("unknown window: status %d, error not next to sla.matrix[2].windows", r.Status)
		}
		// A window without days.
		bad = cloneValues(form)
		bad.Del("windows[0].weekly.days")
		bad.Set("action", "save")
		r = admin.Post(base+"/policy", bad)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `e-f-windows[0].weekly.days`) && !strings.Contains(r.Body, "Weekly: days") {
			t.Errorf("window without days: status %d", r.Status)
		}
		pol, err := env.Server.PolicyOf(env.Admin(t.Context()), clinic.ID)
		if err != nil || pol.Version != 0 {
			t.Errorf("a refused form stored something: version %d, %v", pol.Version, err)
		}
	})

	t.Run("PreviewThenSave", func(t *testing.T) {
		ok := cloneValues(form)
		ok.Set("sla.matrix[0].deadline", "12h")
		newRow := ""
		for k := range ok {
			if strings.HasSuffix(k, ".orig") && ok.Get(k) == "" {
				newRow = strings.TrimSuffix(k, ".orig")
			}
		}
		if newRow == "" {
			t.Fatal("no new-window row in the form")
		}
		ok.Set(newRow+".name", "lunch")
		ok.Set(newRow+".kind", "weekly")
		ok.Set(newRow+".weekly.start", "12:00")
		ok.Add(newRow+".weekly.days", "friday")
		ok.Set(newRow+".duration", "1h")
		ok.Set("action", "preview")
		r := admin.Post(base+"/policy", ok)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "sla.matrix[core-server/critical].deadline") || !strings.Contains(r.Body, "windows[lunch]") {
			t.Fatalf("preview: status %d, changes not listed", r.Status)
		}
		if pol, _ := env.Server.PolicyOf(env.Admin(t.Context()), clinic.ID); pol.Version != 0 {
			t.Fatalf("the preview stored the policy")
		}
		ok.Set("action", "save")
		r = admin.Post(base+"/policy", ok)
		if r.Status != http.StatusSeeOther || r.Location != base+"/policy" {
			t.Fatalf("save: status %d → %s", r.Status, r.Location)
		}
		pol, err := env.Server.PolicyOf(env.Admin(t.Context()), clinic.ID)
		if err != nil {
			t.Fatal(err)
		}
		if pol.Version != 1 || pol.SLA.Matrix[0].Deadline != "12h" || pol.Windows[len(pol.Windows)-1].Name != "lunch" {
			t.Errorf("stored policy: version %d, deadline %s, windows %+v", pol.Version, pol.SLA.Matrix[0].Deadline, pol.Windows)
		}
		// Saving the stale form again is refused: someone changed it.
		r = admin.Post(base+"/policy", ok)
		if r.Status != http.StatusConflict || !strings.Contains(r.Body, "changed since version 0 was read") {
			t.Errorf("stale form: status %d", r.Status)
		}
	})

	t.Run("OwnerCannotEdit", func(t *testing.T) {
		owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
		if r := owner.Get(base + "/policy"); r.Status != http.StatusOK || strings.Contains(r.Body, "Edit policy") {
			t.Errorf("owner's policy page: %d, shows the edit button: %v", r.Status, strings.Contains(r.Body, "Edit policy"))
		}
		owner.Get(base + "/policy/edit")
		r := owner.Post(base+"/policy", cloneValues(form))
		if r.Status != http.StatusForbidden {
			t.Errorf("owner saving the policy: %d, want 403", r.Status)
		}
	})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
