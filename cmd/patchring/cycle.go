package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/spf13/cobra"
)

// newCycleCmd is "patchring cycle": patch cycles on a running server.
func newCycleCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "cycle", Short: "Patch cycles: create, watch ring by ring, approve, halt, resume, skip, abort; tickets"}

	var (
		lr      remoteFlags
		lClient string
		lStates []string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List cycles, newest first, with each ring's progress",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			if lClient != "" {
				q.Set("client_id", lClient)
			}
			for _, s := range lStates {
				q.Add("state", s)
			}
			var page struct {
				Items []*server.CycleView `json:"items"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/cycles?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCLIENT\tNAME\tSTATE\tRINGS\tCREATED")
			for _, cy := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cy.ID, cy.ClientID, cy.Name, cy.State, ringLine(cy.Cycle), cy.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	lr.register(list)
	list.Flags().StringVar(&lClient, "client", "", "client id")
	list.Flags().StringSliceVar(&lStates, "state", nil, "running, halted, completed or aborted (repeatable)")

	var (
		cr  remoteFlags
		in  server.CycleInput
		cc  string
		upd []string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Start a cycle of the client's approved updates (canary first)",
		Example: `  patchring cycle create --client cli_… --name "November 2026"
  patchring cycle create --client cli_… --kind emergency --update upd_…`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cc == "" {
				return usagef("--client is required")
			}
			in.ClientID = patch.ClientID(cc)
			for _, u := range upd {
				in.Updates = append(in.Updates, patch.UpdateID(u))
			}
			c, err := cr.client()
			if err != nil {
				return err
			}
			var cy server.CycleView
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/cycles", in, &cy); err != nil {
				return err
			}
			if cr.json {
				return printJSON(io.out, cy)
			}
			fmt.Fprintln(io.out, cy.ID)
			fmt.Fprintf(io.err, "Started %s: %d updates, %s.\n", cy.Name, len(cy.Updates), ringLine(cy.Cycle))
			return nil
		},
	}
	cr.register(create)
	create.Flags().StringVar(&cc, "client", "", "client id")
	create.Flags().StringVar((*string)(&in.Kind), "kind", "monthly", "monthly or emergency")
	create.Flags().StringVar(&in.Name, "name", "", "name (default: the kind and the date)")
	create.Flags().StringSliceVar(&upd, "update", nil, "only this approved update (repeatable)")

	var sr remoteFlags
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a cycle ring by ring and each asset's steps",
		Args:  exactArgs(1, "a cycle id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sr.client()
			if err != nil {
				return err
			}
			var cy server.CycleView
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/cycles/"+url.PathEscape(args[0]), nil, &cy); err != nil {
				return err
			}
			var page struct {
				Items []*server.DeploymentView `json:"items"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/cycles/"+url.PathEscape(args[0])+"/deployments?limit=1000", nil, &page); err != nil {
				return err
			}
			if sr.json {
				return printJSON(io.out, map[string]any{"cycle": cy, "deployments": page.Items})
			}
			fmt.Fprintf(io.out, "%s  %s  %s (%s)\n", cy.ID, cy.Name, cy.State, cy.Kind)
			if cy.State == patch.CycleHalted {
				fmt.Fprintf(io.out, "HALTED %s: %s  ticket %s\n", cy.HaltedAt.Local().Format(time.DateTime), cy.HaltReason, cy.TicketID)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nRING\tSTATE\tMEMBERS\tOK\tFAILED\tIN FLIGHT\tPENDING\tFAILURE %\tSOAK UNTIL\tPROMOTED BY")
			for _, r := range cy.Rings {
				p := r.Progress
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.4g\t%s\t%s\n", r.Key, r.State, p.Members, p.Succeeded, p.Failed, p.InProgress, p.Pending,
					p.FailureRatePct, when(r.SoakUntil), dash(r.PromotedBy))
			}
			fmt.Fprintln(tw, "\nASSET\tRING\tSTATE\tSCHEDULED\tSENT\tINSTALLED\tREBOOTED\tVERIFIED\tHEALTHY\tLAST ERROR")
			for _, d := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Hostname, d.Ring, d.State, when(d.ScheduledAt), when(d.SentAt), when(d.InstalledAt),
					when(d.RebootedAt), when(d.VerifiedAt), when(d.HealthCheckedAt), dash(firstLine(d.LastError)))
			}
			return tw.Flush()
		},
	}
	sr.register(show)

	// Actions: POST /cycles/{id}/{action} with a reason.
	actionCmd := func(use, short, action string, needsReason bool) *cobra.Command {
		var (
			ar     remoteFlags
			reason string
		)
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  exactArgs(1, "a cycle id"),
			RunE: func(cmd *cobra.Command, args []string) error {
				if needsReason && strings.TrimSpace(reason) == "" {
					return usagef("--reason is required")
				}
				return cycleAction(cmd.Context(), io, &ar, "/api/v1/cycles/"+url.PathEscape(args[0])+"/"+action, map[string]any{"reason": reason})
			},
		}
		ar.register(c)
		c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log and the evidence chain)")
		return c
	}
	halt := actionCmd("halt", "Halt a running cycle: nothing new starts", "halt", true)
	resume := actionCmd("resume", "Resume a halted cycle (the failures so far are waived)", "resume", true)
	abort := actionCmd("abort", "Abort a cycle: unfinished deployments are cancelled", "abort", true)

	var (
		pr   remoteFlags
		note string
	)
	approve := &cobra.Command{
		Use:   "approve ID RING",
		Short: "Approve the move on from a ring that soaked and passed its gate",
		Args:  exactArgs(2, "a cycle id and a ring"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cycleAction(cmd.Context(), io, &pr, "/api/v1/cycles/"+url.PathEscape(args[0])+"/rings/"+url.PathEscape(args[1])+"/approve", map[string]any{"note": note})
		},
	}
	pr.register(approve)
	approve.Flags().StringVar(&note, "note", "", "a note recorded with the approval")

	var (
		kr   remoteFlags
		kwhy string
	)
	skip := &cobra.Command{
		Use:   "skip ID UPDATE",
		Short: "Take a bad update out of a cycle; failed deployments deploy the rest again",
		Args:  exactArgs(2, "a cycle id and an update id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(kwhy) == "" {
				return usagef("--reason is required")
			}
			return cycleAction(cmd.Context(), io, &kr, "/api/v1/cycles/"+url.PathEscape(args[0])+"/updates/"+url.PathEscape(args[1])+"/skip", map[string]any{"reason": kwhy})
		},
	}
	kr.register(skip)
	skip.Flags().StringVar(&kwhy, "reason", "", "why the update is skipped")

	var (
		br   remoteFlags
		deps []string
	)
	reboots := &cobra.Command{
		Use:   "approve-reboots ID",
		Short: "Approve the restarts that wait for a person (manual reboot policy)",
		Args:  exactArgs(1, "a cycle id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cycleAction(cmd.Context(), io, &br, "/api/v1/cycles/"+url.PathEscape(args[0])+"/reboots/approve", map[string]any{"deployments": deps})
		},
	}
	br.register(reboots)
	reboots.Flags().StringSliceVar(&deps, "deployment", nil, "only this deployment (repeatable; default: all waiting)")

	var (
		tr                    remoteFlags
		tClient, tCyc, tState string
	)
	tickets := &cobra.Command{
		Use:   "tickets",
		Short: "Tickets raised by halted cycles and escalated failures",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := tr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			for k, v := range map[string]string{"client_id": tClient, "cycle_id": tCyc, "state": tState} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var page struct {
				Items []*patch.Ticket `json:"items"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/tickets?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if tr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTATE\tCREATED\tTITLE")
			for _, t := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.State, t.CreatedAt.Local().Format(time.DateTime), t.Title)
			}
			return tw.Flush()
		},
	}
	tr.register(tickets)
	tickets.Flags().StringVar(&tClient, "client", "", "client id")
	tickets.Flags().StringVar(&tCyc, "cycle", "", "cycle id")
	tickets.Flags().StringVar(&tState, "state", "", "open or resolved")

	var (
		rr  remoteFlags
		res string
	)
	resolve := &cobra.Command{
		Use:   "resolve-ticket ID",
		Short: "Resolve a ticket, saying what was done",
		Args:  exactArgs(1, "a ticket id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(res) == "" {
				return usagef("--resolution is required")
			}
			c, err := rr.client()
			if err != nil {
				return err
			}
			var t patch.Ticket
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/tickets/"+url.PathEscape(args[0])+"/resolve", map[string]any{"resolution": res}, &t); err != nil {
				return err
			}
			if rr.json {
				return printJSON(io.out, t)
			}
			fmt.Fprintf(io.out, "%s resolved by %s\n", t.ID, t.ResolvedBy)
			return nil
		},
	}
	rr.register(resolve)
	resolve.Flags().StringVar(&res, "resolution", "", "what was done")

	cmd.AddCommand(list, create, show, approve, halt, resume, skip, abort, reboots, tickets, resolve)
	return cmd
}

// cycleAction posts an action and prints the cycle's new state.
func cycleAction(ctx context.Context, io stdio, r *remoteFlags, path string, body any) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	var cy server.CycleView
	if err := c.JSON(ctx, http.MethodPost, path, body, &cy); err != nil {
		return err
	}
	if r.json {
		return printJSON(io.out, cy)
	}
	fmt.Fprintf(io.out, "%s is %s: %s\n", cy.ID, cy.State, ringLine(cy.Cycle))
	return nil
}

// ringLine summarises rings: "canary promoted 3/3, pilot soaking 5/5, production waiting 0/40".
func ringLine(c *patch.Cycle) string {
	parts := make([]string, len(c.Rings))
	for i, r := range c.Rings {
		parts[i] = fmt.Sprintf("%s %s %d/%d", r.Key, r.State, r.Progress.Succeeded, r.Progress.Members)
		if r.Progress.Failed > 0 {
			parts[i] += fmt.Sprintf(" (%d failed)", r.Progress.Failed)
		}
	}
	return strings.Join(parts, ", ")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("01-02 15:04")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
