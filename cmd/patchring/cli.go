package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, io stdio, getenv func(string) string) int {
	root := newRoot(io, getenv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(io.err, "patchring: %s\n", errorText(err))
	if _, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintln(io.err, "Run 'patchring help' for usage.")
		return exitUsage
	}
	return exitRuntime
}

// errorText prefers the user-facing message of a classified error.
func errorText(err error) string {
	if e, ok := errors.AsType[*patch.Error](err); ok && e.Kind != patch.KindInternal {
		s := e.Message
		if e.Field != "" && !strings.HasPrefix(s, e.Field) {
			s = e.Field + ": " + s
		}
		return s
	}
	return err.Error()
}

func newRoot(io stdio, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "patchring",
		Short: "Patch management for managed service providers",
		Long: `Patchring patches the Windows, macOS and Linux machines of an MSP's clients,
holds every finding to the client's SLA, and produces the proof.

Every flag can also be set with an environment variable PATCHRING_<FLAG>
(upper case, dashes as underscores, e.g. PATCHRING_LISTEN) or in a YAML
config file given with --config (keys are flag names). Flags win over the
environment, which wins over the file.

Exit codes: 0 success, 1 runtime error, 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindConfig(cmd, getenv)
		},
	}
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.PersistentFlags().String("config", "", "YAML config file whose keys are flag names")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newServeCmd(io),
		newDemoCmd(io),
		newMigrateCmd(io),
		newTokenCmd(io),
		newVersionCmd(io),
		newAPICmd(io),
		newClientsCmd(io),
		newAssetsCmd(io),
		newEvidenceCmd(io),
		newReportCmd(io),
		newPolicyCmd(io),
		newFindingsCmd(io),
		newExceptionsCmd(io),
		newApprovalsCmd(io),
		newAgentCmd(io),
		newComplianceCmd(io),
		newCycleCmd(io),
		newChannelsCmd(io),
	)
	walk(root, func(c *cobra.Command) {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
		if c.Args == nil && c != root && !c.HasSubCommands() {
			c.Args = noArgs
		}
		if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
			c.Args = func(_ *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unknown command %q for %q", args[0], c.CommandPath())
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	})
	return root
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s", cmd.CommandPath(), names)
		}
		return nil
	}
}

// bindConfig fills every flag the user did not set from the environment,
// then from the config file.
func bindConfig(cmd *cobra.Command, getenv func(string) string) error {
	file := map[string]any{}
	path, _ := cmd.Flags().GetString("config")
	if !cmd.Flags().Changed("config") {
		if v := getenv("PATCHRING_CONFIG"); v != "" {
			path = v
		}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return usagef("read config file: %v", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return usagef("config file %s: %v", path, err)
		}
		known := map[string]bool{}
		walk(cmd.Root(), func(c *cobra.Command) {
			c.Flags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
			c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		})
		for k := range file {
			if !known[k] {
				return usagef("config file %s: unknown key %q", path, k)
			}
		}
	}
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "PATCHRING_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, usagef("%s=%q: %v", env, v, err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			var s string
			switch t := v.(type) {
			case []any:
				parts := make([]string, len(t))
				for i, p := range t {
					parts[i] = fmt.Sprint(p)
				}
				s = strings.Join(parts, ",")
			default:
				s = fmt.Sprint(t)
			}
			if err := f.Value.Set(s); err != nil {
				errs = append(errs, usagef("config key %s=%q: %v", f.Name, s, err))
			}
		}
	})
	return errors.Join(errs...)
}
