package server

import (
	"context"

	"github.com/patchring/patchring/internal/patch"
)

// ClientCounts returns the attention numbers of the clients in scope (or
// of one client): SLA breaches, failed updates, agents offline, halted
// cycles, exceptions awaiting sign-off or expiring before f.ExpiringBefore.
// It serves the console's overview, which shows every client's numbers
// from this one grouped query.
func (s *Server) ClientCounts(ctx context.Context, f patch.ClientCountFilter) (map[patch.ClientID]patch.ClientCounts, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	out := map[patch.ClientID]patch.ClientCounts{}
	if s.st.ClientCounts == nil {
		return out, nil
	}
	rows, err := s.st.ClientCounts.CountByClient(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ClientID] = r
	}
	return out, nil
}
