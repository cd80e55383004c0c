package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/demo"
	"github.com/patchring/patchring/internal/patch"
	"github.com/spf13/cobra"
)

func newDemoCmd(io stdio) *cobra.Command {
	var (
		f        serveFlags
		seed     uint64
		password string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the server with a realistic demo MSP on embedded SQLite",
		Long: `Run the Patchring server with a demonstration MSP: three clients (a medical
clinic with ePHI systems, a law firm in New York and London, a manufacturer
with do-not-disrupt line systems), their sites, a few hundred assets across
Windows, macOS and Linux, and users of every role.

Without --data the demo lives in a temporary directory that is removed when
it stops. With --data it is kept, and seeded only when the database is empty.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			logger, err := newLogger(io.err, f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("data") && os.Getenv("PATCHRING_DATA") == "" && f.store.db == "" {
				dir, err := os.MkdirTemp("", "patchring-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				f.store.data = dir
			}
			if password == "" {
				password = randomPassword()
			}
			a, err := newApp(ctx, &f, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			banner, err := seedDemo(ctx, a, seed, password)
			if err != nil {
				return err
			}
			return a.serve(ctx, func(url string) {
				fmt.Fprint(io.out, strings.ReplaceAll(banner, "{URL}", url))
			})
		},
	}
	f.register(cmd, "127.0.0.1:8080")
	cmd.Flags().Lookup("log-level").DefValue = "warn"
	_ = cmd.Flags().Set("log-level", "warn")
	cmd.Flags().Lookup("log-format").DefValue = "text"
	_ = cmd.Flags().Set("log-format", "text")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the generated data (same seed, same demo)")
	cmd.Flags().StringVar(&password, "password", "", "console password of every demo user (default: random, printed)")
	return cmd
}

// seedDemo fills an empty database and returns the banner to print.
func seedDemo(ctx context.Context, a *app, seed uint64, password string) (string, error) {
	sys := patch.NewContextWithActor(ctx, patch.SystemActor("demo"))
	_, n, err := a.srv.Clients(sys, patch.ClientFilter{Limit: 1})
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "Patchring demo (existing data) is running at {URL}/\nPress Ctrl-C to stop.\n", nil
	}
	res, err := demo.Seed(ctx, a.srv, a.db, demo.Options{Seed: seed, Now: time.Now(), Password: password})
	if err != nil {
		return "", fmt.Errorf("seed demo: %w", err)
	}
	var owners []string
	for _, u := range res.Users {
		if u.Role == patch.RoleClientOwner {
			owners = append(owners, u.Email)
		}
	}
	return fmt.Sprintf(`
Patchring demo is running: %d clients, %d assets.

  Console    {URL}/
  Log in     admin@northstar.example  password %s
             (same password: tech@northstar.example, auditor@northstar.example,
              client owners %s)
  API token  %s
  Try        curl -H "Authorization: Bearer %s" "{URL}/api/v1/assets?limit=5&tag=ephi:yes"
  OpenAPI    {URL}/api/v1/openapi.json

Press Ctrl-C to stop.
`, len(res.Clients), res.Assets, password, strings.Join(owners, ", "), res.Token, res.Token), nil
}

func randomPassword() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "demo-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
