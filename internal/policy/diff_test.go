package policy

import (
	"slices"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

func TestDiff(t *testing.T) {
	old := Default(testClient())
	if d := Diff(old, Default(testClient())); len(d) != 0 {
		t.Fatalf("Diff of equal policies = %v", d)
	}
	nu := Default(testClient())
	nu.Version, nu.UpdatedBy = 7, "someone" // bookkeeping: ignored
	nu.SLA.Matrix[0].Deadline = "12h"
	nu.SLA.Matrix = slices.Delete(nu.SLA.Matrix, 3, 4) // server/critical
	nu.Windows[0].Duration = "5h"
	nu.Windows = append(nu.Windows, patch.MaintenanceWindow{Name: "lunch", Weekly: &patch.WeeklyRecurrence{Days: []string{"friday"}, Start: "12:00"}, Duration: "1h"})
	nu.Rings[1].Percent = 20
	nu.Approval.Rules[0].AfterDays = 1
	nu.Exceptions.MaxDays = 60
	// Reordering the matrix is not a change.
	slices.Reverse(nu.SLA.Matrix)
	got := []string{}
	for _, c := range Diff(old, nu) {
		got = append(got, c.String())
	}
	want := []string{
		`~ approval.rules[security-now].after_days: 0 → 1`,
		`~ exceptions.max_days: 90 → 60`,
		`~ rings[pilot].percent: 15 → 20`,
		`~ sla.matrix[core-server/critical].deadline: "24h" → "12h"`,
		`- sla.matrix[server/critical]: {"class":"server","deadline":"72h","reboot":{"mode":"scheduled","slot":"sunday 02:00"},"tier":"critical","windows":["nightly"]}`,
		`~ windows[nightly].duration: "4h" → "5h"`,
		`+ windows[lunch]: {"duration":"1h","name":"lunch","weekly":{"days":["friday"],"start":"12:00"}}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", join2(got), join2(want))
	}
	// Reordering rings is a change.
	ro := Default(testClient())
	ro.Rings[0], ro.Rings[1] = ro.Rings[1], ro.Rings[0]
	d := Diff(old, ro)
	if len(d) != 1 || d[0].Path != "rings (order)" {
		t.Errorf("ring reorder diff = %v", d)
	}
	// Lists of plain values change as a whole.
	lv := Default(testClient())
	lv.SLA.Matrix[0].Windows = []string{"nightly", "weekend"}
	d = Diff(old, lv)
	if len(d) != 1 || d[0].String() != `~ sla.matrix[core-server/critical].windows: ["nightly"] → ["nightly","weekend"]` {
		t.Errorf("window list diff = %v", d)
	}
}

func join2(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}

func TestExceptionTransitions(t *testing.T) {
	p := Default(testClient())
	owner := patch.SignOff{UserID: "usr_1", Name: "Dr. Owner", Email: "owner@clinic.example"}
	newX := func() *patch.Exception {
		x := &patch.Exception{ID: "exc_1", ClientID: p.ClientID, Scope: patch.ExceptionScope{AllAssets: true, Product: "Microsoft Office"},
			Reason: "Office add-in incompatible", TicketRef: "T-1", ExpiresAt: epoch.Add(30 * day)}
		if err := CheckRequest(p, x, patch.Actor{Name: "tech"}, epoch); err != nil {
			t.Fatal(err)
		}
		return x
	}
	// Requested → approved (future start) → active → expired.
	x := newX()
	x.StartsAt = epoch.Add(2 * day)
	step, err := SignOff(x, owner, epoch.Add(day))
	if err != nil || x.State != patch.ExceptionApproved || step.Event != patch.EventExceptionSignedOff || x.SignOff.At != epoch.Add(day) {
		t.Fatalf("SignOff = %+v, %v; state %s", step, err, x.State)
	}
	if _, err := SignOff(x, owner, epoch.Add(day)); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("second sign-off: %v", err)
	}
	if _, ok := Advance(x, epoch.Add(day+time.Hour)); ok {
		t.Error("Advance before the start changed the exception")
	}
	step, ok := Advance(x, epoch.Add(2*day+time.Minute))
	if !ok || x.State != patch.ExceptionActive || !x.ActivatedAt.Equal(epoch.Add(2*day)) || step.Action != "exception.activate" || step.Event != patch.EventExcepted {
		t.Errorf("activation: %+v %v %+v", step, ok, x)
	}
	step, ok = Advance(x, epoch.Add(31*day))
	if !ok || x.State != patch.ExceptionExpired || step.Alert == nil || step.Alert.Kind != patch.AlertExceptionExpired {
		t.Errorf("expiry: %+v %v %+v", step, ok, x)
	}
	if _, err := Revoke(x, patch.Actor{Name: "tech"}, "too late", epoch.Add(32*day)); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("revoking an expired exception: %v", err)
	}
	// A request that expires unsigned raises no alert.
	y := newX()
	step, ok = Advance(y, epoch.Add(31*day))
	if !ok || y.State != patch.ExceptionExpired || step.Alert != nil {
		t.Errorf("unsigned expiry: %+v %v", step, ok)
	}
	if _, err := SignOff(y, owner, epoch.Add(32*day)); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("signing off an expired request: %v", err)
	}
	// Revoke needs a reason and ends the effect at once.
	z := newX()
	if _, err := SignOff(z, owner, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := Revoke(z, patch.Actor{Name: "tech"}, "  ", epoch.Add(day)); patch.ErrorField(err) != "reason" {
		t.Errorf("revoke without reason: %v", err)
	}
	step, err = Revoke(z, patch.Actor{Name: "tech"}, "patched after all", epoch.Add(day))
	if err != nil || z.State != patch.ExceptionRevoked || step.Event != patch.EventExceptionRevoked || z.InEffect(epoch.Add(day)) {
		t.Errorf("revoke: %+v %v %+v", step, err, z)
	}
	// Request checks.
	for _, tc := range []struct {
		name  string
		edit  func(*patch.Exception)
		field string
	}{
		{"past expiry", func(x *patch.Exception) { x.ExpiresAt = epoch.Add(-time.Hour) }, "expires_at"},
		{"no expiry", func(x *patch.Exception) { x.ExpiresAt = time.Time{} }, "expires_at"},
		{"too long", func(x *patch.Exception) { x.ExpiresAt = epoch.Add(91 * day) }, "expires_at"},
		{"no ticket", func(x *patch.Exception) { x.TicketRef = "" }, "ticket_ref"},
		{"no reason", func(x *patch.Exception) { x.Reason = " " }, "reason"},
		{"two asset selectors", func(x *patch.Exception) { x.Scope.Tag = &patch.TagRef{Key: "pacs"} }, "scope"},
		{"no update selector", func(x *patch.Exception) { x.Scope.Product = "" }, "scope"},
		{"bad control", func(x *patch.Exception) {
			x.Controls = []patch.CompensatingControl{{Kind: "firewall", Description: "x"}}
		}, "controls[0].kind"},
		{"legacy without assets", func(x *patch.Exception) { x.Lane = patch.LaneLegacy }, "scope.asset_ids"},
		{"start after expiry", func(x *patch.Exception) { x.StartsAt = epoch.Add(40 * day) }, "starts_at"},
		{"start in the past", func(x *patch.Exception) { x.StartsAt = epoch.Add(-day) }, "starts_at"},
	} {
		x := &patch.Exception{ClientID: p.ClientID, Scope: patch.ExceptionScope{AllAssets: true, Product: "Microsoft Office"},
			Reason: "r", TicketRef: "T-1", ExpiresAt: epoch.Add(30 * day)}
		tc.edit(x)
		if err := CheckRequest(p, x, patch.Actor{}, epoch); patch.ErrorField(err) != tc.field {
			t.Errorf("%s: CheckRequest = %v, want field %s", tc.name, err, tc.field)
		}
	}
}
