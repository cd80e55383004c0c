package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Patch cycles, their per-asset deployments, the actions people take on
// them, tickets and runbooks. Reading needs read; acting needs operate,
// except approving a ring, which the policy gives to the MSP or to the
// client owner.

// CyclePath names a cycle.
type CyclePath struct {
	ID string `path:"id" maxLength:"64"`
}

func (a *API) rolloutRoutes() {
	tags := []string{"Rollout"}
	register(a, huma.Operation{OperationID: "list-cycles", Method: http.MethodGet, Path: "/cycles",
		Summary: "Patch cycles, newest first, with each ring's progress and failure rate", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string   `query:"client_id"`
			States   []string `query:"state,explode" enum:"running,halted,completed,aborted" doc:"Repeat for several"`
		}) (*struct{ Body Page[*server.CycleView] }, error) {
			f := patch.CycleFilter{ClientID: (*patch.ClientID)(str(in.ClientID)), Limit: in.Limit, Offset: in.Offset}
			for _, s := range in.States {
				f.States = append(f.States, patch.CycleState(s))
			}
			cs, n, err := a.srv.Cycles(ctx, f)
			return page(cs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-cycle", Method: http.MethodPost, Path: "/cycles",
		Summary: "Start a patch cycle: the client's approved updates, ring by ring (canary first)", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.CycleInput]) (*body[*server.CycleView], error) {
			c, err := a.srv.CreateCycle(ctx, in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "get-cycle", Method: http.MethodGet, Path: "/cycles/{id}",
		Summary: "A cycle with its rings: state, soak, who promoted them, members, results and failure rate", Tags: tags},
		func(ctx context.Context, in *CyclePath) (*body[*server.CycleView], error) {
			c, err := a.srv.Cycle(ctx, patch.CycleID(in.ID))
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "list-cycle-deployments", Method: http.MethodGet, Path: "/cycles/{id}/deployments",
		Summary: "Per-asset deployments of a cycle with the time of each runbook step and every job with its delivery and answer", Tags: tags},
		func(ctx context.Context, in *struct {
			CyclePath
			Paging
			Ring    string   `query:"ring" maxLength:"40"`
			AssetID string   `query:"asset_id" maxLength:"64"`
			States  []string `query:"state,explode" doc:"Repeat for several"`
		}) (*struct{ Body Page[*server.DeploymentView] }, error) {
			id := patch.CycleID(in.ID)
			f := patch.DeploymentFilter{CycleID: &id, Ring: str(in.Ring), AssetID: (*patch.AssetID)(str(in.AssetID)), Limit: in.Limit, Offset: in.Offset}
			for _, s := range in.States {
				f.States = append(f.States, patch.DeploymentState(s))
			}
			ds, n, err := a.srv.CycleDeployments(ctx, f)
			return page(ds, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "approve-ring", Method: http.MethodPost, Path: "/cycles/{id}/rings/{ring}/approve",
		Summary: "Approve the move on from a ring that soaked and passed its gate (by the approver the policy names)", Tags: tags},
		func(ctx context.Context, in *struct {
			CyclePath
			Ring string `path:"ring" maxLength:"40"`
			Body server.ApproveRingInput
		}) (*body[*server.CycleView], error) {
			c, err := a.srv.ApproveRing(ctx, patch.CycleID(in.ID), in.Ring, in.Body)
			return ok(c), err
		})
	action := func(id, path, summary string, f func(context.Context, patch.CycleID, server.CycleActionInput) (*server.CycleView, error)) {
		register(a, huma.Operation{OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Tags: tags},
			func(ctx context.Context, in *struct {
				CyclePath
				Body server.CycleActionInput
			}) (*body[*server.CycleView], error) {
				c, err := f(ctx, patch.CycleID(in.ID), in.Body)
				return ok(c), err
			})
	}
	action("halt-cycle", "/cycles/{id}/halt", "Halt a running cycle: nothing new starts; what is in flight finishes its runbook", a.srv.HaltCycle)
	action("resume-cycle", "/cycles/{id}/resume", "Resume a halted cycle; the failures so far are waived (audited, with who and why)", a.srv.ResumeCycle)
	action("abort-cycle", "/cycles/{id}/abort", "Abort a cycle: unfinished deployments are cancelled and pending jobs withdrawn", a.srv.AbortCycle)
	register(a, huma.Operation{OperationID: "skip-cycle-update", Method: http.MethodPost, Path: "/cycles/{id}/updates/{update_id}/skip",
		Summary: "Take a bad update out of a cycle; failed deployments deploy the rest again", Tags: tags},
		func(ctx context.Context, in *struct {
			CyclePath
			UpdateID string `path:"update_id" maxLength:"64"`
			Body     server.CycleActionInput
		}) (*body[*server.CycleView], error) {
			c, err := a.srv.SkipCycleUpdate(ctx, patch.CycleID(in.ID), patch.UpdateID(in.UpdateID), in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "approve-reboots", Method: http.MethodPost, Path: "/cycles/{id}/reboots/approve",
		Summary: "Approve restarts that wait for a person (manual reboot policy)", Tags: tags},
		func(ctx context.Context, in *struct {
			CyclePath
			Body server.ApproveRebootsInput
		}) (*body[*server.CycleView], error) {
			c, err := a.srv.ApproveReboots(ctx, patch.CycleID(in.ID), in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "get-rollout-summary", Method: http.MethodGet, Path: "/clients/{id}/rollout-summary",
		Summary: "A client's cycles of a period with per-ring failure counts, every failed install and how it was remediated", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Since time.Time `query:"since" doc:"Cycles created at or after (RFC 3339)"`
			Until time.Time `query:"until" doc:"Cycles created before (RFC 3339)"`
		}) (*body[*server.RolloutSummary], error) {
			s, err := a.srv.RolloutSummary(ctx, server.RolloutSummaryQuery{ClientID: patch.ClientID(in.ID), Since: in.Since, Until: in.Until})
			return ok(s), err
		})
	register(a, huma.Operation{OperationID: "list-failed-installs", Method: http.MethodGet, Path: "/clients/{id}/failed-installs",
		Summary: "Installs failing now (retrying, escalated or rolled back, not installed and verified since)", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			AssetID string `query:"asset_id" maxLength:"64"`
		}) (*body[[]server.FailedInstall], error) {
			fs, err := a.srv.FailedInstalls(ctx, patch.ClientID(in.ID), (*patch.AssetID)(str(in.AssetID)))
			return ok(fs), err
		})
	register(a, huma.Operation{OperationID: "get-runbook", Method: http.MethodGet, Path: "/clients/{id}/runbook",
		Summary: "A client's runbook: snapshots, health checks, rollback and remediation (the defaults, version 0, until one is stored)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Runbook], error) {
			r, err := a.srv.RunbookOf(ctx, patch.ClientID(in.ID))
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "put-runbook", Method: http.MethodPut, Path: "/clients/{id}/runbook",
		Summary: "Replace a client's whole runbook (audited; a version that is not current is refused)", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body patch.Runbook
		}) (*body[*patch.Runbook], error) {
			r, err := a.srv.PutRunbook(ctx, patch.ClientID(in.ID), &in.Body)
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "get-webhook-key", Method: http.MethodGet, Path: "/rollout/webhook-key",
		Summary: "The public key snapshot webhooks are signed with", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[agentapi.CommandKey], error) {
			k, err := a.srv.WebhookPublicKey(ctx)
			return ok(k), err
		})

	ttags := []string{"Tickets"}
	register(a, huma.Operation{OperationID: "list-tickets", Method: http.MethodGet, Path: "/tickets",
		Summary: "Tickets raised by halted cycles and escalated failures, newest first", Tags: ttags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id" maxLength:"64"`
			CycleID  string `query:"cycle_id" maxLength:"64"`
			Kind     string `query:"kind" enum:"cycle_halted,escalation"`
			State    string `query:"state" enum:"open,resolved"`
		}) (*struct{ Body Page[*patch.Ticket] }, error) {
			f := patch.TicketFilter{ClientID: (*patch.ClientID)(str(in.ClientID)), CycleID: (*patch.CycleID)(str(in.CycleID)),
				Kind: (*patch.TicketKind)(str(in.Kind)), State: (*patch.TicketState)(str(in.State)), Limit: in.Limit, Offset: in.Offset}
			ts, n, err := a.srv.Tickets(ctx, f)
			return page(ts, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-ticket", Method: http.MethodGet, Path: "/tickets/{id}", Summary: "Get a ticket", Tags: ttags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Ticket], error) {
			tk, err := a.srv.Ticket(ctx, patch.TicketID(in.ID))
			return ok(tk), err
		})
	register(a, huma.Operation{OperationID: "resolve-ticket", Method: http.MethodPost, Path: "/tickets/{id}/resolve",
		Summary: "Resolve an open ticket, saying what was done", Tags: ttags},
		func(ctx context.Context, in *struct {
			IDPath
			Body server.ResolveTicketInput
		}) (*body[*patch.Ticket], error) {
			tk, err := a.srv.ResolveTicket(ctx, patch.TicketID(in.ID), in.Body)
			return ok(tk), err
		})
}
