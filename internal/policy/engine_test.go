package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// scenario is one finding and its world.
type scenario struct {
	p   *patch.Policy
	eng *Engine
	f   *patch.Finding
	u   *patch.Update
	a   *patch.Asset
	loc *time.Location
}

func newScenario(t *testing.T, class string, u patch.Update) *scenario {
	t.Helper()
	p := Default(testClient())
	a := asset(1, class, nil)
	a.LastSeen = epoch
	u.ID = "upd_01KA0000000000000000000001"
	if u.FirstSeen.IsZero() {
		u.FirstSeen = epoch
	}
	f := &patch.Finding{ID: "fnd_1", ClientID: p.ClientID, AssetID: a.ID, UpdateID: u.ID, State: patch.FindingOpen,
		FirstSeen: epoch, LastSeen: epoch, SLAAnchor: epoch}
	return &scenario{p: p, eng: NewEngine(p, epoch), f: f, u: &u, a: a, loc: mustLoad(t, "America/Chicago")}
}

func (s *scenario) at(d time.Duration) *scenario { s.eng.Now = epoch.Add(d); return s }

func (s *scenario) eval() Evaluation {
	return s.eng.Evaluate(Subject{Finding: s.f, Update: s.u, Asset: s.a, Zone: s.loc})
}

func wantWhy(t *testing.T, ev Evaluation, code, text string) {
	t.Helper()
	if ev.Why.Code != code || !strings.Contains(ev.Why.Text, text) {
		t.Errorf("Why = %s %q, want %s containing %q", ev.Why.Code, ev.Why.Text, code, text)
	}
}

var msrcCritical = patch.Update{Source: "wua", VendorSeverity: "Critical", Classification: "security", Product: "Windows Server 2022", ReleaseDate: time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)}

func TestEvaluateCoreServerCritical(t *testing.T) {
	s := newScenario(t, patch.ClassCoreServer, msrcCritical)
	ev := s.eval()
	if ev.Tier != TierCritical || ev.Emergency || ev.Approval.State != patch.ApprovalApproved || ev.Approval.Rule != "security-now" {
		t.Fatalf("evaluation = %+v", ev)
	}
	if !ev.Clock.DueAt.Equal(epoch.Add(24*time.Hour)) || ev.Clock.Status != patch.SLAOnTrack {
		t.Errorf("clock = %+v, want due in 24h, on track", ev.Clock)
	}
	// 09:00 UTC is 03:00 in Chicago, inside tonight's 01:00–05:00 window.
	wantWhy(t, ev, WhyDeploying, "inside the nightly window until Tue 10 Nov 2026 05:00 CST")
	// At noon Chicago time the next window is tomorrow 01:00.
	ev = s.at(9 * time.Hour).eval()
	wantWhy(t, ev, WhyWaitingForWindow, "nightly on Wed 11 Nov 2026 01:00 CST")
	// 19 hours in: due soon; 25 hours in: breached.
	if st := s.at(19 * time.Hour).eval().Clock.Status; st != patch.SLADueSoon {
		t.Errorf("status at 19h = %s", st)
	}
	if st := s.at(25 * time.Hour).eval().Clock.Status; st != patch.SLABreached {
		t.Errorf("status at 25h = %s", st)
	}
	// Verified at 20 hours: met.
	s.f.State, s.f.Resolution, s.f.ResolvedAt = patch.FindingResolved, patch.ResolvedVerified, epoch.Add(20*time.Hour)
	ev = s.at(48 * time.Hour).eval()
	if ev.Clock.Status != patch.SLAMet {
		t.Errorf("status after verified install = %s", ev.Clock.Status)
	}
	wantWhy(t, ev, WhyVerified, "Installed and verified on Tue 10 Nov 2026 23:00 CST")
}

func TestEvaluateDoNotDisrupt(t *testing.T) {
	low := patch.Update{Source: "wua", VendorSeverity: "Low", Classification: "security"}
	s := newScenario(t, patch.ClassDoNotDisrupt, low)
	ev := s.eval()
	if ev.Tier != TierRoutine || !ev.Clock.DueAt.Equal(epoch.Add(30*24*time.Hour)) || ev.Cell.Reboot.Mode != patch.RebootManual {
		t.Fatalf("evaluation = %+v", ev)
	}
	// Auto-approval rules do not apply to do-not-disrupt systems.
	if ev.Approval.State != patch.ApprovalPending || !ev.Approval.ManualOnly {
		t.Errorf("approval = %+v", ev.Approval)
	}
	wantWhy(t, ev, WhyNotApproved, "do-not-disrupt assets take manual approval only")
	// Approved by hand: waits for Saturday night's window.
	s.eng.Decisions[s.u.ID] = &patch.UpdateDecision{Decision: patch.ApprovalApproved, DecidedBy: patch.Actor{Name: "tech"}, DecidedAt: epoch}
	wantWhy(t, s.eval(), WhyWaitingForWindow, "weekend on Sat 14 Nov 2026 22:00 CST")
	// Installed, waiting for the manually approved reboot.
	ev = s.eng.Evaluate(Subject{Finding: s.f, Update: s.u, Asset: s.a, Zone: s.loc, Facts: Facts{RebootPending: true}})
	wantWhy(t, ev, WhyRebootPending, "reboot waits for manual approval")
	// Declined: says by whom and why; the clock still runs.
	s.eng.Decisions[s.u.ID] = &patch.UpdateDecision{Decision: patch.ApprovalDeclined, Reason: "breaks the lab analyser", DecidedBy: patch.Actor{Name: "alice"}, DecidedAt: epoch}
	ev = s.at(31 * 24 * time.Hour).eval()
	wantWhy(t, ev, WhyDeclined, "Declined by alice on Tue 10 Nov 2026 03:00 CST: breaks the lab analyser.")
	if ev.Clock.Status != patch.SLABreached {
		t.Errorf("a declined finding past its due time is %s, want breached", ev.Clock.Status)
	}
}

func TestEvaluateWorkstationRules(t *testing.T) {
	bug := patch.Update{Source: "winget", Classification: "application", Product: "Mozilla Firefox"}
	s := newScenario(t, patch.ClassWorkstation, bug)
	ev := s.eval()
	wantWhy(t, ev, WhyNotApproved, "rule routine-after-7-days approves it on Tue 17 Nov 2026 03:00 CST")
	ev = s.at(7 * 24 * time.Hour).eval()
	if ev.Approval.State != patch.ApprovalApproved || ev.Approval.Source != "rule" {
		t.Errorf("approval after 7 days = %+v", ev.Approval)
	}
	// A feature pack matches no rule.
	s = newScenario(t, patch.ClassWorkstation, patch.Update{Source: "wua", Classification: "feature-pack"})
	wantWhy(t, s.eval(), WhyNotApproved, "no auto-approval rule matches (feature-pack, tier routine)")
}

func TestEvaluateAgentState(t *testing.T) {
	s := newScenario(t, patch.ClassServer, msrcCritical)
	s.a.Managed, s.a.Source = false, patch.SourceDiscovery
	wantWhy(t, s.eval(), WhyNotManaged, "added by discovery")
	s.a.Managed = true
	s.a.LastSeen = epoch.Add(-4 * 24 * time.Hour)
	wantWhy(t, s.eval(), WhyAgentOffline, "Agent offline since Fri 6 Nov 2026 03:00 CST")
	s.a.LastSeen = time.Time{}
	wantWhy(t, s.eval(), WhyAgentOffline, "never checked in")
	s.a.LastSeen = epoch
	ev := s.eng.Evaluate(Subject{Finding: s.f, Update: s.u, Asset: s.a, Zone: s.loc, Facts: Facts{Failures: 3, LastFailure: "0x80070643"}})
	wantWhy(t, ev, WhyInstallFailed, "Failed 3 times; last error: 0x80070643.")
	ev = s.eng.Evaluate(Subject{Finding: s.f, Update: s.u, Asset: s.a, Zone: s.loc, Facts: Facts{WaitingForRing: "pilot"}})
	wantWhy(t, ev, WhyRingNotPromoted, "Waiting for ring pilot to be promoted")
}

func TestEvaluateOverrides(t *testing.T) {
	// An MSRC Moderate update is routine (30 days on a server) until an
	// override makes it critical (72 hours) and an emergency.
	mod := patch.Update{Source: "wua", VendorSeverity: "Moderate", Classification: "security"}
	s := newScenario(t, patch.ClassServer, mod)
	if ev := s.eval(); ev.Tier != TierRoutine || !ev.Clock.DueAt.Equal(epoch.Add(30*24*time.Hour)) {
		t.Fatalf("before override: %+v", ev)
	}
	yes := true
	s.eng.Overrides[s.u.ID] = &patch.TierOverride{Tier: TierCritical, Emergency: &yes, Reason: "exploited at a sister clinic"}
	ev := s.eval()
	if ev.Tier != TierCritical || !ev.Emergency || ev.TierOverride == nil || !ev.Clock.DueAt.Equal(epoch.Add(72*time.Hour)) {
		t.Errorf("after override: tier %s emergency %v due %v", ev.Tier, ev.Emergency, ev.Clock.DueAt)
	}
	// An override to a tier the policy no longer has is ignored.
	s.eng.Overrides[s.u.ID] = &patch.TierOverride{Tier: "gone", Reason: "x"}
	if ev := s.eval(); ev.Tier != TierRoutine {
		t.Errorf("override to an unknown tier gave tier %s", ev.Tier)
	}
	// Emergencies are tracked like any finding: same clock, flagged.
	oob := msrcCritical
	oob.ReleaseDate = time.Date(2026, 11, 7, 18, 0, 0, 0, time.UTC)
	s = newScenario(t, patch.ClassCoreServer, oob)
	ev = s.eval()
	if !ev.Emergency || ev.EmergencyBasis == "" || ev.Clock.Status != patch.SLAOnTrack || !ev.Clock.DueAt.Equal(epoch.Add(24*time.Hour)) {
		t.Errorf("out-of-band update: %+v", ev)
	}
}

func TestEvaluateReleaseAnchor(t *testing.T) {
	u := msrcCritical
	u.ReleaseDate = epoch.Add(-48 * time.Hour)
	s := newScenario(t, patch.ClassCoreServer, u)
	s.p.SLA.Anchor = patch.AnchorRelease
	ev := s.eval()
	if !ev.Clock.DueAt.Equal(epoch.Add(-24*time.Hour)) || ev.Clock.Status != patch.SLABreached {
		t.Errorf("release-anchored clock = %+v", ev.Clock)
	}
	// A release date after the first sighting does not move the anchor later.
	s.u.ReleaseDate = epoch.Add(48 * time.Hour)
	if ev := s.eval(); !ev.Clock.Anchor.Equal(epoch) {
		t.Errorf("anchor = %v, want first seen", ev.Clock.Anchor)
	}
}

func TestEvaluateExceptionLifecycle(t *testing.T) {
	s := newScenario(t, patch.ClassServer, msrcCritical) // 72h deadline
	x := &patch.Exception{ID: "exc_1", ClientID: s.p.ClientID, Lane: patch.LaneStandard,
		Scope:  patch.ExceptionScope{AssetIDs: []patch.AssetID{s.a.ID}, AllUpdates: true},
		Reason: "vendor certifies the PACS server next month", TicketRef: "PSA-1234", ExpiresAt: epoch.Add(10 * 24 * time.Hour)}
	if err := CheckRequest(s.p, x, patch.Actor{Name: "tech"}, epoch); err != nil {
		t.Fatal(err)
	}
	s.eng.Exceptions = []*patch.Exception{x}
	ev := s.at(24 * time.Hour).eval()
	wantWhy(t, ev, WhyExceptionPending, "awaits the client owner's sign-off")
	if ev.Clock.Status != patch.SLAOnTrack {
		t.Errorf("a requested exception paused the clock: %s", ev.Clock.Status)
	}
	// Signed off on day 1: paused, due at expiry + the 2 days left.
	if _, err := SignOff(x, patch.SignOff{UserID: "usr_1", Name: "Dr. Owner"}, epoch.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if x.State != patch.ExceptionActive {
		t.Fatalf("state after sign-off = %s", x.State)
	}
	ev = s.at(2 * 24 * time.Hour).eval()
	if ev.Clock.Status != patch.SLAPaused || ev.Exception != x || !ev.Clock.DueAt.Equal(x.ExpiresAt.Add(48*time.Hour)) {
		t.Errorf("during exception: %+v due %v", ev.Clock, ev.Clock.DueAt)
	}
	wantWhy(t, ev, WhyExcepted, "Excepted until Fri 20 Nov 2026 03:00 CST, signed off by Dr. Owner: vendor certifies the PACS server next month (ticket PSA-1234).")
	// At the hard expiry it re-enters the SLA, before anything marks it expired.
	ev = s.at(10 * 24 * time.Hour).eval()
	if ev.Clock.Status == patch.SLAPaused || ev.Exception != nil {
		t.Errorf("at expiry: %+v", ev.Clock)
	}
	if ev := s.at(12*24*time.Hour + time.Hour).eval(); ev.Clock.Status != patch.SLABreached {
		t.Errorf("two days after expiry: %s", ev.Clock.Status)
	}
	// Only the covered update is excepted with an update-scoped exception.
	x.Scope = patch.ExceptionScope{AssetIDs: []patch.AssetID{s.a.ID}, UpdateIDs: []patch.UpdateID{"upd_01KA0000000000000000000099"}}
	if ev := s.at(2 * 24 * time.Hour).eval(); ev.Exception != nil {
		t.Error("an exception of another update covers the finding")
	}
}

// A legacy asset in the isolated lane: no ring, paused clock, the
// controls in the reason.
func TestEvaluateLegacyLane(t *testing.T) {
	s := newScenario(t, patch.ClassServer, msrcCritical)
	x := &patch.Exception{ID: "exc_2", ClientID: s.p.ClientID, Lane: patch.LaneLegacy,
		Scope:  patch.ExceptionScope{AssetIDs: []patch.AssetID{s.a.ID}, AllUpdates: true},
		Reason: "Windows 7 runs the X-ray modality; the vendor has no update", TicketRef: "PSA-77",
		Controls:  []patch.CompensatingControl{{Kind: patch.ControlSegmentation, Description: "own VLAN, no internet"}, {Kind: patch.ControlExtraMonitoring, Description: "EDR alerts to SOC"}},
		ExpiresAt: epoch.Add(300 * 24 * time.Hour)}
	if err := CheckRequest(s.p, x, patch.Actor{Name: "tech"}, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := SignOff(x, patch.SignOff{UserID: "usr_1", Name: "Dr. Owner"}, epoch); err != nil {
		t.Fatal(err)
	}
	s.eng.Exceptions = []*patch.Exception{x}
	ev := s.at(time.Hour).eval()
	wantWhy(t, ev, WhyLegacyLane, "Compensating controls: network segmentation, extra monitoring. Ticket PSA-77.")
	if ev.Ring.By != ByIsolated || ev.Ring.Ring != "" || ev.Clock.Status != patch.SLAPaused {
		t.Errorf("legacy asset: ring %+v, status %s", ev.Ring, ev.Clock.Status)
	}
	// The standard lane's 90-day maximum does not bind the legacy lane,
	// but its own does.
	y := *x
	y.ExpiresAt = epoch.Add(400 * 24 * time.Hour)
	if err := CheckRequest(s.p, &y, patch.Actor{}, epoch); patch.ErrorField(err) != "expires_at" {
		t.Errorf("a 400-day legacy exception: %v", err)
	}
	z := *x
	z.Lane = patch.LaneStandard
	if err := CheckRequest(s.p, &z, patch.Actor{}, epoch); patch.ErrorField(err) != "expires_at" {
		t.Errorf("a 300-day standard exception: %v", err)
	}
}

func TestEvaluateMissingCell(t *testing.T) {
	// A class added after the policy was written, with the "*" cells
	// removed: held to the tier's strictest deadline.
	s := newScenario(t, "lab", msrcCritical)
	s.p.SLA.Matrix = removeWild(s.p.SLA.Matrix)
	ev := s.eval()
	if ev.Cell == nil || ev.Cell.Deadline != "24h" {
		t.Errorf("cell for an unknown class = %+v", ev.Cell)
	}
	s.p.SLA.Matrix = nil
	wantWhy(t, s.eval(), WhyNoSLA, "no SLA cell for class lab")
}

func removeWild(cs []patch.SLACell) []patch.SLACell {
	var out []patch.SLACell
	for _, c := range cs {
		if c.Class != patch.AnyClass {
			out = append(out, c)
		}
	}
	return out
}

// Window interactions through the policy, in zones east and west of UTC,
// across DST changes in both directions, month ends and a leap day.
func TestNextWindows(t *testing.T) {
	p := Default(testClient())
	p.Windows = append(p.Windows,
		patch.MaintenanceWindow{Name: "month-end", MonthlyDay: &patch.MonthlyDayRecurs{Day: 31, Start: "02:00"}, Duration: "4h"},
		patch.MaintenanceWindow{Name: "patch-sunday", MonthlyWeekday: &patch.MonthlyWeekdayRecurs{Week: 2, Day: "tuesday", OffsetDays: 5, Start: "02:00"}, Duration: "4h"},
		patch.MaintenanceWindow{Name: "freeze", Weekly: &patch.WeeklyRecurrence{Days: []string{"saturday"}, Start: "22:00"}, Duration: "8h",
			Blackouts: []patch.BlackoutDates{{From: "2026-12-19", To: "2027-01-02", Reason: "year-end freeze"}}},
	)
	ws := NewWindows(p)
	ny, berlin, tokyo, la := mustLoad(t, "America/New_York"), mustLoad(t, "Europe/Berlin"), mustLoad(t, "Asia/Tokyo"), mustLoad(t, "America/Los_Angeles")
	sydney := mustLoad(t, "Australia/Sydney")
	for _, tc := range []struct {
		name       string
		windows    []string
		after      time.Time
		loc        *time.Location
		start, end time.Time // UTC
	}{
		// New York springs forward on 14 Mar 2027: the 01:00 window runs
		// 01:00 EST to 05:00 EDT, three real hours.
		{"spring forward, west", []string{WindowNightly}, time.Date(2027, 3, 13, 17, 0, 0, 0, time.UTC), ny,
			time.Date(2027, 3, 14, 6, 0, 0, 0, time.UTC), time.Date(2027, 3, 14, 9, 0, 0, 0, time.UTC)},
		// And falls back on 1 Nov 2026: 01:00 is the first (EDT) one, the
		// window closes at 05:00 EST, five real hours later.
		{"fall back, west", []string{WindowNightly}, time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC), ny,
			time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)},
		// Berlin falls back on 25 Oct 2026 at 03:00: Saturday 22:00 CEST
		// to Sunday 06:00 CET is nine real hours.
		{"fall back, east", []string{WindowWeekend}, time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), berlin,
			time.Date(2026, 10, 24, 20, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 5, 0, 0, 0, time.UTC)},
		// Sydney springs forward on 4 Oct 2026 at 02:00: the nightly window
		// 01:00 AEST to 05:00 AEDT is three real hours.
		{"spring forward, east and south", []string{WindowNightly}, time.Date(2026, 10, 3, 6, 0, 0, 0, time.UTC), sydney,
			time.Date(2026, 10, 3, 15, 0, 0, 0, time.UTC), time.Date(2026, 10, 3, 18, 0, 0, 0, time.UTC)},
		// Day 31 falls on the last day of shorter months: 29 Feb in 2028.
		{"leap day", []string{"month-end"}, time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC), tokyo,
			time.Date(2028, 2, 28, 17, 0, 0, 0, time.UTC), time.Date(2028, 2, 28, 21, 0, 0, 0, time.UTC)},
		{"month end in April", []string{"month-end"}, time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC), tokyo,
			time.Date(2027, 4, 29, 17, 0, 0, 0, time.UTC), time.Date(2027, 4, 29, 21, 0, 0, 0, time.UTC)},
		// Second Tuesday + 5 days: Patch Tuesday 10 Nov 2026 → Sunday 15 Nov, 02:00 PST.
		{"Patch Tuesday + 5, west", []string{"patch-sunday"}, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), la,
			time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 15, 14, 0, 0, 0, time.UTC)},
		// Blackout: no Saturday window starts 19 Dec – 2 Jan.
		{"blackout", []string{"freeze"}, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2027, 1, 9, 22, 0, 0, 0, time.UTC), time.Date(2027, 1, 10, 6, 0, 0, 0, time.UTC)},
		// The earliest of several windows wins.
		{"earliest of two", []string{WindowWeekend, WindowWorkday}, time.Date(2026, 11, 13, 20, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2026, 11, 14, 22, 0, 0, 0, time.UTC), time.Date(2026, 11, 15, 6, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := ws.Next(tc.windows, tc.after, tc.loc)
			if !ok || !o.Start.Equal(tc.start) || !o.End.Equal(tc.end) {
				t.Errorf("Next(%v, %v, %s) = %v–%v %v; want %v–%v", tc.windows, tc.after, tc.loc, o.Start.UTC(), o.End.UTC(), ok, tc.start, tc.end)
			}
		})
	}
}

func TestAssetNextWindows(t *testing.T) {
	p := Default(testClient())
	ws := NewWindows(p)
	ny := mustLoad(t, "America/New_York")
	// Saturday 13 Mar 2027 noon in New York, the day before spring forward.
	now := time.Date(2027, 3, 13, 17, 0, 0, 0, time.UTC)
	got := ws.NextWindows(patch.ClassCoreServer, now, ny)
	if got.TimeZone != "America/New_York" || len(got.Tiers) != 3 || got.Next == nil {
		t.Fatalf("NextWindows = %+v", got)
	}
	// The earliest for a core server is tonight's weekend window (routine
	// tier), before the nightly one at 01:00.
	if got.Next.Window != WindowWeekend || !got.Next.Start.Equal(time.Date(2027, 3, 14, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("Next = %+v", got.Next)
	}
	if n := got.Tiers[0].Next; n == nil || n.Window != WindowNightly || !n.Start.Equal(time.Date(2027, 3, 14, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("critical tier next = %+v", n)
	}
	// The reboot slot "sunday 02:00" does not exist that night: 03:00 EDT.
	if r := got.Tiers[0].NextReboot; !r.Equal(time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("NextReboot = %v, want 03:00 EDT", r.In(ny))
	}
	// Routine core-server findings use the weekend window: tonight 22:00.
	if r := got.Tiers[2]; r.Next == nil || r.Next.Window != WindowWeekend || !r.Next.Start.Equal(time.Date(2027, 3, 14, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("routine tier = %+v", r)
	}
}
