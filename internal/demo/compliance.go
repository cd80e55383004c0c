package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/schedule"
	"github.com/patchring/patchring/internal/server"
)

// The demo's patch history: two months of vendor releases, found by the
// assets' agents and installed (or not) the way each client's operation
// would, recorded scan by scan through the store's RecordScan exactly as
// agent check-ins record them. Then the policy evaluator sets tiers, due
// times and approvals, a few exceptions are signed off, and a month of
// daily compliance snapshots is taken from those facts, so the ratings,
// their history and every metric have real findings underneath.
//
// Each client behaves differently, so the numbers are interesting: the
// law firm patches promptly and meets its targets; the clinic is close to
// them, with a few stale laptops; the manufacturer's office fleet lags and
// its do-not-disrupt line systems wait for approval, so it misses them.

// history is how far back the demo's vendors release updates.
const history = 62 * 24 * time.Hour

// release is one update a vendor released, and which assets need it.
type release struct {
	u       patch.Update
	applies func(a *patch.Asset) bool
}

// behaviour is how promptly a client's team installs updates on one kind
// of asset: shares of installs in time and late (the rest never), and how
// much of the deadline an install in time takes at most.
type behaviour struct{ onTime, late, pace float64 }

func behaviourOf(client string, a *patch.Asset) behaviour {
	server := a.Role == patch.RoleServer
	switch {
	case a.Class == patch.ClassDoNotDisrupt:
		return behaviour{0.55, 0.25, 0.9}
	case client == lawFirm && server:
		return behaviour{0.995, 0.005, 0.3}
	case client == lawFirm:
		return behaviour{0.985, 0.01, 0.3}
	case client == clinic && server:
		return behaviour{0.98, 0.02, 0.6}
	case client == clinic:
		return behaviour{0.94, 0.04, 0.7}
	case server:
		return behaviour{0.93, 0.05, 0.8}
	}
	return behaviour{0.82, 0.12, 0.9}
}

// held reports whether a client holds an update back on purpose: the law
// firm's document-management vendor has not certified the latest .NET
// update (an exception covers it).
func held(client string, a *patch.Asset, u *patch.Update, now time.Time) bool {
	return client == lawFirm && a.Hostname == "srv-dms" && u.Product == ".NET Framework" && now.Sub(u.ReleaseDate) < 40*24*time.Hour
}

// deadline approximates the default SLA deadline of an update's tier on
// an asset's class, for the demo's install timing only (the evaluator
// computes the real due times).
func deadline(a *patch.Asset, u *patch.Update) time.Duration {
	sev := strings.ToLower(u.VendorSeverity)
	critical := sev == "critical" || u.CVSS >= 9 || u.KnownExploited
	high := sev == "important" || sev == "high" || (u.CVSS >= 7 && u.CVSS < 9)
	d := 30 * 24 * time.Hour
	switch {
	case critical && a.Class == patch.ClassCoreServer:
		d = 24 * time.Hour
	case critical:
		d = 72 * time.Hour
	case high:
		d = 7 * 24 * time.Hour
	}
	return d
}

func nameHas(a *patch.Asset, s ...string) bool {
	for _, x := range s {
		if strings.Contains(a.OS.Name, x) {
			return true
		}
	}
	return false
}

func isWindowsClient(a *patch.Asset) bool {
	return a.OS.Family == patch.OSWindows && !nameHas(a, "Server", "Windows 7")
}

// releases returns the updates vendors released between now-history and
// now: Microsoft's monthly cumulative updates on Patch Tuesday (and one
// out-of-band fix), .NET, Edge and Chrome (one a known-exploited zero-day),
// Acrobat Reader, macOS and Safari, Debian/Ubuntu and Red Hat advisories.
func releases(rnd *rand.Rand, now time.Time) []release {
	var out []release
	kb := 5046000 + rnd.IntN(900)
	nextKB := func() string { kb += 7 + rnd.IntN(40); return fmt.Sprintf("KB%d", kb) }
	wua := func(title, product, sev string, at time.Time, cvss float64, applies func(*patch.Asset) bool) {
		id := nextKB()
		out = append(out, release{u: patch.Update{Source: "wua", VendorID: id + ".1", Package: id, Title: title + " (" + id + ")", Product: product,
			Version: "1", Classification: "security", VendorClassification: "Security Updates", VendorSeverity: sev, KBs: []string{id},
			CVEs: []string{fmt.Sprintf("CVE-%d-%d", at.Year(), 20000+rnd.IntN(30000))}, CVSS: cvss, ReleaseDate: at, RebootRequired: true,
			Size: int64(300+rnd.IntN(600)) << 20}, applies: applies})
	}
	start := now.Add(-history)
	// Patch Tuesdays in the period (10:00 Pacific is 17:00 or 18:00 UTC).
	for m := start.AddDate(0, -1, 0); !m.After(now); m = m.AddDate(0, 1, 0) {
		pt := schedule.PatchTuesday(m.Year(), m.Month(), time.UTC).Add(18 * time.Hour)
		if pt.Before(start) || pt.After(now) {
			continue
		}
		month := pt.Format("2006-01")
		wua(month+" Cumulative Update for Windows 11", "Windows 11", "Critical", pt, 8.8, func(a *patch.Asset) bool { return nameHas(a, "Windows 11") })
		wua(month+" Cumulative Update for Windows 10", "Windows 10", "Critical", pt, 8.8, func(a *patch.Asset) bool { return nameHas(a, "Windows 10") })
		wua(month+" Cumulative Update for Windows Server 2022", "Windows Server 2022", "Critical", pt, 9.8, func(a *patch.Asset) bool { return nameHas(a, "Server 2022") })
		wua(month+" Cumulative Update for Windows Server 2019", "Windows Server 2019", "Critical", pt, 9.8, func(a *patch.Asset) bool { return nameHas(a, "Server 2019") })
		wua(month+" Cumulative Update for Windows Server 2016", "Windows Server 2016", "Important", pt, 7.5, func(a *patch.Asset) bool { return nameHas(a, "Server 2016") })
		wua(month+" Security Monthly Quality Rollup for Windows Server 2012 R2", "Windows Server 2012 R2", "Important", pt, 7.8, func(a *patch.Asset) bool { return nameHas(a, "2012 R2") })
		wua(month+" Cumulative Update for .NET Framework 3.5 and 4.8.1", ".NET Framework", "Important", pt, 7.5,
			func(a *patch.Asset) bool { return a.OS.Family == patch.OSWindows && !nameHas(a, "Windows 7") })
		wua(month+" Windows Malicious Software Removal Tool x64", "Windows", "Low", pt, 0, func(a *patch.Asset) bool { return isWindowsClient(a) })
	}
	// An out-of-band fix for domain controllers, about two weeks ago (never
	// on or just after a Patch Tuesday): an emergency update.
	oob := now.Add(-13*24*time.Hour - 5*time.Hour)
	for pt := schedule.PatchTuesday(oob.Year(), oob.Month(), time.UTC); !oob.Before(pt.Add(-24*time.Hour)) && oob.Before(pt.Add(72*time.Hour)); {
		oob = oob.Add(-4 * 24 * time.Hour)
	}
	wua("Out-of-band update for Windows Server: Kerberos authentication", "Windows Server", "Critical", oob, 9.0,
		func(a *patch.Asset) bool { return nameHas(a, "Server 2019", "Server 2022") })
	third := func(src patch.UpdateSource, pkg, title, product, version string, at time.Time, cvss float64, exploited bool, applies func(*patch.Asset) bool) {
		out = append(out, release{u: patch.Update{Source: src, VendorID: pkg + "=" + version, Package: pkg, Title: title + " " + version, Product: product,
			Version: version, Classification: "security", CVSS: cvss, KnownExploited: exploited, ReleaseDate: at,
			CVEs: []string{fmt.Sprintf("CVE-%d-%d", at.Year(), 1000+rnd.IntN(9000))}}, applies: applies})
	}
	desktop := func(a *patch.Asset) bool { return isWindowsClient(a) && a.Class != patch.ClassDoNotDisrupt }
	macDesk := func(a *patch.Asset) bool { return a.OS.Family == patch.OSMacOS }
	for i, d := range []int{58, 44, 30, 16, 4} {
		at := now.Add(-time.Duration(d)*24*time.Hour + time.Duration(rnd.IntN(12))*time.Hour)
		v := fmt.Sprintf("13%d.0.%d.%d", 0+i, 6700+rnd.IntN(200), rnd.IntN(120))
		third("winget", "Google.Chrome", "Google Chrome", "Google Chrome", v, at, 8.8, i == 3, desktop)
		third("brew", "google-chrome", "Google Chrome", "Google Chrome", v, at, 8.8, i == 3, macDesk)
	}
	for _, d := range []int{50, 22} {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		third("winget", "Microsoft.Edge", "Microsoft Edge", "Microsoft Edge", fmt.Sprintf("13%d.0.%d.%d", 0+d%7, 2800+rnd.IntN(100), rnd.IntN(90)), at, 7.5, false, desktop)
	}
	for _, d := range []int{40, 12} {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		third("winget", "Adobe.Acrobat.Reader.64-bit", "Adobe Acrobat Reader", "Acrobat Reader", fmt.Sprintf("25.001.%d", 20000+rnd.IntN(900)), at, 7.8, false, desktop)
	}
	mac := func(pkg, title, version string, at time.Time, cvss float64, applies func(*patch.Asset) bool) {
		out = append(out, release{u: patch.Update{Source: "softwareupdate", VendorID: pkg + "-" + version, Package: pkg, Title: title + " " + version,
			Product: "macOS", Version: version, Classification: "security", VendorSeverity: "recommended", CVSS: cvss, ReleaseDate: at, RebootRequired: true,
			CVEs: []string{fmt.Sprintf("CVE-%d-%d", at.Year(), 40000+rnd.IntN(9000))}}, applies: applies})
	}
	mac("macOS Sequoia", "macOS Sequoia", "15.1.1", now.Add(-34*24*time.Hour), 9.1, func(a *patch.Asset) bool { return nameHas(a, "Sequoia") })
	mac("macOS Sonoma", "macOS Sonoma", "14.7.2", now.Add(-34*24*time.Hour), 9.1, func(a *patch.Asset) bool { return nameHas(a, "Sonoma") })
	mac("macOS Ventura", "macOS Ventura", "13.7.2", now.Add(-34*24*time.Hour), 8.1, func(a *patch.Asset) bool { return nameHas(a, "Ventura") })
	mac("Safari", "Safari", "18.2", now.Add(-9*24*time.Hour), 7.5, macDesk)
	linux := func(src patch.UpdateSource, pkg, version, sev, advisory, product string, at time.Time, applies func(*patch.Asset) bool) {
		out = append(out, release{u: patch.Update{Source: src, VendorID: pkg + "=" + version, Package: pkg, Title: pkg + " " + version, Product: product,
			Version: version, Classification: "security", VendorSeverity: sev, Advisory: advisory, ReleaseDate: at,
			CVEs: []string{fmt.Sprintf("CVE-%d-%d", at.Year(), 50000+rnd.IntN(9000))}}, applies: applies})
	}
	debian := func(a *patch.Asset) bool { return nameHas(a, "Debian") }
	ubuntu := func(a *patch.Asset) bool { return nameHas(a, "Ubuntu") }
	rhel := func(a *patch.Asset) bool { return nameHas(a, "Red Hat", "Rocky") }
	for i, p := range []struct{ pkg, sev string }{{"openssl", "high"}, {"curl", "medium"}, {"linux-image-amd64", "high"}, {"sudo", "high"},
		{"libxml2", "medium"}, {"openssh-server", "critical"}, {"python3.11", "medium"}, {"tzdata", "low"}} {
		at := now.Add(-time.Duration(57-7*i)*24*time.Hour - time.Duration(rnd.IntN(20))*time.Hour)
		linux("apt", p.pkg, fmt.Sprintf("%d.%d-1+deb12u%d", 1+rnd.IntN(3), rnd.IntN(20), 1+rnd.IntN(5)), "urgency="+p.sev, fmt.Sprintf("DSA-%d-1", 5800+i), "Debian 12", at, debian)
		linux("apt", p.pkg, fmt.Sprintf("%d.%d-0ubuntu%d.%d", 1+rnd.IntN(3), rnd.IntN(20), 1+rnd.IntN(5), rnd.IntN(9)), p.sev, fmt.Sprintf("USN-%d-1", 7100+i), "Ubuntu", at, ubuntu)
	}
	for i, p := range []struct{ pkg, sev string }{{"kernel", "Important"}, {"openssl", "Moderate"}, {"glibc", "Important"}, {"postgresql", "Moderate"}, {"bind", "Critical"}} {
		at := now.Add(-time.Duration(55-11*i)*24*time.Hour - time.Duration(rnd.IntN(20))*time.Hour)
		linux("dnf", p.pkg, fmt.Sprintf("%d.%d.%d-%d.el9_4", 1+rnd.IntN(5), rnd.IntN(20), rnd.IntN(30), 1+rnd.IntN(9)), p.sev, fmt.Sprintf("RHSA-2026:%d", 4000+i*37), "Red Hat Enterprise Linux", at, rhel)
	}
	// Legacy machines (Windows 7) still report the last updates they
	// never took; they live in the exception register's legacy lane.
	for _, t := range []string{"Extended Security Update for Windows 7", "Servicing Stack Update for Windows 7"} {
		wua(t, "Windows 7", "Critical", start.Add(-200*24*time.Hour), 9.8, func(a *patch.Asset) bool { return nameHas(a, "Windows 7") })
	}
	return out
}

// plannedUpdate is one update on one asset: when the agent found it and
// when a scan verified it installed (zero: still missing).
type plannedUpdate struct {
	u              *patch.Update
	found, checked time.Time
}

// complianceDemo seeds the patch history of the demo's clients.
type complianceDemo struct {
	srv      *server.Server
	findings patch.FindingStore
	rnd      *rand.Rand
	now      time.Time
}

// seedCompliance records the demo's patch history (see the top of this
// file). It needs the findings store and a server wired with the policy
// and compliance stores; without them there is no history to seed.
func seedCompliance(ctx context.Context, srv *server.Server, assets patch.AssetStore, rnd *rand.Rand, now time.Time, res *Result) error {
	fs, ok := assets.(patch.FindingStore)
	if !ok || !srv.ComplianceConfigured() {
		return nil
	}
	d := &complianceDemo{srv: srv, findings: fs, rnd: rnd, now: now.UTC().Truncate(time.Second)}
	rels := releases(rnd, d.now)
	for _, c := range res.Clients {
		as, _, err := srv.Assets(ctx, patch.AssetFilter{ClientID: &c.ID, Limit: patch.MaxLimit})
		if err != nil {
			return err
		}
		for _, a := range as {
			if err := d.scanHistory(ctx, c.Name, a, rels); err != nil {
				return fmt.Errorf("demo scans of %s: %w", a.Hostname, err)
			}
		}
		if c.Name == manufacturer {
			if err := d.approveLastMonth(ctx, c.ID, rels); err != nil {
				return err
			}
		}
		if _, err := srv.EvaluateClient(ctx, c.ID); err != nil {
			return fmt.Errorf("demo evaluation of %s: %w", c.Name, err)
		}
	}
	if err := d.exceptions(ctx, res); err != nil {
		return err
	}
	if _, err := srv.BackfillSnapshots(ctx, 30, true); err != nil {
		return fmt.Errorf("demo snapshots: %w", err)
	}
	return srv.RunComplianceOnce(ctx)
}

// scanHistory plans which releases an asset needed, when its agent found
// them and when it installed them, and records the scans that saw it
// happen: one at each change, one a week besides, and a last one at the
// asset's last check-in.
func (d *complianceDemo) scanHistory(ctx context.Context, client string, a *patch.Asset, rels []release) error {
	if !a.Managed {
		return nil
	}
	alive := a.LastSeen
	if alive.IsZero() || alive.After(d.now) {
		alive = d.now
	}
	// The agent scans daily at its own hour.
	hour := time.Duration(d.rnd.IntN(24*60)) * time.Minute
	nextScan := func(t time.Time) time.Time {
		s := t.Truncate(24 * time.Hour).Add(hour)
		if s.Before(t) {
			s = s.Add(24 * time.Hour)
		}
		return s
	}
	b := behaviourOf(client, a)
	var plan []plannedUpdate
	for i := range rels {
		r := &rels[i]
		if !r.applies(a) {
			continue
		}
		found := nextScan(maxTime(r.u.ReleaseDate, d.now.Add(-history)).Add(time.Duration(d.rnd.IntN(6*60)) * time.Minute))
		if found.After(alive) {
			continue
		}
		p := plannedUpdate{u: &r.u, found: found}
		if !strings.Contains(r.u.Product, "Windows 7") && !held(client, a, &r.u, d.now) {
			dl := deadline(a, &r.u)
			var took time.Duration
			switch x := d.rnd.Float64(); {
			case x < b.onTime:
				took = time.Duration((0.05 + 0.95*d.rnd.Float64()) * b.pace * float64(dl))
			case x < b.onTime+b.late:
				took = time.Duration((1.2 + 2*d.rnd.Float64()) * float64(dl))
			default:
				took = -1
			}
			if took >= 0 {
				if c := nextScan(found.Add(took)); !c.After(alive) {
					p.checked = c
				}
			}
		}
		plan = append(plan, p)
	}
	// The scans: every change, weekly in between, and the last one.
	var times []time.Time
	for _, p := range plan {
		times = append(times, p.found)
		if !p.checked.IsZero() {
			times = append(times, p.checked)
		}
	}
	first := nextScan(d.now.Add(-history))
	last := nextScan(alive.Add(-24 * time.Hour))
	if last.After(alive) {
		last = alive
	}
	times = append(times, first, last)
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	// A scan at least weekly: fill quiet weeks (the agent scans daily;
	// only the scans that change something, and one a week, are kept).
	var all []time.Time
	for i, t := range times {
		if i > 0 {
			for p := all[len(all)-1].Add(7 * 24 * time.Hour); p.Before(t); p = p.Add(7 * 24 * time.Hour) {
				all = append(all, p)
			}
		}
		all = append(all, t)
	}
	times = slices.Compact(all)
	sources := sourcesOf(a)
	for _, t := range times {
		if t.Before(first) || t.After(alive) {
			continue
		}
		s := patch.ScanResult{AssetID: a.ID, At: t, Sources: sources}
		for _, p := range plan {
			if !p.found.After(t) && (p.checked.IsZero() || p.checked.After(t)) {
				s.Missing = append(s.Missing, patch.ScannedUpdate{Update: *p.u, InstalledVersion: "previous"})
			}
		}
		if _, err := d.findings.RecordScan(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sourcesOf are the update sources an asset's agent scans.
func sourcesOf(a *patch.Asset) []patch.UpdateSource {
	switch a.OS.Family {
	case patch.OSWindows:
		return []patch.UpdateSource{"wua", "winget"}
	case patch.OSMacOS:
		return []patch.UpdateSource{"softwareupdate", "brew"}
	case patch.OSLinux:
		if nameHas(a, "Red Hat", "Rocky") {
			return []patch.UpdateSource{"dnf"}
		}
		return []patch.UpdateSource{"apt"}
	}
	return nil
}

// approveLastMonth: the manufacturer's plant manager approved the Windows
// updates of the line systems (Windows 10 LTSC, Server 2012 R2 and 2016)
// released more than three weeks ago, whose SLA cell needs a person's
// approval; newer ones wait.
func (d *complianceDemo) approveLastMonth(ctx context.Context, client patch.ClientID, rels []release) error {
	cutoff := d.now.Add(-21 * 24 * time.Hour)
	for _, r := range rels {
		if r.u.Source != "wua" || r.u.ReleaseDate.After(cutoff) || r.u.ReleaseDate.Before(d.now.Add(-history)) ||
			!slices.Contains([]string{"Windows 10", "Windows Server 2012 R2", "Windows Server 2016"}, r.u.Product) {
			continue
		}
		vid := r.u.VendorID
		us, _, err := d.findings.FindUpdates(ctx, patch.UpdateFilter{VendorID: &vid, ClientID: &client, Limit: 1})
		if err != nil {
			return err
		}
		if len(us) == 0 {
			continue
		}
		if _, err := d.srv.DecideUpdate(ctx, client, server.DecisionInput{UpdateID: us[0].ID, Decision: patch.ApprovalApproved}); err != nil {
			return fmt.Errorf("demo approval: %w", err)
		}
	}
	return nil
}

// exceptions files and signs off the demo's exceptions: the clinic's
// ultrasound workstation and the manufacturer's CNC controllers in the
// legacy lane (Windows 7, vendor-locked), and a deferral of one update on
// the law firm's document-management server.
func (d *complianceDemo) exceptions(ctx context.Context, res *Result) error {
	owners := map[patch.ClientID]*patch.User{}
	for _, u := range res.Users {
		if u.Role == patch.RoleClientOwner {
			owners[u.ClientID] = u
		}
	}
	controls := []patch.CompensatingControl{
		{Kind: patch.ControlSegmentation, Description: "Isolated VLAN; only the modality worklist and PACS ports are open."},
		{Kind: patch.ControlRestrictedAccess, Description: "Local logon only; no e-mail or web browsing."},
		{Kind: patch.ControlExtraMonitoring, Description: "EDR in audit mode and weekly integrity scan."},
	}
	for _, c := range res.Clients {
		var in server.ExceptionInput
		switch c.Name {
		case clinic, manufacturer:
			legacy := "vendor-locked"
			as, _, err := d.srv.Assets(ctx, patch.AssetFilter{ClientID: &c.ID, Tags: []patch.TagMatch{{Key: "legacy", Value: legacy}}, Limit: patch.MaxLimit})
			if err != nil {
				return err
			}
			if len(as) == 0 {
				continue
			}
			in = server.ExceptionInput{ClientID: c.ID, Lane: patch.LaneLegacy, Scope: patch.ExceptionScope{AllUpdates: true},
				Reason:    "Vendor-certified Windows 7 controller; the vendor does not support any update. Replacement budgeted for next year.",
				TicketRef: fmt.Sprintf("PSA-%d", 48000+d.rnd.IntN(900)), Controls: controls, ExpiresAt: d.now.Add(300 * 24 * time.Hour)}
			for _, a := range as {
				in.Scope.AssetIDs = append(in.Scope.AssetIDs, a.ID)
			}
		case lawFirm:
			host := "srv-dms"
			as, _, err := d.srv.Assets(ctx, patch.AssetFilter{ClientID: &c.ID, Query: &host, Limit: 1})
			if err != nil {
				return err
			}
			if len(as) == 0 {
				continue
			}
			st := patch.FindingOpen
			fs, _, err := d.findings.FindFindings(ctx, patch.FindingFilter{AssetID: &as[0].ID, State: &st, Limit: 1})
			if err != nil || len(fs) == 0 {
				continue
			}
			in = server.ExceptionInput{ClientID: c.ID, Scope: patch.ExceptionScope{AssetIDs: []patch.AssetID{as[0].ID}, UpdateIDs: []patch.UpdateID{fs[0].UpdateID}},
				Reason:    "The document-management vendor has not certified this update yet; certification expected within three weeks.",
				TicketRef: fmt.Sprintf("PSA-%d", 48000+d.rnd.IntN(900)), ExpiresAt: d.now.Add(21 * 24 * time.Hour),
				Controls: []patch.CompensatingControl{{Kind: patch.ControlRestrictedAccess, Description: "Server reachable only from the office VLAN and the VPN."}}}
		default:
			continue
		}
		x, err := d.srv.RequestException(ctx, in)
		if err != nil {
			return fmt.Errorf("demo exception for %s: %w", c.Name, err)
		}
		if o := owners[c.ID]; o != nil {
			if _, err := d.srv.SignOffException(patch.NewContextWithActor(ctx, o.Actor()), x.ID, "Agreed at the quarterly review."); err != nil {
				return fmt.Errorf("demo sign-off for %s: %w", c.Name, err)
			}
		}
	}
	return nil
}
