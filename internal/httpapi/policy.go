package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Policy, approvals, rings, windows, exceptions, findings with their SLA
// view, and alerts. Authorisation is the server's: readers read, operators
// change, client owners request and sign off exceptions of their client.

// ClientUpdatePath names a client and an update.
type ClientUpdatePath struct {
	ID       string `path:"id" maxLength:"64"`
	UpdateID string `path:"update_id" maxLength:"64"`
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a *API) policyRoutes() {
	tags := []string{"Policy"}
	register(a, huma.Operation{OperationID: "get-policy", Method: http.MethodGet, Path: "/clients/{id}/policy",
		Summary: "Get a client's patch policy (the defaults, version 0, until one is stored)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Policy], error) {
			p, err := a.srv.PolicyOf(ctx, patch.ClientID(in.ID))
			return ok(p), err
		})
	register(a, huma.Operation{OperationID: "put-policy", Method: http.MethodPut, Path: "/clients/{id}/policy",
		Summary: "Replace a client's whole patch policy, atomically; with dry_run, only validate and show the changes", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			DryRun bool `query:"dry_run" doc:"Validate and list the changes without storing them"`
			Body   patch.Policy
		}) (*body[*server.PolicyChange], error) {
			ch, err := a.srv.PutPolicy(ctx, patch.ClientID(in.ID), &in.Body, in.DryRun)
			return ok(ch), err
		})
	register(a, huma.Operation{OperationID: "get-sla-matrix", Method: http.MethodGet, Path: "/clients/{id}/sla-matrix",
		Summary: "The SLA matrix as a table: asset classes × severity tiers", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.SLAMatrix], error) {
			m, err := a.srv.SLAMatrixOf(ctx, patch.ClientID(in.ID))
			return ok(m), err
		})
	register(a, huma.Operation{OperationID: "list-windows", Method: http.MethodGet, Path: "/clients/{id}/windows",
		Summary: "A client's maintenance windows, described, with their next opening", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[[]server.WindowView], error) {
			ws, err := a.srv.WindowsOf(ctx, patch.ClientID(in.ID))
			return ok(ws), err
		})
	register(a, huma.Operation{OperationID: "get-asset-next-window", Method: http.MethodGet, Path: "/assets/{id}/next-window",
		Summary: "Next maintenance window for an asset, per severity tier, in its site's time zone", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.AssetWindow], error) {
			w, err := a.srv.NextWindowFor(ctx, patch.AssetID(in.ID))
			return ok(w), err
		})
	register(a, huma.Operation{OperationID: "list-rings", Method: http.MethodGet, Path: "/clients/{id}/rings",
		Summary: "Rollout rings of a client with their members (and the assets isolated in the legacy lane)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.RingsView], error) {
			r, err := a.srv.RingsOf(ctx, patch.ClientID(in.ID))
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "get-msp-canary", Method: http.MethodGet, Path: "/msp/canary", Summary: "The MSP-wide canary ring", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[*patch.MSPCanary], error) {
			c, err := a.srv.MSPCanary(ctx)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "put-msp-canary", Method: http.MethodPut, Path: "/msp/canary", Summary: "Replace the MSP-wide canary ring", Tags: tags},
		func(ctx context.Context, in *body[patch.MSPCanary]) (*body[*patch.MSPCanary], error) {
			c, err := a.srv.PutMSPCanary(ctx, &in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "list-msp-canary-members", Method: http.MethodGet, Path: "/msp/canary/members",
		Summary: "Members of the MSP-wide canary ring, across the clients in scope", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[[]server.RingMember], error) {
			ms, err := a.srv.MSPCanaryMembers(ctx)
			return ok(ms), err
		})
	register(a, huma.Operation{OperationID: "evaluate-client", Method: http.MethodPost, Path: "/clients/{id}/evaluate",
		Summary: "Re-evaluate a client's findings against its policy now", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.EvaluationResult], error) {
			r, err := a.srv.EvaluateClient(ctx, patch.ClientID(in.ID))
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "evaluate-asset", Method: http.MethodPost, Path: "/assets/{id}/evaluate",
		Summary: "Re-evaluate an asset's findings against its client's policy now", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.EvaluationResult], error) {
			r, err := a.srv.EvaluateAsset(ctx, patch.AssetID(in.ID))
			return ok(r), err
		})

	atags := []string{"Approvals"}
	register(a, huma.Operation{OperationID: "list-approvals", Method: http.MethodGet, Path: "/clients/{id}/approvals",
		Summary: "Manual approval decisions of a client, newest first", Tags: atags},
		func(ctx context.Context, in *struct {
			IDPath
			Paging
			UpdateID string `query:"update_id"`
			Decision string `query:"decision" enum:"approved,declined"`
		}) (*struct{ Body Page[*patch.UpdateDecision] }, error) {
			cid := patch.ClientID(in.ID)
			f := patch.DecisionFilter{ClientID: &cid, UpdateID: (*patch.UpdateID)(str(in.UpdateID)), Decision: (*patch.Approval)(str(in.Decision)), Limit: in.Limit, Offset: in.Offset}
			ds, n, err := a.srv.Decisions(ctx, f)
			return page(ds, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "decide-update", Method: http.MethodPost, Path: "/clients/{id}/approvals",
		Summary: "Approve or decline an update for a client (declining needs a reason)", Tags: atags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			IDPath
			Body server.DecisionInput
		}) (*body[*patch.UpdateDecision], error) {
			d, err := a.srv.DecideUpdate(ctx, patch.ClientID(in.ID), in.Body)
			return ok(d), err
		})
	register(a, huma.Operation{OperationID: "clear-approval", Method: http.MethodDelete, Path: "/clients/{id}/approvals/{update_id}",
		Summary: "Remove a manual decision so the auto-approval rules apply again", Tags: atags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *ClientUpdatePath) (*empty, error) {
			return nil, a.srv.ClearDecision(ctx, patch.ClientID(in.ID), patch.UpdateID(in.UpdateID))
		})
	register(a, huma.Operation{OperationID: "list-tier-overrides", Method: http.MethodGet, Path: "/clients/{id}/tier-overrides",
		Summary: "Per-update tier overrides of a client", Tags: atags},
		func(ctx context.Context, in *struct {
			IDPath
			Paging
		}) (*struct{ Body Page[*patch.TierOverride] }, error) {
			cid := patch.ClientID(in.ID)
			os, n, err := a.srv.TierOverrides(ctx, patch.TierOverrideFilter{ClientID: &cid, Limit: in.Limit, Offset: in.Offset})
			return page(os, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "set-tier-override", Method: http.MethodPut, Path: "/clients/{id}/tier-overrides/{update_id}",
		Summary: "Put an update in a tier (and set or clear its emergency flag) for a client, with a reason", Tags: atags},
		func(ctx context.Context, in *struct {
			ClientUpdatePath
			Body server.TierOverrideInput
		}) (*body[*patch.TierOverride], error) {
			o, err := a.srv.SetTierOverride(ctx, patch.ClientID(in.ID), patch.UpdateID(in.UpdateID), in.Body)
			return ok(o), err
		})
	register(a, huma.Operation{OperationID: "delete-tier-override", Method: http.MethodDelete, Path: "/clients/{id}/tier-overrides/{update_id}",
		Summary: "Remove a tier override, with a reason", Tags: atags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *struct {
			ClientUpdatePath
			Reason string `query:"reason" maxLength:"2000" doc:"Why the override goes (required)"`
		}) (*empty, error) {
			return nil, a.srv.DeleteTierOverride(ctx, patch.ClientID(in.ID), patch.UpdateID(in.UpdateID), in.Reason)
		})

	etags := []string{"Exceptions"}
	register(a, huma.Operation{OperationID: "list-exceptions", Method: http.MethodGet, Path: "/exceptions", Summary: "The exception register, newest first", Tags: etags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string   `query:"client_id"`
			States   []string `query:"state,explode" enum:"requested,approved,active,expired,revoked" doc:"Repeat for several"`
			Lane     string   `query:"lane" enum:"standard,legacy"`
		}) (*struct{ Body Page[*patch.Exception] }, error) {
			f := patch.ExceptionFilter{ClientID: (*patch.ClientID)(str(in.ClientID)), Lane: (*patch.ExceptionLane)(str(in.Lane)), Limit: in.Limit, Offset: in.Offset}
			for _, s := range in.States {
				f.States = append(f.States, patch.ExceptionState(s))
			}
			es, n, err := a.srv.Exceptions(ctx, f)
			return page(es, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "request-exception", Method: http.MethodPost, Path: "/exceptions",
		Summary: "Request an exception (it pauses nothing until the client owner signs it off)", Tags: etags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.ExceptionInput]) (*body[*patch.Exception], error) {
			e, err := a.srv.RequestException(ctx, in.Body)
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "get-exception", Method: http.MethodGet, Path: "/exceptions/{id}", Summary: "Get an exception", Tags: etags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Exception], error) {
			e, err := a.srv.Exception(ctx, patch.ExceptionID(in.ID))
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "sign-off-exception", Method: http.MethodPost, Path: "/exceptions/{id}/sign-off",
		Summary: "Sign off an exception (client-owner users of its client only)", Tags: etags},
		func(ctx context.Context, in *struct {
			IDPath
			Body struct {
				Note string `json:"note,omitempty" maxLength:"2000"`
			}
		}) (*body[*patch.Exception], error) {
			e, err := a.srv.SignOffException(ctx, patch.ExceptionID(in.ID), in.Body.Note)
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "revoke-exception", Method: http.MethodPost, Path: "/exceptions/{id}/revoke",
		Summary: "Revoke an exception before its expiry, with a reason", Tags: etags},
		func(ctx context.Context, in *struct {
			IDPath
			Body struct {
				Reason string `json:"reason,omitempty" maxLength:"2000" doc:"Required"`
			}
		}) (*body[*patch.Exception], error) {
			e, err := a.srv.RevokeException(ctx, patch.ExceptionID(in.ID), in.Body.Reason)
			return ok(e), err
		})
	register(a, huma.Operation{OperationID: "list-exception-findings", Method: http.MethodGet, Path: "/exceptions/{id}/findings",
		Summary: "The open findings an exception covers", Tags: etags},
		func(ctx context.Context, in *IDPath) (*body[[]*server.FindingView], error) {
			fs, err := a.srv.ExceptionFindings(ctx, patch.ExceptionID(in.ID))
			return ok(fs), err
		})

	ftags := []string{"Findings"}
	register(a, huma.Operation{OperationID: "list-findings", Method: http.MethodGet, Path: "/findings",
		Summary: "Findings with their due time, SLA status and why they are not patched", Tags: ftags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID  string `query:"client_id"`
			AssetID   string `query:"asset_id"`
			UpdateID  string `query:"update_id"`
			State     string `query:"state" enum:"open,resolved"`
			SLAStatus string `query:"sla_status" enum:"on_track,due_soon,breached,paused,met,met_late" doc:"As of the last evaluation"`
			Tier      string `query:"tier"`
		}) (*struct{ Body Page[*server.FindingView] }, error) {
			q := server.FindingQuery{ClientID: patch.ClientID(in.ClientID), AssetID: (*patch.AssetID)(str(in.AssetID)), UpdateID: (*patch.UpdateID)(str(in.UpdateID)),
				State: (*patch.FindingState)(str(in.State)), SLAStatus: (*patch.SLAStatus)(str(in.SLAStatus)), Tier: str(in.Tier), Limit: in.Limit, Offset: in.Offset}
			fs, n, err := a.srv.Findings(ctx, q)
			return page(fs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-finding", Method: http.MethodGet, Path: "/findings/{id}",
		Summary: "A finding with its due time, SLA status and why it is not patched", Tags: ftags},
		func(ctx context.Context, in *IDPath) (*body[*server.FindingView], error) {
			f, err := a.srv.Finding(ctx, patch.FindingID(in.ID))
			return ok(f), err
		})
	register(a, huma.Operation{OperationID: "list-alerts", Method: http.MethodGet, Path: "/alerts", Summary: "Alerts, newest first", Tags: []string{"Alerts"}},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			Kind     string `query:"kind"`
			Open     string `query:"open" enum:"true,false"`
		}) (*struct{ Body Page[*patch.Alert] }, error) {
			f := patch.AlertFilter{ClientID: (*patch.ClientID)(str(in.ClientID)), Kind: str(in.Kind), Limit: in.Limit, Offset: in.Offset}
			if in.Open != "" {
				o := in.Open == "true"
				f.Open = &o
			}
			as, n, err := a.srv.Alerts(ctx, f)
			return page(as, n, in.Limit, in.Offset), err
		})
}
