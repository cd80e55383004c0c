package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
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

func TestNotificationChannelsForm(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	var got []string
	receiver := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Webhook-Id"))
		w.WriteHeader(http.StatusNoContent)
	}))
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	admin.Get("/settings/notifications")

	// A bad URL is shown on its input, with what was typed.
	r := admin.Post("/settings/notifications", url.Values{"name": {"PSA"}, "kind": {"webhook"}, "url": {"ftp://psa.example"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `id="e-f-url"`) || !strings.Contains(r.Body, `value="ftp://psa.example"`) {
		t.Fatalf("bad URL: status %d, error not on the url input", r.Status)
	}
	// A webhook for halted cycles and failed updates; its secret is shown once.
	r = admin.Post("/settings/notifications", url.Values{"name": {"PSA intake"}, "kind": {"webhook"}, "url": {receiver + "/hook"},
		"filter.kinds": {"cycle_halted, updates_failed"}, "filter.min_severity": {"warning"}, "filter.events": {"alert.raised", "ticket.opened"}})
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-testid="channel-secret"`) || !strings.Contains(r.Body, "whsec_") {
		t.Fatalf("create: status %d, no secret shown", r.Status)
	}
	chs, _, err := env.Server.Channels(env.Admin(t.Context()), patch.ChannelFilter{})
	if err != nil || len(chs) != 1 || chs[0].Filter.MinSeverity != "warning" || len(chs[0].Filter.Kinds) != 2 || len(chs[0].Filter.Events) != 2 {
		t.Fatalf("stored channels = %+v, %v", chs, err)
	}
	secret := regexp.MustCompile(`<code id="channel-secret">([^<]+)<`).FindStringSubmatch(r.Body)
	if secret == nil || len(html.UnescapeString(secret[1])) < 20 {
		t.Fatalf("no secret on the page")
	}
	if again := admin.Get("/settings/notifications"); strings.Contains(html.UnescapeString(again.Body), html.UnescapeString(secret[1])) {
		t.Errorf("the secret is shown again")
	}
	// Send a test: the receiver gets a signed delivery, listed below.
	r = admin.Post("/settings/notifications/"+string(chs[0].ID)+"/test", nil)
	if r.Status != http.StatusSeeOther || len(got) != 1 || got[0] == "" {
		t.Fatalf("test: status %d, receiver got %v", r.Status, got)
	}
	page := admin.Get("/settings/notifications")
	if !strings.Contains(page.Body, "Test notification for channel") || !strings.Contains(page.Body, "Delivered") {
		t.Errorf("the test delivery is not listed")
	}
	// Disable, then delete.
	if r := admin.Post("/settings/notifications/"+string(chs[0].ID)+"/disable", nil); r.Status != http.StatusSeeOther {
		t.Errorf("disable: %d", r.Status)
	}
	if ch, _ := env.Server.Channel(env.Admin(t.Context()), chs[0].ID); ch == nil || ch.Enabled {
		t.Errorf("channel still enabled")
	}
	if r := admin.Post("/settings/notifications/"+string(chs[0].ID)+"/delete", nil); r.Status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.Status)
	}

	// A client owner's channel is their client's, whatever the form says.
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	owner.Get("/settings/notifications")
	law := env.Client(t, webtest.LawFirm)
	r = owner.Post("/settings/notifications", url.Values{"name": {"Mine"}, "kind": {"webhook"}, "url": {receiver + "/o"}, "client_id": {string(law.ID)}})
	if r.Status != http.StatusForbidden {
		t.Errorf("owner creating a channel for another client: %d, want 403", r.Status)
	}
	r = owner.Post("/settings/notifications", url.Values{"name": {"Clinic IT"}, "kind": {"webhook"}, "url": {receiver + "/o"}})
	if r.Status != http.StatusOK {
		t.Fatalf("owner's own channel: %d", r.Status)
	}
	clinic := env.Client(t, webtest.Clinic)
	chs, _, _ = env.Server.Channels(env.Admin(t.Context()), patch.ChannelFilter{})
	if len(chs) != 1 || chs[0].ClientID != clinic.ID {
		t.Errorf("owner's channel = %+v", chs)
	}
}

func TestApprovalsAndCycleActions(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Admin(t.Context())
	tech := env.Login(t, webtest.TechEmail, env.Password)

	// A do-not-disrupt system's update waits for a person: approve it
	// from the findings list, then clear the decision again.
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	open := patch.FindingOpen
	fs, _, err := env.Server.Findings(admin, server.FindingQuery{ClientID: clinic.ID, State: &open, Limit: patch.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var pending *server.FindingView
	for _, f := range fs {
		if f.Approval == patch.ApprovalPending {
			pending = f
			break
		}
	}
	if pending == nil {
		t.Fatal("no finding of the clinic waits for approval")
	}
	page := tech.Get(base + "/findings")
	if !strings.Contains(page.Body, `data-testid="approve"`) {
		t.Fatal("the findings list offers no approval")
	}
	r := tech.Post(base+"/decisions", url.Values{"update_id": {string(pending.UpdateID)}, "decision": {"declined"}, "back": {base + "/findings"}})
	if r.Status != http.StatusSeeOther || r.Location != base+"/findings" {
		t.Fatalf("decline without a reason: %d → %s", r.Status, r.Location)
	}
	if flash := tech.Get(r.Location).Body; !strings.Contains(flash, "reason") {
		t.Errorf("the decline without a reason does not say why it failed")
	}
	r = tech.Post(base+"/decisions", url.Values{"update_id": {string(pending.UpdateID)}, "decision": {"approved"}, "back": {"//evil.example/"}})
	if r.Status != http.StatusSeeOther || r.Location != base+"/findings" {
		t.Fatalf("approve: %d → %s (the back link must stay on this server)", r.Status, r.Location)
	}
	if ds, _, _ := env.Server.Decisions(admin, patch.DecisionFilter{ClientID: &clinic.ID, UpdateID: &pending.UpdateID}); len(ds) != 1 || ds[0].Decision != patch.ApprovalApproved {
		t.Fatalf("decision not stored: %+v", ds)
	}
	if r := tech.Post(base+"/decisions/clear", url.Values{"update_id": {string(pending.UpdateID)}}); r.Status != http.StatusSeeOther {
		t.Errorf("clear: %d", r.Status)
	}
	// An auditor can read but not decide.
	auditor := env.Login(t, webtest.AuditorEmail, env.Password)
	if p := auditor.Get(base + "/findings"); strings.Contains(p.Body, `data-testid="approve"`) {
		t.Errorf("an auditor is offered approvals")
	}
	if r := auditor.Post(base+"/decisions", url.Values{"update_id": {string(pending.UpdateID)}, "decision": {"approved"}}); r.Status != http.StatusForbidden {
		t.Errorf("auditor approving: %d", r.Status)
	}

	// The manufacturer's halted cycle: resume needs a reason, shown on its
	// input; then skip the bad update, halt by hand and abort.
	cy := demoCycle(t, env, patch.CycleHalted)
	cpath := "/cycles/" + string(cy.ID)
	tech.Get(cpath)
	r = tech.Post(cpath+"/resume", url.Values{"reason": {"  "}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `id="e-f-resume-reason"`) {
		t.Fatalf("resume without a reason: %d, error not on the reason", r.Status)
	}
	for _, step := range []struct {
		action string
		form   url.Values
		want   patch.CycleState
	}{
		{"skip", url.Values{"update_id": {string(cy.Updates[0].UpdateID)}, "reason": {"breaks the HMI software"}}, patch.CycleHalted},
		{"resume", url.Values{"reason": {"the failing update is skipped"}}, patch.CycleRunning},
		{"halt", url.Values{"reason": {"line maintenance this week"}}, patch.CycleHalted},
		{"abort", url.Values{"reason": {"the vendor withdrew the update"}}, patch.CycleAborted},
	} {
		r := tech.Post(cpath+"/"+step.action, step.form)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("%s: status %d", step.action, r.Status)
		}
		cv, err := env.Server.Cycle(admin, cy.ID)
		if err != nil || cv.State != step.want {
			t.Fatalf("after %s: %s, want %s (%v)", step.action, cv.State, step.want, err)
		}
	}
	if page := tech.Get(cpath); strings.Contains(page.Body, `data-testid="abort"`) || !strings.Contains(page.Body, "Aborted") {
		t.Errorf("an aborted cycle still offers actions")
	}
	// The halt ticket is resolved from the cycles page.
	if r := tech.Post("/tickets/"+string(cy.TicketID)+"/resolve", url.Values{"resolution": {"Skipped the update and aborted.", ""}, "back": {cpath}}); r.Status != http.StatusSeeOther || r.Location != cpath {
		t.Errorf("resolve: %d → %s", r.Status, r.Location)
	}
	if tk, err := env.Server.Ticket(admin, cy.TicketID); err != nil || tk.State != patch.TicketResolved {
		t.Errorf("ticket after resolving: %+v %v", tk, err)
	}
}

func TestManageClientsSitesAssets(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Login(t, webtest.AdminEmail, env.Password)
	admin.Get("/")
	r := admin.Post("/clients", url.Values{"name": {"Lakeside Dental"}, "contact_email": {"it@lakeside.example"}})
	if r.Status != http.StatusSeeOther || !strings.HasSuffix(r.Location, "/sites") {
		t.Fatalf("add client: %d → %s", r.Status, r.Location)
	}
	base := strings.TrimSuffix(r.Location, "/sites")
	admin.Get(r.Location)
	// A bad time zone is refused with the field named.
	r = admin.Post(base+"/sites", url.Values{"site_name": {"Main"}, "time_zone": {"Mars/Olympus"}})
	if r.Status != http.StatusSeeOther || !strings.Contains(admin.Get(r.Location).Body, "time_zone") {
		t.Errorf("bad zone: %d, the error does not name the field", r.Status)
	}
	if r := admin.Post(base+"/sites", url.Values{"site_name": {"Main office"}, "time_zone": {"America/Chicago"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("add site: %d", r.Status)
	}
	r = admin.Post(base+"/assets", url.Values{"hostname": {"front-desk-1"}, "os_family": {"windows"}, "os_name": {"Windows 11 Pro"}, "role": {"workstation"}, "tags": {"ephi=yes"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/assets/ast_") {
		t.Fatalf("register asset: %d → %s", r.Status, r.Location)
	}
	assetPath := r.Location
	page := admin.Get(assetPath)
	if !strings.Contains(page.Body, "front-desk-1") || !strings.Contains(page.Body, "ephi=yes") {
		t.Fatal("the asset page lacks the new asset")
	}
	// Pin it to the canary ring and make it critical.
	form := formValues(t, page.Body, "asset-form")
	form.Set("ring", "canary")
	form.Set("criticality", "critical")
	form.Set("tags", "ephi=yes, dept=front-office")
	if r := admin.Post(assetPath+"/edit", form); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d", r.Status)
	}
	a, err := env.Server.Asset(env.Admin(t.Context()), patch.AssetID(strings.TrimPrefix(assetPath, "/assets/")))
	if err != nil || a.Ring != "canary" || a.Criticality != patch.CriticalityCritical || a.Tags["dept"] != "front-office" {
		t.Fatalf("asset after edit: %+v %v", a, err)
	}
	// Import two more from CSV (the export's columns; a subset will do).
	csv := "hostname,os_family,os_name,role,tags\nfront-desk-2,windows,Windows 11 Pro,workstation,ephi=yes\nback-office-1,macos,macOS Sequoia,workstation,\n"
	if r := admin.Post(base+"/assets/import", url.Values{"csv": {csv}}); r.Status != http.StatusSeeOther || !strings.Contains(admin.Get(r.Location).Body, "2 assets created") {
		t.Errorf("import: %d", r.Status)
	}
	// Delete.
	if r := admin.Post(assetPath+"/delete", nil); r.Status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.Status)
	}
	if _, err := env.Server.Asset(env.Admin(t.Context()), a.ID); patch.ErrorKind(err) != patch.KindNotFound {
		t.Errorf("deleted asset still there: %v", err)
	}
	// A client owner can neither add clients nor edit another client's assets.
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	owner.Get("/account")
	if r := owner.Post("/clients", url.Values{"name": {"Mine"}}); r.Status != http.StatusForbidden {
		t.Errorf("owner adding a client: %d", r.Status)
	}
	if r := owner.Post(base+"/sites", url.Values{"site_name": {"x"}, "time_zone": {"UTC"}}); r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
		t.Errorf("owner adding a site to another client: %d", r.Status)
	}
}

func TestOverridesBaselinesRunbookCanary(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Admin(t.Context())
	clinic := env.Client(t, webtest.Clinic)
	base := "/clients/" + string(clinic.ID)
	tech := env.Login(t, webtest.TechEmail, env.Password)
	tech.Get(base + "/findings")

	// A tier override without a reason is refused; with one it is stored
	// and listed, and removed again.
	open := patch.FindingOpen
	fs, _, err := env.Server.Findings(admin, server.FindingQuery{ClientID: clinic.ID, State: &open, Limit: 1})
	if err != nil || len(fs) == 0 {
		t.Fatal(err)
	}
	upd := string(fs[0].UpdateID)
	if r := tech.Post(base+"/tier-overrides", url.Values{"update_id": {upd}, "tier": {"critical"}}); r.Status != http.StatusSeeOther || !strings.Contains(tech.Get(r.Location).Body, "reason") {
		t.Errorf("override without a reason: %d", r.Status)
	}
	if r := tech.Post(base+"/tier-overrides", url.Values{"update_id": {upd}, "tier": {"critical"}, "emergency": {"yes"}, "reason": {"exploited against clinics"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("override: %d", r.Status)
	}
	os, _, _ := env.Server.TierOverrides(admin, patch.TierOverrideFilter{ClientID: &clinic.ID})
	if len(os) != 1 || os[0].Tier != "critical" || os[0].Emergency == nil || !*os[0].Emergency {
		t.Fatalf("overrides = %+v", os)
	}
	if !strings.Contains(tech.Get(base+"/findings").Body, "exploited against clinics") {
		t.Errorf("the override is not listed")
	}
	if r := tech.Post(base+"/tier-overrides/delete", url.Values{"update_id": {upd}, "reason": {"patched out of band"}}); r.Status != http.StatusSeeOther {
		t.Errorf("remove override: %d", r.Status)
	}

	// OS baselines: a bad version is refused with its field; a good one
	// is stored.
	tech.Get(base + "/compliance")
	if r := tech.Post(base+"/os-baselines", url.Values{"family": {"windows"}, "match": {"Server"}, "min_version": {"latest"}, "note": {""}}); r.Status != http.StatusSeeOther || !strings.Contains(tech.Get(r.Location).Body, "min_version") {
		t.Errorf("bad baseline: %d", r.Status)
	}
	if r := tech.Post(base+"/os-baselines", url.Values{"family": {"windows", "linux"}, "match": {"Server", ""}, "min_version": {"10.0.20348", ""}, "note": {"Server 2022", ""}}); r.Status != http.StatusSeeOther {
		t.Fatalf("baselines: %d", r.Status)
	}
	if bs, _ := env.Server.OSBaselines(admin, clinic.ID); len(bs) != 1 || bs[0].MinVersion != "10.0.20348" {
		t.Errorf("baselines = %+v", bs)
	}

	// The runbook as JSON: an unknown field and a bad value are refused
	// with what is wrong; a good change is stored at the next version.
	page := tech.Get(base + "/runbook")
	doc := formValues(t, page.Body, "runbook-form").Get("document")
	if !strings.Contains(doc, `"install_budget"`) {
		t.Fatalf("runbook document = %s", doc)
	}
	r := tech.Post(base+"/runbook", url.Values{"document": {strings.Replace(doc, `"install_budget"`, `"install_budgett"`, 1)}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "install_budgett") {
		t.Errorf("unknown field: %d", r.Status)
	}
	rb, err := env.Server.RunbookOf(admin, clinic.ID)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(doc, `"install_budget": "`+string(rb.InstallBudget)+`"`, `"install_budget": "soon"`, 1)
	if r := tech.Post(base+"/runbook", url.Values{"document": {bad}}); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "install_budget") {
		t.Errorf("bad budget: %d", r.Status)
	}
	good := strings.Replace(doc, `"install_budget": "`+string(rb.InstallBudget)+`"`, `"install_budget": "45m"`, 1)
	if r := tech.Post(base+"/runbook", url.Values{"document": {good}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save runbook: %d %s", r.Status, r.Body)
	}
	if rb, _ := env.Server.RunbookOf(admin, clinic.ID); rb.InstallBudget != "45m" || rb.Version != 1 {
		t.Errorf("runbook = %s version %d", rb.InstallBudget, rb.Version)
	}

	// The MSP-wide canary by tag.
	tech.Get("/cycles")
	if r := tech.Post("/msp/canary", url.Values{"tags": {"canary=yes"}, "assets": {""}}); r.Status != http.StatusSeeOther {
		t.Fatalf("canary: %d", r.Status)
	}
	if c, _ := env.Server.MSPCanary(admin); len(c.Tags) != 1 || c.Tags[0].Key != "canary" {
		t.Errorf("canary = %+v", c)
	}
	// A client owner sees no canary form and cannot post one.
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	if p := owner.Get("/cycles"); strings.Contains(p.Body, "canary-form") {
		t.Errorf("a client owner sees the MSP canary")
	}
	if r := owner.Post("/msp/canary", url.Values{"tags": {"x"}}); r.Status != http.StatusForbidden {
		t.Errorf("owner saving the canary: %d", r.Status)
	}
}
