package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/spf13/cobra"
)

func newComplianceCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "compliance", Short: "Patch Health Compliance ratings, monitors, snapshots and the scorecard on a running server"}

	var (
		rr     remoteFlags
		client string
		dim    string
	)
	ratings := &cobra.Command{
		Use:   "ratings",
		Short: "Current ratings by kind, class, OS, tier and site against their targets",
		Example: `  patchring compliance ratings --client cli_…
  patchring compliance ratings --client cli_… --dim os
  patchring compliance ratings --dim kind          # the MSP-wide kinds`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rr.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if client != "" {
				q.Set("client_id", client)
			} else {
				q.Set("msp", "true")
			}
			if dim != "" {
				q.Set("dim", dim)
			}
			var v server.RatingsView
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/compliance/ratings?"+q.Encode(), nil, &v); err != nil {
				return err
			}
			if rr.json {
				return printJSON(io.out, v)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DIM\tGROUP\tRATING\tSTRICT\tTARGET\tMET\tASSETS\tRATED\tMISSING\tEXCEPTED\tEMERGENCY\tNOT APPROVED")
			for _, r := range v.Ratings {
				name := r.Key
				if r.Label != "" {
					name = r.Label
				}
				met := "-"
				if r.Met != nil {
					met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Dim, cmpOr(name, "-"), pctString(r.RatingPct), pctString(r.StrictPct),
					pctString(r.TargetPct), met, r.Assets, r.Rated, r.Findings.Missing, r.Findings.Excepted, r.Findings.EmergencyMissing, r.Findings.NotApproved)
			}
			return tw.Flush()
		},
	}
	rr.register(ratings)
	ratings.Flags().StringVar(&client, "client", "", "client id (default: the MSP-wide ratings)")
	ratings.Flags().StringVar(&dim, "dim", "", "only one dimension: all, kind, class, os, tier or site")

	var (
		mr      remoteFlags
		mclient string
	)
	monitors := &cobra.Command{
		Use:   "monitors",
		Short: "The UPDATES monitors of a client's managed assets, worst first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mclient == "" {
				return usagef("--client is required")
			}
			c, err := mr.client()
			if err != nil {
				return err
			}
			var ms []server.AssetMonitors
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/clients/"+url.PathEscape(mclient)+"/monitors", nil, &ms); err != nil {
				return err
			}
			if mr.json {
				return printJSON(io.out, ms)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOSTNAME\tWORST\tMONITOR\tSTATUS\tSUMMARY")
			for _, am := range ms {
				for _, m := range am.Monitors {
					if m.Status == patch.MonitorOK {
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", am.Hostname, am.Worst, m.Title, m.Status, m.Summary)
				}
			}
			return tw.Flush()
		},
	}
	mr.register(monitors)
	monitors.Flags().StringVar(&mclient, "client", "", "client id")

	var (
		br      remoteFlags
		days    int
		replace bool
	)
	snapshots := &cobra.Command{
		Use:   "snapshots",
		Short: "Take the daily snapshots of the last days that have none (--replace: recompute them)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 || days > 400 {
				return usagef("--days must be between 1 and 400")
			}
			c, err := br.client()
			if err != nil {
				return err
			}
			var res server.SnapshotResult
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/compliance/snapshots", map[string]any{"days": days, "replace": replace}, &res); err != nil {
				return err
			}
			if br.json {
				return printJSON(io.out, res)
			}
			fmt.Fprintf(io.out, "%d days taken, %d had a snapshot already\n", len(res.Taken), len(res.Skipped))
			return nil
		},
	}
	br.register(snapshots)
	snapshots.Flags().IntVar(&days, "days", 30, "how many complete days back from yesterday")
	snapshots.Flags().BoolVar(&replace, "replace", false, "recompute days that have a snapshot")

	var (
		sr  remoteFlags
		csv bool
	)
	scorecard := &cobra.Command{
		Use:   "scorecard",
		Short: "The internal scorecard: compliance, exception aging, failure rate and after-hours tickets, week over week",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sr.client()
			if err != nil {
				return err
			}
			if csv {
				resp, err := c.Do(cmd.Context(), http.MethodGet, "/api/v1/compliance/scorecard.csv", nil, "")
				if err != nil {
					return err
				}
				_, err = io.out.Write(resp.Body)
				return err
			}
			var sc compliance.WeeklyScorecard
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/compliance/scorecard", nil, &sc); err != nil {
				return err
			}
			if sr.json {
				return printJSON(io.out, sc)
			}
			fmt.Fprintf(io.out, "Week of %s\n", sc.Week)
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT\tCOMPLIANCE\tCHANGE\tEXCEPTIONS\tMAX OPEN DAYS\tEXPIRING\tFAILURE RATE\tAFTER-HOURS TICKETS")
			for _, r := range sc.Rows {
				w := r.ThisWeek
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d of %d\n", r.Name, pctString(w.CompliancePct), ptsString(r.ComplianceChangePts),
					w.ExceptionsActive, w.ExceptionsMaxOpenDays, w.ExceptionsExpiringSoon, pctString(w.FailureRatePct), w.AfterHoursTickets, w.Tickets)
			}
			return tw.Flush()
		},
	}
	sr.register(scorecard)
	scorecard.Flags().BoolVar(&csv, "csv", false, "print the CSV export")

	cmd.AddCommand(ratings, monitors, snapshots, scorecard)
	return cmd
}

func pctString(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64) + "%"
}

func ptsString(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%+.2f pts", *p)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
