package web

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// RatingView is a Patch Health Compliance rating as pages show it: the
// rating against its target, with the strict rating (nothing excluded) in
// its tooltip, and a link to the assets behind it. It reads without
// colour: a met target has a check mark, a missed one a cross, a group
// without rated assets a dash.
type RatingView struct {
	Pct, Strict, Target *float64
	Met                 *bool
	Rated, Assets       int
	Href                string
}

func ratingOf(r compliance.GroupRating, href string) RatingView {
	return RatingView{Pct: r.RatingPct, Strict: r.StrictPct, Target: r.TargetPct, Met: r.Met, Rated: r.Rated, Assets: r.Assets, Href: href}
}

// Status is ok when the target is met, bad when it is not, unknown without
// a rating.
func (r RatingView) Status() Status {
	switch {
	case r.Pct == nil || r.Met == nil:
		return StatusUnknown
	case *r.Met:
		return StatusOK
	}
	return StatusBad
}

// Title describes the rating in full for a tooltip.
func (r RatingView) Title() string {
	if r.Pct == nil {
		if r.Assets > 0 {
			return "No rated asset among " + plural(r.Assets, "asset") + " (coverage gaps)"
		}
		return "No rated asset"
	}
	var b strings.Builder
	b.WriteString(pct(r.Pct))
	if r.Target != nil {
		if r.Met != nil && *r.Met {
			b.WriteString(" meets the target of ")
		} else {
			b.WriteString(" is below the target of ")
		}
		b.WriteString(pct(r.Target))
	}
	if r.Strict != nil {
		b.WriteString(" · strict " + pct(r.Strict))
	}
	if r.Assets > 0 {
		b.WriteString(" · " + formatInt(r.Rated) + " of " + plural(r.Assets, "asset") + " rated")
	}
	return b.String()
}

// pct writes a percentage rounded to two decimals, trailing zeros
// dropped: "95 %", "91.25 %"; a nil value is a dash.
func pct(p *float64) string {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return "—"
	}
	return pctv(*p)
}

func pctv(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + " %"
}

// hours writes a duration given in hours as days and hours.
func hours(h *float64) string {
	if h == nil {
		return "—"
	}
	v := *h
	switch {
	case v < 1:
		return strconv.Itoa(int(math.Round(v*60))) + " min"
	case v < 48:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " h"
	}
	d := int(v / 24)
	rest := int(math.Round(v - float64(d)*24))
	if rest == 0 {
		return strconv.Itoa(d) + " d"
	}
	return strconv.Itoa(d) + " d " + strconv.Itoa(rest) + " h"
}

// gapNames are the coverage gaps in words.
var gapNames = map[string]string{
	"unmanaged":            "No agent",
	"never_scanned":        "Never scanned",
	"stale_scan":           "Stale scan",
	"scan_failing":         "Scan failing",
	"unsupported_os":       "Unsupported OS",
	"unsupported_software": "Unsupported software",
}

func gapName(g string) string {
	if n, ok := gapNames[g]; ok {
		return n
	}
	return g
}

// slaStatusBadge shows a finding's SLA status.
func slaStatusBadge(s patch.SLAStatus) Badge {
	switch s {
	case patch.SLABreached:
		return Badge{StatusBad, "Breached"}
	case patch.SLADueSoon:
		return Badge{StatusWarn, "Due soon"}
	case patch.SLAOnTrack:
		return Badge{StatusOK, "On track"}
	case patch.SLAPaused:
		return Badge{StatusInfo, "Paused"}
	case patch.SLAMet:
		return Badge{StatusOK, "Met"}
	case patch.SLAMetLate:
		return Badge{StatusWarn, "Met late"}
	}
	return Badge{StatusUnknown, "Not evaluated"}
}

// LeftOut counts the findings kept out of the rating and shown beside it:
// excepted, emergency and not approved.
func (g GroupRow) LeftOut() int {
	return g.Findings.Excepted + g.Findings.EmergencyMissing + g.Findings.NotApproved
}

// formatBytes writes a size in binary units: 512 B, 1.5 GiB.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// deploymentBadge shows a deployment's state.
func deploymentBadge(s patch.DeploymentState) Badge {
	if s == "" {
		return Badge{StatusUnknown, "Unknown"}
	}
	label := strings.ReplaceAll(string(s), "_", " ")
	label = strings.ToUpper(label[:1]) + label[1:]
	switch s {
	case patch.DeploySucceeded:
		return Badge{StatusOK, label}
	case patch.DeployFailed, patch.DeployRolledBack, patch.DeployMissed:
		return Badge{StatusBad, label}
	case patch.DeployRetryWait, patch.DeployRollingBack, patch.DeployRebootPending:
		return Badge{StatusWarn, label}
	case patch.DeploySkipped, patch.DeployCancelled, patch.DeployPending:
		return Badge{StatusUnknown, label}
	}
	return Badge{StatusInfo, label}
}

// jobBadge shows an agent job's state.
func jobBadge(s patch.JobState) Badge {
	if s == "" {
		return Badge{StatusUnknown, "Unknown"}
	}
	label := strings.ToUpper(string(s)[:1]) + string(s)[1:]
	switch s {
	case patch.JobSucceeded:
		return Badge{StatusOK, label}
	case patch.JobFailed, patch.JobRefused, patch.JobExpired:
		return Badge{StatusBad, label}
	case patch.JobPartial:
		return Badge{StatusWarn, label}
	}
	return Badge{StatusInfo, label}
}

// formatShort writes a time compactly for dense tables ("Nov 17 01:03",
// UTC); the full time goes in a tooltip.
func formatShort(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("Jan 2 15:04")
}
