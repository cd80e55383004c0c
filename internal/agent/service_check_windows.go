package agent

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// serviceRunning asks the service control manager whether a service runs.
// sc.exe prints "STATE : 4 RUNNING"; the number is locale-independent.
func serviceRunning(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "sc.exe", "query", name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("sc.exe query %s: %w: %s", name, err, truncate(strings.TrimSpace(string(out)), 300))
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "STATE" && f[1] == ":" {
			if f[2] == "4" {
				return "service " + name + " is running", nil
			}
			return "", fmt.Errorf("service %s is %s", name, strings.ToLower(strings.Join(f[3:], " ")))
		}
	}
	return "", fmt.Errorf("sc.exe did not report the state of %s", name)
}
