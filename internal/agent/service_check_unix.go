//go:build !windows && !darwin

package agent

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// serviceRunning asks systemd whether a unit is active.
func serviceRunning(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "systemctl", "is-active", "--", name).CombinedOutput()
	state := strings.TrimSpace(string(out))
	if err != nil {
		if state == "" {
			return "", fmt.Errorf("systemctl is-active %s: %w", name, err)
		}
		return "", fmt.Errorf("service %s is %s", name, truncate(state, 200))
	}
	return "service " + name + " is " + state, nil
}
