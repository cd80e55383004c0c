package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/apiclient"
	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/version"
	"github.com/spf13/cobra"
)

// evidenceOptions names the evidence key after the host agents and
// browsers reach the server at, so that an auditor recognises it.
func evidenceOptions(f *serveFlags) server.EvidenceOptions {
	o := server.EvidenceOptions{Generator: "patchring " + version.String()}
	if u, err := url.Parse(f.agentURL()); err == nil && u.Hostname() != "" {
		o.KeyName = keyName(u.Hostname())
	}
	return o
}

// keyName keeps the characters a signed-note key name may hold.
func keyName(host string) string {
	var b strings.Builder
	for _, c := range []byte(host) {
		if c > ' ' && c < 0x7f && c != '+' && c != '/' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeOutput writes data to path, or to out when path is "-".
func writeOutput(out io.Writer, path string, data []byte) error {
	if path == "-" {
		_, err := out.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func newEvidenceCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Verify evidence bundles offline; download bundles and keys; rotate the signing key",
		Long: `Patchring keeps a tamper-evident, hash-chained log of every patch lifecycle
event per client and signs its head with the server's evidence key. An
evidence bundle packs a client's period (the HIPAA artifacts, the chain, the
signed checkpoints and the reports) with a signed manifest.

'patchring evidence verify' checks a bundle offline, with no server and no
account: give it the MSP's published keys (patchring evidence keys, or
` + httpapi.WellKnownEvidenceKeys + ` on the server). See docs/evidence.md.`,
	}
	cmd.AddCommand(newEvidenceVerifyCmd(io), newEvidenceBundleCmd(io), newEvidenceKeysCmd(io), newEvidenceRotateCmd(io))
	return cmd
}

// trustedKeys parses --key values: each is a key in text form or a file of
// keys (one per line, '#' comments).
func trustedKeys(values []string) ([]evidence.PublicKey, error) {
	var out []evidence.PublicKey
	for _, v := range values {
		if k, err := evidence.ParsePublicKey(strings.TrimSpace(v)); err == nil {
			out = append(out, k)
			continue
		}
		data, err := os.ReadFile(v)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("--key %q is neither a public key (name+hash+base64) nor a readable file", v)
		}
		if err != nil {
			return nil, usagef("--key %s: %v", v, err)
		}
		ks, err := evidence.ParsePublicKeys(data)
		if err != nil {
			return nil, usagef("--key %s: %v", v, err)
		}
		if len(ks) == 0 {
			return nil, usagef("--key %s holds no key", v)
		}
		out = append(out, ks...)
	}
	return out, nil
}

// verifyResult is the JSON form of a verification.
type verifyResult struct {
	Bundle      string                  `json:"bundle"`
	OK          bool                    `json:"ok"`
	ClientID    string                  `json:"client_id,omitempty"`
	ClientName  string                  `json:"client_name,omitempty"`
	PeriodStart time.Time               `json:"period_start,omitzero"`
	PeriodEnd   time.Time               `json:"period_end,omitzero"`
	Files       int                     `json:"files"`
	Chain       *evidence.ManifestChain `json:"chain,omitempty"`
	SignedBy    []string                `json:"signed_by"`
	Checkpoints int                     `json:"checkpoints_verified"`
	Findings    []evidence.Finding      `json:"findings"`
}

func newEvidenceVerifyCmd(io stdio) *cobra.Command {
	var (
		keys   []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check an evidence bundle offline: signatures, every file's hash, the chain's continuity",
		Long: `Check an evidence bundle offline, with no server: that the manifest is signed
by a trusted key, that every file matches its SHA-256, that the evidence chain
is unbroken from the period's start to its end, and that every checkpoint is
signed and agrees with the chain.

It exits 0 only when everything holds. Otherwise it lists every problem,
naming the file, chain entry or key, and exits 1. Usage errors exit 2.

Without --key nothing can be trusted: a key inside a bundle proves nothing,
since whoever altered it could have put their own key in.`,
		Example: `  patchring evidence verify evidence-riverside-family-clinic-2026-10.zip --key keys.txt
  patchring evidence verify bundle.zip --key 'patchring.example-msp.com/2026-11-01+1a2b3c4d+AaBb…'`,
		Args: exactArgs(1, "the BUNDLE file to verify"),
		RunE: func(cmd *cobra.Command, args []string) error {
			trusted, err := trustedKeys(keys)
			if err != nil {
				return err
			}
			path := args[0]
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("open bundle: %w", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("open bundle: %w", err)
			}
			if st.IsDir() {
				return usagef("%s is a directory, not a bundle", path)
			}
			rep, err := evidence.Verify(f, st.Size(), trusted)
			if err != nil {
				return fmt.Errorf("read bundle: %w", err)
			}
			res := verifyResult{Bundle: path, OK: rep.OK(), Findings: rep.Findings, SignedBy: []string{}, Checkpoints: len(rep.Checkpoints)}
			if res.Findings == nil {
				res.Findings = []evidence.Finding{}
			}
			for _, k := range rep.SignedBy {
				res.SignedBy = append(res.SignedBy, k.String())
			}
			if m := rep.Manifest; m != nil {
				res.ClientID, res.ClientName, res.PeriodStart, res.PeriodEnd = m.ClientID, m.ClientName, m.PeriodStart, m.PeriodEnd
				res.Files, res.Chain = len(m.Files), &m.Chain
			}
			if asJSON {
				if err := printJSON(io.out, res); err != nil {
					return err
				}
			} else {
				printVerification(io.out, res)
			}
			if !res.OK {
				return fmt.Errorf("%s does not verify: %d problem(s)", path, len(res.Findings))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trusted public key, as text or a file of keys (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func printVerification(w io.Writer, r verifyResult) {
	fmt.Fprintf(w, "Evidence bundle %s\n", r.Bundle)
	if r.ClientID != "" {
		fmt.Fprintf(w, "  client       %s (%s)\n", r.ClientName, r.ClientID)
		fmt.Fprintf(w, "  period       %s to %s (end exclusive)\n", r.PeriodStart.UTC().Format(time.RFC3339), r.PeriodEnd.UTC().Format(time.RFC3339))
		fmt.Fprintf(w, "  files        %d\n", r.Files)
	}
	if c := r.Chain; c != nil {
		if c.EndSize > c.StartSize {
			fmt.Fprintf(w, "  chain        entries %d to %d (%d events)\n", c.StartSize+1, c.EndSize, c.EndSize-c.StartSize)
		} else {
			fmt.Fprintf(w, "  chain        no events in the period (chain size %d)\n", c.EndSize)
		}
		fmt.Fprintf(w, "  checkpoints  %d of %d verified\n", r.Checkpoints, len(c.Checkpoints))
	}
	if len(r.SignedBy) > 0 {
		fmt.Fprintf(w, "  signed by    %s\n", strings.Join(r.SignedBy, ", "))
	}
	if r.OK {
		fmt.Fprintln(w, "VERIFIED: the signature, every file's SHA-256 and the chain's continuity all hold.")
		return
	}
	fmt.Fprintf(w, "FAILED: %d problem(s):\n", len(r.Findings))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "  %s\t%s\n", f.Problem, f.Message)
	}
	tw.Flush()
}

func newEvidenceBundleCmd(io stdio) *cobra.Command {
	var (
		r      remoteFlags
		client string
		period string
		output string
	)
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Download the signed HIPAA evidence bundle of a client and period",
		Long: `Download the evidence bundle of a client for a month or quarter: the ePHI asset
inventory, the risk-based prioritisation log, the evidence chain with its
signed checkpoints, the compensating controls register and the period's
reports (generated if missing), with a signed manifest.`,
		Example: `  patchring evidence bundle --client cli_01J… --period 2026-10 -o riverside-2026-10.zip`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if client == "" || period == "" {
				return usagef("--client and --period are required")
			}
			if _, err := patch.ParsePeriod("period", period); err != nil {
				return usagef("--period: %s", patch.ErrorMessage(err))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			resp, err := c.Do(cmd.Context(), http.MethodGet, "/api/v1/clients/"+url.PathEscape(client)+"/evidence/bundle?period="+url.QueryEscape(period), nil, "")
			if err != nil {
				return err
			}
			if output == "" {
				output = filenameOf(resp.Header.Get("Content-Disposition"), "evidence-"+period+".zip")
			}
			if err := writeOutput(io.out, output, resp.Body); err != nil {
				return err
			}
			if r.json {
				return printJSON(io.err, map[string]any{"file": output, "size": len(resp.Body)})
			}
			if output != "-" {
				fmt.Fprintf(io.err, "wrote %s (%d bytes); check it with: patchring evidence verify %s --key KEYS\n", output, len(resp.Body), output)
			}
			return nil
		},
	}
	r.register(cmd)
	cmd.Flags().StringVar(&client, "client", "", "client id")
	cmd.Flags().StringVar(&period, "period", "", "month (2026-10) or quarter (2026-Q4)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: the server's file name; - for standard output)")
	return cmd
}

// filenameOf returns the file name of a Content-Disposition header, or
// def. Only a plain base name is accepted.
func filenameOf(disposition, def string) string {
	_, rest, ok := strings.Cut(disposition, `filename="`)
	if !ok {
		return def
	}
	name, _, _ := strings.Cut(rest, `"`)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, `/\:`) || strings.HasPrefix(name, ".") ||
		strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return def
	}
	return name
}

func newEvidenceKeysCmd(io stdio) *cobra.Command {
	var (
		serverURL string
		output    string
	)
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Fetch the server's published evidence keys (no account needed)",
		Long: `Fetch the evidence signing keys, current and retired, from
` + httpapi.WellKnownEvidenceKeys + ` on a Patchring server, as a key file for
'patchring evidence verify --key FILE'. No token is needed. Keep the file:
a later, unannounced change of key is worth asking about.`,
		Example: `  patchring evidence keys --server https://patch.example-msp.com -o keys.txt`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serverURL == "" {
				return usagef("--server (or PATCHRING_SERVER) is required")
			}
			c, err := apiclient.New(serverURL, "")
			if err != nil {
				return usageError{err}
			}
			resp, err := c.Do(cmd.Context(), http.MethodGet, httpapi.WellKnownEvidenceKeys, nil, "")
			if err != nil {
				return err
			}
			if _, err := evidence.ParsePublicKeys(resp.Body); err != nil {
				return fmt.Errorf("the server's key file does not parse: %w", err)
			}
			if output == "" {
				output = "-"
			}
			return writeOutput(io.out, output, resp.Body)
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "", "Patchring server URL (or PATCHRING_SERVER)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

func newEvidenceRotateCmd(io stdio) *cobra.Command {
	var (
		st     storeFlags
		reason string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Replace the evidence signing key, on the server host",
		Long: `Replace the evidence signing key directly in the server's database (the API
offers the same as POST /api/v1/evidence/keys/rotate for MSP admins). Every
chain head is signed with the old key first; the rotation is then recorded as
a key_rotated event, naming both keys, in every client's chain, and signed
with the new key. The old key stays published as retired, so everything it
signed still verifies. Announce the new key to your clients' auditors.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := st.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.Migrate(cmd.Context()); err != nil {
				return err
			}
			srv := server.New(server.Stores{MSP: db, Clients: db, Keys: db, Evidence: db, Checkpoints: db, EvidenceKeys: db},
				server.Options{Evidence: server.EvidenceOptions{Generator: "patchring " + version.String()}})
			ctx := patch.NewContextWithActor(cmd.Context(), patch.SystemActor("cli evidence rotate-key"))
			rot, err := srv.RotateEvidenceKey(ctx, reason)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(io.out, rot)
			}
			fmt.Fprintf(io.out, "Retired  %s\nCurrent  %s\nRecorded the rotation in %d client chains.\n", rot.Old.Public, rot.New.Public, rot.Clients)
			return nil
		},
	}
	st.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why the key is rotated (recorded in every chain)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newReportCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Generate, list and download reports on a running server"}
	var (
		gr     remoteFlags
		client string
		kind   string
		period string
		format string
		output string
	)
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Generate a report now and download one of its formats",
		Long: `Generate a report on the server (stored in every format: PDF, HTML, CSV and
JSON) and download one format. Kinds: patch-health (monthly, client-facing),
patch-detail (every asset's patch state), qbr (quarterly executive summary),
inventory (date-stamped asset and software inventory) and scorecard (internal;
without --client it covers the MSP and every client).`,
		Example: `  patchring report generate --client cli_01J… --kind patch-health --period 2026-10 -o health-2026-10.pdf
  patchring report generate --client cli_01J… --kind qbr --period 2026-Q4 --format html -o qbr.html
  patchring report generate --kind scorecard --period 2026-10 -o scorecard.pdf`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind == "" || period == "" {
				return usagef("--kind and --period are required")
			}
			if err := patch.ValidateReportKind("kind", patch.ReportKind(kind)); err != nil {
				return usagef("--kind: %s", patch.ErrorMessage(err))
			}
			if _, err := patch.ParsePeriod("period", period); err != nil {
				return usagef("--period: %s", patch.ErrorMessage(err))
			}
			if !validFormat(format) {
				return usagef("--format must be pdf, html, csv or json (got %q)", format)
			}
			c, err := gr.client()
			if err != nil {
				return err
			}
			var rep patch.Report
			req := server.ReportRequest{ClientID: patch.ClientID(client), Kind: patch.ReportKind(kind), Period: period}
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/reports", req, &rep); err != nil {
				return err
			}
			f, _ := rep.File(patch.ReportFormat(format))
			if output == "" {
				output = f.Name
			}
			if err := downloadReport(cmd, c, io, rep.ID, format, output); err != nil {
				return err
			}
			if gr.json {
				return printJSON(io.err, rep)
			}
			if output != "-" {
				fmt.Fprintf(io.err, "generated report %s (%s, %s); wrote %s\n", rep.ID, rep.Kind, rep.Period.Key, output)
			}
			return nil
		},
	}
	gr.register(gen)
	gen.Flags().StringVar(&client, "client", "", "client id (omit only for the MSP-wide scorecard)")
	gen.Flags().StringVar(&kind, "kind", "", "patch-health, patch-detail, qbr, inventory or scorecard")
	gen.Flags().StringVar(&period, "period", "", "month (2026-10) or quarter (2026-Q4)")
	gen.Flags().StringVar(&format, "format", "pdf", "pdf, html, csv or json")
	gen.Flags().StringVarP(&output, "output", "o", "", "file to write (default: the report's file name; - for standard output)")

	var (
		lr      remoteFlags
		lClient string
		lKind   string
		lPeriod string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List generated reports, newest first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"200"}}
			for k, v := range map[string]string{"client_id": lClient, "kind": lKind, "period": lPeriod} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var page struct {
				Items []*patch.Report `json:"items"`
				Total int             `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/reports?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tPERIOD\tCLIENT\tTRIGGER\tGENERATED\tFILES")
			for _, r := range page.Items {
				names := make([]string, len(r.Files))
				for i, f := range r.Files {
					names[i] = string(f.Format)
				}
				client := string(r.ClientID)
				if client == "" {
					client = "(MSP)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Period.Key, client, r.Trigger,
					r.GeneratedAt.Local().Format(time.DateTime), strings.Join(names, ","))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Total > len(page.Items) {
				fmt.Fprintf(io.err, "showing %d of %d; narrow with --client, --kind or --period\n", len(page.Items), page.Total)
			}
			return nil
		},
	}
	lr.register(list)
	list.Flags().StringVar(&lClient, "client", "", "client id")
	list.Flags().StringVar(&lKind, "kind", "", "report kind")
	list.Flags().StringVar(&lPeriod, "period", "", "period (2026-10, 2026-Q4)")

	var (
		dr      remoteFlags
		dFormat string
		dOutput string
	)
	dl := &cobra.Command{
		Use:   "download REPORT_ID",
		Short: "Download a format of a generated report",
		Args:  exactArgs(1, "a REPORT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validFormat(dFormat) {
				return usagef("--format must be pdf, html, csv or json (got %q)", dFormat)
			}
			c, err := dr.client()
			if err != nil {
				return err
			}
			return downloadReport(cmd, c, io, patch.ReportID(args[0]), dFormat, dOutput)
		},
	}
	dr.register(dl)
	dl.Flags().StringVar(&dFormat, "format", "pdf", "pdf, html, csv or json")
	dl.Flags().StringVarP(&dOutput, "output", "o", "", "file to write (default: the report's file name; - for standard output)")
	cmd.AddCommand(gen, list, dl)
	return cmd
}

func validFormat(f string) bool {
	switch patch.ReportFormat(f) {
	case patch.FormatPDF, patch.FormatHTML, patch.FormatCSV, patch.FormatJSON:
		return true
	}
	return false
}

func downloadReport(cmd *cobra.Command, c *apiclient.Client, io stdio, id patch.ReportID, format, output string) error {
	resp, err := c.Do(cmd.Context(), http.MethodGet, "/api/v1/reports/"+url.PathEscape(string(id))+"/download?format="+url.QueryEscape(format), nil, "")
	if err != nil {
		return err
	}
	if output == "" {
		output = filenameOf(resp.Header.Get("Content-Disposition"), string(id)+"."+format)
	}
	if format == string(patch.FormatPDF) && !bytes.HasPrefix(resp.Body, []byte("%PDF-")) {
		return fmt.Errorf("the server sent something other than a PDF for report %s", id)
	}
	if format == string(patch.FormatJSON) && !json.Valid(resp.Body) {
		return fmt.Errorf("the server sent invalid JSON for report %s", id)
	}
	return writeOutput(io.out, output, resp.Body)
}
