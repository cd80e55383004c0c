package compliance_test

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"10.0.19045", "10.0.19045", 0},
		{"10.0.19044", "10.0.19045", -1},
		{"10.0.22631.4460", "10.0.19045", 1},
		{"10.0", "10.0.0", 0},
		{"10.0.1", "10.0", 1},
		{"14.7.1", "14.10", -1},
		{"22.04", "24.04", -1},
		{"22.04.5", "22.04", 1},
		{"9.4", "10", -1},
		{"1.0rc1", "1.0", -1},
		{"14.0 beta", "14.0", -1},
		{"12b", "12a", 1},
		{"007", "7", 0},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"", "", 0},
		{"", "1", -1},
	} {
		if got := compliance.CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compliance.CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range []string{"10.0.19045", "14.7.1", "1.0rc1", "22.04.5 LTS", "", "00", "~1", "a.b-c_d+e"} {
		f.Add(s, "10.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := compliance.CompareVersions(a, b), compliance.CompareVersions(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("CompareVersions(%q, %q) = %d but reversed %d", a, b, ab, ba)
		}
		if compliance.CompareVersions(a, a) != 0 {
			t.Fatalf("CompareVersions(%q, itself) != 0", a)
		}
	})
}

func TestFullVersionAndBaseline(t *testing.T) {
	for _, tc := range []struct {
		os   patch.OS
		want string
	}{
		{patch.OS{Family: patch.OSWindows, Version: "10.0.19045", Build: "19045.5131"}, "10.0.19045.5131"},
		{patch.OS{Family: patch.OSWindows, Version: "10.0.19045", Build: "22631.1"}, "10.0.19045"},
		{patch.OS{Family: patch.OSLinux, Version: "12", Build: "12.8"}, "12.8"},
		{patch.OS{Family: patch.OSLinux, Version: "22.04", Build: "22.04.5"}, "22.04.5"},
		{patch.OS{Family: patch.OSMacOS, Version: "14.7.1", Build: "23H222"}, "14.7.1"},
		{patch.OS{Family: patch.OSOther}, ""},
	} {
		if got := compliance.FullVersion(tc.os); got != tc.want {
			t.Errorf("FullVersion(%+v) = %q, want %q", tc.os, got, tc.want)
		}
	}
	bs := []patch.OSBaseline{
		{Family: patch.OSWindows, MinVersion: "10.0.19045"},
		{Family: patch.OSWindows, Match: "server", MinVersion: "10.0.17763"},
		{Family: patch.OSWindows, Match: "Server 2022", MinVersion: "10.0.20348.2700"},
		{Family: patch.OSLinux, Match: "ubuntu", MinVersion: "22.04"},
	}
	for _, tc := range []struct {
		name string
		os   patch.OS
		want string
	}{
		{"Windows 11 Pro", patch.OS{Family: patch.OSWindows}, "10.0.19045"},
		{"Windows Server 2019 Standard", patch.OS{Family: patch.OSWindows}, "10.0.17763"},
		{"Windows Server 2022 Standard", patch.OS{Family: patch.OSWindows}, "10.0.20348.2700"},
		{"Ubuntu 24.04.1 LTS", patch.OS{Family: patch.OSLinux}, "22.04"},
		{"Debian GNU/Linux 12", patch.OS{Family: patch.OSLinux}, ""},
	} {
		tc.os.Name = tc.name
		b, ok := compliance.BaselineFor(bs, tc.os)
		if got := map[bool]string{true: b.MinVersion}[ok]; got != tc.want {
			t.Errorf("BaselineFor(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func yes() *bool { return b(true) }
func no() *bool  { return b(false) }

func TestObserve(t *testing.T) {
	now := at
	base := func() *compliance.MonitorFacts {
		return &compliance.MonitorFacts{
			Asset:     &compliance.Asset{ID: "ast_1", ClientID: client, Hostname: "ws-1", OS: patch.OSWindows, Managed: true, LastScan: now.Add(-time.Hour)},
			OS:        patch.OS{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Build: "22631.4460"},
			Agent:     compliance.AgentFacts{Present: true, LastCheckIn: now.Add(-5 * time.Minute), ExpectedBy: now.Add(10 * time.Minute)},
			Supported: yes(), SupportReason: "Windows 11 Pro (NT 10.0.22631) is Windows 8.1 or later", Activated: yes(), UrgentTier: "critical",
		}
	}
	type want map[patch.MonitorKind]patch.MonitorStatus
	all := func(s patch.MonitorStatus) want {
		w := want{}
		for _, k := range patch.MonitorKinds {
			w[k] = s
		}
		return w
	}
	with := func(w want, k patch.MonitorKind, s patch.MonitorStatus) want {
		c := want{}
		for kk, v := range w {
			c[kk] = v
		}
		c[k] = s
		return c
	}
	for _, tc := range []struct {
		name  string
		edit  func(*compliance.MonitorFacts)
		want  want
		check func(t *testing.T, obs map[patch.MonitorKind]compliance.Observation)
	}{
		{"Healthy", func(*compliance.MonitorFacts) {}, all(patch.MonitorOK), nil},
		{"FailedOnce", func(m *compliance.MonitorFacts) {
			m.Failed = []compliance.FailedInstall{{FindingID: "f1", Title: "KB5044284", Attempts: 1, At: now.Add(-time.Hour), Error: "0x80070002"}}
		}, with(all(patch.MonitorOK), patch.MonitorUpdatesFailed, patch.MonitorWarning), func(t *testing.T, obs map[patch.MonitorKind]compliance.Observation) {
			if o := obs[patch.MonitorUpdatesFailed]; o.Details["findings"] != "f1" || o.Details["last_error"] != "0x80070002" {
				t.Errorf("failed details = %v", o.Details)
			}
		}},
		{"FailedThrice", func(m *compliance.MonitorFacts) {
			m.Failed = []compliance.FailedInstall{{FindingID: "f1", Attempts: 3}}
		}, with(all(patch.MonitorOK), patch.MonitorUpdatesFailed, patch.MonitorCritical), nil},
		{"FailedThenVerified", func(m *compliance.MonitorFacts) {
			m.Failed = []compliance.FailedInstall{{FindingID: "f1", Attempts: 3}, {FindingID: "f2", Attempts: 1, Remediated: true}}
			m.Asset.Findings = []compliance.Finding{find("f1", "high", ok, 1, 20, 29)}
		}, all(patch.MonitorOK), func(t *testing.T, obs map[patch.MonitorKind]compliance.Observation) {
			if o := obs[patch.MonitorUpdatesInstalled]; o.Details["count"] != "1" || o.Fingerprint == "" {
				t.Errorf("installed = %+v", o)
			}
		}},
		{"BelowBaseline", func(m *compliance.MonitorFacts) {
			m.OS.Version, m.OS.Build = "10.0.19044", "19044.5131"
			m.Baselines = []patch.OSBaseline{{Family: patch.OSWindows, MinVersion: "10.0.19045"}}
		}, with(all(patch.MonitorOK), patch.MonitorMissingServicePack, patch.MonitorWarning), nil},
		{"BelowVendorSupport", func(m *compliance.MonitorFacts) {
			m.OS = patch.OS{Family: patch.OSWindows, Name: "Windows 7 Professional", Version: "6.1.7601"}
			m.Supported, m.SupportReason = no(), "Windows 7 Professional (NT 6.1.7601) is older than Windows 8.1"
		}, with(with(all(patch.MonitorOK), patch.MonitorMissingServicePack, patch.MonitorCritical), patch.MonitorNotServiceable, patch.MonitorCritical), nil},
		{"NotActivated", func(m *compliance.MonitorFacts) {
			m.Activated, m.ActivationReason = no(), "Windows is not activated (license status NonGenuineGrace)"
		}, with(all(patch.MonitorOK), patch.MonitorNotServiceable, patch.MonitorCritical), nil},
		{"ActivationUnknown", func(m *compliance.MonitorFacts) { m.Activated = nil }, all(patch.MonitorOK), nil},
		{"VersionUnreadable", func(m *compliance.MonitorFacts) { m.Supported = nil; m.OS.Version, m.OS.Build = "", "" },
			with(with(all(patch.MonitorOK), patch.MonitorNotServiceable, patch.MonitorUnknown), patch.MonitorMissingServicePack, patch.MonitorUnknown), nil},
		{"Overdue", func(m *compliance.MonitorFacts) {
			m.Asset.Findings = []compliance.Finding{find("f3", "high", ok, 1, 20, 0), find("f4", "high", pending, 1, 20, 0)}
		}, with(all(patch.MonitorOK), patch.MonitorUpdatesOutOfDate, patch.MonitorWarning), func(t *testing.T, obs map[patch.MonitorKind]compliance.Observation) {
			if o := obs[patch.MonitorUpdatesOutOfDate]; o.Details["overdue"] != "1" || o.Details["findings"] != "f3" {
				t.Errorf("out of date = %+v", o)
			}
		}},
		{"OverdueCritical", func(m *compliance.MonitorFacts) {
			m.Asset.Findings = []compliance.Finding{find("f3", "critical", ok, 1, 20, 0)}
		}, with(all(patch.MonitorOK), patch.MonitorUpdatesOutOfDate, patch.MonitorCritical), nil},
		{"StaleScan", func(m *compliance.MonitorFacts) { m.Asset.LastScan = now.Add(-8 * 24 * time.Hour) },
			with(all(patch.MonitorOK), patch.MonitorUpdatesOutOfDate, patch.MonitorWarning), nil},
		{"VeryStaleScan", func(m *compliance.MonitorFacts) { m.Asset.LastScan = now.Add(-15 * 24 * time.Hour) },
			with(all(patch.MonitorOK), patch.MonitorUpdatesOutOfDate, patch.MonitorCritical), nil},
		{"NeverScanned", func(m *compliance.MonitorFacts) { m.Asset.LastScan = time.Time{} },
			with(with(all(patch.MonitorOK), patch.MonitorUpdatesOutOfDate, patch.MonitorWarning), patch.MonitorUpdatesInstalled, patch.MonitorUnknown), nil},
		{"AgentLate", func(m *compliance.MonitorFacts) {
			m.Agent.LastCheckIn, m.Agent.ExpectedBy = now.Add(-2*time.Hour), now.Add(-time.Hour)
		}, with(all(patch.MonitorOK), patch.MonitorAgentOffline, patch.MonitorWarning), nil},
		{"AgentGoneAWeek", func(m *compliance.MonitorFacts) {
			m.Agent.LastCheckIn, m.Agent.ExpectedBy = now.Add(-8*24*time.Hour), now.Add(-8*24*time.Hour+time.Hour)
		}, with(all(patch.MonitorOK), patch.MonitorAgentOffline, patch.MonitorCritical), nil},
		{"NoAgentRecordRecentlySeen", func(m *compliance.MonitorFacts) { m.Agent = compliance.AgentFacts{}; m.LastSeen = now.Add(-time.Hour) },
			all(patch.MonitorOK), nil},
		{"NoAgentRecordLongGone", func(m *compliance.MonitorFacts) {
			m.Agent = compliance.AgentFacts{}
			m.LastSeen = now.Add(-4 * 24 * time.Hour)
		},
			with(all(patch.MonitorOK), patch.MonitorAgentOffline, patch.MonitorWarning), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			obs := map[patch.MonitorKind]compliance.Observation{}
			for _, o := range compliance.Observe(m, now, compliance.MonitorOptions{}, compliance.Options{}) {
				obs[o.Kind] = o
				if o.Summary == "" {
					t.Errorf("%s has no summary", o.Kind)
				}
			}
			for k, s := range tc.want {
				if obs[k].Status != s {
					t.Errorf("%s = %s (%s), want %s", k, obs[k].Status, obs[k].Summary, s)
				}
			}
			if tc.check != nil {
				tc.check(t, obs)
			}
		})
	}
	t.Run("Unmanaged", func(t *testing.T) {
		m := base()
		m.Asset.Managed = false
		if obs := compliance.Observe(m, now, compliance.MonitorOptions{}, compliance.Options{}); len(obs) != 0 {
			t.Errorf("unmanaged asset got monitors: %+v", obs)
		}
	})
}

// stepper drives one monitor through observations on an injected clock.
type stepper struct {
	t     *testing.T
	now   time.Time
	state *patch.MonitorState
	opts  compliance.MonitorOptions
	// alert mimics the store: the open alert's id and severity.
	alert    patch.AlertID
	severity string
	raised   int
	events   []*patch.MonitorEvent
}

var sub = compliance.Subject{AssetID: "ast_1", ClientID: client, Hostname: "ws-1"}

func (s *stepper) see(d time.Duration, st patch.MonitorStatus, fp string) patch.MonitorChange {
	s.t.Helper()
	s.now = s.now.Add(d)
	ch, _ := compliance.Step(s.state, compliance.Observation{Kind: patch.MonitorUpdatesOutOfDate, Status: st, Summary: string(st) + " " + fp, Fingerprint: fp},
		sub, s.now, s.opts)
	switch ch.Action {
	case patch.AlertRaise:
		if s.alert == "" { // the store's unique index: one open alert
			s.raised++
			s.alert = patch.AlertID(patch.NewID(patch.PrefixAlert, s.now))
		}
		s.severity = ch.Alert.Severity
	case patch.AlertEscalate:
		if s.alert == "" {
			s.t.Fatalf("escalate without an open alert")
		}
		s.severity = ch.Alert.Severity
	case patch.AlertResolve:
		s.alert, s.severity = "", ""
	}
	ch.State.AlertID = s.alert
	ch.State.Version++
	s.state = &ch.State
	if ch.Event != nil {
		s.events = append(s.events, ch.Event)
	}
	return ch
}

func TestStep(t *testing.T) {
	ok, warn, crit := patch.MonitorOK, patch.MonitorWarning, patch.MonitorCritical
	t.Run("FirstEvaluationAlertsAtOnce", func(t *testing.T) {
		s := &stepper{t: t, now: at}
		ch := s.see(0, crit, "a")
		if ch.Action != patch.AlertRaise || ch.Event == nil || ch.Event.To != crit || s.severity != patch.AlertCritical {
			t.Errorf("first = %+v", ch)
		}
	})
	t.Run("SettleIgnoresBlips", func(t *testing.T) {
		s := &stepper{t: t, now: at}
		s.see(0, ok, "")
		ch := s.see(time.Minute, warn, "x")
		if ch.Action != patch.AlertNone || ch.Event != nil || s.state.Status != ok || s.state.PendingStatus != warn {
			t.Fatalf("pending = %+v", ch)
		}
		ch, dirty := compliance.Step(s.state, compliance.Observation{Kind: patch.MonitorUpdatesOutOfDate, Status: ok}, sub, s.now.Add(5*time.Minute), s.opts)
		if ch.State.PendingStatus != "" || !dirty || ch.Event != nil {
			t.Errorf("blip cleared = %+v", ch)
		}
	})
	t.Run("ConfirmRaiseDedupeEscalateResolve", func(t *testing.T) {
		s := &stepper{t: t, now: at}
		s.see(0, ok, "")
		s.see(time.Minute, warn, "x")
		ch := s.see(15*time.Minute, warn, "x")
		if ch.Action != patch.AlertRaise || s.state.Status != warn || ch.Event == nil || ch.Event.From != ok {
			t.Fatalf("confirmed = %+v", ch)
		}
		// The same status again: nothing new.
		if ch := s.see(10*time.Minute, warn, "x"); ch.Action != patch.AlertNone || ch.Event != nil {
			t.Errorf("repeat = %+v", ch)
		}
		// What it sees changes: an event, and the open alert is updated, not raised again.
		if ch := s.see(10*time.Minute, warn, "y"); ch.Action != patch.AlertEscalate || ch.Event == nil || ch.Event.From != warn {
			t.Errorf("new fingerprint = %+v", ch)
		}
		s.see(10*time.Minute, crit, "y")
		if ch := s.see(15*time.Minute, crit, "y"); ch.Action != patch.AlertEscalate || s.severity != patch.AlertCritical {
			t.Errorf("escalation = %+v", ch)
		}
		s.see(10*time.Minute, ok, "")
		if ch := s.see(15*time.Minute, ok, ""); ch.Action != patch.AlertResolve || s.alert != "" {
			t.Errorf("recovery = %+v", ch)
		}
		if s.raised != 1 {
			t.Errorf("raised %d alerts, want 1", s.raised)
		}
	})
	t.Run("UnknownLeavesAlert", func(t *testing.T) {
		s := &stepper{t: t, now: at, opts: compliance.MonitorOptions{Settle: -1}}
		s.see(0, warn, "")
		if ch := s.see(time.Minute, patch.MonitorUnknown, ""); ch.Action != patch.AlertNone || s.alert == "" {
			t.Errorf("unknown = %+v", ch)
		}
	})
	t.Run("FlapSuppression", func(t *testing.T) {
		s := &stepper{t: t, now: at, opts: compliance.MonitorOptions{Settle: -1}}
		s.see(0, ok, "")
		// Five changes within an hour: the fifth makes it flap.
		for i, st := range []patch.MonitorStatus{warn, ok, warn, ok, warn} {
			ch := s.see(10*time.Minute, st, "")
			if i < 4 && ch.Event.Suppressed {
				t.Errorf("change %d suppressed early", i)
			}
		}
		if !s.state.Flapping || !s.events[len(s.events)-1].Suppressed || s.alert == "" || s.raised != 3 {
			t.Fatalf("flapping=%v suppressed=%v alert=%q raised=%d", s.state.Flapping, s.events[len(s.events)-1].Suppressed, s.alert, s.raised)
		}
		// While flapping, changes are recorded but the alert stays.
		ch := s.see(10*time.Minute, ok, "")
		if ch.Action != patch.AlertNone || !ch.Event.Suppressed || s.alert == "" {
			t.Errorf("flapping change = %+v", ch)
		}
		// Holding still for the flap window settles it and resolves the alert (now ok).
		ch = s.see(6*time.Hour, ok, "")
		if s.state.Flapping || ch.Action != patch.AlertResolve || ch.Event == nil {
			t.Errorf("settled = %+v flapping=%v", ch, s.state.Flapping)
		}
		if s.raised != 3 {
			t.Errorf("raised %d alerts, want 3", s.raised)
		}
	})
	t.Run("QuietStateIsNotRewritten", func(t *testing.T) {
		s := &stepper{t: t, now: at}
		s.see(0, ok, "")
		if _, dirty := compliance.Step(s.state, compliance.Observation{Kind: patch.MonitorUpdatesOutOfDate, Status: ok, Summary: "ok "}, sub, s.now.Add(time.Hour), s.opts); dirty {
			t.Errorf("unchanged observation is dirty")
		}
	})
}

func TestMonitorOptionsDefaultsIdempotent(t *testing.T) {
	for _, o := range []compliance.MonitorOptions{{}, {Settle: -1}, {Settle: time.Minute, FlapMax: 2}} {
		once := o.WithDefaults()
		if twice := once.WithDefaults(); twice != once {
			t.Errorf("WithDefaults(%+v) not idempotent: %+v then %+v", o, once, twice)
		}
	}
	if s := (compliance.MonitorOptions{Settle: -1}).WithDefaults().Settle; s >= 0 {
		t.Errorf("Settle -1 became %v; negative means at once", s)
	}
}
