package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// WellKnownEvidenceKeys is the unauthenticated path where the evidence
// signing keys are published, one per line, for auditors.
const WellKnownEvidenceKeys = "/.well-known/patchring-evidence-keys"

// EvidenceKeysHandler serves the published evidence keys as the key file
// `patchring evidence verify --key FILE` reads. It needs no credentials:
// public keys are public, and an auditor should be able to fetch them
// without an account.
func EvidenceKeysHandler(srv *server.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, err := srv.PublishedEvidenceKeys(r.Context())
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write([]byte(server.FormatEvidenceKeys(keys)))
	})
}

// download is a file answer.
type download struct {
	ContentType string `header:"Content-Type"`
	Disposition string `header:"Content-Disposition"`
	SHA256      string `header:"X-Content-SHA256"`
	// CSP sandboxes an HTML report opened from the API's origin.
	CSP  string `header:"Content-Security-Policy"`
	Body []byte
}

// downloadCSP lets a report's inline styles and SVG render and nothing run.
const downloadCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

func fileResponses(types ...string) map[string]*huma.Response {
	content := map[string]*huma.MediaType{}
	for _, t := range types {
		content[t] = &huma.MediaType{Schema: &huma.Schema{Type: "string", Format: "binary"}}
	}
	return map[string]*huma.Response{"200": {Description: "The file", Content: content}}
}

// ClientPath names a client in the path.
type ClientPath struct {
	ID string `path:"id" maxLength:"64" doc:"Client ID"`
}

func (a *API) evidenceRoutes() {
	tags := []string{"Evidence"}
	register(a, huma.Operation{OperationID: "list-evidence-keys", Method: http.MethodGet, Path: "/evidence/keys",
		Summary: "The evidence signing keys, current and retired (also unauthenticated at " + WellKnownEvidenceKeys + ")", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[[]server.EvidenceKey], error) {
			ks, err := a.srv.EvidenceKeys(ctx)
			return ok(ks), err
		})
	register(a, huma.Operation{OperationID: "rotate-evidence-key", Method: http.MethodPost, Path: "/evidence/keys/rotate",
		Summary: "Replace the evidence signing key; the rotation is recorded in every client's chain (MSP admins)", Tags: tags},
		func(ctx context.Context, in *body[struct {
			Reason string `json:"reason,omitempty" maxLength:"500" doc:"Why the key is rotated, recorded in every chain"`
		}]) (*body[*server.KeyRotation], error) {
			r, err := a.srv.RotateEvidenceKey(ctx, in.Body.Reason)
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "sign-evidence-checkpoints", Method: http.MethodPost, Path: "/evidence/checkpoints/sign",
		Summary: "Sign every chain head that moved since its last checkpoint now (the server also does this periodically)", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[struct {
			Signed int `json:"signed"`
		}], error) {
			if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
				return nil, err
			}
			if sc, err := patch.ScopeFromContext(ctx); err != nil || !sc.All {
				return nil, patch.Errorf(patch.KindForbidden, "Only MSP staff can sign checkpoints.")
			}
			n, err := a.srv.SignCheckpoints(ctx)
			out := ok(struct {
				Signed int `json:"signed"`
			}{n})
			return out, err
		})
	register(a, huma.Operation{OperationID: "list-evidence", Method: http.MethodGet, Path: "/clients/{id}/evidence",
		Summary: "Read a client's evidence chain in sequence order", Tags: tags},
		func(ctx context.Context, in *struct {
			ClientPath
			Paging
			AfterSeq uint64    `query:"after_seq" doc:"Only entries after this sequence number (keyset paging)"`
			Types    []string  `query:"type,explode" doc:"Event types; repeat for several"`
			AssetID  string    `query:"asset_id"`
			UpdateID string    `query:"update_id"`
			Since    time.Time `query:"since" doc:"Recorded at or after (RFC 3339)"`
			Until    time.Time `query:"until" doc:"Recorded before (RFC 3339)"`
		}) (*struct{ Body Page[*patch.EvidenceEntry] }, error) {
			f := patch.EvidenceFilter{ClientID: patch.ClientID(in.ID), AfterSeq: in.AfterSeq, Types: in.Types, Limit: in.Limit, Offset: in.Offset}
			if len(in.Types) > 30 {
				return nil, patch.FieldError("type", "at most 30 types")
			}
			if in.AssetID != "" {
				f.AssetID = (*patch.AssetID)(&in.AssetID)
			}
			if in.UpdateID != "" {
				f.UpdateID = (*patch.UpdateID)(&in.UpdateID)
			}
			if !in.Since.IsZero() {
				f.Since = &in.Since
			}
			if !in.Until.IsZero() {
				f.Until = &in.Until
			}
			es, n, err := a.srv.EvidenceEntries(ctx, f)
			return page(es, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "list-evidence-checkpoints", Method: http.MethodGet, Path: "/clients/{id}/evidence/checkpoints",
		Summary: "A client's signed checkpoints of its evidence chain", Tags: tags},
		func(ctx context.Context, in *ClientPath) (*body[[]*patch.EvidenceCheckpoint], error) {
			cps, err := a.srv.EvidenceCheckpoints(ctx, patch.ClientID(in.ID))
			if cps == nil {
				cps = []*patch.EvidenceCheckpoint{}
			}
			return ok(cps), err
		})
	register(a, huma.Operation{OperationID: "verify-evidence", Method: http.MethodGet, Path: "/clients/{id}/evidence/verify",
		Summary: "Verify a client's whole evidence chain and its checkpoints on the server", Tags: tags},
		func(ctx context.Context, in *ClientPath) (*body[*server.ChainVerification], error) {
			v, err := a.srv.VerifyEvidenceChain(ctx, patch.ClientID(in.ID))
			return ok(v), err
		})
	register(a, huma.Operation{OperationID: "get-evidence-bundle", Method: http.MethodGet, Path: "/clients/{id}/evidence/bundle",
		Summary: "Download the signed HIPAA evidence bundle of a client and period (generates the period's missing reports)", Tags: tags,
		Responses: fileResponses("application/zip")},
		func(ctx context.Context, in *struct {
			ClientPath
			Period string `query:"period" required:"true" doc:"A month (2026-10) or a quarter (2026-Q4)"`
		}) (*download, error) {
			var buf bytes.Buffer
			sum, err := a.srv.WriteEvidenceBundle(ctx, server.BundleRequest{ClientID: patch.ClientID(in.ID), Period: in.Period}, &buf)
			if err != nil {
				return nil, err
			}
			return &download{ContentType: "application/zip", Disposition: fmt.Sprintf(`attachment; filename="%s"`, sum.FileName), CSP: downloadCSP, Body: buf.Bytes()}, nil
		})
}

// ReportQuery filters the report list.
type ReportQuery struct {
	ClientID string `query:"client_id"`
	MSP      bool   `query:"msp" doc:"Only MSP-wide reports (the internal scorecard)"`
	Kind     string `query:"kind" enum:"patch-health,patch-detail,qbr,inventory,scorecard"`
	Period   string `query:"period" doc:"2026-10 or 2026-Q4"`
	Trigger  string `query:"trigger" enum:"on_demand,schedule,bundle"`
}

func (a *API) reportRoutes() {
	tags := []string{"Reports"}
	register(a, huma.Operation{OperationID: "list-reports", Method: http.MethodGet, Path: "/reports", Summary: "List generated reports, newest first", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ReportQuery
		}) (*struct{ Body Page[*patch.Report] }, error) {
			f := patch.ReportFilter{MSP: in.MSP, Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			if in.Kind != "" {
				f.Kind = (*patch.ReportKind)(&in.Kind)
			}
			if in.Period != "" {
				f.Period = &in.Period
			}
			if in.Trigger != "" {
				f.Trigger = (*patch.ReportTrigger)(&in.Trigger)
			}
			rs, n, err := a.srv.Reports(ctx, f)
			return page(rs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "generate-report", Method: http.MethodPost, Path: "/reports",
		Summary: "Generate a report now, in every format (PDF, HTML, CSV, JSON), and store it", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.ReportRequest]) (*body[*patch.Report], error) {
			r, err := a.srv.GenerateReport(ctx, in.Body)
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "get-report", Method: http.MethodGet, Path: "/reports/{id}", Summary: "Get a report's metadata and files", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Report], error) {
			r, err := a.srv.Report(ctx, patch.ReportID(in.ID))
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "download-report", Method: http.MethodGet, Path: "/reports/{id}/download",
		Summary: "Download one file of a report, by format or by name", Tags: tags,
		Responses: fileResponses("application/pdf", "text/html", "text/csv", "application/json")},
		func(ctx context.Context, in *struct {
			IDPath
			Format string `query:"format" enum:"pdf,html,csv,json" default:"pdf"`
			Name   string `query:"name" maxLength:"200" doc:"A file name from the report's files (the inventory has two CSVs)"`
		}) (*download, error) {
			f, data, err := a.srv.ReportFile(ctx, patch.ReportID(in.ID), patch.ReportFormat(in.Format), in.Name)
			if err != nil {
				return nil, err
			}
			disp := "attachment"
			if f.Format == patch.FormatHTML || f.Format == patch.FormatPDF {
				disp = "inline"
			}
			return &download{ContentType: f.ContentType, Disposition: fmt.Sprintf(`%s; filename="%s"`, disp, f.Name), SHA256: f.SHA256, CSP: downloadCSP, Body: data}, nil
		})
}
