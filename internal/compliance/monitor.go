package compliance

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// MonitorOptions tune the monitors. The zero value takes the defaults
// named on each field.
type MonitorOptions struct {
	// InstalledWithin is how recent a verified install must be for
	// UPDATES – Installed to list it (7 days).
	InstalledWithin time.Duration
	// OfflineAfter is how long without a check-in an asset without an
	// agent record is offline (72 hours); with an agent, its ExpectedBy
	// decides. OfflineCritical turns offline critical (7 days).
	OfflineAfter    time.Duration
	OfflineCritical time.Duration
	// FailedCriticalAfter is how many failed attempts make UPDATES –
	// Failed critical (3).
	FailedCriticalAfter int
	// Settle is how long a new status must hold before it is confirmed
	// (15 minutes; negative for at once); a shorter blip changes nothing
	// and alerts nobody.
	Settle time.Duration
	// A monitor whose status was confirmed to change more than FlapMax
	// times (4) within FlapWindow (6 hours) is flapping: its alerts are
	// replaced by one flapping alert until it holds still for FlapWindow.
	FlapWindow time.Duration
	FlapMax    int
}

// WithDefaults fills zero fields.
func (o MonitorOptions) WithDefaults() MonitorOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.InstalledWithin, 7*day)
	def(&o.OfflineAfter, 72*time.Hour)
	def(&o.OfflineCritical, 7*day)
	def(&o.FlapWindow, 6*time.Hour)
	if o.Settle == 0 {
		o.Settle = 15 * time.Minute
	}
	if o.FailedCriticalAfter <= 0 {
		o.FailedCriticalAfter = 3
	}
	if o.FlapMax <= 0 {
		o.FlapMax = 4
	}
	return o
}

// FailedInstall is an install of an update on an asset that failed. The
// rollout engine (issue 5) supplies these.
type FailedInstall struct {
	FindingID patch.FindingID `json:"finding_id"`
	UpdateID  patch.UpdateID  `json:"update_id"`
	Title     string          `json:"title"`
	At        time.Time       `json:"at"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error"`
	// Remediated is true when a later install of the update succeeded.
	Remediated bool `json:"remediated"`
}

// AgentFacts are what the server knows of an asset's agent.
type AgentFacts struct {
	// Present is true when the asset has an agent that is not revoked.
	Present     bool
	LastCheckIn time.Time
	// ExpectedBy is the deadline of the agent's next check-in.
	ExpectedBy time.Time
}

// MonitorFacts are what the monitors of one asset look at.
type MonitorFacts struct {
	Asset    *Asset
	OS       patch.OS
	LastSeen time.Time
	Agent    AgentFacts
	Failed   []FailedInstall
	// Baselines are the client's OS baselines.
	Baselines []patch.OSBaseline
	// Supported is whether the service description covers the OS version
	// (inventory.Serviceability), nil when the version cannot be read.
	Supported     *bool
	SupportReason string
	// Activated is whether Windows is activated, nil when not reported.
	Activated        *bool
	ActivationReason string
	// UrgentTier is the client's most urgent tier: an overdue update of it
	// makes UPDATES – Out of Date critical.
	UrgentTier string
}

// Observation is what one monitor sees now, before settling.
type Observation struct {
	Kind        patch.MonitorKind
	Status      patch.MonitorStatus
	Summary     string
	Details     map[string]string
	Fingerprint string
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func worst(a, b patch.MonitorStatus) patch.MonitorStatus {
	rank := map[patch.MonitorStatus]int{patch.MonitorUnknown: 0, patch.MonitorOK: 1, patch.MonitorWarning: 2, patch.MonitorCritical: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Observe evaluates every monitor of a managed asset at now; unmanaged
// assets have no monitors (they are coverage gaps of the rating).
func Observe(f *MonitorFacts, now time.Time, mo MonitorOptions, o Options) []Observation {
	if f.Asset == nil || !f.Asset.Managed {
		return nil
	}
	mo, o = mo.WithDefaults(), o.WithDefaults()
	return []Observation{
		observeFailed(f, mo),
		observeInstalled(f, now, mo),
		observeServicePack(f),
		observeOutOfDate(f, now, o),
		observeServiceable(f),
		observeOffline(f, now, mo),
	}
}

func observeFailed(f *MonitorFacts, mo MonitorOptions) Observation {
	ob := Observation{Kind: patch.MonitorUpdatesFailed, Status: patch.MonitorOK, Summary: "No failed installs awaiting remediation.",
		Details: map[string]string{}}
	verified := map[patch.FindingID]bool{}
	for _, fi := range f.Asset.Findings {
		if fi.State == patch.FindingResolved && fi.Resolution == patch.ResolvedVerified {
			verified[fi.ID] = true
		}
	}
	var open []FailedInstall
	for _, fi := range f.Failed {
		if !fi.Remediated && !verified[fi.FindingID] {
			open = append(open, fi)
		}
	}
	if len(open) == 0 {
		return ob
	}
	slices.SortFunc(open, func(a, b FailedInstall) int { return strings.Compare(string(a.FindingID), string(b.FindingID)) })
	ob.Status = patch.MonitorWarning
	var ids, titles []string
	latest := open[0]
	for _, fi := range open {
		if fi.Attempts >= mo.FailedCriticalAfter {
			ob.Status = patch.MonitorCritical
		}
		ids = append(ids, string(fi.FindingID))
		titles = append(titles, cmpOr(fi.Title, string(fi.UpdateID)))
		if fi.At.After(latest.At) {
			latest = fi
		}
	}
	ob.Summary = fmt.Sprintf("%d update(s) failed to install and are not remediated: %s.", len(open), strings.Join(titles, ", "))
	ob.Details = map[string]string{"count": strconv.Itoa(len(open)), "findings": strings.Join(ids, ","),
		"last_failure": stamp(latest.At), "last_error": latest.Error}
	ob.Fingerprint = strings.Join(ids, ",")
	return ob
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func observeInstalled(f *MonitorFacts, now time.Time, mo MonitorOptions) Observation {
	ob := Observation{Kind: patch.MonitorUpdatesInstalled, Status: patch.MonitorOK, Details: map[string]string{}}
	if f.Asset.LastScan.IsZero() {
		ob.Status, ob.Summary = patch.MonitorUnknown, "No successful scan yet: nothing can be verified."
		return ob
	}
	n := 0
	var latest time.Time
	for _, fi := range f.Asset.Findings {
		if fi.State == patch.FindingResolved && fi.Resolution == patch.ResolvedVerified &&
			!fi.ResolvedAt.After(now) && now.Sub(fi.ResolvedAt) < mo.InstalledWithin {
			n++
			if fi.ResolvedAt.After(latest) {
				latest = fi.ResolvedAt
			}
		}
	}
	days := int(mo.InstalledWithin / day)
	if n == 0 {
		ob.Summary = fmt.Sprintf("No updates verified installed in the last %d days.", days)
		return ob
	}
	ob.Summary = fmt.Sprintf("%d update(s) verified installed in the last %d days, the latest at %s.", n, days, stamp(latest))
	ob.Details = map[string]string{"count": strconv.Itoa(n), "latest": latest.UTC().Format(time.RFC3339)}
	ob.Fingerprint = latest.UTC().Format(time.RFC3339Nano)
	return ob
}

func observeServicePack(f *MonitorFacts) Observation {
	ob := Observation{Kind: patch.MonitorMissingServicePack, Details: map[string]string{}}
	name := cmpOr(f.OS.Name, string(f.OS.Family))
	full := FullVersion(f.OS)
	ob.Details["version"] = full
	if f.Supported != nil && !*f.Supported {
		ob.Status = patch.MonitorCritical
		ob.Summary = "Below vendor support: " + f.SupportReason + "."
		return ob
	}
	b, ok := BaselineFor(f.Baselines, f.OS)
	switch {
	case full == "":
		ob.Status, ob.Summary = patch.MonitorUnknown, "The OS version is not known."
	case !ok:
		ob.Status, ob.Summary = patch.MonitorOK, fmt.Sprintf("%s %s; no baseline is set for %s.", name, full, f.OS.Family)
	case CompareVersions(full, b.MinVersion) < 0:
		ob.Status = patch.MonitorWarning
		ob.Summary = fmt.Sprintf("%s %s is below the client's baseline %s.", name, full, b.MinVersion)
		ob.Details["baseline"] = b.MinVersion
		if b.Note != "" {
			ob.Details["note"] = b.Note
		}
	default:
		ob.Status = patch.MonitorOK
		ob.Summary = fmt.Sprintf("%s %s meets the client's baseline %s.", name, full, b.MinVersion)
		ob.Details["baseline"] = b.MinVersion
	}
	return ob
}

func observeOutOfDate(f *MonitorFacts, now time.Time, o Options) Observation {
	ob := Observation{Kind: patch.MonitorUpdatesOutOfDate, Status: patch.MonitorOK, Details: map[string]string{}}
	a := f.Asset
	var parts []string
	switch age := now.Sub(a.LastScan); {
	case a.LastScan.IsZero():
		ob.Status = patch.MonitorWarning
		parts = append(parts, "no successful scan yet")
	case age > 2*o.StaleScanAfter:
		ob.Status = patch.MonitorCritical
		parts = append(parts, fmt.Sprintf("no successful scan for %d days", int(age/day)))
	case age > o.StaleScanAfter:
		ob.Status = patch.MonitorWarning
		parts = append(parts, fmt.Sprintf("no successful scan for %d days", int(age/day)))
	}
	if !a.LastScan.IsZero() {
		ob.Details["last_scan"] = a.LastScan.UTC().Format(time.RFC3339)
	}
	n, urgent := 0, 0
	var oldest time.Time
	var ids []string
	for i := range a.Findings {
		fi := &a.Findings[i]
		if Classify(fi, now, o) != Missing {
			continue
		}
		n++
		ids = append(ids, string(fi.ID))
		if fi.Tier == f.UrgentTier && f.UrgentTier != "" {
			urgent++
		}
		if oldest.IsZero() || fi.DueAt.Before(oldest) {
			oldest = fi.DueAt
		}
	}
	if n > 0 {
		st := patch.MonitorWarning
		msg := fmt.Sprintf("%d approved update(s) past due, the oldest due %s", n, stamp(oldest))
		if urgent > 0 {
			st = patch.MonitorCritical
			msg = fmt.Sprintf("%d approved update(s) past due (%d %s), the oldest due %s", n, urgent, f.UrgentTier, stamp(oldest))
		}
		ob.Status = worst(ob.Status, st)
		parts = append(parts, msg)
		slices.Sort(ids)
		ob.Details["overdue"] = strconv.Itoa(n)
		ob.Details["findings"] = strings.Join(ids, ",")
		ob.Fingerprint = ob.Details["findings"]
	}
	if len(parts) == 0 {
		ob.Summary = "Every approved update due by now is installed; last scan " + stamp(a.LastScan) + "."
		return ob
	}
	s := strings.Join(parts, "; ")
	ob.Summary = strings.ToUpper(s[:1]) + s[1:] + "."
	return ob
}

func observeServiceable(f *MonitorFacts) Observation {
	ob := Observation{Kind: patch.MonitorNotServiceable, Status: patch.MonitorOK, Details: map[string]string{}}
	var bad []string
	switch {
	case f.Supported == nil:
		ob.Status = patch.MonitorUnknown
		ob.Summary = "Serviceability unknown: " + cmpOr(f.SupportReason, "the OS version is not known") + "."
		return ob
	case !*f.Supported:
		bad = append(bad, f.SupportReason)
	}
	if f.Activated != nil && !*f.Activated {
		bad = append(bad, cmpOr(f.ActivationReason, "Windows is not activated with a valid licence"))
	}
	if len(bad) > 0 {
		ob.Status = patch.MonitorCritical
		ob.Summary = "Not serviceable: " + strings.Join(bad, "; ") + "."
		return ob
	}
	ob.Summary = "Serviceable: " + f.SupportReason
	if f.OS.Family == patch.OSWindows {
		if f.Activated == nil {
			ob.Summary += "; activation not reported yet"
		} else {
			ob.Summary += "; Windows is activated"
		}
	}
	ob.Summary += "."
	return ob
}

func observeOffline(f *MonitorFacts, now time.Time, mo MonitorOptions) Observation {
	ob := Observation{Kind: patch.MonitorAgentOffline, Status: patch.MonitorOK, Details: map[string]string{}}
	last, deadline := f.LastSeen, f.LastSeen.Add(mo.OfflineAfter)
	if f.Agent.Present {
		last, deadline = f.Agent.LastCheckIn, f.Agent.ExpectedBy
		if last.IsZero() {
			last = f.LastSeen
		}
	}
	if last.IsZero() && deadline.IsZero() {
		ob.Status, ob.Summary = patch.MonitorUnknown, "The agent has not checked in yet."
		return ob
	}
	ob.Details["last_check_in"] = last.UTC().Format(time.RFC3339)
	if now.Before(deadline) {
		ob.Summary = "Online; last check-in " + stamp(last) + "."
		return ob
	}
	ob.Status = patch.MonitorWarning
	if now.Sub(last) >= mo.OfflineCritical {
		ob.Status = patch.MonitorCritical
	}
	ob.Summary = fmt.Sprintf("Offline since %s (no check-in for %s).", stamp(deadline), roundAge(now.Sub(last)))
	ob.Details["offline_since"] = deadline.UTC().Format(time.RFC3339)
	return ob
}

func roundAge(d time.Duration) string {
	if d >= day {
		return fmt.Sprintf("%d days", int(d/day))
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}

// Subject names the asset a monitor change is about.
type Subject struct {
	AssetID  patch.AssetID
	ClientID patch.ClientID
	Hostname string
}

// Step applies one observation to a monitor's stored state (nil for the
// first evaluation) and returns the new state with the event and alert
// action it calls for, and whether anything worth storing changed (a
// state that only got older need not be written on every check-in).
//
// A status differing from the confirmed one becomes pending and is
// confirmed once it has held for Settle; a blip shorter than that leaves
// no trace but the pending fields. Confirmed changes are events; an
// alerting status raises the monitor's alert (or changes its severity),
// ok resolves it, unknown leaves it alone. More than FlapMax confirmed
// changes within FlapWindow make the monitor flapping: its changes are
// recorded as suppressed events and one flapping alert stands in for
// them until the monitor has held still for FlapWindow, when the alert is
// brought back in line with the status.
func Step(prev *patch.MonitorState, ob Observation, sub Subject, now time.Time, mo MonitorOptions) (patch.MonitorChange, bool) {
	mo = mo.WithDefaults()
	now = now.UTC().Truncate(time.Millisecond)
	if prev == nil {
		st := patch.MonitorState{AssetID: sub.AssetID, ClientID: sub.ClientID, Kind: ob.Kind, Title: ob.Kind.Title(), Status: ob.Status,
			Since: now, Summary: ob.Summary, Details: ob.Details, Fingerprint: ob.Fingerprint, EvaluatedAt: now}
		ch := patch.MonitorChange{State: st, Event: event(&st, "", now)}
		if ob.Status.Alerting() {
			ch.Action, ch.Alert = patch.AlertRaise, alertFor(&st, sub, now)
		}
		return ch, true
	}
	st := *prev
	st.Details = maps.Clone(prev.Details)
	st.Changes = slices.DeleteFunc(slices.Clone(prev.Changes), func(t time.Time) bool { return now.Sub(t) >= mo.FlapWindow })
	st.EvaluatedAt = now
	st.Title = ob.Kind.Title()
	ch := patch.MonitorChange{}
	dirty := len(st.Changes) != len(prev.Changes)

	if ob.Status == st.Status {
		if st.PendingStatus != "" {
			st.PendingStatus, st.PendingSince = "", time.Time{}
			dirty = true
		}
		if ob.Fingerprint != st.Fingerprint {
			st.Summary, st.Details, st.Fingerprint = ob.Summary, ob.Details, ob.Fingerprint
			ch.Event = event(&st, st.Status, now)
			if st.AlertID != "" && st.Status.Alerting() && !st.Flapping {
				ch.Action, ch.Alert = patch.AlertEscalate, alertFor(&st, sub, now)
			}
			dirty = true
		} else if ob.Summary != st.Summary || !maps.Equal(ob.Details, st.Details) {
			st.Summary, st.Details = ob.Summary, ob.Details
			dirty = true
		}
	} else {
		if st.PendingStatus != ob.Status {
			st.PendingStatus, st.PendingSince = ob.Status, now
			dirty = true
		}
		if now.Sub(st.PendingSince) >= max(mo.Settle, 0) {
			from := st.Status
			st.Status, st.Since, st.PendingStatus, st.PendingSince = ob.Status, now, "", time.Time{}
			st.Summary, st.Details, st.Fingerprint = ob.Summary, ob.Details, ob.Fingerprint
			st.Changes = append(st.Changes, now)
			ch.Event = event(&st, from, now)
			wasFlapping := st.Flapping
			st.Flapping = st.Flapping || len(st.Changes) > mo.FlapMax
			switch {
			case st.Flapping:
				ch.Event.Suppressed = true
				if !wasFlapping {
					ch.Action, ch.Alert = patch.AlertRaise, flappingAlert(&st, sub, mo, now)
					if st.AlertID != "" {
						ch.Action = patch.AlertEscalate
					}
				}
			default:
				ch.Action, ch.Alert = alertAction(&st, sub, now)
			}
			dirty = true
		}
	}
	// A flapping monitor that held still for the flap window settles.
	if st.Flapping && (len(st.Changes) == 0 || now.Sub(st.Changes[len(st.Changes)-1]) >= mo.FlapWindow) {
		st.Flapping = false
		ev := event(&st, st.Status, now)
		ev.Summary = "Stopped flapping: " + st.Summary
		ch.Event = ev
		ch.Action, ch.Alert = alertAction(&st, sub, now)
		dirty = true
	}
	return patch.MonitorChange{State: st, Event: ch.Event, Action: ch.Action, Alert: ch.Alert}, dirty
}

// alertAction brings the monitor's alert in line with its status.
func alertAction(st *patch.MonitorState, sub Subject, now time.Time) (patch.AlertAction, *patch.Alert) {
	switch {
	case st.Status.Alerting() && st.AlertID == "":
		return patch.AlertRaise, alertFor(st, sub, now)
	case st.Status.Alerting():
		return patch.AlertEscalate, alertFor(st, sub, now)
	case st.Status == patch.MonitorOK && st.AlertID != "":
		return patch.AlertResolve, nil
	}
	return patch.AlertNone, nil
}

func event(st *patch.MonitorState, from patch.MonitorStatus, now time.Time) *patch.MonitorEvent {
	return &patch.MonitorEvent{ClientID: st.ClientID, AssetID: st.AssetID, Kind: st.Kind, At: now, From: from, To: st.Status,
		Summary: st.Summary, Details: maps.Clone(st.Details)}
}

func alertFor(st *patch.MonitorState, sub Subject, now time.Time) *patch.Alert {
	sev := patch.AlertWarning
	if st.Status == patch.MonitorCritical {
		sev = patch.AlertCritical
	}
	d := maps.Clone(st.Details)
	if d == nil {
		d = map[string]string{}
	}
	d["monitor"] = st.Kind.Title()
	d["hostname"] = sub.Hostname
	return &patch.Alert{ClientID: sub.ClientID, Kind: string(st.Kind), Severity: sev, SubjectType: "asset", SubjectID: string(sub.AssetID),
		Message: fmt.Sprintf("%s: %s: %s", sub.Hostname, st.Kind.Title(), st.Summary), Details: d, RaisedAt: now}
}

func flappingAlert(st *patch.MonitorState, sub Subject, mo MonitorOptions, now time.Time) *patch.Alert {
	a := alertFor(st, sub, now)
	a.Severity = patch.AlertWarning
	a.Message = fmt.Sprintf("%s: %s is flapping (%d changes within %s); its alerts are held until it settles.",
		sub.Hostname, st.Kind.Title(), len(st.Changes), mo.FlapWindow)
	a.Details["flapping"] = "true"
	return a
}
