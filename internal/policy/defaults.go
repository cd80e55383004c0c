package policy

import (
	"slices"

	"github.com/patchring/patchring/internal/patch"
)

// Default tier keys.
const (
	TierCritical = "critical"
	TierHigh     = "high"
	TierRoutine  = "routine"
)

// Default window names.
const (
	WindowNightly = "nightly"
	WindowWeekend = "weekend"
	WindowWorkday = "workday"
)

// DefaultRebootSlot is the playbook's reboot slot for core servers.
const DefaultRebootSlot = "sunday 02:00"

// defaultRows is the default SLA matrix by class key: one cell per tier,
// in tier order (critical, high, routine). The playbook's three rows are
// core-server/critical, workstation/high and do-not-disrupt/routine; the
// rest is filled so that more important classes never wait longer than
// less important ones for the same tier. docs/policy.md reproduces it.
var defaultRows = map[string][3]patch.SLACell{
	patch.ClassCoreServer: {
		{Deadline: "24h", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "7d", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "30d", Windows: []string{WindowWeekend}, Reboot: scheduled()},
	},
	patch.ClassServer: {
		{Deadline: "72h", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "14d", Windows: []string{WindowWeekend}, Reboot: scheduled()},
		{Deadline: "30d", Windows: []string{WindowWeekend}, Reboot: scheduled()},
	},
	patch.ClassWorkstation: {
		{Deadline: "72h", Windows: []string{WindowWorkday}, Reboot: prompted()},
		{Deadline: "7d", Windows: []string{WindowWorkday}, Reboot: prompted()},
		{Deadline: "30d", Windows: []string{WindowWorkday}, Reboot: prompted()},
	},
	patch.ClassDoNotDisrupt: {
		{Deadline: "7d", Windows: []string{WindowWeekend}, Reboot: manual(), ManualApproval: true},
		{Deadline: "14d", Windows: []string{WindowWeekend}, Reboot: manual(), ManualApproval: true},
		{Deadline: "30d", Windows: []string{WindowWeekend}, Reboot: manual(), ManualApproval: true},
	},
	patch.ClassKiosk: {
		{Deadline: "72h", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "7d", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "30d", Windows: []string{WindowNightly}, Reboot: scheduled()},
	},
	// Any class without a row of its own: held like an ordinary server.
	patch.AnyClass: {
		{Deadline: "72h", Windows: []string{WindowNightly}, Reboot: scheduled()},
		{Deadline: "14d", Windows: []string{WindowWeekend}, Reboot: scheduled()},
		{Deadline: "30d", Windows: []string{WindowWeekend}, Reboot: scheduled()},
	},
}

func scheduled() patch.RebootPolicy {
	return patch.RebootPolicy{Mode: patch.RebootScheduled, Slot: DefaultRebootSlot}
}
func prompted() patch.RebootPolicy {
	return patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 3}
}
func manual() patch.RebootPolicy { return patch.RebootPolicy{Mode: patch.RebootManual} }

// Default returns the policy a client starts with: the playbook's SLA
// table filled out for every class of the client, the default windows,
// rings and approval rules. It is valid for the client (see Validate).
func Default(c *patch.Client) *patch.Policy {
	p := &patch.Policy{
		ClientID: c.ID,
		Tiers: []patch.Tier{
			{Key: TierCritical, Name: "Critical", Levels: []patch.Level{patch.LevelCritical}},
			{Key: TierHigh, Name: "High", Levels: []patch.Level{patch.LevelHigh}},
			{Key: TierRoutine, Name: "Routine", Levels: []patch.Level{patch.LevelMedium, patch.LevelLow, patch.LevelNone}},
		},
		SLA: patch.SLA{Anchor: patch.AnchorFirstSeen, DueSoonPct: 25},
		Windows: []patch.MaintenanceWindow{
			{Name: WindowNightly, Weekly: &patch.WeeklyRecurrence{Days: []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}, Start: "01:00"}, Duration: "4h"},
			{Name: WindowWeekend, Weekly: &patch.WeeklyRecurrence{Days: []string{"saturday"}, Start: "22:00"}, Duration: "8h"},
			{Name: WindowWorkday, Weekly: &patch.WeeklyRecurrence{Days: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}, Start: "11:00"}, Duration: "6h"},
		},
		Emergency: patch.EmergencyRule{Enabled: true, Notice: "72h"},
		Approval: patch.ApprovalPolicy{Rules: []patch.ApprovalRule{
			{Name: "security-now", Classifications: []string{"security", "critical"}, Tiers: []string{TierCritical, TierHigh}, AfterDays: 0},
			{Name: "routine-after-7-days", Classifications: []string{"security", "critical", "bugfix", "update-rollup", "definition", "application"}, AfterDays: 7},
		}},
		Rings: []patch.Ring{
			{Key: "canary", Name: "Canary", Percent: 5, ExcludeClasses: presentClasses(c, patch.ClassCoreServer, patch.ClassDoNotDisrupt),
				Promotion: &patch.Promotion{Soak: "24h", FailureThresholdPct: 10, MinSample: 3, Approver: patch.ApproverAutomatic}},
			{Key: "pilot", Name: "Pilot", Percent: 15, ExcludeClasses: presentClasses(c, patch.ClassDoNotDisrupt),
				Promotion: &patch.Promotion{Soak: "72h", FailureThresholdPct: 5, MinSample: 5, Approver: patch.ApproverMSP}},
			{Key: "production", Name: "Production"},
		},
		Exceptions:        patch.ExceptionPolicy{MaxDays: 90, LegacyMaxDays: 365},
		AgentOfflineAfter: "72h",
	}
	tiers := []string{TierCritical, TierHigh, TierRoutine}
	keys := make([]string, 0, len(c.AssetClasses)+1)
	for _, ac := range c.AssetClasses {
		if _, ok := defaultRows[ac.Key]; ok && ac.Key != patch.AnyClass {
			keys = append(keys, ac.Key)
		}
	}
	keys = append(keys, patch.AnyClass)
	for _, k := range keys {
		row := defaultRows[k]
		for i, cell := range row {
			cell.Class, cell.Tier = k, tiers[i]
			cell.Windows = slices.Clone(cell.Windows)
			p.SLA.Matrix = append(p.SLA.Matrix, cell)
		}
	}
	return p
}

// presentClasses returns the keys the client has, so that the default
// rings never name a class the client does not use.
func presentClasses(c *patch.Client, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := c.Class(k); ok {
			out = append(out, k)
		}
	}
	return out
}
