package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/web/webtest"
)

// TestBrowserOwnerCannotReachOtherClients is URL manipulation by the
// clinic's owner: every patch-management page of another client, opened
// by its address, does not exist for them, and every action on another
// client's objects is refused and changes nothing.
func TestBrowserOwnerCannotReachOtherClients(t *testing.T) {
	env := webtest.Start(t, webtest.Options{})
	admin := env.Admin(t.Context())
	law, mfg := env.Client(t, webtest.LawFirm), env.Client(t, webtest.Manufacturer)
	lawBase, mfgBase := "/clients/"+string(law.ID), "/clients/"+string(mfg.ID)

	// Another client's objects of every kind.
	lawAssets, _, err := env.Server.Assets(admin, patch.AssetFilter{ClientID: &law.ID, Limit: 1})
	if err != nil || len(lawAssets) == 0 {
		t.Fatal(err)
	}
	xs, _, err := env.Server.Exceptions(admin, patch.ExceptionFilter{ClientID: &law.ID, Limit: 1})
	if err != nil || len(xs) == 0 {
		t.Fatalf("the law firm has no exception: %v", err)
	}
	lawExc := xs[0]
	cycle := demoCycle(t, env, patch.CycleHalted)
	if cycle.ClientID != mfg.ID {
		t.Fatalf("the halted demo cycle is %s's", cycle.ClientID)
	}
	rep, err := env.Server.GenerateReport(admin, server.ReportRequest{ClientID: law.ID, Kind: patch.ReportInventory, Period: "2026-10"})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := env.Server.CreateEnrollmentSecret(admin, server.EnrollmentSecretInput{ClientID: law.ID, Name: "Law office PCs"})
	if err != nil {
		t.Fatal(err)
	}
	receiver := webhookReceiver(t)
	ch, err := env.Server.CreateChannel(admin, server.ChannelInput{ClientID: law.ID, Name: "Law PSA", Kind: patch.ChannelWebhook, URL: receiver})
	if err != nil {
		t.Fatal(err)
	}

	b := env.Browser(t)
	b.Login(webtest.ClinicOwnerEmail, env.Password)
	for _, path := range []string{
		lawBase + "/compliance",
		lawBase + "/compliance/assets?dim=all",
		lawBase + "/compliance/assets?dim=os&key=windows",
		lawBase + "/compliance/findings?metric=sla_attainment",
		lawBase + "/monitors",
		lawBase + "/findings",
		lawBase + "/findings?sla=breached",
		lawBase + "/cycles",
		mfgBase + "/cycles",
		"/cycles/" + string(cycle.ID),
		lawBase + "/rings",
		lawBase + "/policy",
		lawBase + "/policy/edit",
		lawBase + "/exceptions",
		"/exceptions/" + string(lawExc.ID),
		lawBase + "/reports",
		"/reports/" + string(rep.ID),
		"/reports/" + string(rep.ID) + "/download?name=" + url.QueryEscape(rep.Files[0].Name),
		lawBase + "/evidence",
		lawBase + "/evidence?verify=1",
		"/assets/" + string(lawAssets[0].ID),
	} {
		if st := b.Go(path); st != http.StatusNotFound {
			t.Errorf("client owner opens %s: status %d, want 404", path, st)
		}
	}
	b.Screenshot("owner-other-client-page-404")

	// Lists filtered by another client show nothing of it.
	for path, forbidden := range map[string]string{
		"/cycles?client=" + string(mfg.ID):     cycle.Name,
		"/exceptions?client=" + string(law.ID): lawExc.TicketRef,
		"/reports?client=" + string(law.ID):    law.Name,
		"/settings/agents":                     sec.Name,
		"/settings/notifications":              ch.Name,
	} {
		if st := b.Go(path); st != http.StatusOK {
			t.Errorf("%s: status %d", path, st)
			continue
		}
		if txt := b.Text("main"); strings.Contains(txt, forbidden) || strings.Contains(txt, law.Name) || strings.Contains(txt, mfg.Name) {
			t.Errorf("client owner's %s shows another client's data (%q)", path, forbidden)
		}
	}

	// Actions on another client's objects are refused and change nothing.
	owner := env.Login(t, webtest.ClinicOwnerEmail, env.Password)
	owner.Get("/account") // a page with the form token
	for path, form := range map[string]url.Values{
		lawBase + "/decisions":                                 {"update_id": {"upd_x"}, "decision": {"approved"}},
		lawBase + "/exceptions":                                {"asset_mode": {"all"}, "update_mode": {"all"}, "reason": {"x"}, "ticket_ref": {"T-1"}, "expires_at": {"2026-12-01"}},
		"/exceptions/" + string(lawExc.ID) + "/sign-off":       {"note": {"mine now"}},
		"/exceptions/" + string(lawExc.ID) + "/revoke":         {"reason": {"not mine"}},
		"/cycles/" + string(cycle.ID) + "/resume":              {"reason": {"go"}},
		"/cycles/" + string(cycle.ID) + "/abort":               {"reason": {"stop"}},
		"/cycles/" + string(cycle.ID) + "/approve":             {"ring": {"canary"}},
		"/cycles/" + string(cycle.ID) + "/skip":                {"update_id": {string(cycle.Updates[0].UpdateID)}, "reason": {"x"}},
		mfgBase + "/cycles":                                    {"kind": {"monthly"}},
		"/tickets/" + string(cycle.TicketID) + "/resolve":      {"resolution": {"done"}},
		lawBase + "/reports":                                   {"kind": {"patch-health"}, "period": {"2026-10"}},
		lawBase + "/evidence/bundle":                           {"period": {"2026-10"}},
		lawBase + "/policy":                                    {"action": {"save"}},
		"/settings/enrollment/" + string(sec.ID) + "/revoke":   nil,
		"/settings/notifications/" + string(ch.ID) + "/test":   nil,
		"/settings/notifications/" + string(ch.ID) + "/delete": nil,
		"/assets/" + string(lawAssets[0].ID) + "/scan":         nil,
	} {
		r := owner.Post(path, form)
		if r.Status != http.StatusNotFound && r.Status != http.StatusForbidden {
			t.Errorf("client owner posts %s: status %d, want 404 or 403", path, r.Status)
		}
	}
	if x, err := env.Server.Exception(admin, lawExc.ID); err != nil || x.State != lawExc.State {
		t.Errorf("the law firm's exception changed: %v %v", x.State, err)
	}
	if cv, err := env.Server.Cycle(admin, cycle.ID); err != nil || cv.State != patch.CycleHalted {
		t.Errorf("the manufacturer's cycle changed: %v", err)
	}
	if _, err := env.Server.Channel(admin, ch.ID); err != nil {
		t.Errorf("the law firm's channel is gone: %v", err)
	}
	if ss, _, _ := env.Server.EnrollmentSecrets(admin, patch.EnrollmentSecretFilter{ID: &sec.ID}); len(ss) != 1 || !ss[0].RevokedAt.IsZero() {
		t.Errorf("the law firm's enrollment secret changed")
	}
}

// webhookReceiver returns the URL of a receiver that accepts everything.
func webhookReceiver(t *testing.T) string {
	t.Helper()
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return srv + "/hooks/patchring"
}

// newHTTPServer runs h on 127.0.0.1 until the test ends and returns its
// base URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
