package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// osReboot schedules a restart with shutdown.exe, recorded as a planned
// restart for an operating-system hotfix (reason p:2:17).
func osReboot(ctx context.Context, delay time.Duration, message string) error {
	exe := filepath.Join(os.Getenv("SystemRoot"), "System32", "shutdown.exe")
	args := []string{"/r", "/t", strconv.Itoa(int(delay / time.Second)), "/d", "p:2:17"}
	if message != "" {
		args = append(args, "/c", message)
	}
	out, err := exec.CommandContext(ctx, exe, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", exe, args, err, truncate(string(out), 2000))
	}
	return nil
}
