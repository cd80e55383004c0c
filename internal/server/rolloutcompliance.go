package server

import (
	"context"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// rolloutFacts feeds the compliance engine from the rollout: install
// outcomes per client and ring (the patch failure rates), each asset's
// failed installs not made good since (the UPDATES – Failed monitor), and
// the tickets the rollout raised (halts and escalations) for the
// after-hours count. copts wires it whenever a rollout store is present.
//
// Install outcomes are counted per deployment — one asset's part in a
// cycle, whose updates install together in one job — which is also the
// unit the rings' failure gates count, so the failure rate on the
// scorecard is the one that halted (or did not halt) a cycle: a deployment
// whose install landed in the period counts one success, and each failed
// attempt in the period counts one failure (retries included).
type rolloutFacts struct{ s *Server }

// InstallCounts returns install outcomes in p per client and ring.
func (f rolloutFacts) InstallCounts(ctx context.Context, client *patch.ClientID, p compliance.Span) ([]compliance.InstallCount, error) {
	type key struct {
		client patch.ClientID
		ring   string
	}
	counts := map[key]*compliance.InstallCount{}
	var order []key
	from := p.From
	for off := 0; ; {
		page, total, err := f.s.st.Rollouts.FindDeployments(ctx, patch.DeploymentFilter{ClientID: client, ChangedSince: &from, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			ok := installedIn(d, p)
			failed := 0
			if d.Failures > 0 && p.Contains(d.FailedAt) {
				failed = d.Failures
			}
			if !ok && failed == 0 {
				continue
			}
			k := key{d.ClientID, d.Ring}
			c := counts[k]
			if c == nil {
				c = &compliance.InstallCount{ClientID: d.ClientID, Ring: d.Ring}
				counts[k] = c
				order = append(order, k)
			}
			if ok {
				c.Succeeded++
			}
			c.Failed += failed
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	out := make([]compliance.InstallCount, 0, len(order))
	for _, k := range order {
		out = append(out, *counts[k])
	}
	return out, nil
}

// installedIn reports whether a deployment's install succeeded within p:
// the agent reported it installed then, and the deployment did not end in
// a rollback or a failure.
func installedIn(d *patch.Deployment, p compliance.Span) bool {
	if d.InstalledAt.IsZero() || !p.Contains(d.InstalledAt) {
		return false
	}
	switch d.State {
	case patch.DeployRolledBack, patch.DeployFailed, patch.DeployRetryWait, patch.DeployRollingBack:
		return false
	}
	return true
}

// FailedInstalls returns an asset's failed installs that no later install
// of the same update has made good.
func (f rolloutFacts) FailedInstalls(ctx context.Context, asset patch.AssetID) ([]compliance.FailedInstall, error) {
	a, err := f.s.st.Assets.FindAssetByID(ctx, asset)
	if err != nil {
		return nil, err
	}
	fs, err := f.s.FailedInstalls(ctx, a.ClientID, &asset)
	if err != nil {
		return nil, err
	}
	out := make([]compliance.FailedInstall, 0, len(fs))
	for _, fi := range fs {
		title := fi.Package
		if fi.Version != "" {
			title += " " + fi.Version
		}
		out = append(out, compliance.FailedInstall{FindingID: fi.FindingID, UpdateID: fi.UpdateID, Title: title,
			At: fi.FailedAt, Attempts: fi.Failures, Error: fi.LastError})
	}
	return out, nil
}

// PatchTickets returns the tickets raised for a client in p: the alerts
// (each feeds one ticket) and the rollout's own tickets (halted cycles,
// escalated failures). A nil client means every client in scope.
func (f rolloutFacts) PatchTickets(ctx context.Context, client *patch.ClientID, p compliance.Span) ([]compliance.Ticket, error) {
	var clients []patch.ClientID
	if client != nil {
		clients = []patch.ClientID{*client}
	} else {
		for off := 0; ; {
			page, total, err := f.s.st.Clients.FindClients(ctx, patch.ClientFilter{Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, c := range page {
				clients = append(clients, c.ID)
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	var out []compliance.Ticket
	for _, c := range clients {
		ts, err := f.s.alertTickets(ctx, c, p)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
		rs, err := f.rolloutTickets(ctx, c, p)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func (f rolloutFacts) rolloutTickets(ctx context.Context, client patch.ClientID, p compliance.Span) ([]compliance.Ticket, error) {
	zones, err := f.s.zones(ctx, client)
	if err != nil {
		return nil, err
	}
	var fallback *time.Location
	for _, z := range zones {
		fallback = z
		break
	}
	var out []compliance.Ticket
	for off := 0; ; {
		page, total, err := f.s.st.Tickets.FindTickets(ctx, patch.TicketFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			if !p.Contains(t.CreatedAt) {
				continue
			}
			z := fallback
			if t.AssetID != "" {
				if a, err := f.s.st.Assets.FindAssetByID(ctx, t.AssetID); err == nil {
					if sz, ok := zones[a.SiteID]; ok {
						z = sz
					}
				}
			}
			out = append(out, compliance.Ticket{ID: string(t.ID), ClientID: t.ClientID, Kind: "ticket:" + string(t.Kind), At: t.CreatedAt, Zone: z})
		}
		off += len(page)
		// Tickets come newest first: stop once past the period.
		if len(page) == 0 || off >= total || page[len(page)-1].CreatedAt.Before(p.From) {
			return out, nil
		}
	}
}
