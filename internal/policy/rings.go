package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/patchring/patchring/internal/patch"
)

// How an asset was placed in its ring.
const (
	ByPinned    = "pinned"     // the asset's own ring field names the ring
	ByListed    = "listed"     // the ring lists the asset
	ByMSPCanary = "msp_canary" // the asset is in the MSP-wide canary
	ByTag       = "tag"        // one of the ring's tags matches
	ByPercent   = "percent"    // the asset's stable position falls in the ring's share
	ByRemainder = "remainder"  // the last ring takes every asset left
	ByIsolated  = "isolated"   // the asset is in the legacy exception lane: no ring
)

// Placement is the ring of one asset and why.
type Placement struct {
	Ring string `json:"ring"`
	By   string `json:"by"`
	// Position is the asset's fixed place on the 0–100 line used by
	// percentage rings.
	Position float64 `json:"position"`
}

// Position returns an asset's place on the 0–100 line, from a hash of its
// ID alone: it never changes, whatever other assets come and go, so
// percentage rings do not reshuffle.
func Position(id patch.AssetID) float64 {
	sum := sha256.Sum256([]byte("patchring-ring\x00" + string(id)))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53) * 100
}

// InMSPCanary reports whether an asset is a member of the MSP canary.
func InMSPCanary(c *patch.MSPCanary, a *patch.Asset) bool {
	if c == nil {
		return false
	}
	if slices.Contains(c.Assets, a.ID) {
		return true
	}
	return slices.ContainsFunc(c.Tags, func(t patch.TagRef) bool { return t.Matches(a.Tags) })
}

// Place puts an asset in a ring. The first ring, in order, that claims the
// asset takes it: first by the asset's pinned ring, then by explicit
// listing, MSP-canary membership, tag and stable percentage; the last ring
// takes the rest. Percentage rings take consecutive shares of the 0–100
// line in ring order (canary 5 % is [0, 5), pilot 15 % is [5, 20)). A ring
// does not take by tag or percentage an asset of a class it excludes.
// Assets in the legacy exception lane (isolated) are in no ring.
func Place(rings []patch.Ring, canary *patch.MSPCanary, a *patch.Asset, isolated bool) Placement {
	pos := Position(a.ID)
	if isolated {
		return Placement{By: ByIsolated, Position: pos}
	}
	if len(rings) == 0 {
		return Placement{Position: pos}
	}
	if a.Ring != "" && slices.ContainsFunc(rings, func(r patch.Ring) bool { return r.Key == a.Ring }) {
		return Placement{Ring: a.Ring, By: ByPinned, Position: pos}
	}
	for _, r := range rings {
		if slices.Contains(r.Assets, a.ID) {
			return Placement{Ring: r.Key, By: ByListed, Position: pos}
		}
	}
	for _, r := range rings {
		if r.MSPCanary && InMSPCanary(canary, a) {
			return Placement{Ring: r.Key, By: ByMSPCanary, Position: pos}
		}
	}
	for _, r := range rings {
		if slices.Contains(r.ExcludeClasses, a.Class) {
			continue
		}
		if slices.ContainsFunc(r.Tags, func(t patch.TagRef) bool { return t.Matches(a.Tags) }) {
			return Placement{Ring: r.Key, By: ByTag, Position: pos}
		}
	}
	var lo float64
	for _, r := range rings {
		hi := lo + r.Percent
		if r.Percent > 0 && pos >= lo && pos < hi && !slices.Contains(r.ExcludeClasses, a.Class) {
			return Placement{Ring: r.Key, By: ByPercent, Position: pos}
		}
		lo = hi
	}
	return Placement{Ring: rings[len(rings)-1].Key, By: ByRemainder, Position: pos}
}
