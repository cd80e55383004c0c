//go:build !windows

package winupdate

import (
	"context"
	"errors"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// New fails outside Windows.
func New(r pkgmgr.Runner) (*Manager, error) { return nil, errNotWindows }

// Scan fails outside Windows.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) { return nil, errNotWindows }

// Install fails outside Windows.
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	return pkgmgr.InstallResult{}, errNotWindows
}

// RebootRequired fails outside Windows.
func (m *Manager) RebootRequired(ctx context.Context) (bool, error) { return false, errNotWindows }

// errNotWindows is returned by every WUA operation outside Windows.
var errNotWindows = errors.New("the Windows Update Agent is available only on Windows")
