package policy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/schedule"
)

var epoch = time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC) // a Tuesday (Patch Tuesday)

func testClient() *patch.Client {
	return &patch.Client{ID: "cli_01KA0000000000000000000000", Name: "Alpha Clinic", AssetClasses: patch.DefaultAssetClasses()}
}

func TestDefaultIsValidAndFollowsThePlaybook(t *testing.T) {
	c := testClient()
	p := Default(c)
	if err := Validate(p, c.AssetClasses); err != nil {
		t.Fatalf("Validate(Default) = %v", err)
	}
	// The playbook's three rows.
	for _, want := range []struct {
		class, tier string
		deadline    patch.Duration
		reboot      patch.RebootPolicy
	}{
		{patch.ClassCoreServer, TierCritical, "24h", patch.RebootPolicy{Mode: patch.RebootScheduled, Slot: "sunday 02:00"}},
		{patch.ClassWorkstation, TierHigh, "7d", patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 3}},
		{patch.ClassDoNotDisrupt, TierRoutine, "30d", patch.RebootPolicy{Mode: patch.RebootManual}},
	} {
		cell, ok := p.Cell(want.class, want.tier)
		if !ok || cell.Deadline != want.deadline || cell.Reboot != want.reboot {
			t.Errorf("Cell(%s, %s) = %+v, %v; want deadline %s, reboot %+v", want.class, want.tier, cell, ok, want.deadline, want.reboot)
		}
	}
	// More important classes never wait longer for the same tier.
	for _, tier := range []string{TierCritical, TierHigh, TierRoutine} {
		core, _ := p.Cell(patch.ClassCoreServer, tier)
		for _, cl := range []string{patch.ClassServer, patch.ClassWorkstation, patch.ClassKiosk} {
			other, _ := p.Cell(cl, tier)
			if core.Deadline.MustParse() > other.Deadline.MustParse() {
				t.Errorf("core-server %s deadline %s is longer than %s's %s", tier, core.Deadline, cl, other.Deadline)
			}
		}
	}
	if w := Warnings(p, epoch, time.UTC); len(w) != 0 {
		t.Errorf("Warnings(Default) = %q, want none", w)
	}
}

func TestDefaultForCustomClasses(t *testing.T) {
	c := testClient()
	c.AssetClasses = []patch.AssetClass{{Key: "lab", Name: "Lab", Kind: patch.ClassKindWorkstation, TargetPct: 90}, {Key: patch.ClassWorkstation, Name: "WS", Kind: patch.ClassKindWorkstation}}
	p := Default(c)
	if err := Validate(p, c.AssetClasses); err != nil {
		t.Fatalf("Validate(Default) for custom classes = %v", err)
	}
	if cell, ok := p.Cell("lab", TierCritical); !ok || cell.Class != patch.AnyClass {
		t.Errorf("lab/critical = %+v, %v; want the * cell", cell, ok)
	}
	for _, r := range p.Rings {
		if len(r.ExcludeClasses) > 0 {
			t.Errorf("ring %s excludes %v, classes the client lacks", r.Key, r.ExcludeClasses)
		}
	}
}

// The policy window mirrors schedule.Window field for field; if schedule
// grows a field, this test says so.
func TestMaintenanceWindowMirrorsSchedule(t *testing.T) {
	var names func(reflect.Type, string) []string
	names = func(rt reflect.Type, prefix string) []string {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct {
			return nil
		}
		var out []string
		for i := range rt.NumField() {
			f := rt.Field(i)
			tag := f.Tag.Get("json") + "|" + f.Tag.Get("yaml")
			out = append(out, prefix+tag)
			out = append(out, names(f.Type, prefix+strings.Split(tag, ",")[0]+".")...)
		}
		return out
	}
	got, want := names(reflect.TypeFor[patch.MaintenanceWindow](), ""), names(reflect.TypeFor[schedule.Window](), "")
	if !slices.Equal(got, want) {
		t.Errorf("patch.MaintenanceWindow fields = %q\nschedule.Window fields = %q", got, want)
	}
	// And a converted window means the same as the same JSON decoded into
	// schedule.Window.
	for _, w := range Default(testClient()).Windows {
		w.Blackouts = []patch.BlackoutDates{{From: "2026-12-24", To: "2026-12-26", Reason: "holidays"}}
		raw, _ := json.Marshal(w)
		var sw schedule.Window
		if err := json.Unmarshal(raw, &sw); err != nil {
			t.Fatal(err)
		}
		if got := ScheduleWindow(w); !reflect.DeepEqual(got, sw) {
			t.Errorf("ScheduleWindow(%s) = %+v, want %+v", w.Name, got, sw)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   patch.Duration
		want time.Duration
		bad  bool
	}{
		{"24h", 24 * time.Hour, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1w2d3h", (9*24 + 3) * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0s", 0, false},
		{"", 0, true},
		{"-1h", 0, true},
		{"d", 0, true},
		{"7days", 0, true},
		{"1.5d", 0, true},
		{"abc", 0, true},
	} {
		got, err := tc.in.Parse()
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Duration(%q).Parse() = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
		if !tc.bad && tc.want > 0 {
			if back, _ := patch.FormatDuration(got).Parse(); back != got {
				t.Errorf("FormatDuration(%v) = %q does not parse back", got, patch.FormatDuration(got))
			}
		}
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"24h", "7d", "1w2d3h4m", "", "-1d", "9999999d", "1d-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := patch.Duration(s).Parse()
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, negative", s, d)
		}
		if back, err := patch.FormatDuration(d).Parse(); err != nil || back != d {
			t.Fatalf("FormatDuration(%v) = %q parses to %v, %v", d, patch.FormatDuration(d), back, err)
		}
	})
}

func TestDurationOverflow(t *testing.T) {
	if d, err := patch.Duration("3650w2562047h").Parse(); err == nil {
		t.Errorf("Parse(huge) = %v, want an error", d)
	}
}
