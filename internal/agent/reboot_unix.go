//go:build !windows

package agent

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// osReboot schedules a restart with shutdown(8), which announces it to
// logged-in users. shutdown counts in whole minutes, so the delay is
// rounded up.
func osReboot(ctx context.Context, delay time.Duration, message string) error {
	minutes := int((delay + time.Minute - 1) / time.Minute)
	args := []string{"-r", fmt.Sprintf("+%d", minutes)}
	if message != "" {
		args = append(args, message)
	}
	out, err := exec.CommandContext(ctx, "/sbin/shutdown", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("/sbin/shutdown %v: %w: %s", args, err, truncate(string(out), 2000))
	}
	return nil
}
