package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/version"
	"github.com/spf13/cobra"
)

func newMigrateCmd(io stdio) *cobra.Command {
	var (
		st     storeFlags
		status bool
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (the server also does this at start)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := st.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if !status {
				applied, err := db.Migrate(cmd.Context())
				if err != nil {
					return err
				}
				for _, m := range applied {
					fmt.Fprintf(io.out, "applied %s\n", m)
				}
			}
			cur, latest, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(io.out, "schema version %d of %d (%s)\n", cur, latest, st.describe())
			return nil
		},
	}
	st.register(cmd)
	cmd.Flags().BoolVar(&status, "status", false, "only show the schema version")
	return cmd
}

func newTokenCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens on the server host",
		Long: `Manage API tokens directly in the server's database. This is how the first
admin token is made: there is no default password and no setup page. It
needs access to the same --data directory or --db database as the server.`,
	}
	var (
		st       storeFlags
		role     string
		name     string
		clientID string
		expires  time.Duration
		asJSON   bool
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it once",
		Example: `  patchring token create --role msp-admin --name "alice laptop"
  patchring token create --role client-owner --client cli_01J… --name "clinic owner" --expires 2160h`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			if err := patch.Role(role).Validate(); err != nil {
				return usagef("--role: %s", patch.ErrorMessage(err))
			}
			if expires < 0 {
				return usagef("--expires must be positive")
			}
			db, err := st.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.Migrate(cmd.Context()); err != nil {
				return err
			}
			srv := server.New(server.Stores{Tokens: db}, server.Options{})
			ctx := patch.NewContextWithActor(cmd.Context(), patch.SystemActor("cli token create"))
			in := server.TokenInput{Name: name, Role: patch.Role(role), ClientID: patch.ClientID(clientID)}
			if expires > 0 {
				in.ExpiresAt = time.Now().Add(expires)
			}
			t, err := srv.CreateToken(ctx, in)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(io.out).Encode(t)
			}
			fmt.Fprintf(io.err, "Created token %s (%s) for role %s. It is shown only now:\n", t.ID, t.Name, t.Role)
			fmt.Fprintln(io.out, t.Secret)
			return nil
		},
	}
	st.register(create)
	create.Flags().StringVar(&role, "role", "", "role: msp-admin, technician, auditor or client-owner")
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringVar(&clientID, "client", "", "client id (required for client-owner)")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime such as 2160h (default: no expiry)")
	create.Flags().BoolVar(&asJSON, "json", false, "print the token as JSON")
	cmd.AddCommand(create)
	return cmd
}

func newVersionCmd(io stdio) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return json.NewEncoder(io.out).Encode(version.Get())
			}
			i := version.Get()
			fmt.Fprintf(io.out, "patchring %s (%s, %s/%s)\n", version.String(), i.GoVersion, i.OS, i.Arch)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
