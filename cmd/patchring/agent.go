package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/version"
	"github.com/spf13/cobra"
)

// agentFlags are the flags every agent command shares.
type agentFlags struct {
	state     string
	logLevel  string
	apt       []string
	dnf       []string
	noRefresh bool
}

func (f *agentFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.state, "state", agent.DefaultStateDir, "agent state directory (key, state, outbox, hooks.json); readable by root only")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// registerBackend adds the flags that tune the package-manager backends.
// They are the machine's configuration: install-service bakes them into the
// service's command line.
func (f *agentFlags) registerBackend(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.apt, "apt-option", nil, "option passed to every apt-get call, e.g. -o=Dir::Etc::sourcelist=/etc/patchring/sources.list (repeatable)")
	cmd.Flags().StringArrayVar(&f.dnf, "dnf-option", nil, "option passed to every dnf call, e.g. --setopt=reposdir=/etc/patchring/repos (repeatable)")
	cmd.Flags().BoolVar(&f.noRefresh, "no-refresh", false, "scan from the package lists as they are, without refreshing them")
}

func (f *agentFlags) options(io stdio) (agent.Options, error) {
	if f.state == "" {
		return agent.Options{}, usagef("--state must not be empty")
	}
	logger, err := newLogger(io.err, f.logLevel, "text")
	if err != nil {
		return agent.Options{}, err
	}
	state, err := filepath.Abs(f.state)
	if err != nil {
		return agent.Options{}, usagef("--state: %v", err)
	}
	return agent.Options{
		StateDir: state,
		Logger:   logger,
		Version:  version.String(),
		BackendOptions: agent.BackendOptions{
			AptOptions:  f.apt,
			DnfOptions:  f.dnf,
			SkipRefresh: f.noRefresh,
		},
	}, nil
}

// serviceArgs are the flags install-service passes to "agent run".
func (f *agentFlags) serviceArgs(state string) []string {
	args := []string{"--state", state, "--log-level", f.logLevel}
	for _, o := range f.apt {
		args = append(args, "--apt-option", o)
	}
	for _, o := range f.dnf {
		args = append(args, "--dnf-option", o)
	}
	if f.noRefresh {
		args = append(args, "--no-refresh")
	}
	return args
}

func newAgentCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the endpoint agent (enroll, run, status, install-service)",
		Long: `The endpoint agent reports this machine's inventory and missing updates to a
Patchring server and runs the signed jobs it hands out.

Enroll a machine with an enrollment secret from the server (created with
POST /api/v1/enrollment-secrets), then install the service:

  patchring agent enroll --server https://patchring.example.com --secret pre_…
  patchring agent install-service

The agent keeps its key and state in --state, readable by root (SYSTEM on
Windows) only. See docs/agent.md.`,
	}
	cmd.AddCommand(newAgentEnrollCmd(io), newAgentRunCmd(io), newAgentStatusCmd(io), newAgentInstallCmd(io), newAgentUninstallCmd(io))
	return cmd
}

func newAgentEnrollCmd(io stdio) *cobra.Command {
	var (
		f              agentFlags
		server, secret string
		force          bool
	)
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Enroll this machine with a Patchring server",
		Long: `Enroll this machine: generate the agent's key, send its public key and the
machine's inventory with the enrollment secret, and pin the server's
job-signing key. A machine enrolled before keeps its asset (it is recognised
by its hardware identity) and its old agent is revoked.

The secret can also come from PATCHRING_SECRET, to keep it out of shell
history.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" || secret == "" {
				return usagef("--server and --secret (or PATCHRING_SERVER and PATCHRING_SECRET) are required")
			}
			opts, err := f.options(io)
			if err != nil {
				return err
			}
			st, err := agent.Enroll(cmd.Context(), opts, server, secret, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.out, "Enrolled as agent %s (asset %s) with %s.\n", st.AgentID, st.AssetID, st.ServerURL)
			fmt.Fprintf(io.out, "Run 'patchring agent install-service' to start the agent, or 'patchring agent run --once' to report now.\n")
			return nil
		},
	}
	f.register(cmd)
	f.registerBackend(cmd)
	cmd.Flags().StringVar(&server, "server", "", "Patchring server URL, e.g. https://patchring.example.com")
	cmd.Flags().StringVar(&secret, "secret", "", "enrollment secret (pre_…)")
	cmd.Flags().BoolVar(&force, "force", false, "enroll again even though this machine is enrolled")
	return cmd
}

func newAgentRunCmd(io stdio) *cobra.Command {
	var (
		f    agentFlags
		once bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent (the service runs this)",
		Long: `Run the agent: check in on the server's schedule, scan for missing updates,
report inventory when it changes, and run the jobs the server signs. With
--once, run one full cycle (scan, inventory, check-in, jobs, delivery of
queued results) and exit.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options(io)
			if err != nil {
				return err
			}
			a, err := agent.New(opts)
			if err != nil {
				return err
			}
			if once {
				start := time.Now()
				err := a.RunOnce(cmd.Context())
				st := a.State()
				n, _ := agent.OpenOutbox(opts.StateDir, 0).Len()
				if err != nil {
					return fmt.Errorf("check-in failed (%d results kept in the outbox for the next run): %w", n, err)
				}
				fmt.Fprintf(io.out, "Checked in with %s as agent %s in %s; %d results waiting; next check-in in %ds.\n",
					st.ServerURL, st.AgentID, time.Since(start).Round(time.Millisecond), n, st.NextCheckInSeconds)
				return nil
			}
			err = agent.RunService(cmd.Context(), func(ctx context.Context) error {
				opts.Logger.Info("patchring agent running", "version", version.String(), "state", opts.StateDir, "server", a.State().ServerURL)
				return a.Run(ctx)
			})
			if errors.Is(err, context.Canceled) {
				opts.Logger.Info("patchring agent stopped")
				return nil // a requested stop is not a failure for the service manager
			}
			return err
		},
	}
	f.register(cmd)
	f.registerBackend(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "run one full check-in cycle and exit")
	return cmd
}

func newAgentStatusCmd(io stdio) *cobra.Command {
	var (
		f      agentFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's enrollment, last check-in and outbox",
		RunE: func(*cobra.Command, []string) error {
			st, err := agent.ReadStatus(f.state)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(io.out, st)
			}
			if !st.Enrolled {
				fmt.Fprintf(io.out, "Not enrolled (state directory %s).\n", st.StateDir)
				return nil
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
			when := func(t time.Time) string {
				if t.IsZero() {
					return "never"
				}
				return t.Local().Format(time.RFC3339)
			}
			row("Server", st.ServerURL)
			row("Agent", st.AgentID)
			row("Asset", st.AssetID)
			if st.Revoked {
				row("Status", "REVOKED by the server: enroll again")
			}
			row("Enrolled", when(st.EnrolledAt))
			row("Last check-in", when(st.LastCheckIn))
			row("Next check-in", when(st.NextCheckIn))
			row("Last scan", when(st.LastScan))
			row("Outbox", fmt.Sprintf("%d waiting, %d dropped", st.Outbox, st.OutboxDropped))
			row("Refused jobs", st.RefusedJobs)
			row("Pinned keys", st.CommandKeys)
			if st.ClockOffset != 0 {
				row("Clock offset", st.ClockOffset)
			}
			if st.LastError != "" {
				row("Last error", fmt.Sprintf("%s (%s)", st.LastError, when(st.LastErrorAt)))
			}
			row("Service", st.Service)
			return tw.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAgentInstallCmd(io stdio) *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "install-service",
		Short: "Install and start the agent as a system service (systemd, Windows service, launchd)",
		RunE: func(*cobra.Command, []string) error {
			state, err := filepath.Abs(f.state)
			if err != nil {
				return usagef("--state: %v", err)
			}
			st, err := agent.LoadState(state)
			if err != nil {
				return err
			}
			if !st.Enrolled() {
				return fmt.Errorf("this machine is not enrolled (no agent in %s); run 'patchring agent enroll' first", state)
			}
			if err := agent.InstallService(f.serviceArgs(state)); err != nil {
				return err
			}
			fmt.Fprintf(io.out, "Installed and started the %s service (agent %s).\n", agent.ServiceName, st.AgentID)
			return nil
		},
	}
	f.register(cmd)
	f.registerBackend(cmd)
	return cmd
}

func newAgentUninstallCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "uninstall-service",
		Short: "Stop and remove the agent service (the state directory is kept)",
		RunE: func(*cobra.Command, []string) error {
			if err := agent.UninstallService(); err != nil {
				return err
			}
			fmt.Fprintf(io.out, "Removed the %s service.\n", agent.ServiceName)
			return nil
		},
	}
	return cmd
}

// agentURL is the URL agents are told to use: --public-url, or one derived
// from --listen and this host's name.
func (f *serveFlags) agentURL() string {
	if f.publicURL != "" {
		return f.publicURL
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(f.listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
