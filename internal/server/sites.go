package server

import (
	"context"

	"github.com/patchring/patchring/internal/patch"
)

// SiteInput creates a site.
type SiteInput struct {
	ClientID patch.ClientID `json:"client_id" doc:"Owning client"`
	Name     string         `json:"name" minLength:"1" maxLength:"200"`
	Location string         `json:"location,omitempty" maxLength:"500"`
	TimeZone string         `json:"time_zone" doc:"IANA time zone, e.g. America/Chicago"`
	Subnets  []string       `json:"subnets,omitempty" maxItems:"256" doc:"CIDR prefixes of the site's networks"`
}

// CreateSite creates a site.
func (s *Server) CreateSite(ctx context.Context, in SiteInput) (*patch.Site, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return nil, err
	}
	st := &patch.Site{
		ID:       patch.SiteID(patch.NewID(patch.PrefixSite, s.now())),
		ClientID: in.ClientID,
		Name:     in.Name,
		Location: in.Location,
		TimeZone: in.TimeZone,
		Subnets:  in.Subnets,
	}
	if st.Subnets == nil {
		st.Subnets = []string{}
	}
	if err := s.st.Sites.CreateSite(ctx, st); err != nil {
		return nil, err
	}
	return st, nil
}

// Site returns one site.
func (s *Server) Site(ctx context.Context, id patch.SiteID) (*patch.Site, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Sites.FindSiteByID(ctx, id)
}

// Sites lists sites.
func (s *Server) Sites(ctx context.Context, f patch.SiteFilter) ([]*patch.Site, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Sites.FindSites(ctx, f)
}

// UpdateSite changes a site.
func (s *Server) UpdateSite(ctx context.Context, id patch.SiteID, upd patch.SiteUpdate) (*patch.Site, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return nil, err
	}
	return s.st.Sites.UpdateSite(ctx, id, upd)
}

// DeleteSite removes a site no asset uses.
func (s *Server) DeleteSite(ctx context.Context, id patch.SiteID) error {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return err
	}
	return s.st.Sites.DeleteSite(ctx, id)
}
