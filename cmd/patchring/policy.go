package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Policy as code: "policy export" writes a client's whole policy as YAML,
// "policy apply" sends a file back, showing the exact changes first. The
// server validates; errors name a JSON path ("sla.matrix[3].deadline"),
// which apply maps to the line of the file with the YAML node tree, so
// every refusal points at a line.

func newPolicyCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Export, apply and inspect client patch policies on a running server"}

	var (
		er     remoteFlags
		client string
		output string
	)
	export := &cobra.Command{
		Use:   "export",
		Short: "Write a client's whole policy as YAML",
		Example: `  patchring policy export --client cli_01J… -o riverside.yaml
  patchring policy apply riverside.yaml --dry-run`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if client == "" {
				return usagef("--client is required")
			}
			c, err := er.client()
			if err != nil {
				return err
			}
			var p patch.Policy
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/clients/"+url.PathEscape(client)+"/policy", nil, &p); err != nil {
				return err
			}
			if er.json {
				return printJSON(io.out, p)
			}
			doc, err := policyYAML(&p)
			if err != nil {
				return err
			}
			if output == "" {
				_, err = io.out.Write(doc)
				return err
			}
			if err := os.WriteFile(output, doc, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(io.err, "wrote %s (policy version %d of client %s)\n", output, p.Version, p.ClientID)
			return nil
		},
	}
	er.register(export)
	export.Flags().StringVar(&client, "client", "", "client id")
	export.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")

	var (
		ar       remoteFlags
		dryRun   bool
		apClient string
	)
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Apply a policy file: show the exact changes, then store them atomically (audited)",
		Long: `Apply a policy file written by "policy export" (or by hand). The whole policy
is replaced in one transaction and audited with its before and after
documents. With --dry-run nothing is stored: the changes are listed and the
file is validated. An invalid file is refused with the line at fault.

A file carrying "version: N" is applied only if the server's policy is still
at version N; remove the line to overwrite whatever is there.`,
		Args: exactArgs(1, "a policy file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := readFile(io.in, args[0])
			if err != nil {
				return err
			}
			name := args[0]
			p, root, err := parsePolicyYAML(src)
			if err != nil {
				return fileError(name, err)
			}
			switch {
			case apClient != "" && p.ClientID != "" && apClient != string(p.ClientID):
				return usagef("--client %s does not match client_id %s in %s", apClient, p.ClientID, name)
			case apClient != "":
				p.ClientID = patch.ClientID(apClient)
			case p.ClientID == "":
				return usagef("%s has no client_id: add one or pass --client", name)
			}
			c, err := ar.client()
			if err != nil {
				return err
			}
			path := "/api/v1/clients/" + url.PathEscape(string(p.ClientID)) + "/policy"
			if dryRun {
				path += "?dry_run=true"
			}
			var ch server.PolicyChange
			if err := c.JSON(cmd.Context(), http.MethodPut, path, p, &ch); err != nil {
				var pe *patch.Error
				if errors.As(err, &pe) && (pe.Kind == patch.KindInvalid || pe.Field == "version") {
					return fileError(name, &lineError{line: lineOf(root, pe.Field), err: err})
				}
				return err
			}
			if ar.json {
				return printJSON(io.out, ch)
			}
			for _, w := range ch.Warnings {
				fmt.Fprintf(io.err, "warning: %s\n", w)
			}
			for _, c := range ch.Changes {
				fmt.Fprintln(io.out, c.String())
			}
			switch {
			case ch.DryRun && len(ch.Changes) == 0:
				fmt.Fprintf(io.err, "%s is valid; no changes to the policy of client %s (version %d).\n", name, p.ClientID, ch.Policy.Version)
			case ch.DryRun:
				fmt.Fprintf(io.err, "%s is valid; %d changes would be applied to version %d (dry run: nothing stored).\n", name, len(ch.Changes), ch.Policy.Version)
			default:
				fmt.Fprintf(io.err, "Applied %d changes: client %s is at policy version %d; %d findings re-evaluated.\n", len(ch.Changes), p.ClientID, ch.Policy.Version, ch.Evaluated)
			}
			return nil
		},
	}
	ar.register(apply)
	apply.Flags().BoolVar(&dryRun, "dry-run", false, "validate and show the changes without storing them")
	apply.Flags().StringVar(&apClient, "client", "", "client id (default: client_id in the file)")

	var (
		mr       remoteFlags
		mxClient string
	)
	matrix := &cobra.Command{
		Use:   "matrix",
		Short: "Show a client's SLA matrix: asset classes × severity tiers",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mxClient == "" {
				return usagef("--client is required")
			}
			c, err := mr.client()
			if err != nil {
				return err
			}
			var m server.SLAMatrix
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/clients/"+url.PathEscape(mxClient)+"/sla-matrix", nil, &m); err != nil {
				return err
			}
			if mr.json {
				return printJSON(io.out, m)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprint(tw, "CLASS")
			for _, t := range m.Tiers {
				fmt.Fprintf(tw, "\t%s", strings.ToUpper(t.Name))
			}
			fmt.Fprintln(tw)
			for _, r := range m.Rows {
				fmt.Fprint(tw, r.Name)
				for _, cell := range r.Cells {
					fmt.Fprintf(tw, "\t%s, %s", cell.Deadline, cell.Reboot)
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	mr.register(matrix)
	matrix.Flags().StringVar(&mxClient, "client", "", "client id")

	cmd.AddCommand(export, apply, matrix)
	return cmd
}

func readFile(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return b, nil
}

// policyYAML renders a policy as the YAML "policy export" writes.
func policyYAML(p *patch.Policy) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Patch policy of client %s, version %d", p.ClientID, p.Version)
	if p.Version == 0 {
		buf.WriteString(" (the defaults: never changed)")
	}
	buf.WriteString(".\n# Apply changes with: patchring policy apply FILE --dry-run, then without --dry-run.\n")
	buf.WriteString("# Keep the version line to refuse the apply if someone changed the policy since this export.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	return buf.Bytes(), nil
}

// lineError is an error located at a line of the input file (0: unknown).
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return errorText(e.err) }
func (e *lineError) Unwrap() error { return e.err }

var yamlLine = regexp.MustCompile(`line (\d+): `)

// parsePolicyYAML decodes a policy file strictly (unknown fields are
// errors) and returns its node tree for locating fields.
func parsePolicyYAML(src []byte) (*patch.Policy, *yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, nil, yamlError(err)
	}
	if len(root.Content) == 0 {
		return nil, nil, &lineError{line: 1, err: errors.New("the file is empty")}
	}
	if root.Content[0].Kind != yaml.MappingNode {
		return nil, nil, &lineError{line: root.Content[0].Line, err: errors.New("a policy file is a mapping (client_id:, tiers:, sla:, …)")}
	}
	var p patch.Policy
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, nil, yamlError(err)
	}
	// Lists a policy may leave out mean "none", not "missing".
	if p.Windows == nil {
		p.Windows = []patch.MaintenanceWindow{}
	}
	if p.Approval.Rules == nil {
		p.Approval.Rules = []patch.ApprovalRule{}
	}
	return &p, &root, nil
}

// yamlError turns a YAML error into line errors, one per problem.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs []error
		for _, msg := range te.Errors {
			errs = append(errs, yamlMsg(msg))
		}
		return errors.Join(errs...)
	}
	return yamlMsg(strings.TrimPrefix(err.Error(), "yaml: "))
}

func yamlMsg(msg string) error {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return &lineError{err: errors.New(msg)}
	}
	n, _ := strconv.Atoi(m[1])
	msg = strings.Replace(msg, m[0], "", 1)
	msg = strings.ReplaceAll(msg, "in type patch.", "in ")
	return &lineError{line: n, err: errors.New(msg)}
}

// fileError prefixes every line error with "FILE:LINE: ".
func fileError(name string, err error) error {
	var parts []string
	collect := func(e error) {
		var le *lineError
		if errors.As(e, &le) && le.line > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d: %s", name, le.line, le.Error()))
			return
		}
		parts = append(parts, fmt.Sprintf("%s: %s", name, errorText(e)))
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			collect(e)
		}
	} else {
		collect(err)
	}
	return errors.New(strings.Join(parts, "\n"))
}

var (
	pathPart  = regexp.MustCompile(`^([^.\[\]]*)((?:\[\d+\])*)$`)
	pathIndex = regexp.MustCompile(`\d+`)
)

// lineOf finds the line of a JSON path ("sla.matrix[3].deadline") in a
// YAML document: the line of the deepest node of the path that exists, so
// a missing field points at its parent. 0 when nothing matches.
func lineOf(root *yaml.Node, path string) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	n := root.Content[0]
	line := n.Line
	if path == "" {
		return line
	}
	for _, seg := range strings.Split(path, ".") {
		m := pathPart.FindStringSubmatch(seg)
		if m == nil {
			return line
		}
		if m[1] != "" {
			if n.Kind != yaml.MappingNode {
				return line
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		}
		for _, idx := range pathIndex.FindAllString(m[2], -1) {
			i, _ := strconv.Atoi(idx)
			if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		}
	}
	return line
}

// Exceptions and approvals conveniences.

func newExceptionsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "exceptions", Short: "The exception register: list, request, sign off, revoke"}

	var (
		lr      remoteFlags
		lClient string
		states  []string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List exceptions, newest first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			if lClient != "" {
				q.Set("client_id", lClient)
			}
			for _, s := range states {
				q.Add("state", s)
			}
			var page struct {
				Items []*patch.Exception `json:"items"`
				Total int                `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/exceptions?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tLANE\tSCOPE\tEXPIRES\tTICKET\tSIGNED OFF BY")
			for _, e := range page.Items {
				by := "-"
				if e.SignOff != nil {
					by = e.SignOff.Name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.Lane, e.Scope, e.ExpiresAt.Local().Format(time.DateTime), e.TicketRef, by)
			}
			return tw.Flush()
		},
	}
	lr.register(list)
	list.Flags().StringVar(&lClient, "client", "", "client id")
	list.Flags().StringSliceVar(&states, "state", nil, "requested, approved, active, expired or revoked (repeatable)")

	var (
		rr  remoteFlags
		in  server.ExceptionInput
		rq  struct{ client, lane, tag, expires, starts string }
		ctl []string
		ast []string
		upd []string
	)
	request := &cobra.Command{
		Use:   "request",
		Short: "Request an exception; it takes effect only once the client owner signs it off",
		Example: `  patchring exceptions request --client cli_… --asset ast_… --all-updates --lane legacy \
      --reason "Runs the X-ray modality" --ticket PSA-4411 --expires 180d \
      --control "network_segmentation:modality VLAN" --control "extra_monitoring:EDR to SOC"`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rq.client == "" {
				return usagef("--client is required")
			}
			in.ClientID, in.Lane = patch.ClientID(rq.client), patch.ExceptionLane(rq.lane)
			for _, a := range ast {
				in.Scope.AssetIDs = append(in.Scope.AssetIDs, patch.AssetID(a))
			}
			for _, u := range upd {
				in.Scope.UpdateIDs = append(in.Scope.UpdateIDs, patch.UpdateID(u))
			}
			if rq.tag != "" {
				k, v, _ := strings.Cut(rq.tag, "=")
				in.Scope.Tag = &patch.TagRef{Key: k, Value: v}
			}
			for _, s := range ctl {
				k, d, ok := strings.Cut(s, ":")
				if !ok {
					return usagef("--control must be KIND:DESCRIPTION, such as network_segmentation:own VLAN (got %q)", s)
				}
				in.Controls = append(in.Controls, patch.CompensatingControl{Kind: patch.ControlKind(strings.TrimSpace(k)), Description: strings.TrimSpace(d)})
			}
			var err error
			if in.ExpiresAt, err = parseWhen("--expires", rq.expires, true); err != nil {
				return err
			}
			if in.StartsAt, err = parseWhen("--starts", rq.starts, false); err != nil {
				return err
			}
			c, err := rr.client()
			if err != nil {
				return err
			}
			var e patch.Exception
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/exceptions", in, &e); err != nil {
				return err
			}
			if rr.json {
				return printJSON(io.out, e)
			}
			fmt.Fprintln(io.out, e.ID)
			fmt.Fprintf(io.err, "Requested %s (%s, expires %s); it needs the client owner's sign-off.\n", e.ID, e.Scope, e.ExpiresAt.Local().Format(time.DateTime))
			return nil
		},
	}
	rr.register(request)
	f := request.Flags()
	f.StringVar(&rq.client, "client", "", "client id")
	f.StringVar(&rq.lane, "lane", "", "standard (default) or legacy")
	f.StringSliceVar(&ast, "asset", nil, "asset id (repeatable)")
	f.StringVar(&rq.tag, "tag", "", "assets with this tag: key or key=value")
	f.BoolVar(&in.Scope.AllAssets, "all-assets", false, "every asset of the client")
	f.StringSliceVar(&upd, "update", nil, "update id (repeatable)")
	f.StringVar(&in.Scope.Product, "product", "", "every update of this product")
	f.BoolVar(&in.Scope.AllUpdates, "all-updates", false, "every update")
	f.StringVar(&in.Reason, "reason", "", "why the findings cannot be patched")
	f.StringVar(&in.TicketRef, "ticket", "", "the support ticket")
	f.StringArrayVar(&ctl, "control", nil, "compensating control KIND:DESCRIPTION; kinds network_segmentation, restricted_access, extra_monitoring, other (repeatable)")
	f.StringVar(&rq.expires, "expires", "", "hard expiry: a date-time (RFC 3339), a date (YYYY-MM-DD) or a duration from now (30d)")
	f.StringVar(&rq.starts, "starts", "", "when it takes effect once signed off (default: at sign-off)")

	var (
		sr   remoteFlags
		note string
	)
	signOff := &cobra.Command{
		Use:   "sign-off ID",
		Short: "Sign off an exception (as a client-owner user of its client)",
		Args:  exactArgs(1, "an exception id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exceptionStep(cmd, io, &sr, args[0], "sign-off", map[string]any{"note": note})
		},
	}
	sr.register(signOff)
	signOff.Flags().StringVar(&note, "note", "", "a note recorded with the sign-off")

	var (
		vr     remoteFlags
		reason string
	)
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an exception before its expiry",
		Args:  exactArgs(1, "an exception id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usagef("--reason is required")
			}
			return exceptionStep(cmd, io, &vr, args[0], "revoke", map[string]any{"reason": reason})
		},
	}
	vr.register(revoke)
	revoke.Flags().StringVar(&reason, "reason", "", "why it is revoked")

	var shr remoteFlags
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an exception as JSON",
		Args:  exactArgs(1, "an exception id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := shr.client()
			if err != nil {
				return err
			}
			var e patch.Exception
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/exceptions/"+url.PathEscape(args[0]), nil, &e); err != nil {
				return err
			}
			return printJSON(io.out, e)
		},
	}
	shr.register(show)
	cmd.AddCommand(list, request, signOff, revoke, show)
	return cmd
}

func exceptionStep(cmd *cobra.Command, io stdio, r *remoteFlags, id, step string, body map[string]any) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	var e patch.Exception
	if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/exceptions/"+url.PathEscape(id)+"/"+step, body, &e); err != nil {
		return err
	}
	if r.json {
		return printJSON(io.out, e)
	}
	fmt.Fprintf(io.out, "%s is %s (expires %s)\n", e.ID, e.State, e.ExpiresAt.Local().Format(time.DateTime))
	return nil
}

// parseWhen reads a point in time: RFC 3339, a date (midnight UTC) or a
// policy duration from now.
func parseWhen(flag, s string, required bool) (time.Time, error) {
	if s == "" {
		if required {
			return time.Time{}, usagef("%s is required", flag)
		}
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := patch.Duration(s).Parse(); err == nil {
		return time.Now().Add(d).Truncate(time.Second), nil
	}
	return time.Time{}, usagef("%s must be a date-time (2026-12-31T17:00:00Z), a date (2026-12-31) or a duration such as 30d (got %q)", flag, s)
}

func newApprovalsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Short: "Approve, decline and list manual update decisions of a client"}
	var lr remoteFlags
	var lClient string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a client's manual decisions",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lClient == "" {
				return usagef("--client is required")
			}
			c, err := lr.client()
			if err != nil {
				return err
			}
			var page struct {
				Items []*patch.UpdateDecision `json:"items"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/clients/"+url.PathEscape(lClient)+"/approvals?limit=1000", nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UPDATE\tDECISION\tBY\tAT\tREASON")
			for _, d := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.UpdateID, d.Decision, d.DecidedBy.Name, d.DecidedAt.Local().Format(time.DateTime), d.Reason)
			}
			return tw.Flush()
		},
	}
	lr.register(list)
	list.Flags().StringVar(&lClient, "client", "", "client id")

	decide := func(use, short string, decision patch.Approval) *cobra.Command {
		var (
			r      remoteFlags
			client string
			reason string
		)
		c := &cobra.Command{
			Use:   use + " UPDATE_ID",
			Short: short,
			Args:  exactArgs(1, "an update id"),
			RunE: func(cmd *cobra.Command, args []string) error {
				if client == "" {
					return usagef("--client is required")
				}
				if decision == patch.ApprovalDeclined && reason == "" {
					return usagef("--reason is required to decline")
				}
				ac, err := r.client()
				if err != nil {
					return err
				}
				var d patch.UpdateDecision
				in := server.DecisionInput{UpdateID: patch.UpdateID(args[0]), Decision: decision, Reason: reason}
				if err := ac.JSON(cmd.Context(), http.MethodPost, "/api/v1/clients/"+url.PathEscape(client)+"/approvals", in, &d); err != nil {
					return err
				}
				if r.json {
					return printJSON(io.out, d)
				}
				fmt.Fprintf(io.out, "%s %s for client %s\n", d.UpdateID, d.Decision, d.ClientID)
				return nil
			},
		}
		r.register(c)
		c.Flags().StringVar(&client, "client", "", "client id")
		c.Flags().StringVar(&reason, "reason", "", "why (required to decline)")
		return c
	}
	cmd.AddCommand(list, decide("approve", "Approve an update for a client", patch.ApprovalApproved),
		decide("decline", "Decline an update for a client, with a reason", patch.ApprovalDeclined))
	return cmd
}

func newFindingsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "findings", Short: "Findings with their due time, SLA status and why they are not patched"}
	var (
		r                     remoteFlags
		client, asset, status string
		tier                  string
		all                   bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List findings (open ones unless --all)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			for k, v := range map[string]string{"client_id": client, "asset_id": asset, "sla_status": status, "tier": tier} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if !all {
				q.Set("state", "open")
			}
			var page struct {
				Items []*server.FindingView `json:"items"`
				Total int                   `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/findings?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if r.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tUPDATE\tTIER\tSTATUS\tDUE\tWHY NOT PATCHED")
			for _, f := range page.Items {
				title := string(f.UpdateID)
				if f.Update != nil && f.Update.Title != "" {
					title = f.Update.Title
				}
				tierLabel := f.Tier
				if f.Emergency {
					tierLabel += " (emergency)"
				}
				due := "-"
				if !f.DueAt.IsZero() {
					due = f.DueAt.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Hostname, title, tierLabel, f.SLAStatus, due, f.Why.Text)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Total > len(page.Items) {
				fmt.Fprintf(io.err, "showing %d of %d; narrow the search\n", len(page.Items), page.Total)
			}
			return nil
		},
	}
	r.register(list)
	list.Flags().StringVar(&client, "client", "", "client id")
	list.Flags().StringVar(&asset, "asset", "", "asset id")
	list.Flags().StringVar(&status, "status", "", "SLA status as of the last evaluation: on_track, due_soon, breached, paused, met, met_late")
	list.Flags().StringVar(&tier, "tier", "", "severity tier")
	list.Flags().BoolVar(&all, "all", false, "include resolved findings")
	cmd.AddCommand(list)
	return cmd
}
