package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// FuzzPolicy decodes arbitrary documents as policies: validation must
// never panic, and a policy it accepts must evaluate, diff and warn
// without panicking either.
func FuzzPolicy(f *testing.F) {
	def, _ := json.Marshal(Default(testClient()))
	f.Add(def)
	f.Add([]byte(`{"tiers":[{"key":"a","name":"A","levels":["critical","high","medium","low","none"]}],"sla":{"anchor":"release","due_soon_pct":1,"matrix":[{"class":"*","tier":"a","deadline":"1h","reboot":{"mode":"never"}}]},"rings":[{"key":"all","name":"All"}],"exceptions":{"max_days":1,"legacy_max_days":1},"agent_offline_after":"1h","client_id":"c"}`))
	f.Add([]byte(`{"windows":[{"name":"w","rrule":"FREQ=DAILY;DTSTART=20260101T000000","duration":"15m"}]}`))
	c := testClient()
	u := &patch.Update{ID: "upd_1", Source: "wua", VendorSeverity: "Critical", Classification: "security", ReleaseDate: epoch.Add(-time.Hour), FirstSeen: epoch}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var p patch.Policy
		if json.Unmarshal(doc, &p) != nil {
			return
		}
		p.ClientID = c.ID
		if err := Validate(&p, c.AssetClasses); err != nil {
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) == "" {
				t.Fatalf("Validate error %v has no field", err)
			}
			return
		}
		_ = Diff(Default(c), &p)
		_ = Warnings(&p, epoch, time.UTC)
		eng := NewEngine(&p, epoch.Add(48*time.Hour))
		for _, class := range []string{patch.ClassCoreServer, patch.ClassDoNotDisrupt, "unknown"} {
			a := asset(1, class, nil)
			a.LastSeen = epoch
			f := &patch.Finding{ID: "fnd_1", State: patch.FindingOpen, FirstSeen: epoch, SLAAnchor: epoch}
			ev := eng.Evaluate(Subject{Finding: f, Update: u, Asset: a, Zone: time.UTC})
			if ev.Why.Code == "" || ev.Tier == "" {
				t.Fatalf("evaluation without reason or tier: %+v", ev)
			}
		}
	})
}
