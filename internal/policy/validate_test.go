package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(p *patch.Policy)
		field string
		msg   string
	}{
		{"no client", func(p *patch.Policy) { p.ClientID = "" }, "client_id", "required"},
		{"no tiers", func(p *patch.Policy) { p.Tiers = nil }, "tiers", "1 to 10"},
		{"bad tier key", func(p *patch.Policy) { p.Tiers[1].Key = "High" }, "tiers[1].key", "lowercase"},
		{"duplicate tier", func(p *patch.Policy) { p.Tiers[1].Key = "critical" }, "tiers[1].key", "duplicate"},
		{"unknown level", func(p *patch.Policy) { p.Tiers[2].Levels[0] = "severe" }, "tiers[2].levels[0]", "critical, high"},
		{"level twice", func(p *patch.Policy) { p.Tiers[1].Levels = append(p.Tiers[1].Levels, patch.LevelCritical) }, "tiers[1].levels[1]", "already in tier critical"},
		{"level in no tier", func(p *patch.Policy) { p.Tiers[2].Levels = p.Tiers[2].Levels[:2] }, "tiers", "none is in no tier"},
		{"bad anchor", func(p *patch.Policy) { p.SLA.Anchor = "detected" }, "sla.anchor", "first_seen or release"},
		{"bad due soon", func(p *patch.Policy) { p.SLA.DueSoonPct = 0 }, "sla.due_soon_pct", "between 1 and 99"},
		{"bad deadline", func(p *patch.Policy) { p.SLA.Matrix[0].Deadline = "1 day" }, "sla.matrix[0].deadline", "such as 24h"},
		{"short deadline", func(p *patch.Policy) { p.SLA.Matrix[0].Deadline = "30m" }, "sla.matrix[0].deadline", "between 1h and 365d"},
		{"unknown class", func(p *patch.Policy) { p.SLA.Matrix[3].Class = "mainframe" }, "sla.matrix[3].class", "unknown asset class"},
		{"unknown tier in cell", func(p *patch.Policy) { p.SLA.Matrix[4].Tier = "urgent" }, "sla.matrix[4].tier", "unknown tier"},
		{"duplicate cell", func(p *patch.Policy) { p.SLA.Matrix[1].Tier = TierCritical }, "sla.matrix[1]", "duplicate cell"},
		{"unknown window", func(p *patch.Policy) { p.SLA.Matrix[2].Windows = []string{"nightly", "lunch"} }, "sla.matrix[2].windows[1]", `unknown window "lunch"`},
		{"scheduled without slot", func(p *patch.Policy) { p.SLA.Matrix[0].Reboot.Slot = "" }, "sla.matrix[0].reboot.slot", "required"},
		{"bad slot", func(p *patch.Policy) { p.SLA.Matrix[0].Reboot.Slot = "someday 02:00" }, "sla.matrix[0].reboot.slot", "weekly slot"},
		{"slot on manual", func(p *patch.Policy) { p.SLA.Matrix[9].Reboot.Slot = "sunday 02:00" }, "sla.matrix[9].reboot.slot", "only scheduled"},
		{"too many deferrals", func(p *patch.Policy) { p.SLA.Matrix[6].Reboot.Deferrals = 11 }, "sla.matrix[6].reboot.deferrals", "between 0 and 10"},
		{"bad reboot mode", func(p *patch.Policy) { p.SLA.Matrix[0].Reboot = patch.RebootPolicy{Mode: "sometimes"} }, "sla.matrix[0].reboot.mode", "scheduled, user_prompted"},
		{"matrix gap", func(p *patch.Policy) { p.SLA.Matrix = removeWild(p.SLA.Matrix)[1:] }, "sla.matrix", "no cell for class core-server and tier critical"},
		{"bad window day", func(p *patch.Policy) { p.Windows[0].Weekly.Days[2] = "funday" }, "windows[0].weekly.days[2]", ""},
		{"bad window duration", func(p *patch.Policy) { p.Windows[1].Duration = "10d" }, "windows[1].duration", ""},
		{"duplicate window", func(p *patch.Policy) { p.Windows[1].Name = "nightly" }, "windows[1].name", "duplicate"},
		{"bad window zone", func(p *patch.Policy) { p.Windows[2].TimeZone = "Mars/Olympus" }, "windows[2].time_zone", ""},
		{"emergency tier", func(p *patch.Policy) { p.Emergency.Tiers = []string{"urgent"} }, "emergency.tiers[0]", "unknown tier"},
		{"emergency notice", func(p *patch.Policy) { p.Emergency.Notice = "soon" }, "emergency.notice", "duration"},
		{"rule name", func(p *patch.Policy) { p.Approval.Rules[0].Name = "" }, "approval.rules[0].name", "required"},
		{"rule classification", func(p *patch.Policy) { p.Approval.Rules[1].Classifications[2] = "bug" }, "approval.rules[1].classifications[2]", "unknown classification"},
		{"rule source", func(p *patch.Policy) { p.Approval.Rules[0].Sources = []string{"yum"} }, "approval.rules[0].sources[0]", "apt, dnf"},
		{"rule days", func(p *patch.Policy) { p.Approval.Rules[0].AfterDays = -1 }, "approval.rules[0].after_days", "between 0 and 365"},
		{"no rings", func(p *patch.Policy) { p.Rings = nil }, "rings", "1 to 10"},
		{"last ring percent", func(p *patch.Policy) { p.Rings[2].Percent = 50 }, "rings[2].percent", "no percentage"},
		{"percent over 100", func(p *patch.Policy) { p.Rings[0].Percent, p.Rings[1].Percent = 60, 50 }, "rings", "more than 100%"},
		{"promotion missing", func(p *patch.Policy) { p.Rings[1].Promotion = nil }, "rings[1].promotion", "promoted to production"},
		{"promotion on last", func(p *patch.Policy) { p.Rings[2].Promotion = p.Rings[1].Promotion }, "rings[2].promotion", "no next ring"},
		{"bad approver", func(p *patch.Policy) { p.Rings[0].Promotion.Approver = "boss" }, "rings[0].promotion.approver", "automatic, msp, client_owner"},
		{"bad soak", func(p *patch.Policy) { p.Rings[0].Promotion.Soak = "forever" }, "rings[0].promotion.soak", "duration"},
		{"bad asset id", func(p *patch.Policy) { p.Rings[0].Assets = []patch.AssetID{"srv-1"} }, "rings[0].assets[0]", "not an asset id"},
		{"msp canary not first", func(p *patch.Policy) { p.Rings[1].MSPCanary = true }, "rings[1].msp_canary", "only the first"},
		{"msp canary with percent", func(p *patch.Policy) { p.Rings[0].MSPCanary = true }, "rings[0].msp_canary", "remove assets, tags and percent"},
		{"excluded class", func(p *patch.Policy) { p.Rings[0].ExcludeClasses = []string{"mainframe"} }, "rings[0].exclude_classes[0]", "unknown asset class"},
		{"exception max", func(p *patch.Policy) { p.Exceptions.MaxDays = 0 }, "exceptions.max_days", "between 1 and 365"},
		{"legacy max", func(p *patch.Policy) { p.Exceptions.LegacyMaxDays = 5000 }, "exceptions.legacy_max_days", "between 1 and 1095"},
		{"offline", func(p *patch.Policy) { p.AgentOfflineAfter = "10m" }, "agent_offline_after", "between 1h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient()
			p := Default(c)
			tc.edit(p)
			err := Validate(p, c.AssetClasses)
			if err == nil {
				t.Fatal("Validate = nil")
			}
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tc.field || !strings.Contains(patch.ErrorMessage(err), tc.msg) {
				t.Errorf("Validate = %v (field %q), want field %q with %q", err, patch.ErrorField(err), tc.field, tc.msg)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	p := Default(testClient())
	p.Windows = append(p.Windows,
		patch.MaintenanceWindow{Name: "patch-sunday", MonthlyWeekday: &patch.MonthlyWeekdayRecurs{Week: 2, Day: "tuesday", OffsetDays: 5, Start: "02:00"}, Duration: "4h"},
		patch.MaintenanceWindow{Name: "gone", Weekly: &patch.WeeklyRecurrence{Days: []string{"monday"}, Start: "02:00"}, Duration: "4h", EffectiveUntil: "2026-01-01"})
	for i, c := range p.SLA.Matrix {
		if c.Class == patch.ClassDoNotDisrupt && c.Tier == TierRoutine {
			p.SLA.Matrix[i].Windows = []string{"patch-sunday"}
		}
		if c.Class == patch.ClassKiosk && c.Tier == TierRoutine {
			p.SLA.Matrix[i].Windows = []string{"gone"}
		}
	}
	if err := Validate(p, testClient().AssetClasses); err != nil {
		t.Fatal(err)
	}
	w := Warnings(p, epoch, time.UTC)
	if len(w) != 2 || !strings.Contains(w[0], "patch-sunday can be 35.0 days apart, longer than the 30d deadline of do-not-disrupt/routine") ||
		!strings.Contains(w[1], "gone never open") {
		t.Errorf("Warnings = %q", w)
	}
}

func TestValidateMSPCanary(t *testing.T) {
	if err := ValidateMSPCanary(&patch.MSPCanary{Tags: []patch.TagRef{{Key: "canary"}}}); err != nil {
		t.Error(err)
	}
	err := ValidateMSPCanary(&patch.MSPCanary{Promotion: &patch.Promotion{Soak: "1d", Approver: "x"}})
	if patch.ErrorField(err) != "promotion.approver" {
		t.Errorf("ValidateMSPCanary = %v", err)
	}
}
