package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testNotifications(t *testing.T, open Opener) {
	t.Run("Channels", func(t *testing.T) { testChannels(t, open) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, open) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, open) })
}

func webhookChannel(client patch.ClientID, name string) *patch.Channel {
	return &patch.Channel{ID: patch.ChannelID(patch.NewID(patch.PrefixChannel, time.Now())), ClientID: client, Name: name, Kind: patch.ChannelWebhook,
		Enabled: true, URL: "https://psa.example.com/hooks/" + strings.ToLower(strings.ReplaceAll(name, " ", "-")), SecretHint: "whsec_abcdef",
		SealedSecret: "v1:k1:c2VhbGVk"}
}

func emailChannel(client patch.ClientID, name string, to ...string) *patch.Channel {
	return &patch.Channel{ID: patch.ChannelID(patch.NewID(patch.PrefixChannel, time.Now())), ClientID: client, Name: name, Kind: patch.ChannelEmail,
		Enabled: true, Recipients: to}
}

func testChannels(t *testing.T, open Opener) {
	f := newFixture(t, open)
	msp := webhookChannel("", "PSA")
	must(t, f.db.CreateChannel(f.admin, msp))
	ownA := emailChannel(f.a.ID, "Owner mail", "owner@alpha.example")
	ownA.Filter = patch.EventFilter{MinSeverity: patch.AlertCritical}
	must(t, f.db.CreateChannel(f.ownA, ownA))
	chB := emailChannel(f.b.ID, "Owner mail", "owner@beta.example") // the same name under another owner is fine
	must(t, f.db.CreateChannel(f.admin, chB))

	t.Run("Read", func(t *testing.T) {
		got, err := f.db.FindChannelByID(f.admin, ownA.ID)
		must(t, err)
		if got.Name != "Owner mail" || got.Filter.MinSeverity != patch.AlertCritical || len(got.Recipients) != 1 || got.CreatedAt.IsZero() {
			t.Errorf("FindChannelByID = %+v", got)
		}
		got, err = f.db.FindChannelByID(f.admin, msp.ID)
		must(t, err)
		if got.SealedSecret != msp.SealedSecret || got.SecretHint != "whsec_abcdef" || got.URL != msp.URL {
			t.Errorf("webhook channel = %+v", got)
		}
		all, n, err := f.db.FindChannels(f.admin, patch.ChannelFilter{})
		must(t, err)
		if n != 3 || all[0].ID != msp.ID {
			t.Errorf("admin sees %d channels, MSP-wide first: %v", n, all)
		}
		if _, n, _ := f.db.FindChannels(f.admin, patch.ChannelFilter{MSPOnly: true}); n != 1 {
			t.Errorf("MSP-only: %d", n)
		}
		if _, n, _ := f.db.FindChannels(f.admin, patch.ChannelFilter{Kind: patchtest.Ptr(patch.ChannelEmail), ClientID: &f.b.ID}); n != 1 {
			t.Errorf("B's e-mail channels: %d", n)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		cs, n, err := f.db.FindChannels(f.ownA, patch.ChannelFilter{})
		must(t, err)
		if n != 1 || cs[0].ID != ownA.ID {
			t.Errorf("A's owner sees %v: want only A's channel, never the MSP's or B's", cs)
		}
		if _, n, _ := f.db.FindChannels(f.ownA, patch.ChannelFilter{ClientID: &f.b.ID}); n != 0 {
			t.Errorf("A's owner lists %d of B's channels", n)
		}
		for _, id := range []patch.ChannelID{msp.ID, chB.ID} {
			_, err := f.db.FindChannelByID(f.ownA, id)
			wantKind(t, err, patch.KindNotFound)
			_, err = f.db.UpdateChannel(f.ownA, id, patch.ChannelUpdate{Name: patchtest.Ptr("mine")})
			wantKind(t, err, patch.KindNotFound)
			wantKind(t, f.db.DeleteChannel(f.ownA, id), patch.KindNotFound)
		}
		wantKind(t, f.db.CreateChannel(f.ownA, emailChannel(f.b.ID, "Sneaky", "x@alpha.example")), patch.KindNotFound)
		wantKind(t, f.db.CreateChannel(f.ownA, webhookChannel("", "Sneaky")), patch.KindForbidden)
	})
	t.Run("Invalid", func(t *testing.T) {
		tests := []struct {
			name  string
			ch    func() *patch.Channel
			kind  patch.Kind
			field string
		}{
			{"DuplicateName", func() *patch.Channel { return webhookChannel("", "psa") }, patch.KindConflict, "name"},
			{"NoName", func() *patch.Channel { c := webhookChannel("", "x"); c.Name = " "; return c }, patch.KindInvalid, "name"},
			{"NoURL", func() *patch.Channel { c := webhookChannel("", "x"); c.URL = ""; return c }, patch.KindInvalid, "url"},
			{"URLWithCredentials", func() *patch.Channel { c := webhookChannel("", "x"); c.URL = "https://u:p@psa.example.com/"; return c }, patch.KindInvalid, "url"},
			{"WebhookWithRecipients", func() *patch.Channel { c := webhookChannel("", "x"); c.Recipients = []string{"a@b.example"}; return c }, patch.KindInvalid, "recipients"},
			{"NoRecipients", func() *patch.Channel { return emailChannel("", "x") }, patch.KindInvalid, "recipients"},
			{"BadRecipient", func() *patch.Channel { return emailChannel("", "x", "ok@alpha.example", "not mail") }, patch.KindInvalid, "recipients[1]"},
			{"RepeatedRecipient", func() *patch.Channel { return emailChannel("", "x", "a@alpha.example", "a@alpha.example") }, patch.KindInvalid, "recipients[1]"},
			{"BadKind", func() *patch.Channel { c := emailChannel("", "x", "a@alpha.example"); c.Kind = "sms"; return c }, patch.KindInvalid, "kind"},
			{"BadEvent", func() *patch.Channel {
				c := emailChannel("", "x", "a@alpha.example")
				c.Filter.Events = []patch.EventType{"alert.raised", "alert.exploded"}
				return c
			}, patch.KindInvalid, "filter.events[1]"},
			{"BadSeverity", func() *patch.Channel {
				c := emailChannel("", "x", "a@alpha.example")
				c.Filter.MinSeverity = "urgent"
				return c
			}, patch.KindInvalid, "filter.min_severity"},
			{"UnknownFilterClient", func() *patch.Channel {
				c := emailChannel("", "x", "a@alpha.example")
				c.Filter.ClientIDs = []patch.ClientID{f.a.ID, "cli_nope"}
				return c
			}, patch.KindInvalid, "filter.client_ids[1]"},
			{"ClientFilterOnClientChannel", func() *patch.Channel {
				c := emailChannel(f.a.ID, "x", "a@alpha.example")
				c.Filter.ClientIDs = []patch.ClientID{f.a.ID}
				return c
			}, patch.KindInvalid, "filter.client_ids"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantField(t, f.db.CreateChannel(f.admin, tt.ch()), tt.kind, tt.field)
			})
		}
		if _, n, _ := f.db.FindChannels(f.admin, patch.ChannelFilter{}); n != 3 {
			t.Errorf("%d channels after refused creates, want 3", n)
		}
	})
	t.Run("Update", func(t *testing.T) {
		upd, err := f.db.UpdateChannel(f.ownA, ownA.ID, patch.ChannelUpdate{Recipients: &[]string{"owner@alpha.example", "it@alpha.example"},
			Filter: &patch.EventFilter{Kinds: []string{"updates_failed"}}})
		must(t, err)
		if len(upd.Recipients) != 2 || upd.Filter.MinSeverity != "" || upd.Filter.Kinds[0] != "updates_failed" || upd.Kind != patch.ChannelEmail || upd.ClientID != f.a.ID {
			t.Errorf("updated = %+v", upd)
		}
		_, err = f.db.UpdateChannel(f.admin, ownA.ID, patch.ChannelUpdate{URL: patchtest.Ptr("https://x.example/")})
		wantField(t, err, patch.KindInvalid, "url")
		_, err = f.db.UpdateChannel(f.admin, chB.ID, patch.ChannelUpdate{Name: patchtest.Ptr("OWNER MAIL")})
		must(t, err) // B's own, renamed in case only
		_, err = f.db.UpdateChannel(f.admin, ownA.ID, patch.ChannelUpdate{Name: patchtest.Ptr("PSA")})
		must(t, err) // A's channel may share the MSP channel's name: different owners
		rot, err := f.db.UpdateChannel(f.admin, msp.ID, patch.ChannelUpdate{SealedSecret: patchtest.Ptr("v1:k1:bmV3"), SecretHint: patchtest.Ptr("whsec_zzzzzz")})
		must(t, err)
		if rot.SealedSecret != "v1:k1:bmV3" || rot.SecretHint != "whsec_zzzzzz" {
			t.Errorf("rotated = %+v", rot)
		}
	})
	t.Run("Audit", func(t *testing.T) {
		for action, want := range map[string]int{"channel.create": 3, "channel.update": 4} {
			es, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: &action})
			must(t, err)
			if n != want {
				t.Errorf("%d %s entries, want %d", n, action, want)
			}
			for _, e := range es {
				if strings.Contains(string(e.After), "v1:k1:") || strings.Contains(string(e.Before), "v1:k1:") {
					t.Errorf("%s entry shows the sealed secret: %s", action, e.After)
				}
			}
		}
		if _, n, _ := f.db.FindAuditEntries(f.ownA, patch.AuditFilter{EntityType: patchtest.Ptr("notification_channel")}); n != 3 {
			t.Errorf("A's owner sees %d channel audit entries, want the 3 of their channel", n)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		must(t, f.db.DeleteChannel(f.ownA, ownA.ID))
		_, err := f.db.FindChannelByID(f.admin, ownA.ID)
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.DeleteChannel(f.admin, ownA.ID), patch.KindNotFound)
	})
}

// outboxFixture has an asset of each client, an MSP-wide channel that
// receives everything, and a channel for each client.
type outboxFixture struct {
	*rolloutFixture
	hostA, hostB *patch.Asset
	all, chA     *patch.Channel
	chB          *patch.Channel
	at           time.Time
	monitorA     patch.MonitorState
}

func newOutboxFixture(t *testing.T, open Opener) *outboxFixture {
	t.Helper()
	f := &outboxFixture{rolloutFixture: newRolloutFixture(t, open)}
	f.at = f.clock.Now()
	a, err := f.db.FindAssetByID(f.admin, f.asset)
	must(t, err)
	f.hostA, f.hostB = a, f.assetB
	f.all = webhookChannel("", "Everything")
	f.chA = emailChannel(f.a.ID, "A critical", "owner@alpha.example")
	f.chA.Filter.MinSeverity = patch.AlertCritical
	f.chB = emailChannel(f.b.ID, "B", "owner@beta.example")
	for _, ch := range []*patch.Channel{f.all, f.chA, f.chB} {
		must(t, f.db.CreateChannel(f.admin, ch))
	}
	return f
}

func (f *outboxFixture) route(t *testing.T) int {
	t.Helper()
	n, err := f.db.RouteNotifications(f.sys, 100, notify.Match)
	must(t, err)
	return n
}

func (f *outboxFixture) monitor(t *testing.T, asset *patch.Asset, status patch.MonitorStatus, action patch.AlertAction, sev, msg string) patch.MonitorState {
	t.Helper()
	st := monitorState(asset, patch.MonitorAgentOffline, status, f.clock.Now())
	if asset.ID == f.hostA.ID && f.monitorA.Version > 0 {
		st = f.monitorA
		st.Status = status
	}
	ch := patch.MonitorChange{State: st, Action: action}
	if action == patch.AlertRaise || action == patch.AlertEscalate {
		ch.Alert = &patch.Alert{Severity: sev, Message: msg, Details: map[string]string{"hostname": asset.Hostname}}
	}
	sts, err := f.db.SaveMonitors(f.admin, asset.ID, []patch.MonitorChange{ch})
	must(t, err)
	if asset.ID == f.hostA.ID {
		f.monitorA = *sts[0]
	}
	return *sts[0]
}

// deliveries lists the deliveries of a channel as "type/severity".
func (f *outboxFixture) deliveries(t *testing.T, ctx context.Context, ch *patch.Channel) []string {
	t.Helper()
	ds, _, err := f.db.FindDeliveries(ctx, patch.DeliveryFilter{ChannelID: &ch.ID, Limit: 1000})
	must(t, err)
	var out []string
	for _, d := range ds {
		out = append(out, string(d.EventType)+"/"+d.Severity)
	}
	slices.Sort(out)
	return out
}

func testOutbox(t *testing.T, open Opener) {
	f := newOutboxFixture(t, open)
	clientA, clientB := f.a.ID, f.b.ID

	// A warning alert for A, raised twice (de-duplicated), then escalated
	// to critical, updated at critical, and resolved.
	f.monitor(t, f.hostA, patch.MonitorWarning, patch.AlertRaise, patch.AlertWarning, "web-01 offline")
	f.monitor(t, f.hostA, patch.MonitorWarning, patch.AlertRaise, patch.AlertWarning, "web-01 offline")
	if n := f.route(t); n != 1 {
		t.Fatalf("routed %d events after a raise and a de-duplicated raise, want 1", n)
	}
	if n := f.route(t); n != 0 {
		t.Errorf("routed %d events again, want 0 (each event is routed once)", n)
	}
	f.clock.Advance(time.Hour)
	f.monitor(t, f.hostA, patch.MonitorCritical, patch.AlertEscalate, patch.AlertCritical, "web-01 offline for a week")
	f.clock.Advance(time.Hour)
	f.monitor(t, f.hostA, patch.MonitorCritical, patch.AlertEscalate, patch.AlertCritical, "web-01 offline for 8 days") // same severity: no event
	f.clock.Advance(time.Hour)
	f.monitor(t, f.hostA, patch.MonitorWarning, patch.AlertEscalate, patch.AlertWarning, "web-01 back to warning") // lower: no event
	f.clock.Advance(time.Hour)
	f.monitor(t, f.hostA, patch.MonitorCritical, patch.AlertEscalate, patch.AlertCritical, "web-01 critical again") // critical was notified: no event
	f.clock.Advance(time.Hour)
	f.monitor(t, f.hostA, patch.MonitorOK, patch.AlertResolve, "", "")
	f.monitor(t, f.hostB, patch.MonitorWarning, patch.AlertRaise, patch.AlertWarning, "law-pc-1 offline")

	// A ticket for A: opened by the scheduler, resolved by a person.
	lease, _, err := f.db.AcquireLease(f.sys, "rollout", "s", time.Minute)
	must(t, err)
	tk := &patch.Ticket{ID: patch.TicketID(patch.NewID(patch.PrefixTicket, f.clock.Now())), ClientID: clientA, Kind: patch.TicketCycleHalted,
		Title: "Patch cycle November halted in ring canary", CycleID: f.cycle.ID, Ring: "canary"}
	c := *f.cycle
	c.State, c.TicketID = patch.CycleHalted, tk.ID
	must(t, f.db.ApplyCycleStep(f.sys, patch.CycleStep{Lease: lease, Cycle: &c, Tickets: []*patch.Ticket{tk}}))
	_, err = f.db.ResolveTicket(f.admin, tk.ID, "rebuilt the canary VM")
	must(t, err)

	if n := f.route(t); n != 5 {
		t.Errorf("routed %d events, want 5 (escalated, resolved, B's raise, ticket opened and resolved)", n)
	}
	wantAll := []string{"alert.escalated/critical", "alert.raised/warning", "alert.raised/warning", "alert.resolved/critical",
		"ticket.opened/critical", "ticket.resolved/critical"}
	if got := f.deliveries(t, f.admin, f.all); !slices.Equal(got, wantAll) {
		t.Errorf("MSP channel deliveries = %v, want %v", got, wantAll)
	}
	wantA := []string{"alert.escalated/critical", "alert.resolved/critical", "ticket.opened/critical", "ticket.resolved/critical"}
	if got := f.deliveries(t, f.ownA, f.chA); !slices.Equal(got, wantA) {
		t.Errorf("A's critical channel deliveries = %v, want %v", got, wantA)
	}
	if got := f.deliveries(t, f.ownB, f.chB); !slices.Equal(got, []string{"alert.raised/warning"}) {
		t.Errorf("B's channel deliveries = %v, want only B's raise", got)
	}

	t.Run("Snapshot", func(t *testing.T) {
		jobs, err := f.db.ClaimDeliveries(f.sys, 100, time.Minute)
		must(t, err)
		var esc *patch.DeliveryJob
		for _, j := range jobs {
			if j.Channel.ID == f.all.ID && j.Event.Type == patch.EventAlertEscalated {
				esc = j
			}
		}
		if esc == nil {
			t.Fatalf("no escalated job among %d claimed", len(jobs))
		}
		ev := esc.Event
		if ev.ClientID != clientA || ev.ClientName != "Alpha Clinic" || ev.Alert == nil || ev.Alert.Message != "web-01 offline for a week" ||
			ev.Alert.Details["hostname"] != "web-01" || ev.Source != "alert" || ev.Kind != string(patch.MonitorAgentOffline) || ev.Summary != "web-01 offline for a week" {
			t.Errorf("escalated event = %+v (alert %+v): want the alert as it was then", ev, ev.Alert)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		// A's owner sees deliveries of A's channel only: not the MSP
		// channel's, even of A's own events, and nothing of B's.
		ds, n, err := f.db.FindDeliveries(f.ownA, patch.DeliveryFilter{})
		must(t, err)
		if n != len(wantA) {
			t.Errorf("A's owner sees %d deliveries, want %d", n, len(wantA))
		}
		for _, d := range ds {
			if d.ChannelID != f.chA.ID {
				t.Errorf("A's owner sees delivery %s of channel %s", d.ID, d.ChannelID)
			}
		}
		if _, n, _ := f.db.FindDeliveries(f.ownB, patch.DeliveryFilter{ChannelID: &f.chA.ID}); n != 0 {
			t.Errorf("B's owner sees %d of A's deliveries", n)
		}
		if _, n, _ := f.db.FindDeliveries(f.ownB, patch.DeliveryFilter{ClientID: &clientA}); n != 0 {
			t.Errorf("B's owner sees %d deliveries of A's events", n)
		}
		_, err = f.db.RouteNotifications(f.ownA, 10, notify.Match)
		wantKind(t, err, patch.KindForbidden)
		_, err = f.db.ClaimDeliveries(f.ownA, 10, time.Minute)
		wantKind(t, err, patch.KindForbidden)
		_, err = f.db.CompleteDelivery(f.ownA, "ndl_x", "c", patch.DeliveryOutcome{State: patch.DeliveryDelivered})
		wantKind(t, err, patch.KindForbidden)
		_, err = f.db.PruneNotifications(f.ownA, f.clock.Now())
		wantKind(t, err, patch.KindForbidden)
	})
	t.Run("DeleteClient", func(t *testing.T) {
		// B's rows go with B: its channel, its events' deliveries on the
		// MSP channel, its events.
		must(t, f.db.DeleteAsset(f.admin, f.hostB.ID))
		must(t, f.db.DeleteClient(f.admin, clientB))
		if _, n, _ := f.db.FindDeliveries(f.admin, patch.DeliveryFilter{ClientID: &clientB}); n != 0 {
			t.Errorf("%d deliveries of the deleted client remain", n)
		}
		if _, n, _ := f.db.FindChannels(f.admin, patch.ChannelFilter{ClientID: &clientB}); n != 0 {
			t.Errorf("%d channels of the deleted client remain", n)
		}
	})
}

func testDeliveries(t *testing.T, open Opener) {
	f := newOutboxFixture(t, open)
	f.monitor(t, f.hostA, patch.MonitorCritical, patch.AlertRaise, patch.AlertCritical, "web-01 offline")
	f.route(t)
	start := f.clock.Now()

	// Two deliveries are due: the MSP channel's and A's.
	jobs, err := f.db.ClaimDeliveries(f.sys, 100, 2*time.Minute)
	must(t, err)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d deliveries, want 2", len(jobs))
	}
	for _, j := range jobs {
		if j.Delivery.Attempts != 1 || j.Claim == "" || j.Delivery.State != patch.DeliveryPending || j.Event.Alert == nil {
			t.Errorf("claimed job = %+v %+v", j.Delivery, j)
		}
	}
	if again, _ := f.db.ClaimDeliveries(f.sys, 100, 2*time.Minute); len(again) != 0 {
		t.Errorf("claimed %d deliveries under lease again", len(again))
	}
	var mspJob, aJob *patch.DeliveryJob
	for _, j := range jobs {
		if j.Channel.ID == f.all.ID {
			mspJob = j
		} else {
			aJob = j
		}
	}

	// The MSP channel's receiver fails: retry in 30 s.
	d, err := f.db.CompleteDelivery(f.sys, mspJob.Delivery.ID, mspJob.Claim, patch.DeliveryOutcome{State: patch.DeliveryPending, RetryIn: 30 * time.Second,
		LastStatus: 500, LastError: "the receiver answered 500 \x00\xff"})
	must(t, err)
	if d.State != patch.DeliveryPending || d.LastStatus != 500 || !d.NextAttemptAt.Equal(start.Add(30*time.Second)) || !strings.HasPrefix(d.LastError, "the receiver answered 500") {
		t.Errorf("after a failure: %+v", d)
	}
	_, err = f.db.CompleteDelivery(f.sys, mspJob.Delivery.ID, mspJob.Claim, patch.DeliveryOutcome{State: patch.DeliveryDelivered})
	wantKind(t, err, patch.KindConflict) // the claim was used up

	// A's delivery: its server dies mid-send; after the lease another
	// claims it, and the first one's late answer is refused.
	f.clock.Advance(30 * time.Second)
	retry, err := f.db.ClaimDeliveries(f.sys, 100, 10*time.Minute)
	must(t, err)
	if len(retry) != 1 || retry[0].Delivery.ID != mspJob.Delivery.ID || retry[0].Delivery.Attempts != 2 {
		t.Fatalf("after 30 s claimed %v, want the MSP delivery's second attempt", retry)
	}
	f.clock.Advance(2 * time.Minute)
	taken, err := f.db.ClaimDeliveries(f.sys, 100, 2*time.Minute)
	must(t, err)
	if len(taken) != 1 || taken[0].Delivery.ID != aJob.Delivery.ID || taken[0].Delivery.Attempts != 2 || taken[0].Claim == aJob.Claim {
		t.Fatalf("after the lease claimed %v, want A's delivery again", taken)
	}
	_, err = f.db.CompleteDelivery(f.sys, aJob.Delivery.ID, aJob.Claim, patch.DeliveryOutcome{State: patch.DeliveryDelivered})
	wantKind(t, err, patch.KindConflict)
	d, err = f.db.CompleteDelivery(f.sys, aJob.Delivery.ID, taken[0].Claim, patch.DeliveryOutcome{State: patch.DeliveryDelivered, LastStatus: 250})
	must(t, err)
	if d.State != patch.DeliveryDelivered || !d.DeliveredAt.Equal(f.clock.Now()) || !d.NextAttemptAt.IsZero() {
		t.Errorf("delivered = %+v", d)
	}
	// The MSP delivery's second attempt fails for good: give it up.
	d, err = f.db.CompleteDelivery(f.sys, mspJob.Delivery.ID, retry[0].Claim, patch.DeliveryOutcome{State: patch.DeliveryFailed, LastError: "gave up"})
	must(t, err)
	if d.State != patch.DeliveryFailed || d.Attempts != 2 {
		t.Errorf("failed = %+v", d)
	}
	if more, _ := f.db.ClaimDeliveries(f.sys, 100, time.Minute); len(more) != 0 {
		t.Errorf("claimed %d finished deliveries", len(more))
	}

	t.Run("DisableCancelsPending", func(t *testing.T) {
		f.monitor(t, f.hostA, patch.MonitorOK, patch.AlertResolve, "", "")
		f.route(t)
		_, err := f.db.UpdateChannel(f.admin, f.chA.ID, patch.ChannelUpdate{Enabled: patchtest.Ptr(false)})
		must(t, err)
		jobs, err := f.db.ClaimDeliveries(f.sys, 100, time.Minute)
		must(t, err)
		if len(jobs) != 1 || jobs[0].Channel.ID != f.all.ID {
			t.Errorf("claimed %v, want only the MSP channel's resolve", jobs)
		}
		ds, _, err := f.db.FindDeliveries(f.admin, patch.DeliveryFilter{ChannelID: &f.chA.ID, State: patchtest.Ptr(patch.DeliveryCanceled)})
		must(t, err)
		if len(ds) != 1 || ds[0].EventType != patch.EventAlertResolved {
			t.Errorf("canceled deliveries of the disabled channel = %+v", ds)
		}
	})
	t.Run("TestDelivery", func(t *testing.T) {
		ch, err := f.db.FindChannelByID(f.admin, f.chA.ID)
		must(t, err)
		d := &patch.Delivery{ID: patch.DeliveryID(patch.NewID(patch.PrefixDelivery, f.clock.Now())), State: patch.DeliveryFailed, Attempts: 1,
			LastStatus: 550, LastError: "no such user"}
		ev := &patch.NotificationEvent{ClientID: ch.ClientID, Severity: patch.AlertInfo, Summary: "Test notification"}
		wantKind(t, f.db.RecordTestDelivery(f.ownB, ch, ev, d), patch.KindNotFound)
		must(t, f.db.RecordTestDelivery(f.ownA, ch, ev, d))
		ds, _, err := f.db.FindDeliveries(f.ownA, patch.DeliveryFilter{ChannelID: &ch.ID, Limit: 1})
		must(t, err)
		if len(ds) != 1 || ds[0].ID != d.ID || ds[0].EventType != patch.EventTest || ds[0].LastStatus != 550 || ds[0].State != patch.DeliveryFailed {
			t.Errorf("test delivery = %+v", ds)
		}
		if _, n, _ := f.db.FindAuditEntries(f.ownA, patch.AuditFilter{Action: patchtest.Ptr("channel.test")}); n != 1 {
			t.Errorf("%d channel.test audit entries", n)
		}
		if n := f.route(t); n != 0 {
			t.Errorf("a test event was routed (%d)", n)
		}
	})
	t.Run("Prune", func(t *testing.T) {
		f.clock.Advance(31 * 24 * time.Hour)
		// One new event stays: not routed yet.
		f.monitor(t, f.hostA, patch.MonitorCritical, patch.AlertRaise, patch.AlertCritical, "web-01 offline again")
		n, err := f.db.PruneNotifications(f.sys, f.clock.Now().Add(-30*24*time.Hour))
		must(t, err)
		// The pending MSP resolve keeps its event; everything else finished
		// goes: 4 deliveries (delivered, failed, canceled, test) and 2
		// events (the raise and the test).
		if n != 6 {
			t.Errorf("pruned %d rows, want 6", n)
		}
		ds, _, err := f.db.FindDeliveries(f.admin, patch.DeliveryFilter{})
		must(t, err)
		if len(ds) != 1 || ds[0].State != patch.DeliveryPending {
			t.Errorf("left %+v, want the pending delivery", ds)
		}
		if f.route(t) != 1 {
			t.Error("the new event was pruned")
		}
	})
	t.Run("OpenAlertOutlivesRetention", func(t *testing.T) {
		// B's warning alert stays open past the retention; its escalation
		// is still announced, because the open alert's events are kept.
		f.monitor(t, f.hostB, patch.MonitorWarning, patch.AlertRaise, patch.AlertWarning, "law-pc-1 offline")
		f.route(t)
		f.clock.Advance(time.Hour) // past the lease of the delivery claimed above
		jobs, err := f.db.ClaimDeliveries(f.sys, 100, time.Minute)
		must(t, err)
		for _, j := range jobs {
			_, err := f.db.CompleteDelivery(f.sys, j.Delivery.ID, j.Claim, patch.DeliveryOutcome{State: patch.DeliveryDelivered})
			must(t, err)
		}
		f.clock.Advance(40 * 24 * time.Hour)
		_, err = f.db.PruneNotifications(f.sys, f.clock.Now().Add(-30*24*time.Hour))
		must(t, err)
		st := monitorState(f.hostB, patch.MonitorAgentOffline, patch.MonitorCritical, f.clock.Now())
		cur, _, err := f.db.FindMonitorStates(f.admin, patch.MonitorFilter{AssetID: &f.hostB.ID})
		must(t, err)
		st.Version, st.AlertID = cur[0].Version, cur[0].AlertID
		_, err = f.db.SaveMonitors(f.admin, f.hostB.ID, []patch.MonitorChange{{State: st, Action: patch.AlertEscalate,
			Alert: &patch.Alert{Severity: patch.AlertCritical, Message: "law-pc-1 offline for 40 days"}}})
		must(t, err)
		if n := f.route(t); n != 1 {
			t.Fatalf("routed %d events after the escalation, want 1", n)
		}
		ds, _, err := f.db.FindDeliveries(f.admin, patch.DeliveryFilter{ChannelID: &f.all.ID, Limit: 1})
		must(t, err)
		if len(ds) != 1 || ds[0].EventType != patch.EventAlertEscalated || ds[0].Severity != patch.AlertCritical {
			t.Errorf("latest delivery = %+v, want the escalation", ds)
		}
	})
	t.Run("DeleteChannel", func(t *testing.T) {
		must(t, f.db.DeleteChannel(f.admin, f.all.ID))
		if _, n, _ := f.db.FindDeliveries(f.admin, patch.DeliveryFilter{ChannelID: &f.all.ID}); n != 0 {
			t.Errorf("%d deliveries of a deleted channel remain", n)
		}
	})
}

// testConcurrentClaims has several claimants (servers) race for due
// deliveries: each delivery is claimed exactly once.
func testConcurrentClaims(t *testing.T, open Opener) {
	f := newOutboxFixture(t, open)
	for i := range 20 {
		a := patchtest.Asset(f.a.ID, fmt.Sprintf("ws-%02d", i))
		must(t, f.db.CreateAsset(f.admin, a))
		st := monitorState(a, patch.MonitorAgentOffline, patch.MonitorCritical, f.at)
		_, err := f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: st, Action: patch.AlertRaise,
			Alert: &patch.Alert{Severity: patch.AlertCritical, Message: a.Hostname + " offline"}}})
		must(t, err)
	}
	if n := f.route(t); n != 20 {
		t.Fatalf("routed %d, want 20", n)
	}
	var (
		mu     sync.Mutex
		seen   = map[patch.DeliveryID]int{}
		wg     sync.WaitGroup
		errs   = make(chan error, 8)
		claims = 0
	)
	for range 4 {
		wg.Go(func() {
			for {
				jobs, err := f.db.ClaimDeliveries(f.sys, 3, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				claims++
				for _, j := range jobs {
					seen[j.Delivery.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != 40 {
		t.Errorf("claimed %d distinct deliveries, want 40 (20 events × MSP and A channels)", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}
