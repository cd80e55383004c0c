package compliance_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

var november = compliance.Span{From: nov(1), To: nov(31)}

func exampleFindings() []compliance.Finding {
	var fs []compliance.Finding
	for _, a := range example() {
		fs = append(fs, a.Findings...)
	}
	return fs
}

func TestSLAAttainment(t *testing.T) {
	// Deadlines in November that have passed by the 30th:
	// met f1 g1 g2 h2; missed f2 (late) f3 g3 h1 k1 (open);
	// emergency f6 g4; excepted f5; f4 is due in December, f7 in
	// September, f8 was superseded and h3 has no deadline.
	got := compliance.SLAAttainment(exampleFindings(), november, at)
	want := []compliance.Attainment{
		{Tier: "", Met: 4, Missed: 5, AttainmentPct: f(44.44), Emergency: 2, Excepted: 1},
		{Tier: "critical", Met: 1, Missed: 2, AttainmentPct: f(33.33), Emergency: 1, Excepted: 1},
		{Tier: "high", Met: 3, Missed: 2, AttainmentPct: f(60)},
		{Tier: "routine", Met: 0, Missed: 1, AttainmentPct: f(0), Emergency: 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SLAAttainment (-want +got):\n%s", d)
	}
	// Seen on 21 November, only deadlines passed by then count.
	early := compliance.SLAAttainment(exampleFindings(), november, nov(21))[0]
	if early.Met != 4 || early.Missed != 4 { // f2 and g3 (due 20th), h1 (1st), k1 (20th); f3 due 25th not yet
		t.Errorf("attainment seen on 21 Nov = %d met, %d missed; want 4, 4", early.Met, early.Missed)
	}
}

func TestRemediationTimes(t *testing.T) {
	// Verified in November: f1 24h, f2 288h, g1 120h, g2 144h, g4 696h, h2 144h.
	got := compliance.RemediationTimes(exampleFindings(), november)
	want := []compliance.Remediation{
		// sorted 24 120 144 144 288 696: median rank ceil(3)=3 → 144; p90 rank ceil(5.4)=6 → 696.
		{Tier: "", Count: 6, MedianHours: f(144), P90Hours: f(696)},
		{Tier: "critical", Count: 1, MedianHours: f(24), P90Hours: f(24)},
		// 120 144 144 288: median rank 2 → 144; p90 rank ceil(3.6)=4 → 288.
		{Tier: "high", Count: 4, MedianHours: f(144), P90Hours: f(288)},
		{Tier: "routine", Count: 1, MedianHours: f(696), P90Hours: f(696)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RemediationTimes (-want +got):\n%s", d)
	}
	if got := compliance.RemediationTimes(nil, november); len(got) != 1 || got[0].MedianHours != nil {
		t.Errorf("no findings: %+v", got)
	}
}

func TestPercentile(t *testing.T) {
	h := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Hour)
		}
		return ds
	}
	for _, tc := range []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{h(5), 0.5, 5 * time.Hour},
		{h(1, 2), 0.5, 1 * time.Hour},
		{h(1, 2, 3), 0.5, 2 * time.Hour},
		{h(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Hour},
		{h(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 0.9, 10 * time.Hour},
		{nil, 0.9, 0},
	} {
		if got := compliance.Percentile(tc.ds, tc.q); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.ds, tc.q, got, tc.want)
		}
	}
}

func TestFailureRates(t *testing.T) {
	got := compliance.FailureRates([]compliance.InstallCount{
		{ClientID: client, Ring: "canary", Succeeded: 10, Failed: 2},
		{ClientID: client, Ring: "pilot", Succeeded: 40, Failed: 2},
		{ClientID: client, Ring: "production", Succeeded: 150, Failed: 6},
		{ClientID: client, Ring: "empty"},
	})
	want := []compliance.FailureRate{
		{Succeeded: 200, Failed: 10, RatePct: f(4.76)},
		{Ring: "canary", Succeeded: 10, Failed: 2, RatePct: f(16.67)},
		{Ring: "empty"},
		{Ring: "pilot", Succeeded: 40, Failed: 2, RatePct: f(4.76)},
		{Ring: "production", Succeeded: 150, Failed: 6, RatePct: f(3.85)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FailureRates (-want +got):\n%s", d)
	}
}

func exceptions() []*patch.Exception {
	x := func(id string, state patch.ExceptionState, requested, approved, expires, ended int) *patch.Exception {
		e := &patch.Exception{ID: patch.ExceptionID(id), ClientID: client, Lane: patch.LaneStandard, State: state,
			Scope: patch.ExceptionScope{AllAssets: true, AllUpdates: true}, TicketRef: "T-" + id, RequestedAt: nov(requested), ExpiresAt: nov(expires)}
		if approved != 0 {
			e.ApprovedAt = nov(approved)
		}
		if ended != 0 {
			e.EndedAt = nov(ended)
		}
		return e
	}
	return []*patch.Exception{
		x("x1", patch.ExceptionActive, -31, -30, 35, 0),     // approved 1 Oct, expires 5 Dec
		x("x2", patch.ExceptionActive, 19, 20, 62, 0),       // approved 20 Nov, expires 1 Jan
		x("x3", patch.ExceptionExpired, -92, -91, 25, 25),   // approved 1 Aug, expired 25 Nov
		x("x4", patch.ExceptionRequested, 28, 0, 90, 0),     // awaiting sign-off
		x("x5", patch.ExceptionRevoked, -31, -30, 61, 10),   // revoked 10 Nov
		x("x6", patch.ExceptionExpired, -120, -119, -5, -5), // expired in October
	}
}

func TestAgeExceptions(t *testing.T) {
	got := compliance.AgeExceptions(exceptions(), november, at)
	want := compliance.ExceptionAging{
		Active: 2, AwaitingSignOff: 1, ExpiringSoon: 1, ExpiredInPeriod: 1,
		Buckets:     map[string]int{"0-30": 1, "31-60": 1, "61-90": 0, "90+": 0},
		MaxOpenDays: 60, MeanOpenDays: f(35),
		Items: []compliance.ExceptionAge{
			{ID: "x3", State: patch.ExceptionExpired, OpenDays: 116, DaysToExpiry: -5, ExpiresAt: nov(25), Expired: true},
			{ID: "x1", State: patch.ExceptionActive, OpenDays: 60, DaysToExpiry: 5, ExpiresAt: nov(35)},
			{ID: "x2", State: patch.ExceptionActive, OpenDays: 10, DaysToExpiry: 32, ExpiresAt: nov(62)},
			{ID: "x4", State: patch.ExceptionRequested, OpenDays: 2, DaysToExpiry: 60, ExpiresAt: nov(90)},
		},
	}
	for i := range want.Items {
		want.Items[i].ClientID, want.Items[i].Lane = client, patch.LaneStandard
		want.Items[i].Scope, want.Items[i].TicketRef = "all assets × all updates", "T-"+string(want.Items[i].ID)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("AgeExceptions (-want +got):\n%s", d)
	}
}

func TestTickets(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	utc := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	ts := []compliance.Ticket{
		{ID: "t1", At: utc(24, 15, 0), Zone: chicago},  // Tue 09:00 CST
		{ID: "t2", At: utc(24, 2, 0), Zone: chicago},   // Mon 20:00 CST: after hours
		{ID: "t3", At: utc(28, 16, 0), Zone: chicago},  // Sat 10:00: weekend
		{ID: "t4", At: utc(27, 23, 59), Zone: chicago}, // Fri 17:59: business
		{ID: "t5", At: utc(27, 14, 0)},                 // Fri 14:00 UTC, no zone
		{ID: "t6", At: nov(-1), Zone: chicago},         // October: outside the period
		{ID: "t7", At: utc(25, 18, 0)},                 // Wed 18:00 UTC: the end is exclusive
	}
	got := compliance.CountTickets(ts, november, compliance.DefaultBusinessHours)
	want := compliance.TicketCounts{Total: 6, AfterHours: 3, AfterHoursPct: f(50)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CountTickets (-want +got):\n%s", d)
	}
}

func TestScorecard(t *testing.T) {
	day := func(d int, r, target float64) *patch.RatingSnapshot {
		return &patch.RatingSnapshot{Day: patch.DayOf(nov(d)), ClientID: client, Dim: "all", RatingPct: f(r), StrictPct: f(r - 5), TargetPct: f(target)}
	}
	// The week of Monday 23 November and the one before.
	daily := []*patch.RatingSnapshot{day(16, 90, 93), day(17, 92, 93), day(22, 94, 93), day(23, 95, 93), day(24, 96, 93), day(29, 97, 93)}
	this := compliance.Week(compliance.WeekFacts{From: patch.DayOf(nov(23)), To: patch.DayOf(nov(29)), At: at, Daily: daily,
		Exceptions: exceptions(), Installs: []compliance.InstallCount{{Ring: "pilot", Succeeded: 9, Failed: 1}},
		Tickets: []compliance.Ticket{{At: nov(24).Add(2 * time.Hour)}, {At: nov(24).Add(12 * time.Hour)}}, Hours: compliance.DefaultBusinessHours})
	last := compliance.Week(compliance.WeekFacts{From: patch.DayOf(nov(16)), To: patch.DayOf(nov(22)), At: nov(23), Daily: daily,
		Exceptions: exceptions(), Installs: []compliance.InstallCount{{Ring: "pilot", Succeeded: 18, Failed: 2}, {Ring: "canary", Failed: 1, Succeeded: 4}},
		Hours: compliance.DefaultBusinessHours})
	wantThis := compliance.ScorecardWeek{From: "2026-11-23", To: "2026-11-29", CompliancePct: f(96), StrictPct: f(91), TargetPct: f(93),
		ExceptionsActive: 2, ExceptionsMeanOpenDays: f(35), ExceptionsMaxOpenDays: 60, ExceptionsExpiringSoon: 1, ExceptionsExpired: 1,
		Installs: 10, InstallFailures: 1, FailureRatePct: f(10), Tickets: 2, AfterHoursTickets: 1}
	if d := cmp.Diff(wantThis, this); d != "" {
		t.Errorf("this week (-want +got):\n%s", d)
	}
	// Aged at 23 Nov: x1 open 53 days, x2 3, x3 114 and still active
	// (expires on the 25th); x4 was not requested yet.
	wantLast := compliance.ScorecardWeek{From: "2026-11-16", To: "2026-11-22", CompliancePct: f(92), StrictPct: f(87), TargetPct: f(93),
		ExceptionsActive: 3, ExceptionsMeanOpenDays: f(56.67), ExceptionsMaxOpenDays: 114, ExceptionsExpiringSoon: 2,
		Installs: 25, InstallFailures: 3, FailureRatePct: f(12)}
	if d := cmp.Diff(wantLast, last); d != "" {
		t.Errorf("last week (-want +got):\n%s", d)
	}
	row := compliance.Row(client, "=Clinic", this, last)
	if *row.ComplianceChangePts != 4 || *row.FailureRateChangePts != -2 || row.AfterHoursChange != 1 || row.ExceptionsChange != -1 {
		t.Errorf("changes = %v pts, %v pts, %d, %d", *row.ComplianceChangePts, *row.FailureRateChangePts, row.AfterHoursChange, row.ExceptionsChange)
	}
	sc := compliance.WeeklyScorecard{Week: "2026-11-23", Rows: []compliance.ScorecardRow{row}}
	var buf bytes.Buffer
	if err := sc.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	wantLines := []string{
		strings.Join(compliance.ScorecardCSVHeader, ","),
		"cli_clinic,'=Clinic,2026-11-16,92.00,87.00,93.00,3,56.67,114,2,0,25,3,12.00,0,0",
		"cli_clinic,'=Clinic,2026-11-23,96.00,91.00,93.00,2,35.00,60,1,1,10,1,10.00,2,1",
	}
	if d := cmp.Diff(wantLines, lines); d != "" {
		t.Errorf("CSV (-want +got):\n%s", d)
	}
}
