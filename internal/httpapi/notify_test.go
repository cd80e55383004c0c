package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// newNotifyHarness is the harness with the notification stores and a
// webhook sender that may reach 127.0.0.1 (and no SMTP).
func newNotifyHarness(t *testing.T) *harness {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	guard := webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db, Keys: db,
		Channels: db, Notifications: db}, server.Options{Notify: server.NotifyOptions{
		Senders: map[patch.ChannelKind]notify.Sender{patch.ChannelWebhook: webhook.New(webhook.Options{Guard: guard})}}})
	reg := prometheus.NewRegistry()
	m := httpapi.NewMetrics(reg)
	api := httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, db: db, srv: srv, api: api, ts: ts}
	tok, err := srv.CreateToken(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")), server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = tok.Secret
	return h
}

func TestNotificationAPI(t *testing.T) {
	h := newNotifyHarness(t)
	var a, b patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "A"}, &a)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "B"}, &b)
	tech := h.token(patch.RoleTechnician, "")
	auditor := h.token(patch.RoleAuditor, "")
	ownerA := h.token(patch.RoleClientOwner, a.ID)
	ownerB := h.token(patch.RoleClientOwner, b.ID)

	var (
		mu     sync.Mutex
		secret string
		hits   int
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		hits++
		if err := webhook.Verify(secret, r.Header, body, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	var msp server.ChannelWithSecret
	h.mustCreate(tech, "/api/v1/notification-channels", map[string]any{"name": "PSA", "kind": "webhook", "url": receiver.URL + "/hook",
		"filter": map[string]any{"min_severity": "warning", "kinds": []string{"updates_failed", "cycle_halted"}}}, &msp)
	if !strings.HasPrefix(msp.Secret, "whsec_") || msp.Filter.MinSeverity != "warning" || msp.ClientID != "" {
		t.Fatalf("created = %+v", msp)
	}
	mu.Lock()
	secret = msp.Secret
	mu.Unlock()
	// Without a filter, for the owner's own client.
	var own server.ChannelWithSecret
	h.mustCreate(ownerA, "/api/v1/notification-channels", map[string]any{"name": "Mine", "kind": "webhook", "url": receiver.URL + "/own"}, &own)
	if own.ClientID != a.ID {
		t.Errorf("owner's channel belongs to %q", own.ClientID)
	}

	r := h.do(auditor, http.MethodGet, "/api/v1/notification-channels/"+string(msp.ID), nil, "")
	if r.status != 200 || strings.Contains(string(r.body), msp.Secret) || strings.Contains(string(r.body), "secret\"") {
		t.Errorf("GET channel = %d %s: must not show the secret", r.status, r.body)
	}
	if !strings.Contains(string(r.body), `"secret_hint":"`+msp.Secret[:12]+`"`) {
		t.Errorf("GET channel lacks the secret hint: %s", r.body)
	}

	for _, tc := range []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"UnknownField", tech, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "webhook", "url": "https://x.example/", "secret": "mine"}, 400, "secret"},
		{"BadKind", tech, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "sms"}, 400, "kind"},
		{"MetadataURL", tech, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "webhook", "url": "https://169.254.169.254/"}, 400, "url"},
		{"NoSMTP", tech, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "email", "recipients": []string{"a@b.example"}}, 400, "kind"},
		{"BadEventFilter", tech, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "webhook", "url": "https://x.example/",
			"filter": map[string]any{"events": []string{"alert.exploded"}}}, 400, "filter.events[0]"},
		{"AuditorCannotCreate", auditor, "POST", "/notification-channels", map[string]any{"name": "x", "kind": "webhook", "url": "https://x.example/"}, 403, ""},
		{"OwnerOtherClient", ownerA, "POST", "/notification-channels", map[string]any{"client_id": b.ID, "name": "x", "kind": "webhook", "url": "https://x.example/"}, 403, ""},
		{"OwnerCannotSeeMSPChannel", ownerA, "GET", "/notification-channels/" + string(msp.ID), nil, 404, ""},
		{"OwnerCannotTestMSPChannel", ownerA, "POST", "/notification-channels/" + string(msp.ID) + "/test", nil, 404, ""},
		{"OtherOwnerCannotDelete", ownerB, "DELETE", "/notification-channels/" + string(own.ID), nil, 404, ""},
		{"BadURLWithRotation", tech, "PATCH", "/notification-channels/" + string(own.ID), map[string]any{"rotate_secret": true, "url": "ftp://x"}, 400, "url"},
		{"BadState", tech, "GET", "/notification-deliveries?state=lost", nil, 400, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if !strings.HasPrefix(path, "/api/") {
				path = "/api/v1" + path
			}
			r := h.do(tc.token, tc.method, path, tc.body, "")
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, path, r.status, r.body, tc.status)
			}
			if tc.field != "" && r.apiErr(t).Field != tc.field {
				t.Errorf("error field = %q, want %q (%s)", r.apiErr(t).Field, tc.field, r.body)
			}
		})
	}

	// Lists are scoped.
	var list httpapi.Page[*patch.Channel]
	h.do(ownerA, "GET", "/api/v1/notification-channels", nil, "").json(t, &list)
	if list.Total != 1 || list.Items[0].ID != own.ID {
		t.Errorf("A's owner lists %+v", list)
	}
	h.do(tech, "GET", "/api/v1/notification-channels?msp=true", nil, "").json(t, &list)
	if list.Total != 1 || list.Items[0].ID != msp.ID {
		t.Errorf("MSP-wide list = %+v", list)
	}
	h.do(ownerB, "GET", "/api/v1/notification-channels?client_id="+string(a.ID), nil, "").json(t, &list)
	if list.Total != 0 {
		t.Errorf("B's owner lists %d of A's channels", list.Total)
	}

	// Send a test, see it in the deliveries.
	var d patch.Delivery
	if r := h.do(tech, "POST", "/api/v1/notification-channels/"+string(msp.ID)+"/test", nil, ""); r.status != 200 {
		t.Fatalf("test = %d %s", r.status, r.body)
	} else {
		r.json(t, &d)
	}
	if d.State != patch.DeliveryDelivered || d.EventType != patch.EventTest || hits != 1 {
		t.Errorf("test delivery = %+v (receiver hits %d)", d, hits)
	}
	var ds httpapi.Page[*patch.Delivery]
	h.do(auditor, "GET", "/api/v1/notification-deliveries?channel_id="+string(msp.ID), nil, "").json(t, &ds)
	if ds.Total != 1 || ds.Items[0].ID != d.ID {
		t.Errorf("deliveries = %+v", ds)
	}
	h.do(ownerA, "GET", "/api/v1/notification-deliveries", nil, "").json(t, &ds)
	if ds.Total != 0 {
		t.Errorf("A's owner sees %d deliveries of the MSP channel", ds.Total)
	}

	// Rotate: the response has the new secret once.
	var rot server.ChannelWithSecret
	if r := h.do(tech, "PATCH", "/api/v1/notification-channels/"+string(msp.ID), map[string]any{"rotate_secret": true, "enabled": false}, ""); r.status != 200 {
		t.Fatalf("rotate = %d %s", r.status, r.body)
	} else {
		r.json(t, &rot)
	}
	if rot.Secret == "" || rot.Secret == msp.Secret || rot.Enabled {
		t.Errorf("rotated = %+v", rot)
	}

	var kinds httpapi.ChannelKindsView
	h.do(ownerA, "GET", "/api/v1/notification-channel-kinds", nil, "").json(t, &kinds)
	if len(kinds.Kinds) != 1 || kinds.Kinds[0] != patch.ChannelWebhook {
		t.Errorf("kinds = %+v", kinds)
	}

	if r := h.do(ownerA, "DELETE", "/api/v1/notification-channels/"+string(own.ID), nil, ""); r.status != 204 {
		t.Errorf("owner deletes own channel = %d %s", r.status, r.body)
	}
	var audit httpapi.Page[*patch.AuditEntry]
	h.do(h.admin, "GET", "/api/v1/audit?entity_type=notification_channel", nil, "").json(t, &audit)
	actions := map[string]int{}
	for _, e := range audit.Items {
		actions[e.Action]++
		if strings.Contains(string(e.After), "whsec_") && !strings.Contains(string(e.After), "secret_hint") {
			t.Errorf("audit entry shows a secret: %s", e.After)
		}
		if strings.Contains(string(e.After), msp.Secret) || strings.Contains(string(e.After), rot.Secret) {
			t.Errorf("audit entry shows a secret: %s", e.After)
		}
	}
	if actions["channel.create"] != 2 || actions["channel.update"] != 1 || actions["channel.delete"] != 1 || actions["channel.test"] != 1 {
		t.Errorf("audit actions = %v", actions)
	}
}
