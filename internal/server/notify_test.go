package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/email"
	"github.com/patchring/patchring/internal/email/emailtest"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/webhook"
)

// notifyEnv is a server on SQLite with a real webhook sender (allowed to
// reach 127.0.0.1, as the tests' receivers are there) and a real SMTP
// relay in the process.
type notifyEnv struct {
	path  string
	db    *sqlstore.DB
	srv   *server.Server
	clock *patchtest.Clock
	relay *emailtest.Relay
	opts  server.NotifyOptions
	admin context.Context
	a, b  *patch.Client
	ownA  context.Context
	ownB  context.Context
	hosts map[patch.ClientID]*patch.Asset
}

func newNotifyEnv(t *testing.T, opts server.NotifyOptions) *notifyEnv {
	t.Helper()
	e := &notifyEnv{path: filepath.Join(t.TempDir(), sqlite.FileName), clock: patchtest.NewClock(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)),
		relay: emailtest.Start(t, emailtest.Options{}), opts: opts, admin: patchtest.AdminContext(t.Context()), hosts: map[patch.ClientID]*patch.Asset{}}
	e.open(t)
	if _, err := e.db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.a, err = e.srv.CreateClient(e.admin, server.ClientInput{Name: "Alpha Clinic"}); err != nil {
		t.Fatal(err)
	}
	if e.b, err = e.srv.CreateClient(e.admin, server.ClientInput{Name: "Beta Law"}); err != nil {
		t.Fatal(err)
	}
	e.ownA, e.ownB = patchtest.OwnerContext(t.Context(), e.a.ID), patchtest.OwnerContext(t.Context(), e.b.ID)
	for _, c := range []*patch.Client{e.a, e.b} {
		h := patchtest.Asset(c.ID, strings.ToLower(c.Name[:4])+"-ws-1")
		if err := e.db.CreateAsset(e.admin, h); err != nil {
			t.Fatal(err)
		}
		e.hosts[c.ID] = h
	}
	return e
}

// open opens the database file and builds a server over it: called
// again, it is a restart.
func (e *notifyEnv) open(t *testing.T) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Now = e.clock.Now
	mail, err := email.New(email.Config{Host: "127.0.0.1", Port: e.relay.Port, TLS: email.TLSNone, From: "Patchring <patchring@msp.example>", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	if opts.Senders == nil {
		opts.Senders = map[patch.ChannelKind]notify.Sender{
			patch.ChannelWebhook: webhook.New(webhook.Options{Guard: webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, Now: e.clock.Now}),
			patch.ChannelEmail:   mail,
		}
	}
	e.db = db
	e.srv = server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db, Keys: db,
		Alerts: db, Monitors: db, Channels: db, Notifications: db}, server.Options{Now: e.clock.Now, Notify: opts})
}

// raise raises an agent-offline alert on the client's host.
func (e *notifyEnv) raise(t *testing.T, client patch.ClientID, sev string) {
	t.Helper()
	h := e.hosts[client]
	st := patch.MonitorState{AssetID: h.ID, ClientID: client, Kind: patch.MonitorAgentOffline, Status: patch.MonitorStatus(sev), Since: e.clock.Now(),
		Summary: sev, EvaluatedAt: e.clock.Now()}
	if _, err := e.db.SaveMonitors(e.admin, h.ID, []patch.MonitorChange{{State: st, Action: patch.AlertRaise,
		Alert: &patch.Alert{Severity: sev, Message: h.Hostname + " offline", Details: map[string]string{"hostname": h.Hostname}}}}); err != nil {
		t.Fatal(err)
	}
}

// raiseOn raises an alert of a kind of its own, so repeated raises on
// one host are distinct alerts.
func (e *notifyEnv) raiseOn(t *testing.T, host *patch.Asset) {
	t.Helper()
	st := patch.MonitorState{AssetID: host.ID, ClientID: host.ClientID, Kind: patch.MonitorAgentOffline, Status: patch.MonitorCritical, Since: e.clock.Now(),
		Summary: "offline", EvaluatedAt: e.clock.Now()}
	if _, err := e.db.SaveMonitors(e.admin, host.ID, []patch.MonitorChange{{State: st, Action: patch.AlertRaise,
		Alert: &patch.Alert{Severity: patch.AlertCritical, Message: host.Hostname + " offline"}}}); err != nil {
		t.Fatal(err)
	}
}

func (e *notifyEnv) pass(t *testing.T) server.NotifierPass {
	t.Helper()
	p, err := e.srv.DeliverNotifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// receiver is a webhook endpoint that verifies every request with the
// channel's secret and answers from a script.
type receiver struct {
	t      *testing.T
	clock  *patchtest.Clock
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	script []int // statuses to answer, in order; 204 once used up
	got    []received
	// rejected counts requests whose signature did not verify.
	rejected int
}

type received struct {
	id      string
	payload notify.Payload
	status  int
}

func newReceiver(t *testing.T, clock *patchtest.Clock, script ...int) *receiver {
	rc := &receiver{t: t, clock: clock, script: script}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(rc.secret, r.Header, body, rc.clock.Now()); err != nil {
		rc.rejected++ // TestChannelUseCases sends with a rotated-out secret on purpose
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("receiver: decode payload: %v", err)
	}
	status := http.StatusNoContent
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
	}
	rc.got = append(rc.got, received{id: r.Header.Get("webhook-id"), payload: p, status: status})
	w.WriteHeader(status)
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (e *notifyEnv) webhook(t *testing.T, ctx context.Context, rc *receiver, in server.ChannelInput) *server.ChannelWithSecret {
	t.Helper()
	in.Kind, in.URL = patch.ChannelWebhook, rc.srv.URL+"/hooks/patchring"
	if in.Name == "" {
		in.Name = "PSA"
	}
	ch, err := e.srv.CreateChannel(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = ch.Secret
	rc.mu.Unlock()
	return ch
}

func TestChannelUseCases(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{})
	rc := newReceiver(t, e.clock)
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	auditor := patchtest.RoleContext(t.Context(), patch.RoleAuditor, "")

	msp := e.webhook(t, tech, rc, server.ChannelInput{})
	if !strings.HasPrefix(msp.Secret, "whsec_") || msp.SecretHint != msp.Secret[:12] || msp.ClientID != "" || !msp.Enabled {
		t.Errorf("created webhook = %+v", msp)
	}
	got, err := e.srv.Channel(auditor, msp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got); strings.Contains(string(b), msp.Secret) || strings.Contains(string(b), "v1:") || strings.Contains(string(b), "sealed") {
		t.Errorf("a read channel shows its secret: %s", b)
	}
	if strings.Contains(got.SealedSecret, strings.TrimPrefix(msp.Secret, "whsec_")) {
		t.Error("the stored secret is not sealed")
	}
	// A client owner's channel is their client's, without saying so.
	ownMail, err := e.srv.CreateChannel(e.ownA, server.ChannelInput{Name: "Owner", Kind: patch.ChannelEmail, Recipients: []string{"owner@alpha.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if ownMail.ClientID != e.a.ID || ownMail.Secret != "" {
		t.Errorf("owner's channel = %+v", ownMail)
	}

	tests := []struct {
		name  string
		ctx   context.Context
		in    server.ChannelInput
		kind  patch.Kind
		field string
	}{
		{"AuditorCannotCreate", auditor, server.ChannelInput{Name: "x", Kind: patch.ChannelEmail, Recipients: []string{"a@msp.example"}}, patch.KindForbidden, ""},
		{"OwnerNotMSPWide", e.ownA, server.ChannelInput{ClientID: "", Name: "x", Kind: patch.ChannelEmail, Recipients: []string{"a@alpha.example"}}, 0, ""},
		{"OwnerNotOtherClient", e.ownA, server.ChannelInput{ClientID: e.b.ID, Name: "x", Kind: patch.ChannelEmail, Recipients: []string{"a@alpha.example"}}, patch.KindForbidden, ""},
		{"MetadataURLRefused", tech, server.ChannelInput{Name: "x", Kind: patch.ChannelWebhook, URL: "https://169.254.169.254/latest"}, patch.KindInvalid, "url"},
		{"PlainHTTPRefused", tech, server.ChannelInput{Name: "x", Kind: patch.ChannelWebhook, URL: "http://psa.example.com/h"}, patch.KindInvalid, "url"},
		{"UnknownKind", tech, server.ChannelInput{Name: "x", Kind: "sms"}, patch.KindInvalid, "kind"},
		{"DuplicateName", tech, server.ChannelInput{Name: "psa", Kind: patch.ChannelEmail, Recipients: []string{"a@msp.example"}}, patch.KindConflict, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := e.srv.CreateChannel(tt.ctx, tt.in)
			if tt.kind == 0 {
				// The owner's "MSP-wide" channel became their client's.
				if err != nil || ch.ClientID != e.a.ID {
					t.Errorf("CreateChannel = %+v, %v", ch, err)
				}
				return
			}
			if patch.ErrorKind(err) != tt.kind || patch.ErrorField(err) != tt.field {
				t.Errorf("CreateChannel = %v (kind %v field %q), want kind %v field %q", err, patch.ErrorKind(err), patch.ErrorField(err), tt.kind, tt.field)
			}
		})
	}

	t.Run("OwnersManageOnlyTheirs", func(t *testing.T) {
		for _, ctx := range []context.Context{e.ownA, e.ownB} {
			if _, err := e.srv.UpdateChannel(ctx, msp.ID, server.ChannelChange{Name: patchtest.Ptr("mine")}); patch.ErrorKind(err) != patch.KindNotFound {
				t.Errorf("owner updates the MSP channel: %v", err)
			}
			if _, err := e.srv.TestChannel(ctx, msp.ID); patch.ErrorKind(err) != patch.KindNotFound {
				t.Errorf("owner tests the MSP channel: %v", err)
			}
		}
		if err := e.srv.DeleteChannel(e.ownB, ownMail.ID); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("B's owner deletes A's channel: %v", err)
		}
		if _, err := e.srv.UpdateChannel(auditor, ownMail.ID, server.ChannelChange{Enabled: patchtest.Ptr(false)}); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("auditor disables a channel: %v", err)
		}
		if _, err := e.srv.UpdateChannel(e.ownA, ownMail.ID, server.ChannelChange{Recipients: &[]string{"owner@alpha.example", "it@alpha.example"}}); err != nil {
			t.Errorf("A's owner changes A's channel: %v", err)
		}
		cs, n, err := e.srv.Channels(e.ownB, patch.ChannelFilter{})
		if err != nil || n != 0 {
			t.Errorf("B's owner lists %d channels %v (%v)", n, cs, err)
		}
	})
	t.Run("RotateSecret", func(t *testing.T) {
		if _, err := e.srv.UpdateChannel(tech, ownMail.ID, server.ChannelChange{RotateSecret: true}); patch.ErrorField(err) != "rotate_secret" {
			t.Errorf("rotating an e-mail channel's secret: %v", err)
		}
		rot, err := e.srv.UpdateChannel(tech, msp.ID, server.ChannelChange{RotateSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == "" || rot.Secret == msp.Secret || rot.SecretHint == msp.SecretHint {
			t.Fatalf("rotated = %+v", rot)
		}
		// The test notification is signed with the new secret only.
		d, err := e.srv.TestChannel(tech, msp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != patch.DeliveryFailed || d.LastStatus != http.StatusUnauthorized || rc.rejected != 1 {
			t.Errorf("a receiver with the old secret accepted: %+v", d)
		}
		rc.mu.Lock()
		rc.secret = rot.Secret
		rc.mu.Unlock()
		if d, err := e.srv.TestChannel(tech, msp.ID); err != nil || d.State != patch.DeliveryDelivered {
			t.Errorf("with the new secret: %+v, %v", d, err)
		}
	})
	t.Run("Kinds", func(t *testing.T) {
		if got, _ := e.srv.ChannelKinds(auditor); !slices.Equal(got, []patch.ChannelKind{patch.ChannelWebhook, patch.ChannelEmail}) {
			t.Errorf("ChannelKinds = %v", got)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := e.srv.DeleteChannel(e.ownA, ownMail.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Channel(e.admin, ownMail.ID); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("deleted channel: %v", err)
		}
	})
}

func TestChannelWithoutSMTP(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{Senders: map[patch.ChannelKind]notify.Sender{patch.ChannelWebhook: webhook.New(webhook.Options{})}})
	_, err := e.srv.CreateChannel(e.admin, server.ChannelInput{Name: "x", Kind: patch.ChannelEmail, Recipients: []string{"a@msp.example"}})
	if patch.ErrorField(err) != "kind" || !strings.Contains(patch.ErrorMessage(err), "SMTP") {
		t.Errorf("an e-mail channel without SMTP: %v", err)
	}
	// The production guard refuses the tests' loopback receivers.
	_, err = e.srv.CreateChannel(e.admin, server.ChannelInput{Name: "x", Kind: patch.ChannelWebhook, URL: "http://127.0.0.1:9/h"})
	if patch.ErrorField(err) != "url" {
		t.Errorf("a loopback webhook with the default guard: %v", err)
	}
	if got, _ := e.srv.ChannelKinds(e.ownA); !slices.Equal(got, []patch.ChannelKind{patch.ChannelWebhook}) {
		t.Errorf("ChannelKinds = %v", got)
	}
}

func TestNotifierDelivers(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{})
	rc := newReceiver(t, e.clock)
	psa := e.webhook(t, e.admin, rc, server.ChannelInput{Filter: patch.EventFilter{MinSeverity: patch.AlertCritical}})
	if _, err := e.srv.CreateChannel(e.ownA, server.ChannelInput{Name: "Owner", Kind: patch.ChannelEmail, Recipients: []string{"owner@alpha.example"}}); err != nil {
		t.Fatal(err)
	}

	e.raise(t, e.a.ID, patch.AlertCritical) // to the PSA and A's owner
	e.raise(t, e.b.ID, patch.AlertWarning)  // below the PSA's minimum, and B has no channel
	p := e.pass(t)
	if p.Routed != 2 || p.Delivered != 2 || p.Retrying+p.Failed+p.Lost != 0 {
		t.Errorf("pass = %+v, want 2 routed, 2 delivered", p)
	}
	got := rc.received()
	if len(got) != 1 || rc.rejected != 0 {
		t.Fatalf("webhook receiver got %d verified requests and %d that did not verify, want 1 and 0", len(got), rc.rejected)
	}
	pl := got[0].payload
	if pl.Type != patch.EventAlertRaised || pl.Data.ClientID != e.a.ID || pl.Data.ClientName != "Alpha Clinic" || pl.Data.Severity != patch.AlertCritical ||
		pl.Data.Alert == nil || pl.Data.Alert.Details["hostname"] != "alph-ws-1" || string(pl.Data.DeliveryID) != got[0].id {
		t.Errorf("payload = %+v", pl)
	}
	mails := e.relay.Messages()
	if len(mails) != 1 || mails[0].To[0] != "owner@alpha.example" {
		t.Fatalf("relay got %+v", mails)
	}
	msg, err := mails[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || subject != "[Patchring] CRITICAL Alert: Alpha Clinic – alph-ws-1 offline" {
		t.Errorf("subject = %q (%v)", subject, err)
	}
	ds, n, err := e.srv.Deliveries(e.admin, patch.DeliveryFilter{ChannelID: &psa.ID})
	if err != nil || n != 1 || ds[0].State != patch.DeliveryDelivered || ds[0].Attempts != 1 {
		t.Errorf("PSA deliveries = %+v (%v)", ds, err)
	}
	// Nothing more to do.
	if p := e.pass(t); p != (server.NotifierPass{}) {
		t.Errorf("idle pass = %+v", p)
	}
	// A's owner sees their mail delivery, not the PSA's.
	if ds, n, _ := e.srv.Deliveries(e.ownA, patch.DeliveryFilter{}); n != 1 || ds[0].ChannelID == psa.ID {
		t.Errorf("A's owner sees %+v", ds)
	}
}

func TestNotifierRetriesThenSucceeds(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{Retry: notify.Retry{Base: time.Minute, Max: time.Hour, Attempts: 5}})
	rc := newReceiver(t, e.clock, 500, 503, 204)
	ch := e.webhook(t, e.admin, rc, server.ChannelInput{})
	e.raise(t, e.a.ID, patch.AlertCritical)

	if p := e.pass(t); p.Retrying != 1 {
		t.Fatalf("first pass = %+v, want a retry", p)
	}
	ds, _, _ := e.srv.Deliveries(e.admin, patch.DeliveryFilter{ChannelID: &ch.ID})
	d := ds[0]
	if d.State != patch.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 || d.NextAttemptAt.Sub(e.clock.Now()) < 48*time.Second {
		t.Fatalf("after a 500: %+v", d)
	}
	// Not before it is due.
	if p := e.pass(t); p != (server.NotifierPass{}) {
		t.Errorf("pass before the retry is due = %+v", p)
	}
	e.clock.Set(d.NextAttemptAt)
	if p := e.pass(t); p.Retrying != 1 {
		t.Fatalf("second pass = %+v, want another retry (503)", p)
	}
	ds, _, _ = e.srv.Deliveries(e.admin, patch.DeliveryFilter{ChannelID: &ch.ID})
	if wait := ds[0].NextAttemptAt.Sub(e.clock.Now()); wait < 96*time.Second || wait > 144*time.Second {
		t.Errorf("second backoff = %v, want about 2 minutes", wait)
	}
	e.clock.Set(ds[0].NextAttemptAt)
	if p := e.pass(t); p.Delivered != 1 {
		t.Fatalf("third pass = %+v, want delivered", p)
	}
	ds, _, _ = e.srv.Deliveries(e.admin, patch.DeliveryFilter{ChannelID: &ch.ID})
	if ds[0].State != patch.DeliveryDelivered || ds[0].Attempts != 3 || ds[0].DeliveredAt.IsZero() {
		t.Errorf("delivered = %+v", ds[0])
	}
	// Every attempt carried the same idempotency key.
	got := rc.received()
	if len(got) != 3 || got[0].id != got[1].id || got[1].id != got[2].id || got[0].id != string(ds[0].ID) {
		t.Errorf("attempts = %+v, want 3 with the delivery's id", got)
	}
}

func TestNotifierGivesUp(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{Retry: notify.Retry{Base: time.Minute, Max: time.Hour, Attempts: 3}})
	rc := newReceiver(t, e.clock, 500, 500, 500, 500, 500)
	ch := e.webhook(t, e.admin, rc, server.ChannelInput{})
	e.raise(t, e.a.ID, patch.AlertCritical)
	for i := range 3 {
		p := e.pass(t)
		want := server.NotifierPass{Retrying: 1}
		if i == 0 {
			want.Routed = 1
		}
		if i == 2 {
			want.Retrying, want.Failed = 0, 1
		}
		if p.Routed != want.Routed || p.Retrying != want.Retrying || p.Failed != want.Failed {
			t.Fatalf("pass %d = %+v, want %+v", i+1, p, want)
		}
		e.clock.Advance(2 * time.Hour)
	}
	ds, _, _ := e.srv.Deliveries(e.admin, patch.DeliveryFilter{ChannelID: &ch.ID})
	if d := ds[0]; d.State != patch.DeliveryFailed || d.Attempts != 3 || !strings.Contains(d.LastError, "gave up after 3 attempts") || d.LastStatus != 500 {
		t.Errorf("given up = %+v", d)
	}
	if p := e.pass(t); p.Failed+p.Retrying+p.Delivered != 0 {
		t.Errorf("a given-up delivery was tried again: %+v", p)
	}
	if n := len(rc.received()); n != 3 {
		t.Errorf("receiver got %d attempts, want 3", n)
	}
	// A refused destination gives up at once: the URL is fine by the
	// server's policy when created, but the receiver is gone for good.
	rc2 := newReceiver(t, e.clock, http.StatusGone)
	e.webhook(t, e.admin, rc2, server.ChannelInput{Name: "Gone", Filter: patch.EventFilter{ClientIDs: []patch.ClientID{e.b.ID}}})
	e.raise(t, e.b.ID, patch.AlertCritical)
	// The first channel gets B's event too and is answered 500 (retried);
	// the 410 is given up at once.
	if p := e.pass(t); p.Routed != 1 || p.Failed != 1 || p.Retrying != 1 {
		t.Errorf("pass = %+v, want 1 routed, 1 failed (410) and 1 retrying (500)", p)
	}
	ds, _, _ = e.srv.Deliveries(e.admin, patch.DeliveryFilter{ClientID: &e.b.ID, State: patchtest.Ptr(patch.DeliveryFailed)})
	if len(ds) != 1 || ds[0].LastStatus != http.StatusGone || ds[0].Attempts != 1 {
		t.Errorf("410 deliveries = %+v, want one given up after one attempt", ds)
	}
}

func TestNotifierRestartLosesNothing(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{Batch: 3, Lease: time.Minute})
	rc := newReceiver(t, e.clock)
	e.webhook(t, e.admin, rc, server.ChannelInput{})
	var hosts []*patch.Asset
	for i := range 8 {
		h := patchtest.Asset(e.a.ID, fmt.Sprintf("ws-%02d", i))
		if err := e.db.CreateAsset(e.admin, h); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	for _, h := range hosts[:5] {
		e.raiseOn(t, h)
	}
	// The first server delivers a batch, then claims another and dies
	// before it can send (the claim is made but nothing is recorded).
	if p := e.pass(t); p.Routed != 5 || p.Delivered != 3 {
		t.Fatalf("first pass = %+v", p)
	}
	jobs, err := e.db.ClaimDeliveries(patch.NewContextWithActor(t.Context(), patch.SystemActor("server 1")), 3, time.Minute)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("server 1 claimed %d (%v)", len(jobs), err)
	}
	// Alerts raised while no server delivers wait in the outbox.
	for _, h := range hosts[5:] {
		e.raiseOn(t, h)
	}
	e.db.Close()

	e.open(t) // a new server process on the same database
	e.clock.Advance(30 * time.Second)
	p := e.pass(t)
	if p.Routed != 3 || p.Delivered != 3 {
		t.Errorf("after restart, before the lease ends: %+v, want the 3 new events delivered", p)
	}
	e.clock.Advance(31 * time.Second) // server 1's lease has run out
	if p := e.pass(t); p.Delivered != 2 {
		t.Errorf("after the lease: %+v, want server 1's 2 deliveries", p)
	}
	seen := map[string]bool{}
	for _, r := range rc.received() {
		seen[r.payload.Data.Alert.SubjectID] = true
	}
	for _, h := range hosts {
		if !seen[string(h.ID)] {
			t.Errorf("the alert of %s was never delivered", h.Hostname)
		}
	}
	ds, n, _ := e.srv.Deliveries(e.admin, patch.DeliveryFilter{State: patchtest.Ptr(patch.DeliveryDelivered)})
	if n != 8 {
		t.Errorf("%d delivered, want 8", n)
	}
	for _, d := range ds {
		if d.Attempts > 2 {
			t.Errorf("delivery %s took %d attempts", d.ID, d.Attempts)
		}
	}
}

func TestTestChannel(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{})
	rc := newReceiver(t, e.clock, 500)
	ch := e.webhook(t, e.ownA, rc, server.ChannelInput{Enabled: patchtest.Ptr(false)})
	d, err := e.srv.TestChannel(e.ownA, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != patch.DeliveryFailed || d.LastStatus != 500 || d.EventType != patch.EventTest {
		t.Errorf("test against a failing receiver = %+v", d)
	}
	d, err = e.srv.TestChannel(e.ownA, ch.ID)
	if err != nil || d.State != patch.DeliveryDelivered {
		t.Fatalf("second test = %+v, %v", d, err)
	}
	got := rc.received()
	if len(got) != 2 || got[1].payload.Type != patch.EventTest || got[1].payload.Data.ClientName != "Alpha Clinic" || got[1].id != string(d.ID) {
		t.Errorf("received = %+v", got)
	}
	ds, n, err := e.srv.Deliveries(e.ownA, patch.DeliveryFilter{ChannelID: &ch.ID})
	if err != nil || n != 2 || ds[0].ID != d.ID {
		t.Errorf("recent deliveries = %+v (%v)", ds, err)
	}
	mail, err := e.srv.CreateChannel(e.admin, server.ChannelInput{Name: "NOC", Kind: patch.ChannelEmail, Recipients: []string{"noc@msp.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := e.srv.TestChannel(e.admin, mail.ID); err != nil || d.State != patch.DeliveryDelivered {
		t.Errorf("e-mail test = %+v, %v", d, err)
	}
	if ms := e.relay.Messages(); len(ms) != 1 || ms[0].To[0] != "noc@msp.example" {
		t.Errorf("relay got %+v", ms)
	}
	if _, n, _ := e.srv.Deliveries(e.ownA, patch.DeliveryFilter{ChannelID: &mail.ID}); n != 0 {
		t.Errorf("A's owner sees %d deliveries of the MSP's channel", n)
	}
}

func TestNotifySecretKeys(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{})
	rc := newReceiver(t, e.clock)
	dbSealed := e.webhook(t, e.admin, rc, server.ChannelInput{Name: "Sealed by the database key"})
	// An external key: secrets sealed by the database key still open.
	ext := []byte(strings.Repeat("k", 32))
	e.opts.SecretKey = ext
	e.open(t)
	if d, err := e.srv.TestChannel(e.admin, dbSealed.ID); err != nil || d.State != patch.DeliveryDelivered {
		t.Fatalf("database-sealed secret with an external key configured: %+v, %v", d, err)
	}
	rc2 := newReceiver(t, e.clock)
	extSealed := e.webhook(t, e.admin, rc2, server.ChannelInput{Name: "Sealed by the key file"})
	stored, _ := e.db.FindChannelByID(e.admin, extSealed.ID)
	if want := notify.ExternalKey(ext).ID; !strings.HasPrefix(stored.SealedSecret, "v1:"+want+":") {
		t.Errorf("sealed %q, want under the external key %s", stored.SealedSecret, want)
	}
	// Another key file: the secret cannot be opened, and the delivery
	// says so instead of sending unsigned.
	e.opts.SecretKey = []byte(strings.Repeat("x", 32))
	e.open(t)
	d, err := e.srv.TestChannel(e.admin, extSealed.ID)
	if err != nil || d.State != patch.DeliveryFailed || !strings.Contains(d.LastError, "cannot be opened") {
		t.Errorf("with the wrong key file: %+v, %v", d, err)
	}
	if n := len(rc2.received()); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
	if err := e.srv.EnsureNotifyKey(t.Context()); err != nil {
		t.Errorf("EnsureNotifyKey: %v", err)
	}
}

func TestRunNotifier(t *testing.T) {
	e := newNotifyEnv(t, server.NotifyOptions{Interval: 10 * time.Millisecond})
	delivered := make(chan struct{}, 1)
	rc := newReceiver(t, e.clock)
	rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.ServeHTTP(w, r)
		select {
		case delivered <- struct{}{}:
		default:
		}
	})
	e.webhook(t, e.admin, rc, server.ChannelInput{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.srv.RunNotifier(ctx) }()
	e.raise(t, e.a.ID, patch.AlertCritical) // while the loop runs
	select {
	case <-delivered:
	case <-time.After(20 * time.Second):
		t.Fatal("RunNotifier delivered nothing")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RunNotifier = %v, want context.Canceled", err)
	}
}
