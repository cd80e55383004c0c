package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// renderPDF lays out d as a PDF.
func renderPDF(d Document) ([]byte, error) {
	switch d := d.(type) {
	case *PatchHealth:
		return patchHealthPDF(d)
	case *PatchDetail:
		return patchDetailPDF(d)
	case *QBR:
		return qbrPDF(d)
	case *Inventory:
		return inventoryPDF(d)
	case *Scorecard:
		return scorecardPDF(d)
	}
	return nil, fmt.Errorf("unknown document %T", d)
}

func patchHealthPDF(d *PatchHealth) ([]byte, error) {
	p, err := newPDF(&d.Meta, false)
	if err != nil {
		return nil, err
	}
	p.cover(&d.Meta)
	p.heading("Summary")
	p.bullets(d.Highlights)

	p.heading("Patch Health Compliance by device type")
	p.para("The service levels promise a monthly average rating at or above the target for servers and for workstations. " +
		"Ratings are never blended across device types or operating systems.")
	p.table(ratingColumns("Device type"), ratingRows(d.ByKind), "No ratings in this period.")
	p.heading("By operating system")
	p.table(ratingColumns("Operating system"), ratingRows(d.ByOS), "No ratings in this period.")
	p.heading("By severity tier")
	p.table(ratingColumns("Severity tier"), ratingRows(d.ByTier), "No ratings in this period.")
	p.heading("By asset class")
	p.table(ratingColumns("Asset class"), ratingRows(d.ByClass), "No ratings in this period.")
	p.note("Left out of the rating at " + stamp(d.AsOf) + " and shown here instead: " + excludedText(d.Excluded) +
		". The strict column counts them as missing.")

	p.headingKeep("30-day trend", 80)
	if d.Trend.Empty() {
		p.para("No daily ratings were recorded in the 30 days to " + day(d.AsOf) + ".")
	} else if err := p.chart(&d.Trend, 62); err != nil {
		return nil, err
	}

	p.heading("SLA attainment")
	p.para("Share of updates whose deadline fell in the period that were verified installed by their deadline.")
	p.sla(d.SLA)

	p.heading("Time to remediate")
	rows := [][]cell{}
	for _, r := range d.Remediation {
		rows = append(rows, []cell{c(tierLabel(r.Tier)), c(strconv.Itoa(r.Count)), c(hoursText(r.MedianHours)), c(hoursText(r.P90Hours))})
	}
	p.table([]column{{"Tier", 40, false}, {"Updates fixed", 20, true}, {"Median", 20, true}, {"90th percentile", 20, true}}, rows, "Nothing was fixed in this period.")

	p.heading("Failures and remediation")
	p.para(failureRateText(d.FailureRates))
	rows = [][]cell{}
	for _, f := range d.Failures {
		what := eventText(f.Event)
		if f.Detail != "" {
			what += "\n" + f.Detail
		}
		rem := cell{text: "open", color: colorBad, bold: true}
		if f.Remediation != "" {
			rem = c(f.Remediation + " " + day(f.RemediatedAt))
		}
		rows = append(rows, []cell{c(stamp(f.At)), c(f.Hostname), c(f.Update), c(what), rem})
	}
	p.table([]column{{"When", 16, false}, {"Asset", 16, false}, {"Update", 24, false}, {"What happened", 24, false}, {"Remediation", 20, false}},
		rows, "No failed installs or rollbacks in this period.")

	p.heading("Active exceptions")
	p.exceptions(d.Exceptions)

	p.heading("Top risks reduced")
	p.risks(d.TopRisks)

	p.heading("Coverage gaps")
	p.para("Devices the rating cannot see or vouch for. They are listed here rather than left out silently.")
	rows = [][]cell{}
	for _, g := range d.Gaps {
		rows = append(rows, []cell{c(g.Label), c(strconv.Itoa(g.Assets)), c(strings.Join(g.Hosts, ", "))})
	}
	p.table([]column{{"Gap", 30, false}, {"Devices", 10, true}, {"Which", 60, false}}, rows, "None.")
	return p.bytes()
}

func qbrPDF(d *QBR) ([]byte, error) {
	p, err := newPDF(&d.Meta, false)
	if err != nil {
		return nil, err
	}
	p.cover(&d.Meta)
	p.heading("In brief")
	for _, s := range d.Summary {
		p.para(s)
	}
	p.heading("Compliance score")
	p.table(ratingColumns("Device type"), ratingRows(d.Quarter), "No ratings this quarter.")
	if len(d.Months) > 0 {
		cols := []column{{"Month", 28, false}}
		w := (grid - 28) / max(1, len(d.Months[0].Kinds))
		for i, k := range d.Months[0].Kinds {
			cw := w
			if i == len(d.Months[0].Kinds)-1 {
				cw = grid - 28 - w*(len(d.Months[0].Kinds)-1)
			}
			cols = append(cols, column{k.Label, cw, true})
		}
		rows := [][]cell{}
		for _, m := range d.Months {
			r := []cell{c(m.Month.Label())}
			for _, k := range m.Kinds {
				r = append(r, c(pct(k.RatingPct)+" ("+met(k.Met)+")"))
			}
			rows = append(rows, r)
		}
		if len(cols) > 1 {
			p.table(cols, rows, "")
		}
	}
	if !d.Trend.Empty() {
		if err := p.chart(&d.Trend, 58); err != nil {
			return nil, err
		}
	}
	p.heading("Risks reduced")
	p.para(fmt.Sprintf("%d missing updates were installed and verified this quarter, %d of them critical or known to be exploited.", d.Fixed, d.CriticalFixed))
	p.risks(d.TopRisks)
	p.heading("Deadlines kept")
	p.sla(d.SLA)
	p.heading("Open exceptions")
	p.exceptions(d.Exceptions)
	p.heading("For your attention")
	if len(d.Attention) == 0 {
		p.para("Nothing needs a decision this quarter.")
	}
	p.bullets(d.Attention)
	return p.bytes()
}

func patchDetailPDF(d *PatchDetail) ([]byte, error) {
	p, err := newPDF(&d.Meta, true)
	if err != nil {
		return nil, err
	}
	p.cover(&d.Meta)
	p.para(fmt.Sprintf("Every device with its patch state as of %s: %d devices.", stamp(d.AsOf), len(d.Assets)))
	rows := make([][]cell, 0, len(d.Assets))
	for _, a := range d.Assets {
		overdue := 0
		for _, f := range a.Open {
			if f.SLAStatus == patch.SLABreached {
				overdue++
			}
		}
		od := c(strconv.Itoa(overdue))
		if overdue > 0 {
			od = cell{text: od.text, color: colorBad, bold: true}
		}
		rows = append(rows, []cell{{text: a.Hostname, bold: true}, c(a.Site), c(a.OS), c(a.Class), c(a.EPHI), c(yesNo(a.Managed)),
			c(day(a.LastScan)), c(pct(a.RatingPct)), c(strconv.Itoa(len(a.Open))), od, c(strconv.Itoa(len(a.Fixed))), c(strings.Join(a.Gaps, ", "))})
	}
	p.table([]column{{"Device", 12, false}, {"Site", 11, false}, {"Operating system", 15, false}, {"Class", 9, false}, {"ePHI", 5, false},
		{"Managed", 6, false}, {"Last scan", 8, false}, {"Rating", 7, true}, {"Open", 5, true}, {"Overdue", 6, true}, {"Fixed", 5, true},
		{"Coverage gaps", 11, false}}, rows, "No devices.")
	p.heading("Open and fixed updates per device")
	listed := false
	for _, a := range d.Assets {
		if len(a.Open)+len(a.Fixed) == 0 {
			continue
		}
		listed = true
		ephi := ""
		if a.EPHI == "yes" {
			ephi = " · ePHI"
		}
		p.subheading(a.Hostname + "  (" + a.OS + " · " + a.Class + ephi + ")")
		frows := [][]cell{}
		for _, f := range a.Open {
			state := "open"
			if f.ExceptionID != "" {
				state = "open (excepted " + f.ExceptionID + ")"
			}
			sla := c(string(f.SLAStatus))
			if f.SLAStatus == patch.SLABreached {
				sla = cell{text: "breached", color: colorBad, bold: true}
			}
			tier := f.Tier
			if f.KnownExploited {
				tier += " · KEV"
			}
			frows = append(frows, []cell{c(f.Update), c(strings.Join(f.CVEs, " ")), c(tier), c(state), c(string(f.Approval)), sla,
				c(day(f.FirstSeen)), c(day(f.DueAt)), c("")})
		}
		for _, f := range a.Fixed {
			frows = append(frows, []cell{c(f.Update), c(strings.Join(f.CVEs, " ")), c(f.Tier), c(string(f.Resolution)), c(string(f.Approval)),
				c(string(f.SLAStatus)), c(day(f.FirstSeen)), c(day(f.DueAt)), c(day(f.ResolvedAt))})
		}
		p.table([]column{{"Update", 28, false}, {"CVEs", 16, false}, {"Tier", 9, false}, {"State", 11, false}, {"Approval", 8, false},
			{"SLA", 8, false}, {"Detected", 7, false}, {"Due", 7, false}, {"Resolved", 6, false}}, frows, "")
	}
	if !listed {
		p.para("No device has open updates, and none were installed in this period.")
	}
	return p.bytes()
}

func inventoryPDF(d *Inventory) ([]byte, error) {
	p, err := newPDF(&d.Meta, true)
	if err != nil {
		return nil, err
	}
	p.cover(&d.Meta)
	p.para(fmt.Sprintf("Date-stamped inventory as of %s: %d devices and %d installed software packages. The CSV files hold every field.",
		stamp(d.AsOf), len(d.Assets), len(d.Software)))
	if len(d.Counts) > 0 {
		cols := make([]column, len(d.Counts))
		r := make([]cell, len(d.Counts))
		w := grid / len(d.Counts)
		for i, n := range d.Counts {
			cw := w
			if i == len(d.Counts)-1 {
				cw = grid - w*(len(d.Counts)-1)
			}
			cols[i] = column{n.Label, cw, true}
			r[i] = cell{text: strconv.Itoa(n.N), bold: true}
		}
		p.table(cols, [][]cell{r}, "")
	}
	p.heading("Devices")
	rows := make([][]cell, 0, len(d.Assets))
	for _, a := range d.Assets {
		rows = append(rows, []cell{{text: a.Hostname, bold: true}, c(a.Site), c(a.Owner), c(a.Role + " / " + a.Class), c(a.EPHI),
			c(a.OS + " " + a.OSVersion), c(a.Serial), c(strings.Join(a.IPs, " ")), c(yesNo(a.Managed)), c(day(a.LastSeen)), c(strconv.Itoa(a.SoftwareSeen))})
	}
	p.table([]column{{"Device", 12, false}, {"Site", 12, false}, {"Owner", 11, false}, {"Role / class", 12, false}, {"ePHI", 5, false},
		{"Operating system", 15, false}, {"Serial", 9, false}, {"Addresses", 9, false}, {"Managed", 5, false}, {"Last seen", 7, false},
		{"Software", 3, true}}, rows, "No devices.")
	p.heading("Installed software")
	if len(d.Software) == 0 {
		p.para("No software inventory has been reported.")
		return p.bytes()
	}
	// Software lists are long; the PDF summarises by package, the CSV
	// lists every installation.
	type pkg struct {
		name, vendor string
		versions     map[string]int
		hosts        int
	}
	byName := map[string]*pkg{}
	var names []string
	for _, s := range d.Software {
		k := s.Name
		x := byName[k]
		if x == nil {
			x = &pkg{name: s.Name, vendor: s.Vendor, versions: map[string]int{}}
			byName[k] = x
			names = append(names, k)
		}
		x.versions[s.Version]++
		x.hosts++
	}
	rows = rows[:0]
	for _, n := range names {
		x := byName[n]
		vs := sortedKeys(x.versions)
		rows = append(rows, []cell{c(x.name), c(x.vendor), c(strconv.Itoa(x.hosts)), c(strings.Join(vs, ", "))})
	}
	p.table([]column{{"Software", 35, false}, {"Vendor", 20, false}, {"Devices", 8, true}, {"Versions", 37, false}}, rows, "")
	return p.bytes()
}

func scorecardPDF(d *Scorecard) ([]byte, error) {
	p, err := newPDF(&d.Meta, true)
	if err != nil {
		return nil, err
	}
	p.cover(&d.Meta)
	p.note("Internal: for MSP staff only. Review weekly; adjust SLA windows if failure rates exceed the agreed threshold.")
	cols := []column{{"Week of", 10, false}, {"Compliance", 9, true}, {"Target", 7, true}, {"Active exceptions", 9, true},
		{"Mean age (days)", 9, true}, {"Oldest (days)", 8, true}, {"Expiring soon", 8, true}, {"Installs", 7, true}, {"Failures", 7, true},
		{"Failure rate", 8, true}, {"Tickets", 8, true}, {"After hours", 10, true}}
	for _, r := range d.Rows {
		p.subheading(r.Name)
		rows := [][]cell{}
		for _, w := range r.Weeks {
			comp := c(pct(w.CompliancePct))
			if w.CompliancePct != nil && w.TargetPct != nil && *w.CompliancePct < *w.TargetPct {
				comp = cell{text: comp.text, color: colorBad, bold: true}
			}
			rows = append(rows, []cell{c(string(w.From)), comp, c(pct(w.TargetPct)), c(strconv.Itoa(w.ExceptionsActive)),
				c(num(w.ExceptionsMeanOpenDays)), c(strconv.Itoa(w.ExceptionsMaxOpenDays)), c(strconv.Itoa(w.ExceptionsExpiringSoon)),
				c(strconv.Itoa(w.Installs)), c(strconv.Itoa(w.InstallFailures)), c(pct(w.FailureRatePct)), c(strconv.Itoa(w.Tickets)),
				c(strconv.Itoa(w.AfterHoursTickets))})
		}
		p.table(cols, rows, "No weeks in this period.")
	}
	return p.bytes()
}
