package server

import (
	"context"

	"github.com/patchring/patchring/internal/patch"
)

// ClientInput creates a client. AssetClasses default to the playbook's
// classes when empty.
type ClientInput struct {
	Name         string             `json:"name" minLength:"1" maxLength:"200" doc:"Client company name, unique"`
	Notes        string             `json:"notes,omitempty" maxLength:"4000"`
	ContactName  string             `json:"contact_name,omitempty" maxLength:"200"`
	ContactEmail string             `json:"contact_email,omitempty" maxLength:"254"`
	AssetClasses []patch.AssetClass `json:"asset_classes,omitempty" doc:"SLA asset classes; defaults to core-server, server, workstation, do-not-disrupt, kiosk"`
}

// CreateClient creates a client.
func (s *Server) CreateClient(ctx context.Context, in ClientInput) (*patch.Client, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageClients); err != nil {
		return nil, err
	}
	c := &patch.Client{
		ID:           patch.ClientID(patch.NewID(patch.PrefixClient, s.now())),
		Name:         in.Name,
		Notes:        in.Notes,
		ContactName:  in.ContactName,
		ContactEmail: in.ContactEmail,
		AssetClasses: in.AssetClasses,
	}
	if len(c.AssetClasses) == 0 {
		c.AssetClasses = patch.DefaultAssetClasses()
	}
	if err := s.st.Clients.CreateClient(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Client returns one client.
func (s *Server) Client(ctx context.Context, id patch.ClientID) (*patch.Client, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Clients.FindClientByID(ctx, id)
}

// Clients lists clients.
func (s *Server) Clients(ctx context.Context, f patch.ClientFilter) ([]*patch.Client, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Clients.FindClients(ctx, f)
}

// UpdateClient changes a client.
func (s *Server) UpdateClient(ctx context.Context, id patch.ClientID, upd patch.ClientUpdate) (*patch.Client, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageClients); err != nil {
		return nil, err
	}
	return s.st.Clients.UpdateClient(ctx, id, upd)
}

// DeleteClient removes a client that has no assets or users left.
func (s *Server) DeleteClient(ctx context.Context, id patch.ClientID) error {
	if _, err := patch.Authorize(ctx, patch.PermManageClients); err != nil {
		return err
	}
	return s.st.Clients.DeleteClient(ctx, id)
}
