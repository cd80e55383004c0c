package server

import (
	"context"

	"github.com/patchring/patchring/internal/patch"
)

// AssetDeployments lists an asset's deployments across patch cycles,
// newest cycle first (the console's asset page). CycleDeployments
// answers the same per cycle, with the jobs of each step.
func (s *Server) AssetDeployments(ctx context.Context, id patch.AssetID, limit int) ([]*patch.Deployment, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if _, err := s.st.Assets.FindAssetByID(ctx, id); err != nil {
		return nil, 0, err
	}
	if s.st.Rollouts == nil {
		return []*patch.Deployment{}, 0, nil
	}
	return s.st.Rollouts.FindDeployments(ctx, patch.DeploymentFilter{AssetID: &id, Limit: limit})
}
