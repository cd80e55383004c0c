package server

import (
	"context"

	"github.com/patchring/patchring/internal/patch"
)

// AssetCounts aggregates the caller's assets per client, OS family, class
// and managed flag (see patch.AssetCountStore).
func (s *Server) AssetCounts(ctx context.Context, f patch.AssetCountFilter) ([]patch.AssetCount, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.AssetCounts.CountAssets(ctx, f)
}
