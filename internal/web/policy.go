package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// The policy and rings tabs (docs/policy.md): the SLA matrix with each
// cell's deadline, windows and reboot policy; the maintenance windows with
// their next openings in the client's zone; tiers, approval rules, the
// emergency rule and the exception limits; the rings with their gates and
// members. Editing is policyedit.go.

func (c *Console) policyRoutes() {
	c.handle("GET /clients/{id}/policy", c.clientPolicy)
	c.handle("GET /clients/{id}/rings", c.clientRings)
	c.handle("GET /clients/{id}/policy/edit", c.editPolicy)
	c.handle("POST /clients/{id}/policy", c.savePolicy)
}

// PolicyPage is a client's policy tab.
type PolicyPage struct {
	Page
	Client  *ClientHeader
	Policy  *patch.Policy
	Matrix  *server.SLAMatrix
	Windows []server.WindowView
	// Reboots lists the distinct reboot policies with the cells using
	// them.
	Reboots []RebootRow
	CanEdit bool
	Default bool
}

// RebootRow is one reboot policy and where it applies.
type RebootRow struct {
	Policy string
	Cells  []string
}

func (c *Console) clientPolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabPolicy)
	if err != nil {
		return err
	}
	id := h.Client.ID
	p := &PolicyPage{Client: h, CanEdit: s.Actor.Can(patch.PermOperate)}
	p.Title, p.Section = h.Client.Name+" · Policy", c.clientSection(s)
	if p.Policy, err = c.srv.PolicyOf(ctx, id); err != nil {
		return err
	}
	p.Default = p.Policy.Version == 0
	if p.Matrix, err = c.srv.SLAMatrixOf(ctx, id); err != nil {
		return err
	}
	if p.Windows, err = c.srv.WindowsOf(ctx, id); err != nil {
		return err
	}
	idx := map[string]int{}
	for _, row := range p.Matrix.Rows {
		for _, cell := range row.Cells {
			i, ok := idx[cell.Reboot]
			if !ok {
				i = len(p.Reboots)
				idx[cell.Reboot] = i
				p.Reboots = append(p.Reboots, RebootRow{Policy: cell.Reboot})
			}
			p.Reboots[i].Cells = append(p.Reboots[i].Cells, row.Name+" · "+cell.Tier)
		}
	}
	return c.render(w, r, s, http.StatusOK, tmplPolicy, p)
}

// RingsPage is a client's rings tab.
type RingsPage struct {
	Page
	Client   *ClientHeader
	Rings    []RingMembers
	Isolated []RingMemberRow
	Total    int
}

// RingMembers is a ring with its gate and the members shown.
type RingMembers struct {
	server.RingView
	Gate    string
	Members []RingMemberRow
	More    int
	Defined []string
}

// RingMemberRow is an asset of a ring.
type RingMemberRow struct {
	server.RingMember
	Href      string
	ClassName string
	By        string
}

// ringMembersShown bounds the members listed per ring.
const ringMembersShown = 200

var ringByText = map[string]string{
	"pinned":     "pinned",
	"listed":     "listed",
	"msp_canary": "MSP canary",
	"tag":        "tag",
	"percent":    "share",
	"remainder":  "rest",
	"isolated":   "legacy lane",
}

func (c *Console) clientRings(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabRings)
	if err != nil {
		return err
	}
	rv, err := c.srv.RingsOf(ctx, h.Client.ID)
	if err != nil {
		return err
	}
	p := &RingsPage{Client: h, Total: rv.Total}
	p.Title, p.Section = h.Client.Name+" · Rings", c.clientSection(s)
	row := func(m server.RingMember) RingMemberRow {
		mr := RingMemberRow{RingMember: m, Href: "/assets/" + string(m.AssetID), ClassName: m.Class, By: cmp.Or(ringByText[m.By], m.By)}
		if ac, ok := h.Client.Class(m.Class); ok {
			mr.ClassName = ac.Name
		}
		return mr
	}
	for _, rg := range rv.Rings {
		rm := RingMembers{RingView: rg}
		if pr := rg.Promotion; pr != nil {
			rm.Gate = "soak " + string(pr.Soak) + ", halt above " + pctv(pr.FailureThresholdPct) + " failures of at least " + plural(pr.MinSample, "result") + ", "
			if pr.Approver == patch.ApproverAutomatic {
				rm.Gate += "promoted automatically"
			} else {
				rm.Gate += "approved by " + approverName(pr.Approver)
			}
		}
		if rg.MSPCanary {
			rm.Defined = append(rm.Defined, "the MSP-wide canary")
		}
		if n := len(rg.Assets); n > 0 {
			rm.Defined = append(rm.Defined, plural(n, "listed asset"))
		}
		for _, t := range rg.Tags {
			rm.Defined = append(rm.Defined, "tag "+t.String())
		}
		if rg.Percent > 0 {
			rm.Defined = append(rm.Defined, pctv(rg.Percent)+" of the fleet")
		}
		if len(rg.ExcludeClasses) > 0 {
			rm.Defined = append(rm.Defined, "never "+strings.Join(rg.ExcludeClasses, ", "))
		}
		members := slices.Clone(rg.Members)
		slices.SortFunc(members, func(a, b server.RingMember) int { return cmp.Compare(a.Hostname, b.Hostname) })
		if len(members) > ringMembersShown {
			rm.More = len(members) - ringMembersShown
			members = members[:ringMembersShown]
		}
		for _, m := range members {
			rm.Members = append(rm.Members, row(m))
		}
		p.Rings = append(p.Rings, rm)
	}
	for _, m := range rv.Isolated {
		p.Isolated = append(p.Isolated, row(m))
	}
	return c.render(w, r, s, http.StatusOK, tmplRings, p)
}
