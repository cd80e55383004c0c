package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kardianos/service"
)

// ServiceName is the agent's system service: a systemd unit on Linux, a
// Windows service, a launchd daemon on macOS.
const ServiceName = "patchring-agent"

// serviceConfig describes the service that runs "patchring agent run" with
// args on the current executable.
func serviceConfig(args []string) *service.Config {
	c := &service.Config{
		Name:        ServiceName,
		DisplayName: "Patchring Agent",
		Description: "Reports this machine's inventory and missing updates to the MSP's Patchring server and runs the patch jobs it signs.",
		Arguments:   append([]string{"agent", "run"}, args...),
		Option: service.KeyValue{
			// systemd and launchd: restart after a crash; launchd: start at boot.
			"Restart":   "always",
			"RunAtLoad": true,
			"KeepAlive": true,
			// Windows: start after boot has settled, restart on failure.
			"DelayedAutoStart":       true,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "30s",
		},
	}
	if runtime.GOOS == "linux" {
		c.Dependencies = []string{"After=network-online.target", "Wants=network-online.target"}
	}
	return c
}

// InstallService installs and starts the agent service, which runs "agent
// run" with args (for example --state DIR). It needs root or
// Administrator.
func InstallService(args []string) error {
	s, err := service.New(noProgram{}, serviceConfig(args))
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("install %s service (%s): %w", ServiceName, s.Platform(), err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("start %s service (%s): %w", ServiceName, s.Platform(), err)
	}
	return nil
}

// UninstallService stops and removes the agent service. The state
// directory is left alone (it holds results not yet delivered).
func UninstallService() error {
	s, err := service.New(noProgram{}, serviceConfig(nil))
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	stopErr := s.Stop()
	if err := s.Uninstall(); err != nil {
		return fmt.Errorf("uninstall %s service (%s): %w", ServiceName, s.Platform(), errors.Join(err, stopErr))
	}
	// kardianos/service removes a SysV init script but not the runlevel
	// links it made to it; left behind they would be dangling.
	if links, _ := filepath.Glob("/etc/rc[0-6].d/[SK][0-9][0-9]" + ServiceName); runtime.GOOS == "linux" {
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && filepath.Base(target) == ServiceName {
				_ = os.Remove(l)
			}
		}
	}
	return nil
}

// ServiceStatus says whether the service is installed and running.
func ServiceStatus() string {
	s, err := service.New(noProgram{}, serviceConfig(nil))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return "not installed"
	case err != nil:
		return "unknown (" + err.Error() + ")"
	case st == service.StatusRunning:
		return "running"
	case st == service.StatusStopped:
		return "stopped"
	}
	return "unknown"
}

// RunService runs run until ctx is done. When the OS service manager
// started the process (the Windows SCM must be answered through its own
// API), run is driven by the service's start and stop callbacks; otherwise
// it runs directly.
func RunService(ctx context.Context, run func(ctx context.Context) error) error {
	if service.Interactive() {
		return run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	p := program{
		start: func() { go func() { done <- run(ctx) }() },
		stop: func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
			}
		},
	}
	s, err := service.New(p, serviceConfig(nil))
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	return s.Run()
}

// program adapts callbacks to service.Interface.
type program struct {
	start, stop func()
}

func (p program) Start(service.Service) error { p.start(); return nil }
func (p program) Stop(service.Service) error  { p.stop(); return nil }

// noProgram is the Interface of a service that is only installed or
// removed, not run.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }
