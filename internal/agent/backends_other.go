//go:build !linux && !windows && !darwin

package agent

import "github.com/patchring/patchring/internal/pkgmgr"

// Backends returns no backends: this operating system has none yet.
func Backends(BackendOptions) ([]pkgmgr.Manager, []string) {
	return nil, []string{"no package-manager backend for this operating system"}
}
