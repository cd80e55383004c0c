package policy

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"pgregory.net/rapid"
)

func asset(i int, class string, tags map[string]string) *patch.Asset {
	if tags == nil {
		tags = map[string]string{}
	}
	return &patch.Asset{ID: patch.AssetID(patch.NewID(patch.PrefixAsset, epoch.Add(time.Duration(i)*time.Millisecond))), Class: class, Tags: tags, Managed: true}
}

func TestPlacePrecedence(t *testing.T) {
	rings := Default(testClient()).Rings
	rings[0].Tags = []patch.TagRef{{Key: "canary", Value: "yes"}}
	listed := asset(1, patch.ClassWorkstation, nil)
	rings[1].Assets = []patch.AssetID{listed.ID}
	canary := &patch.MSPCanary{Tags: []patch.TagRef{{Key: "msp-canary"}}}

	pinned := asset(2, patch.ClassWorkstation, map[string]string{"canary": "yes"})
	pinned.Ring = "production"
	tagged := asset(3, patch.ClassWorkstation, map[string]string{"canary": "yes"})
	dnd := asset(4, patch.ClassDoNotDisrupt, map[string]string{"canary": "yes"}) // excluded from canary by class
	badPin := asset(5, patch.ClassWorkstation, map[string]string{"canary": "yes"})
	badPin.Ring = "no-such-ring"

	for _, tc := range []struct {
		name     string
		a        *patch.Asset
		isolated bool
		ring, by string
	}{
		{"pinned beats tag", pinned, false, "production", ByPinned},
		{"listed", listed, false, "pilot", ByListed},
		{"tag", tagged, false, "canary", ByTag},
		{"excluded class falls through", dnd, false, "production", ByRemainder},
		{"unknown pin is ignored", badPin, false, "canary", ByTag},
		{"isolated legacy asset", tagged, true, "", ByIsolated},
	} {
		got := Place(rings, canary, tc.a, tc.isolated)
		if got.Ring != tc.ring || got.By != tc.by {
			t.Errorf("%s: Place = %+v, want %s by %s", tc.name, got, tc.ring, tc.by)
		}
	}
	// The MSP-wide canary ring takes the MSP canary's members.
	msp := Default(testClient()).Rings
	msp[0] = patch.Ring{Key: "msp-canary", Name: "MSP canary", MSPCanary: true, Promotion: msp[0].Promotion}
	member := asset(6, patch.ClassWorkstation, map[string]string{"msp-canary": "1"})
	if got := Place(msp, canary, member, false); got.Ring != "msp-canary" || got.By != ByMSPCanary {
		t.Errorf("MSP canary member placed %+v", got)
	}
}

// Percentages are honoured on a large fleet (statistically) and the
// default pilot is 10–20 % of it.
func TestPlaceShares(t *testing.T) {
	rings := Default(testClient()).Rings
	counts := map[string]int{}
	const n = 20000
	for i := range n {
		counts[Place(rings, nil, asset(i, patch.ClassWorkstation, nil), false).Ring]++
	}
	for ring, want := range map[string]float64{"canary": 5, "pilot": 15, "production": 80} {
		got := float64(counts[ring]) * 100 / n
		if math.Abs(got-want) > 1 {
			t.Errorf("ring %s has %.2f%% of the fleet, want about %.0f%%", ring, got, want)
		}
	}
}

// Ring membership is stable: adding assets never moves existing ones, and
// raising a ring's percentage only adds members to it.
func TestPlaceStability(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rings := Default(testClient()).Rings
		rings[0].Percent = rapid.Float64Range(0, 20).Draw(t, "canary")
		rings[1].Percent = rapid.Float64Range(0, 30).Draw(t, "pilot")
		classes := []string{patch.ClassWorkstation, patch.ClassServer, patch.ClassCoreServer, patch.ClassDoNotDisrupt}
		fleet := func(from, to int) []*patch.Asset {
			var out []*patch.Asset
			for i := from; i < to; i++ {
				cl := classes[i%len(classes)]
				out = append(out, &patch.Asset{ID: patch.AssetID(fmt.Sprintf("ast_%026d", i)), Class: cl, Tags: map[string]string{}})
			}
			return out
		}
		n := rapid.IntRange(1, 200).Draw(t, "n")
		first := fleet(0, n)
		before := map[patch.AssetID]string{}
		for _, a := range first {
			before[a.ID] = Place(rings, nil, a, false).Ring
		}
		// Add assets (in any order) and place everything again.
		more := fleet(n, n+rapid.IntRange(1, 200).Draw(t, "more"))
		all := append(append([]*patch.Asset{}, more...), first...)
		for _, a := range all {
			got := Place(rings, nil, a, false).Ring
			if want, ok := before[a.ID]; ok && got != want {
				t.Fatalf("asset %s moved from %s to %s when assets were added", a.ID, want, got)
			}
		}
		// Raising the pilot share keeps every pilot member in the pilot.
		bigger := append([]patch.Ring{}, rings...)
		bigger[1].Percent += rapid.Float64Range(0, 20).Draw(t, "raise")
		for _, a := range all {
			if Place(rings, nil, a, false).Ring == "pilot" && Place(bigger, nil, a, false).Ring != "pilot" {
				t.Fatalf("asset %s left the pilot when its share grew", a.ID)
			}
		}
	})
}

func TestPositionRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		id := patch.AssetID(rapid.String().Draw(t, "id"))
		p := Position(id)
		if p < 0 || p >= 100 || p != Position(id) {
			t.Fatalf("Position(%q) = %v", id, p)
		}
	})
}
