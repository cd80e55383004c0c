//go:build !windows

package agent

import "os"

const isWindows = false

// protectDir relies on the mode bits set by PrepareDir on Unix.
func protectDir(string) error { return nil }

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
