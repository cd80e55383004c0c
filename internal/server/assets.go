package server

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// AssetInput creates an asset by hand (a device without an agent, or one
// registered before its agent is installed).
type AssetInput struct {
	ClientID     patch.ClientID    `json:"client_id"`
	SiteID       patch.SiteID      `json:"site_id,omitempty"`
	Hostname     string            `json:"hostname" minLength:"1" maxLength:"253"`
	FQDN         string            `json:"fqdn,omitempty" maxLength:"253"`
	OS           OSInput           `json:"os"`
	Role         patch.AssetRole   `json:"role" enum:"server,workstation,kiosk"`
	Class        string            `json:"class,omitempty" doc:"Asset class key; defaults by role (server → server, workstation → workstation, kiosk → kiosk)"`
	Owner        string            `json:"owner,omitempty" maxLength:"200"`
	Location     string            `json:"location,omitempty" maxLength:"500"`
	Tags         map[string]string `json:"tags,omitempty" doc:"Free key/value tags; ephi must be yes or no"`
	Criticality  patch.Criticality `json:"criticality,omitempty" enum:"low,medium,high,critical"`
	Ring         string            `json:"ring,omitempty"`
	SerialNumber string            `json:"serial_number,omitempty"`
	Discovered   bool              `json:"discovered,omitempty" doc:"True for a device seen on the network rather than entered by hand"`
}

// OSInput describes a hand-registered asset's operating system; only the
// family is required.
type OSInput struct {
	Family  patch.OSFamily `json:"family" enum:"windows,macos,linux,other"`
	Name    string         `json:"name,omitempty" maxLength:"200"`
	Version string         `json:"version,omitempty" maxLength:"200"`
	Build   string         `json:"build,omitempty" maxLength:"200"`
	Kernel  string         `json:"kernel,omitempty" maxLength:"200"`
	Arch    string         `json:"arch,omitempty" maxLength:"200"`
}

// DefaultClass returns the default asset class of a role.
func DefaultClass(r patch.AssetRole) string {
	switch r {
	case patch.RoleServer:
		return patch.ClassServer
	case patch.RoleKiosk:
		return patch.ClassKiosk
	}
	return patch.ClassWorkstation
}

// CreateAsset creates an unmanaged asset.
func (s *Server) CreateAsset(ctx context.Context, in AssetInput) (*patch.Asset, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return nil, err
	}
	a := &patch.Asset{
		ID:           patch.AssetID(patch.NewID(patch.PrefixAsset, s.now())),
		ClientID:     in.ClientID,
		SiteID:       in.SiteID,
		Hostname:     in.Hostname,
		FQDN:         in.FQDN,
		OS:           patch.OS(in.OS),
		Role:         in.Role,
		Class:        in.Class,
		Owner:        in.Owner,
		Location:     in.Location,
		Tags:         in.Tags,
		Criticality:  in.Criticality,
		Ring:         in.Ring,
		SerialNumber: in.SerialNumber,
		Source:       patch.SourceManual,
	}
	if in.Discovered {
		a.Source = patch.SourceDiscovery
		a.LastSeen = s.now()
	}
	if a.Class == "" {
		a.Class = DefaultClass(a.Role)
	}
	if err := s.st.Assets.CreateAsset(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Asset returns one asset.
func (s *Server) Asset(ctx context.Context, id patch.AssetID) (*patch.Asset, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Assets.FindAssetByID(ctx, id)
}

// Assets searches assets.
func (s *Server) Assets(ctx context.Context, f patch.AssetFilter) ([]*patch.Asset, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Assets.FindAssets(ctx, f)
}

// UpdateAsset changes an asset.
func (s *Server) UpdateAsset(ctx context.Context, id patch.AssetID, upd patch.AssetUpdate) (*patch.Asset, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return nil, err
	}
	return s.st.Assets.UpdateAsset(ctx, id, upd)
}

// DeleteAsset removes an asset and its records.
func (s *Server) DeleteAsset(ctx context.Context, id patch.AssetID) error {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return err
	}
	return s.st.Assets.DeleteAsset(ctx, id)
}

// ImportAssetsCSV reads an asset CSV and creates or updates the client's
// assets in one transaction.
func (s *Server) ImportAssetsCSV(ctx context.Context, clientID patch.ClientID, r io.Reader) (patch.ImportResult, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageAssets); err != nil {
		return patch.ImportResult{}, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, clientID); err != nil {
		return patch.ImportResult{}, err
	}
	parsed, err := patch.ParseAssetCSV(r)
	if err != nil {
		return patch.ImportResult{}, err
	}
	sites, _, err := s.st.Sites.FindSites(ctx, patch.SiteFilter{ClientID: &clientID, Limit: patch.MaxLimit})
	if err != nil {
		return patch.ImportResult{}, err
	}
	rows := make([]patch.AssetImportRow, len(parsed))
	for i, p := range parsed {
		rows[i] = p.AssetImportRow
		if p.Site == nil {
			continue
		}
		id, err := resolveSite(sites, *p.Site)
		if err != nil {
			return patch.ImportResult{}, patch.FieldError(fmt.Sprintf("line %d: site", p.Line), "Line %d: %v", p.Line, err)
		}
		rows[i].Fields.SiteID = &id
	}
	return s.st.Assets.ImportAssets(ctx, clientID, rows)
}

// resolveSite maps a site column (name or id; empty for none) to an id.
func resolveSite(sites []*patch.Site, v string) (patch.SiteID, error) {
	if v == "" {
		return "", nil
	}
	for _, st := range sites {
		if string(st.ID) == v || strings.EqualFold(st.Name, v) {
			return st.ID, nil
		}
	}
	names := make([]string, len(sites))
	for i, st := range sites {
		names[i] = st.Name
	}
	return "", fmt.Errorf("site %q is not a site of this client (sites: %s)", v, strings.Join(names, ", "))
}

// ExportAssetsCSV writes every asset matching f as CSV, page by page so
// that memory stays flat for large fleets.
func (s *Server) ExportAssetsCSV(ctx context.Context, f patch.AssetFilter, w io.Writer) (int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return 0, err
	}
	sites, _, err := s.st.Sites.FindSites(ctx, patch.SiteFilter{ClientID: f.ClientID, Limit: patch.MaxLimit})
	if err != nil {
		return 0, err
	}
	names := map[patch.SiteID]string{}
	for _, st := range sites {
		names[st.ID] = st.Name
	}
	f.Limit, f.Offset = patch.MaxLimit, 0
	var all []*patch.Asset
	for {
		page, total, err := s.st.Assets.FindAssets(ctx, f)
		if err != nil {
			return 0, err
		}
		all = append(all, page...)
		f.Offset += len(page)
		if len(page) == 0 || f.Offset >= total {
			break
		}
	}
	if err := patch.WriteAssetCSV(w, all, names); err != nil {
		return 0, err
	}
	return len(all), nil
}
