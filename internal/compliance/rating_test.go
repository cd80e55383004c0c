package compliance_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// nov returns midnight UTC of a day of November 2026 (days past 30 roll
// over; non-positive days reach back into October).
func nov(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

// at is the instant of the worked example: the end of 29 November 2026.
var at = nov(30)

const client = patch.ClientID("cli_clinic")

// find builds a finding. due and resolved are November days (0 for none);
// anchor is the SLA clock start.
func find(id, tier string, approval patch.Approval, anchor, due, resolved int, opts ...func(*compliance.Finding)) compliance.Finding {
	f := compliance.Finding{ID: patch.FindingID(id), Tier: tier, Approval: approval, FirstSeen: nov(anchor), SLAAnchor: nov(anchor),
		State: patch.FindingOpen}
	if due != 0 {
		f.DueAt = nov(due)
	}
	if resolved != 0 {
		f.State, f.Resolution, f.ResolvedAt = patch.FindingResolved, patch.ResolvedVerified, nov(resolved)
	}
	for _, o := range opts {
		o(&f)
	}
	return f
}

func excepted(f *compliance.Finding)  { f.Excepted = true }
func emergency(f *compliance.Finding) { f.Emergency = true }
func superseded(f *compliance.Finding) {
	f.Resolution = patch.ResolvedSuperseded
}

const (
	ok      = patch.ApprovalApproved
	pending = patch.ApprovalPending
)

// example is the worked example of docs/compliance.md.
func example() []*compliance.Asset {
	srv := func(a *compliance.Asset) { a.Class, a.Kind, a.Target = "core-server", patch.ClassKindServer, 95 }
	ws := func(a *compliance.Asset) { a.Class, a.Kind, a.Target = "workstation", patch.ClassKindWorkstation, 92 }
	mk := func(id, host string, os patch.OSFamily, site patch.SiteID, class func(*compliance.Asset), lastScan time.Time, fs ...compliance.Finding) *compliance.Asset {
		a := &compliance.Asset{ID: patch.AssetID(id), ClientID: client, SiteID: site, Hostname: host, OS: os, Managed: true, LastScan: lastScan, Findings: fs}
		class(a)
		return a
	}
	fresh := at.Add(-time.Hour)
	srv1 := mk("ast_srv1", "srv-1", patch.OSWindows, "sit_a", srv, fresh,
		find("f1", "critical", ok, 7, 10, 8),
		find("f2", "high", ok, 13, 20, 25),
		find("f3", "high", ok, 18, 25, 0),
		find("f4", "routine", ok, 10, 40, 0),
		find("f5", "critical", ok, 14, 15, 0, excepted),
		find("f6", "critical", ok, 27, 28, 0, emergency),
		find("f7", "routine", ok, -40, -31, -33),
		find("f8", "high", ok, 1, 6, 5, superseded))
	ws1 := mk("ast_ws1", "ws-1", patch.OSWindows, "sit_a", ws, fresh,
		find("g1", "high", ok, 5, 12, 10),
		find("g2", "high", ok, 7, 14, 13),
		find("g3", "routine", pending, 1, 20, 0),
		find("g4", "routine", ok, -8, 22, 21, emergency))
	ws2 := mk("ast_ws2", "ws-2", patch.OSMacOS, "sit_b", ws, at.Add(-10*24*time.Hour),
		find("h1", "critical", ok, -1, 1, 0),
		find("h2", "high", ok, 11, 18, 17),
		find("h3", "", "", 28, 0, 0))
	ws3 := mk("ast_ws3", "ws-3", patch.OSLinux, "sit_b", ws, time.Time{})
	prn := mk("ast_prn1", "prn-1", patch.OSOther, "sit_a", ws, time.Time{})
	prn.Managed, prn.Unsupported = false, "operating system family \"other\" is not covered"
	srv2 := mk("ast_srv2", "srv-2", patch.OSWindows, "sit_a", srv, fresh,
		find("k1", "critical", ok, 13, 20, 0))
	srv2.Unsupported = "Windows Server 2008 R2 is older than Windows Server 2012 R2"
	return []*compliance.Asset{srv1, ws1, ws2, ws3, prn, srv2}
}

func summaries(as []*compliance.Asset, t time.Time) []compliance.Summary {
	var ss []compliance.Summary
	for _, a := range as {
		ss = append(ss, compliance.Summarize(a, t, compliance.Options{}))
	}
	return ss
}

func TestClassify(t *testing.T) {
	want := map[patch.FindingID]compliance.Category{
		"f1": compliance.Installed, "f2": compliance.Installed, "f3": compliance.Missing, "f4": compliance.NotDue,
		"f5": compliance.Excepted, "f6": compliance.Emergency, "f7": compliance.History, "f8": compliance.Replaced,
		"g1": compliance.Installed, "g2": compliance.Installed, "g3": compliance.NotApproved, "g4": compliance.Installed,
		"h1": compliance.Missing, "h2": compliance.Installed, "h3": compliance.NotEvaluated, "k1": compliance.Missing,
	}
	for _, a := range example() {
		for _, f := range a.Findings {
			if got := compliance.Classify(&f, at, compliance.Options{}.WithDefaults()); got != want[f.ID] {
				t.Errorf("Classify(%s) = %v, want %v", f.ID, got, want[f.ID])
			}
		}
	}
	t.Run("Instants", func(t *testing.T) {
		o := compliance.Options{}.WithDefaults()
		f2 := find("f2", "high", ok, 13, 20, 25)
		for _, tc := range []struct {
			name string
			at   time.Time
			want compliance.Category
		}{
			{"BeforeFirstSeen", nov(12), compliance.NotFound},
			{"BeforeDue", nov(19), compliance.NotDue},
			{"OverdueNotYetInstalled", nov(24), compliance.Missing},
			{"InstalledLate", nov(26), compliance.Installed},
			{"StillInWindow", nov(20).Add(29 * 24 * time.Hour), compliance.Installed},
			{"OutOfWindow", nov(25).Add(30 * 24 * time.Hour), compliance.History},
		} {
			if got := compliance.Classify(&f2, tc.at, o); got != tc.want {
				t.Errorf("%s: Classify at %s = %v, want %v", tc.name, tc.at, got, tc.want)
			}
		}
		// Grace moves the due time.
		g := compliance.Options{Grace: 48 * time.Hour}.WithDefaults()
		if got := compliance.Classify(&f2, nov(21), g); got != compliance.NotDue {
			t.Errorf("with 48h grace, Classify at 21 Nov = %v, want not_due", got)
		}
	})
}

func TestSummarize(t *testing.T) {
	ss := summaries(example(), at)
	type row struct {
		Rated          bool
		Rating, Strict float64
		Counts         patch.FindingCounts
		Gaps           string
	}
	got := map[patch.AssetID]row{}
	for _, s := range ss {
		got[s.Asset] = row{s.Rated, round(s.Rating.Pct()), round(s.Strict.Pct()), s.Counts, s.Gaps.String()}
	}
	want := map[patch.AssetID]row{
		// 2 installed, 1 missing: 2/3; strict adds the excepted and the emergency: 2/5.
		"ast_srv1": {true, 66.67, 40, patch.FindingCounts{Installed: 2, Missing: 1, Excepted: 1, EmergencyMissing: 1}, ""},
		// 3 installed, nothing missing: 100; strict adds the unapproved one: 3/4.
		"ast_ws1":  {true, 100, 75, patch.FindingCounts{Installed: 3, EmergencyInstalled: 1, NotApproved: 1}, ""},
		"ast_ws2":  {true, 50, 50, patch.FindingCounts{Installed: 1, Missing: 1, NotEvaluated: 1}, "stale_scan"},
		"ast_ws3":  {false, 0, 0, patch.FindingCounts{}, "never_scanned"},
		"ast_prn1": {false, 0, 0, patch.FindingCounts{}, "unmanaged,unsupported_os"},
		"ast_srv2": {true, 0, 0, patch.FindingCounts{Missing: 1}, "unsupported_os"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summaries (-want +got):\n%s", d)
	}
	srv1 := ss[0]
	wantTiers := []compliance.TierCounts{
		{Tier: "critical", Counts: patch.FindingCounts{Installed: 1, Excepted: 1, EmergencyMissing: 1}},
		{Tier: "high", Counts: patch.FindingCounts{Installed: 1, Missing: 1}},
	}
	if d := cmp.Diff(wantTiers, srv1.Tiers); d != "" {
		t.Errorf("srv-1 tiers (-want +got):\n%s", d)
	}
	if v := srv1.TierView("critical"); *v.RatingPct != 100 || *v.StrictPct != 33.33 || v.Findings != wantTiers[0].Counts {
		t.Errorf("srv-1 in the critical tier = %+v", v)
	}
	if v := srv1.TierView("routine"); *v.RatingPct != 100 || !v.Findings.Zero() {
		t.Errorf("srv-1 in the routine tier = %+v", v)
	}
}

func round(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

type groupRow struct {
	Rating, Strict, Target *float64
	Met                    *bool
	Assets, Rated, Comp    int
	Findings               patch.FindingCounts
}

func f(v float64) *float64 { return &v }
func b(v bool) *bool       { return &v }

func TestRollup(t *testing.T) {
	rs := compliance.Rollup(summaries(example(), at))
	got := map[compliance.GroupKey]groupRow{}
	gaps := map[compliance.GroupKey]map[string]int{}
	for _, r := range rs {
		got[r.GroupKey()] = groupRow{r.RatingPct, r.StrictPct, r.TargetPct, r.Met, r.Assets, r.Rated, r.Compliant, r.Findings}
		gaps[r.GroupKey()] = r.Gaps
	}
	k := func(d compliance.Dim, key string) compliance.GroupKey {
		return compliance.GroupKey{Client: client, Dim: d, Key: key}
	}
	allCounts := patch.FindingCounts{Installed: 6, Missing: 3, Excepted: 1, EmergencyMissing: 1, EmergencyInstalled: 1, NotApproved: 1, NotEvaluated: 1}
	want := map[compliance.GroupKey]groupRow{
		// (66.67 + 100 + 50 + 0) / 4; targets (95 + 92 + 92 + 95) / 4.
		k(compliance.DimAll, ""): {f(54.17), f(41.25), f(93.5), b(false), 6, 4, 1, allCounts},
		k(compliance.DimKind, "server"): {f(33.33), f(20), f(95), b(false), 2, 2, 0,
			patch.FindingCounts{Installed: 2, Missing: 2, Excepted: 1, EmergencyMissing: 1}},
		k(compliance.DimKind, "workstation"): {f(75), f(62.5), f(92), b(false), 4, 2, 1,
			patch.FindingCounts{Installed: 4, Missing: 1, EmergencyInstalled: 1, NotApproved: 1, NotEvaluated: 1}},
		k(compliance.DimClass, "core-server"): {f(33.33), f(20), f(95), b(false), 2, 2, 0,
			patch.FindingCounts{Installed: 2, Missing: 2, Excepted: 1, EmergencyMissing: 1}},
		k(compliance.DimClass, "workstation"): {f(75), f(62.5), f(92), b(false), 4, 2, 1,
			patch.FindingCounts{Installed: 4, Missing: 1, EmergencyInstalled: 1, NotApproved: 1, NotEvaluated: 1}},
		k(compliance.DimOS, "windows"): {f(55.56), f(38.33), f(94), b(false), 3, 3, 1,
			patch.FindingCounts{Installed: 5, Missing: 2, Excepted: 1, EmergencyMissing: 1, EmergencyInstalled: 1, NotApproved: 1}},
		k(compliance.DimOS, "macos"): {f(50), f(50), f(92), b(false), 1, 1, 0, patch.FindingCounts{Installed: 1, Missing: 1, NotEvaluated: 1}},
		k(compliance.DimOS, "linux"): {nil, nil, nil, nil, 1, 0, 0, patch.FindingCounts{}},
		k(compliance.DimOS, "other"): {nil, nil, nil, nil, 1, 0, 0, patch.FindingCounts{}},
		k(compliance.DimSite, "sit_a"): {f(55.56), f(38.33), f(94), b(false), 4, 3, 1,
			patch.FindingCounts{Installed: 5, Missing: 2, Excepted: 1, EmergencyMissing: 1, EmergencyInstalled: 1, NotApproved: 1}},
		k(compliance.DimSite, "sit_b"): {f(50), f(50), f(92), b(false), 2, 1, 0, patch.FindingCounts{Installed: 1, Missing: 1, NotEvaluated: 1}},
		// Tiers: an asset without findings of a tier owes nothing in it.
		// critical: srv-1 100 (strict 1/3), ws-1 free, ws-2 0, srv-2 0.
		k(compliance.DimTier, "critical"): {f(50), f(33.33), f(93.5), b(false), 6, 4, 2,
			patch.FindingCounts{Installed: 1, Missing: 2, Excepted: 1, EmergencyMissing: 1}},
		// high: srv-1 50, ws-1 100, ws-2 100, srv-2 free.
		k(compliance.DimTier, "high"): {f(87.5), f(87.5), f(93.5), b(false), 6, 4, 3, patch.FindingCounts{Installed: 4, Missing: 1}},
		// routine: ws-1 100 (strict 1/2), the rest free.
		k(compliance.DimTier, "routine"): {f(100), f(87.5), f(93.5), b(true), 6, 4, 4,
			patch.FindingCounts{Installed: 1, EmergencyInstalled: 1, NotApproved: 1}},
	}
	for key, w := range want {
		if d := cmp.Diff(w, got[key]); d != "" {
			t.Errorf("%v (-want +got):\n%s", key, d)
		}
		msp := key
		msp.Client = ""
		if _, ok := got[msp]; !ok && key.Dim != compliance.DimSite {
			t.Errorf("no MSP row for %v", key)
		}
	}
	// The MSP of one client rates the same.
	if d := cmp.Diff(want[k(compliance.DimAll, "")], got[compliance.GroupKey{Dim: compliance.DimAll}]); d != "" {
		t.Errorf("MSP all (-want +got):\n%s", d)
	}
	wantGaps := map[string]int{"unmanaged": 1, "never_scanned": 1, "stale_scan": 1, "scan_failing": 0, "unsupported_os": 2, "unsupported_software": 0}
	if d := cmp.Diff(wantGaps, gaps[k(compliance.DimAll, "")]); d != "" {
		t.Errorf("gaps (-want +got):\n%s", d)
	}
	for key := range got {
		if _, ok := want[key]; !ok && key.Client != "" {
			t.Errorf("unexpected group %v", key)
		}
	}
}

func TestMembersTraceToNumbers(t *testing.T) {
	ix := compliance.NewIndex()
	for _, s := range summaries(example(), at) {
		ix.Put(s)
	}
	for _, r := range ix.Ratings(func(patch.ClientID) bool { return true }) {
		ms := ix.Members(r.GroupKey())
		var sum patch.FindingCounts
		rated := 0
		for _, m := range ms {
			if !m.Rated {
				continue
			}
			rated++
			if r.Dim == compliance.DimTier {
				c, _ := m.Tier(r.Key)
				sum.Add(c, 1)
			} else {
				sum.Add(m.Counts, 1)
			}
		}
		if len(ms) != r.Assets || rated != r.Rated || sum != r.Findings {
			t.Errorf("%v: members give %d assets, %d rated, %+v; rating says %d, %d, %+v", r.GroupKey(), len(ms), rated, sum, r.Assets, r.Rated, r.Findings)
		}
	}
}

func TestClassChangeMidMonth(t *testing.T) {
	// Four days. s1 is a server at 100 %, w1 a workstation at 80 %; m is
	// at 50 % and moves from workstation to server on day 3.
	mk := func(id string, kind patch.ClassKind, installed, missing int) compliance.Summary {
		a := &compliance.Asset{ID: patch.AssetID(id), ClientID: client, Hostname: id, OS: patch.OSWindows, Class: string(kind), Kind: kind,
			Target: map[patch.ClassKind]float64{patch.ClassKindServer: 95, patch.ClassKindWorkstation: 92}[kind], Managed: true, LastScan: at}
		for i := range installed {
			a.Findings = append(a.Findings, find(id+"i"+string(rune('a'+i)), "high", ok, 1, 2, 3))
		}
		for i := range missing {
			a.Findings = append(a.Findings, find(id+"m"+string(rune('a'+i)), "high", ok, 1, 2, 0))
		}
		return compliance.Summarize(a, at, compliance.Options{})
	}
	var rows []*patch.RatingSnapshot
	for d := 1; d <= 4; d++ {
		mKind := patch.ClassKindWorkstation
		if d >= 3 {
			mKind = patch.ClassKindServer
		}
		ss := []compliance.Summary{mk("s1", patch.ClassKindServer, 1, 0), mk("w1", patch.ClassKindWorkstation, 4, 1), mk("m", mKind, 1, 1)}
		day := patch.DayOf(nov(d))
		g, _ := compliance.SnapshotRows(day, compliance.Rollup(ss), ss, nov(d+1))
		rows = append(rows, g...)
	}
	avg := map[string]compliance.PeriodAverage{}
	for _, a := range compliance.Averages(rows, patch.DayOf(nov(1)), patch.DayOf(nov(4))) {
		if a.ClientID == client {
			avg[a.Dim+"/"+a.Key] = a
		}
	}
	for _, tc := range []struct {
		group         string
		rating, targ  float64
		met           bool
		days, daysMet int
	}{
		// server: 100, 100, (100+50)/2, 75 → 87.5; targets 95 each day.
		{"class/server", 87.5, 95, false, 4, 2},
		// workstation: (80+50)/2, 65, 80, 80 → 72.5.
		{"class/workstation", 72.5, 92, false, 4, 0},
		{"kind/server", 87.5, 95, false, 4, 2},
		// all: (100+80+50)/3 = 76.67 every day; targets (95+92+92)/3 = 93 then (95+92+95)/3 = 94.
		{"all/", 76.67, 93.5, false, 4, 0},
	} {
		a := avg[tc.group]
		if a.RatingPct == nil || *a.RatingPct != tc.rating || *a.TargetPct != tc.targ || *a.Met != tc.met || a.Days != tc.days || a.DaysMet != tc.daysMet {
			t.Errorf("%s: got rating %v target %v met %v days %d/%d; want %v %v %v %d/%d", tc.group, deref(a.RatingPct), deref(a.TargetPct),
				a.Met != nil && *a.Met, a.DaysMet, a.Days, tc.rating, tc.targ, tc.met, tc.daysMet, tc.days)
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestIndexIncrementalEqualsFull(t *testing.T) {
	as := example()
	ix := compliance.NewIndex()
	// Put everything at an earlier instant, then re-rate one asset at a
	// time: the index must equal a full rollup at the end.
	for _, s := range summaries(as, nov(12)) {
		ix.Put(s)
	}
	for _, a := range as {
		ix.Put(compliance.Summarize(a, at, compliance.Options{}))
	}
	ix.Put(compliance.Summarize(&compliance.Asset{ID: "ast_gone", ClientID: "cli_other", Managed: true, LastScan: at}, at, compliance.Options{}))
	ix.Remove("ast_gone")
	got := ix.Ratings(func(patch.ClientID) bool { return true })
	want := compliance.Rollup(summaries(as, at))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("incremental index differs from full rollup (-full +incremental):\n%s", d)
	}
}

func TestCategoryText(t *testing.T) {
	for c := compliance.NotFound; c <= compliance.NotEvaluated; c++ {
		b, _ := c.MarshalText()
		var back compliance.Category
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("%v round-trips to %v, %v", c, back, err)
		}
	}
	var c compliance.Category
	if err := c.UnmarshalText([]byte("installed-ish")); err == nil {
		t.Error("unknown category parsed")
	}
}
