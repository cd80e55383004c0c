package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
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

func TestReportsGenerateAndDownload(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	owner.Get(base + "/reports")

	// A bad period is shown on its input.
	r := owner.Post(base+"/reports", url.Values{"kind": {"patch-health"}, "period": {"2026-13"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `id="e-f-period"`) {
		t.Fatalf("bad period: status %d, error not on the period", r.Status)
	}
	// The client owner generates last month's Patch Health report.
	r = owner.Post(base+"/reports", url.Values{"kind": {"patch-health"}, "period": {"2026-10"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/reports/rep_") {
		t.Fatalf("generate: status %d → %s", r.Status, r.Location)
	}
	page := owner.Get(r.Location)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Patch Health") {
		t.Fatalf("report page: %d", page.Status)
	}
	pdf := regexp.MustCompile(`href="(/reports/rep_[^"]+/download\?name=[^"]+\.pdf)"`).FindStringSubmatch(page.Body)
	if pdf == nil {
		t.Fatal("the report page links no PDF")
	}
	d := owner.Get(html.UnescapeString(pdf[1]))
	if d.Status != http.StatusOK || !strings.HasPrefix(d.Body, "%PDF-") || d.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("PDF download: %d %s %q", d.Status, d.Header.Get("Content-Type"), d.Body[:min(8, len(d.Body))])
	}
	if csp := d.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Errorf("download CSP = %q, want the sandbox", csp)
	}
	// The internal scorecard is for MSP staff.
	r = owner.Post("/reports", url.Values{"kind": {"scorecard"}, "period": {"2026-10"}})
	if r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest {
		t.Errorf("owner generating the scorecard: %d", r.Status)
	}

	// The evidence bundle of October is a zip.
	owner.Get(base + "/reports")
	b := owner.Post(base+"/evidence/bundle", url.Values{"period": {"2026-10"}})
	if b.Status != http.StatusOK || !strings.HasPrefix(b.Body, "PK") || !strings.Contains(b.Header.Get("Content-Disposition"), ".zip") {
		t.Fatalf("bundle: %d %s", b.Status, b.Header.Get("Content-Disposition"))
	}
	// The law firm's reports and bundle are not the clinic owner's.
	law := env.Client(t, webtest.LawFirm)
	if r := owner.Post("/clients/"+string(law.ID)+"/evidence/bundle", url.Values{"period": {"2026-10"}}); r.Status != http.StatusNotFound {
		t.Errorf("owner downloading another client's bundle: %d", r.Status)
	}
	if r := owner.Post("/clients/"+string(law.ID)+"/reports", url.Values{"kind": {"patch-health"}, "period": {"2026-10"}}); r.Status != http.StatusNotFound {
		t.Errorf("owner generating another client's report: %d", r.Status)
	}
}
