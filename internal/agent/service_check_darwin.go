package agent

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// serviceRunning asks launchd whether a system service runs.
func serviceRunning(ctx context.Context, label string) (string, error) {
	out, err := exec.CommandContext(ctx, "/bin/launchctl", "print", "system/"+label).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("launchctl print system/%s: %w: %s", label, err, truncate(strings.TrimSpace(string(out)), 300))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "state = "); ok {
			if s == "running" {
				return "service " + label + " is running", nil
			}
			return "", fmt.Errorf("service %s is %s", label, s)
		}
	}
	return "", fmt.Errorf("launchctl did not report the state of %s", label)
}
