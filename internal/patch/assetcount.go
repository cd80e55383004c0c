package patch

import (
	"context"
	"time"
)

// AssetCount is the number of assets of one client sharing an OS family,
// asset class and managed flag. Stale counts the managed ones among them
// whose agent has not reported since the filter's StaleBefore.
type AssetCount struct {
	ClientID ClientID `json:"client_id"`
	OSFamily OSFamily `json:"os_family"`
	Class    string   `json:"class"`
	Managed  bool     `json:"managed"`
	Count    int      `json:"count"`
	Stale    int      `json:"stale"`
}

// AssetCountFilter selects what CountAssets groups.
type AssetCountFilter struct {
	ClientID *ClientID
	// StaleBefore is the last-seen time before which a managed asset
	// counts as stale (never-seen managed assets are stale too). Zero
	// counts nothing as stale.
	StaleBefore time.Time
}

// AssetCountStore aggregates assets for dashboards without loading them.
type AssetCountStore interface {
	// CountAssets returns one row per (client, OS family, class, managed)
	// with at least one asset, in scope, ordered by client, family, class
	// and managed. A client outside the scope contributes no rows.
	CountAssets(ctx context.Context, f AssetCountFilter) ([]AssetCount, error)
}
