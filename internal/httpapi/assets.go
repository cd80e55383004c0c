package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// AssetQuery is the asset search of the list and export operations.
type AssetQuery struct {
	ClientID       string    `query:"client_id"`
	SiteID         string    `query:"site_id"`
	OS             string    `query:"os" enum:"windows,macos,linux,other"`
	Class          string    `query:"class"`
	Role           string    `query:"role" enum:"server,workstation,kiosk"`
	Ring           string    `query:"ring"`
	Managed        string    `query:"managed" enum:"true,false"`
	Source         string    `query:"source" enum:"agent,import,manual,discovery"`
	Tags           []string  `query:"tag,explode" doc:"key or key:value; repeat for several (all must match)"`
	Q              string    `query:"q" maxLength:"200" doc:"Substring of hostname, FQDN, owner or serial number"`
	LastSeenBefore time.Time `query:"last_seen_before" doc:"Only assets last seen before this time (RFC 3339), or never"`
	LastSeenAfter  time.Time `query:"last_seen_after" doc:"Only assets last seen at or after this time (RFC 3339)"`
	Sort           string    `query:"sort" enum:"hostname,last_seen,os,class,created"`
	Desc           bool      `query:"desc"`
}

// Filter converts the query into a store filter.
func (q AssetQuery) Filter() (patch.AssetFilter, error) {
	var f patch.AssetFilter
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	f.ClientID = (*patch.ClientID)(str(q.ClientID))
	f.SiteID = (*patch.SiteID)(str(q.SiteID))
	f.OSFamily = (*patch.OSFamily)(str(q.OS))
	f.Class = str(q.Class)
	f.Role = (*patch.AssetRole)(str(q.Role))
	f.Ring = str(q.Ring)
	f.Source = (*patch.AssetSource)(str(q.Source))
	f.Query = str(q.Q)
	if q.Managed != "" {
		m := q.Managed == "true"
		f.Managed = &m
	}
	if len(q.Tags) > 10 {
		return f, patch.FieldError("tag", "at most 10 tag filters")
	}
	for _, t := range q.Tags {
		k, v, _ := strings.Cut(t, ":")
		if k == "" {
			return f, patch.FieldError("tag", "must be key or key:value (got %q)", t)
		}
		f.Tags = append(f.Tags, patch.TagMatch{Key: k, Value: v})
	}
	if !q.LastSeenBefore.IsZero() {
		f.LastSeenBefore = &q.LastSeenBefore
	}
	if !q.LastSeenAfter.IsZero() {
		f.LastSeenAfter = &q.LastSeenAfter
	}
	f.Sort, f.Desc = patch.AssetSort(q.Sort), q.Desc
	return f, nil
}

func (a *API) assetRoutes() {
	tags := []string{"Assets"}
	register(a, huma.Operation{OperationID: "list-assets", Method: http.MethodGet, Path: "/assets", Summary: "Search assets", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			AssetQuery
		}) (*struct{ Body Page[*patch.Asset] }, error) {
			f, err := in.AssetQuery.Filter()
			if err != nil {
				return nil, err
			}
			f.Limit, f.Offset = in.Limit, in.Offset
			as, n, err := a.srv.Assets(ctx, f)
			return page(as, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-asset", Method: http.MethodPost, Path: "/assets", Summary: "Register an asset by hand", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.AssetInput]) (*body[*patch.Asset], error) {
			as, err := a.srv.CreateAsset(ctx, in.Body)
			return ok(as), err
		})
	register(a, huma.Operation{OperationID: "get-asset", Method: http.MethodGet, Path: "/assets/{id}", Summary: "Get an asset", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Asset], error) {
			as, err := a.srv.Asset(ctx, patch.AssetID(in.ID))
			return ok(as), err
		})
	register(a, huma.Operation{OperationID: "update-asset", Method: http.MethodPatch, Path: "/assets/{id}", Summary: "Change an asset", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body patch.AssetUpdate
		}) (*body[*patch.Asset], error) {
			as, err := a.srv.UpdateAsset(ctx, patch.AssetID(in.ID), in.Body)
			return ok(as), err
		})
	register(a, huma.Operation{OperationID: "delete-asset", Method: http.MethodDelete, Path: "/assets/{id}", Summary: "Delete an asset and its records", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *IDPath) (*empty, error) {
			return nil, a.srv.DeleteAsset(ctx, patch.AssetID(in.ID))
		})
	register(a, huma.Operation{OperationID: "export-assets", Method: http.MethodGet, Path: "/assets/export.csv", Summary: "Export assets as date-stamped CSV", Tags: tags,
		Responses: map[string]*huma.Response{"200": {Description: "CSV file", Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}}}},
		func(ctx context.Context, in *AssetQuery) (*csvFile, error) {
			f, err := in.Filter()
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			n, err := a.srv.ExportAssetsCSV(ctx, f, &buf)
			if err != nil {
				return nil, err
			}
			now := time.Now().UTC()
			scope := "all"
			if in.ClientID != "" {
				scope = in.ClientID
			}
			return &csvFile{
				ContentType: "text/csv; charset=utf-8",
				Disposition: fmt.Sprintf(`attachment; filename="assets-%s-%s.csv"`, scope, now.Format("2006-01-02")),
				ExportedAt:  now.Format(time.RFC3339),
				Count:       n,
				Body:        buf.Bytes(),
			}, nil
		})
	register(a, huma.Operation{OperationID: "import-assets", Method: http.MethodPost, Path: "/clients/{id}/assets/import", Summary: "Import assets from CSV (all rows or none)", Tags: tags, MaxBodyBytes: 32 << 20},
		func(ctx context.Context, in *struct {
			IDPath
			RawBody []byte `contentType:"text/csv"`
		}) (*body[patch.ImportResult], error) {
			res, err := a.srv.ImportAssetsCSV(ctx, patch.ClientID(in.ID), bytes.NewReader(in.RawBody))
			return ok(res), err
		})
}

type csvFile struct {
	ContentType string `header:"Content-Type"`
	Disposition string `header:"Content-Disposition"`
	ExportedAt  string `header:"X-Exported-At"`
	Count       int    `header:"X-Item-Count"`
	Body        []byte
}

func (a *API) auditRoutes() {
	register(a, huma.Operation{OperationID: "list-audit", Method: http.MethodGet, Path: "/audit", Summary: "Read the audit log, newest first", Tags: []string{"Audit"}},
		func(ctx context.Context, in *struct {
			Paging
			ClientID   string    `query:"client_id"`
			EntityType string    `query:"entity_type"`
			EntityID   string    `query:"entity_id"`
			ActorID    string    `query:"actor_id"`
			Action     string    `query:"action"`
			Since      time.Time `query:"since"`
			Until      time.Time `query:"until"`
		}) (*struct{ Body Page[*patch.AuditEntry] }, error) {
			f := patch.AuditFilter{Limit: in.Limit, Offset: in.Offset}
			set := func(dst **string, v string) {
				if v != "" {
					*dst = &v
				}
			}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			set(&f.EntityType, in.EntityType)
			set(&f.EntityID, in.EntityID)
			set(&f.ActorID, in.ActorID)
			set(&f.Action, in.Action)
			if !in.Since.IsZero() {
				f.Since = &in.Since
			}
			if !in.Until.IsZero() {
				f.Until = &in.Until
			}
			es, n, err := a.srv.AuditLog(ctx, f)
			return page(es, n, in.Limit, in.Offset), err
		})
}
