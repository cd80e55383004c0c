package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/apiclient"
	"github.com/patchring/patchring/internal/patch"
	"github.com/spf13/cobra"
)

// remoteFlags are the flags of commands that act on a running server.
type remoteFlags struct {
	server string
	token  string
	json   bool
}

func (r *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.server, "server", "", "Patchring server URL (or PATCHRING_SERVER)")
	cmd.Flags().StringVar(&r.token, "token", "", "API token (or PATCHRING_TOKEN)")
	cmd.Flags().BoolVar(&r.json, "json", false, "print JSON instead of a table")
}

func (r *remoteFlags) client() (*apiclient.Client, error) {
	if r.server == "" {
		return nil, usagef("--server (or PATCHRING_SERVER) is required")
	}
	if r.token == "" {
		return nil, usagef("--token (or PATCHRING_TOKEN) is required")
	}
	c, err := apiclient.New(r.server, r.token)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // print commands with && as they are, for copy and paste
	return enc.Encode(v)
}

func newAPICmd(io stdio) *cobra.Command {
	var (
		r    remoteFlags
		data string
	)
	cmd := &cobra.Command{
		Use:   "api METHOD PATH",
		Short: "Call any API operation (like curl, with auth and error handling)",
		Example: `  patchring api GET /api/v1/assets?os=linux
  patchring api POST /api/v1/clients --data '{"name":"Riverside Clinic"}'
  patchring api POST /api/v1/clients/cli_…/assets/import --data @assets.csv`,
		Args: exactArgs(2, "a METHOD and a PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			method := strings.ToUpper(args[0])
			switch method {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				return usagef("METHOD must be GET, POST, PUT, PATCH or DELETE")
			}
			path := args[1]
			if !strings.HasPrefix(path, "/") {
				path = "/api/v1/" + path
			}
			var body any
			ct := ""
			if data != "" {
				b, err := readData(io.in, data)
				if err != nil {
					return err
				}
				body = bytes.NewReader(b)
				ct = "application/json"
				if strings.HasSuffix(data, ".csv") {
					ct = "text/csv"
				}
			}
			resp, err := c.Do(cmd.Context(), method, path, body, ct)
			if err != nil {
				return err
			}
			if strings.Contains(resp.Header.Get("Content-Type"), "json") {
				var v any
				if json.Unmarshal(resp.Body, &v) == nil {
					return printJSON(io.out, v)
				}
			}
			_, err = io.out.Write(resp.Body)
			return err
		},
	}
	r.register(cmd)
	cmd.Flags().StringVar(&data, "data", "", "request body: JSON text, @FILE, or - for standard input")
	return cmd
}

func readData(stdin io.Reader, data string) ([]byte, error) {
	switch {
	case data == "-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, usagef("--data: %v", err)
		}
		return b, nil
	}
	return []byte(data), nil
}

func newClientsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "List and create clients on a running server"}
	var lr remoteFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			var page struct {
				Items []*patch.Client `json:"items"`
				Total int             `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/clients?limit=1000", nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCONTACT")
			for _, cl := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", cl.ID, cl.Name, cl.ContactEmail)
			}
			return tw.Flush()
		},
	}
	lr.register(list)
	var (
		cr      remoteFlags
		name    string
		contact string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a client with the default asset classes",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			c, err := cr.client()
			if err != nil {
				return err
			}
			var out patch.Client
			if err := c.JSON(cmd.Context(), http.MethodPost, "/api/v1/clients", map[string]any{"name": name, "contact_email": contact}, &out); err != nil {
				return err
			}
			if cr.json {
				return printJSON(io.out, out)
			}
			fmt.Fprintln(io.out, out.ID)
			return nil
		},
	}
	cr.register(create)
	create.Flags().StringVar(&name, "name", "", "client name")
	create.Flags().StringVar(&contact, "contact-email", "", "client contact e-mail")
	cmd.AddCommand(list, create)
	return cmd
}

func newAssetsCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "assets", Short: "Search, import and export assets on a running server"}
	var (
		lr     remoteFlags
		client string
		osName string
		query  string
		tags   []string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "Search assets",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lr.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			for k, v := range map[string]string{"client_id": client, "os": osName, "q": query} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for _, t := range tags {
				q.Add("tag", t)
			}
			var page struct {
				Items []*patch.Asset `json:"items"`
				Total int            `json:"total"`
			}
			if err := c.JSON(cmd.Context(), http.MethodGet, "/api/v1/assets?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if lr.json {
				return printJSON(io.out, page.Items)
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tHOSTNAME\tOS\tCLASS\tOWNER\tEPHI\tLAST SEEN")
			for _, a := range page.Items {
				seen := "never"
				if !a.LastSeen.IsZero() {
					seen = a.LastSeen.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", a.ID, a.Hostname, a.OS.Name, a.OS.Version, a.Class, a.Owner, a.Tags[patch.TagEPHI], seen)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Total > len(page.Items) {
				fmt.Fprintf(io.err, "showing %d of %d; narrow the search or use 'patchring api'\n", len(page.Items), page.Total)
			}
			return nil
		},
	}
	lr.register(list)
	list.Flags().StringVar(&client, "client", "", "client id")
	list.Flags().StringVar(&osName, "os", "", "windows, macos, linux or other")
	list.Flags().StringVar(&query, "q", "", "substring of hostname, owner or serial")
	list.Flags().StringSliceVar(&tags, "tag", nil, "key or key:value (repeatable)")

	var (
		ir       remoteFlags
		imClient string
	)
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import assets from CSV into a client (all rows or none)",
		Args:  exactArgs(1, "a CSV file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if imClient == "" {
				return usagef("--client is required")
			}
			c, err := ir.client()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			defer f.Close()
			resp, err := c.Do(cmd.Context(), http.MethodPost, "/api/v1/clients/"+url.PathEscape(imClient)+"/assets/import", f, "text/csv")
			if err != nil {
				return err
			}
			var res patch.ImportResult
			if err := json.Unmarshal(resp.Body, &res); err != nil {
				return fmt.Errorf("decode import result: %w", err)
			}
			if ir.json {
				return printJSON(io.out, res)
			}
			fmt.Fprintf(io.out, "created %d, updated %d\n", res.Created, res.Updated)
			return nil
		},
	}
	ir.register(imp)
	imp.Flags().StringVar(&imClient, "client", "", "client id to import into")

	var (
		er       remoteFlags
		exClient string
		output   string
	)
	exp := &cobra.Command{
		Use:   "export",
		Short: "Export assets as date-stamped CSV",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := er.client()
			if err != nil {
				return err
			}
			path := "/api/v1/assets/export.csv"
			if exClient != "" {
				path += "?client_id=" + url.QueryEscape(exClient)
			}
			resp, err := c.Do(cmd.Context(), http.MethodGet, path, nil, "")
			if err != nil {
				return err
			}
			if output == "" {
				_, err = io.out.Write(resp.Body)
				return err
			}
			if err := os.WriteFile(output, resp.Body, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(io.err, "wrote %s (%s assets, exported %s)\n", output, resp.Header.Get("X-Item-Count"), resp.Header.Get("X-Exported-At"))
			return nil
		},
	}
	er.register(exp)
	exp.Flags().StringVar(&exClient, "client", "", "client id (default: every client in scope)")
	exp.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.AddCommand(list, imp, exp)
	return cmd
}
