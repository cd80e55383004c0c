package server_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/postgres"
	"github.com/patchring/patchring/internal/postgres/postgrestest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/webhook"
)

// TestNotifierTwoServersOnePostgres runs two notifiers, each with its own
// connection pool, on one PostgreSQL database at the same time: every
// event is routed once and every delivery sent once; when one server dies
// holding claims, the other sends them after the lease.
func TestNotifierTwoServersOnePostgres(t *testing.T) {
	dsn := postgrestest.NewSchema(t)
	open := func() *sqlstore.DB {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	if _, err := dbA.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC))
	dbA.Now, dbB.Now = clock.Now, clock.Now
	newServer := func(db *sqlstore.DB) *server.Server {
		snd := webhook.New(webhook.Options{Guard: webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, Now: clock.Now})
		return server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db, Keys: db,
			Alerts: db, Monitors: db, Channels: db, Notifications: db}, server.Options{Now: clock.Now, Notify: server.NotifyOptions{
			Batch: 4, Lease: time.Minute, Senders: map[patch.ChannelKind]notify.Sender{patch.ChannelWebhook: snd}}})
	}
	a, b := newServer(dbA), newServer(dbB)
	admin := patchtest.AdminContext(t.Context())
	c, err := a.CreateClient(admin, server.ClientInput{Name: "Alpha Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, clock)
	ch, err := b.CreateChannel(admin, server.ChannelInput{Name: "PSA", Kind: patch.ChannelWebhook, URL: rc.srv.URL + "/h"})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = ch.Secret // sealed by b, opened by a: the servers share the database key
	rc.mu.Unlock()

	raise := func(n, from int) {
		for i := range n {
			h := patchtest.Asset(c.ID, fmt.Sprintf("ws-%02d", from+i))
			if err := dbA.CreateAsset(admin, h); err != nil {
				t.Fatal(err)
			}
			st := patch.MonitorState{AssetID: h.ID, ClientID: c.ID, Kind: patch.MonitorAgentOffline, Status: patch.MonitorCritical, Since: clock.Now(), EvaluatedAt: clock.Now()}
			if _, err := dbB.SaveMonitors(admin, h.ID, []patch.MonitorChange{{State: st, Action: patch.AlertRaise,
				Alert: &patch.Alert{Severity: patch.AlertCritical, Message: h.Hostname + " offline"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raise(30, 0)

	// Both servers pass until there is nothing left, at the same time.
	var (
		mu     sync.Mutex
		totals = map[string]server.NotifierPass{}
		wg     sync.WaitGroup
	)
	for name, s := range map[string]*server.Server{"a": a, "b": b} {
		wg.Go(func() {
			for range 40 {
				p, err := s.DeliverNotifications(t.Context())
				if err != nil {
					t.Errorf("server %s: %v", name, err)
					return
				}
				mu.Lock()
				tot := totals[name]
				tot.Routed, tot.Delivered, tot.Lost = tot.Routed+p.Routed, tot.Delivered+p.Delivered, tot.Lost+p.Lost
				totals[name] = tot
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if routed := totals["a"].Routed + totals["b"].Routed; routed != 30 {
		t.Errorf("routed %d events in all, want 30 (%v)", routed, totals)
	}
	if sent := totals["a"].Delivered + totals["b"].Delivered; sent != 30 {
		t.Errorf("delivered %d in all, want 30 (%v)", sent, totals)
	}
	ids := map[string]int{}
	for _, r := range rc.received() {
		ids[r.id]++
	}
	if len(ids) != 30 {
		t.Errorf("receiver got %d distinct deliveries, want 30", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("delivery %s sent %d times", id, n)
		}
	}
	t.Logf("server a delivered %d, server b %d", totals["a"].Delivered, totals["b"].Delivered)

	// Server a claims and dies; b sends a's claims once the lease is over.
	raise(3, 30)
	if _, err := a.DeliverNotifications(t.Context()); err != nil { // routes and delivers; nothing left to claim
		t.Fatal(err)
	}
	raise(2, 33)
	if _, err := dbA.RouteNotifications(patch.NewContextWithActor(t.Context(), patch.SystemActor("a")), 10, notify.Match); err != nil {
		t.Fatal(err)
	}
	claimed, err := dbA.ClaimDeliveries(patch.NewContextWithActor(t.Context(), patch.SystemActor("a")), 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("a claimed %d (%v)", len(claimed), err)
	}
	if p, _ := b.DeliverNotifications(t.Context()); p.Delivered != 0 {
		t.Errorf("b sent %d deliveries a holds", p.Delivered)
	}
	clock.Advance(time.Minute + time.Second)
	if p, _ := b.DeliverNotifications(t.Context()); p.Delivered != 2 {
		t.Errorf("after a's lease b delivered %d, want 2", p.Delivered)
	}
	if n := len(rc.received()); n != 35 {
		t.Errorf("receiver got %d requests, want 35", n)
	}
}
