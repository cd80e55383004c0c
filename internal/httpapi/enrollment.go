package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// enrollmentRoutes are the operator side of the agent: enrollment secrets,
// agents, and what agents report about assets.
func (a *API) enrollmentRoutes() {
	tags := []string{"Agents"}
	register(a, huma.Operation{OperationID: "create-enrollment-secret", Method: http.MethodPost, Path: "/enrollment-secrets",
		Summary: "Create an enrollment secret (shown once, with install commands)", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.EnrollmentSecretInput]) (*body[*server.NewEnrollmentSecret], error) {
			e, err := a.srv.CreateEnrollmentSecret(ctx, in.Body)
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "list-enrollment-secrets", Method: http.MethodGet, Path: "/enrollment-secrets", Summary: "List enrollment secrets", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			Active   string `query:"active" enum:"true,false" doc:"Only secrets that can (true) or cannot (false) enroll now"`
		}) (*struct {
			Body Page[*patch.EnrollmentSecret]
		}, error) {
			f := patch.EnrollmentSecretFilter{Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			if in.Active != "" {
				act := in.Active == "true"
				f.Active = &act
			}
			es, n, err := a.srv.EnrollmentSecrets(ctx, f)
			return page(es, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-enrollment-secret", Method: http.MethodGet, Path: "/enrollment-secrets/{id}", Summary: "Get an enrollment secret (without its value)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.EnrollmentSecret], error) {
			e, err := a.srv.EnrollmentSecret(ctx, patch.EnrollmentSecretID(in.ID))
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "revoke-enrollment-secret", Method: http.MethodPost, Path: "/enrollment-secrets/{id}/revoke",
		Summary: "Revoke an enrollment secret (enrolled agents keep working)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.EnrollmentSecret], error) {
			e, err := a.srv.RevokeEnrollmentSecret(ctx, patch.EnrollmentSecretID(in.ID))
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/agents", Summary: "List agents (status online, offline or revoked)", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			AssetID  string `query:"asset_id"`
			Status   string `query:"status" enum:"online,offline,revoked" doc:"offline: missed the check-in deadline the server set"`
		}) (*struct{ Body Page[*patch.Agent] }, error) {
			f := patch.AgentFilter{Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			if in.AssetID != "" {
				f.AssetID = (*patch.AssetID)(&in.AssetID)
			}
			if in.Status != "" {
				f.Status = (*patch.AgentStatus)(&in.Status)
			}
			as, n, err := a.srv.Agents(ctx, f)
			return page(as, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-agent", Method: http.MethodGet, Path: "/agents/{id}", Summary: "Get an agent", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Agent], error) {
			ag, err := a.srv.Agent(ctx, patch.AgentID(in.ID))
			return ok(ag), err
		})
	register(a, huma.Operation{OperationID: "revoke-agent", Method: http.MethodPost, Path: "/agents/{id}/revoke",
		Summary: "Revoke an agent's key (the machine must enroll again)", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body struct {
				Reason string `json:"reason,omitempty" maxLength:"500" doc:"Why, for the audit log"`
			}
		}) (*body[*patch.Agent], error) {
			ag, err := a.srv.RevokeAgent(ctx, patch.AgentID(in.ID), in.Body.Reason)
			return ok(ag), err
		})

	atags := []string{"Assets"}
	register(a, huma.Operation{OperationID: "get-asset-inventory", Method: http.MethodGet, Path: "/assets/{id}/inventory",
		Summary: "The asset's last inventory as its agent reported it", Tags: atags},
		func(ctx context.Context, in *IDPath) (*body[*server.InventoryView], error) {
			v, err := a.srv.AssetInventory(ctx, patch.AssetID(in.ID))
			return ok(v), err
		})
	register(a, huma.Operation{OperationID: "list-asset-software", Method: http.MethodGet, Path: "/assets/{id}/software", Summary: "Software installed on the asset", Tags: atags},
		func(ctx context.Context, in *struct {
			IDPath
			Paging
			Q      string `query:"q" maxLength:"200" doc:"Substring of the name or vendor"`
			Source string `query:"source" enum:"dpkg,rpm,msi,registry,winget,app,brew"`
		}) (*struct{ Body Page[*patch.Software] }, error) {
			id := patch.AssetID(in.ID)
			f := patch.SoftwareFilter{AssetID: &id, Limit: in.Limit, Offset: in.Offset}
			if in.Q != "" {
				f.Query = &in.Q
			}
			if in.Source != "" {
				f.Source = &in.Source
			}
			sw, n, err := a.srv.AssetSoftware(ctx, f)
			return page(sw, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "list-asset-findings", Method: http.MethodGet, Path: "/assets/{id}/findings",
		Summary: "The asset's findings (updates missing, or once missing) with their catalog entries", Tags: atags},
		func(ctx context.Context, in *struct {
			IDPath
			Paging
			State  string `query:"state" enum:"open,resolved"`
			Source string `query:"source" enum:"apt,dnf,wua,winget,softwareupdate,brew"`
		}) (*struct{ Body Page[*patch.Finding] }, error) {
			id := patch.AssetID(in.ID)
			f := patch.FindingFilter{AssetID: &id, Limit: in.Limit, Offset: in.Offset}
			if in.State != "" {
				f.State = (*patch.FindingState)(&in.State)
			}
			if in.Source != "" {
				f.Source = (*patch.UpdateSource)(&in.Source)
			}
			fs, n, err := a.srv.AssetFindings(ctx, f)
			return page(fs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-asset-scan-status", Method: http.MethodGet, Path: "/assets/{id}/scan-status",
		Summary: "When each update source last scanned the asset, and its last error", Tags: atags},
		func(ctx context.Context, in *IDPath) (*body[[]*patch.ScanStatus], error) {
			st, err := a.srv.AssetScanStatus(ctx, patch.AssetID(in.ID))
			return ok(st), err
		})
	register(a, huma.Operation{OperationID: "request-asset-scan", Method: http.MethodPost, Path: "/assets/{id}/scan",
		Summary: "Ask the asset's agent to scan at its next check-in", Tags: atags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *IDPath) (*body[*patch.AgentJob], error) {
			j, err := a.srv.RequestScan(ctx, patch.AssetID(in.ID))
			return ok(j), err
		})
	register(a, huma.Operation{OperationID: "list-agent-jobs", Method: http.MethodGet, Path: "/agent-jobs", Summary: "List jobs handed to agents", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			AssetID string `query:"asset_id"`
			AgentID string `query:"agent_id"`
			State   string `query:"state" enum:"pending,delivered,succeeded,partial,failed,refused,expired"`
		}) (*struct{ Body Page[*patch.AgentJob] }, error) {
			f := patch.AgentJobFilter{Limit: in.Limit, Offset: in.Offset}
			if in.AssetID != "" {
				f.AssetID = (*patch.AssetID)(&in.AssetID)
			}
			if in.AgentID != "" {
				f.AgentID = (*patch.AgentID)(&in.AgentID)
			}
			if in.State != "" {
				f.State = (*patch.JobState)(&in.State)
			}
			js, n, err := a.srv.AgentJobs(ctx, f)
			return page(js, n, in.Limit, in.Offset), err
		})
}
