// Package pkgmgrtest provides a scripted package manager for tests of code
// above the backends (the agent): the operating system's package manager
// is one of the edges Patchring does not own, so tests replace it there and
// nowhere else.
package pkgmgrtest

import (
	"context"
	"slices"
	"sync"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Fake is a package manager whose missing updates are set by the test.
// Installing a target removes its update from the missing ones, as a real
// install would. It is safe for concurrent use.
type Fake struct {
	Src pkgmgr.Source

	mu       sync.Mutex
	updates  []pkgmgr.Update
	software []pkgmgr.Software
	scanErr  error
	reboot   bool
	installs []pkgmgr.InstallRequest
	scans    int
}

// New returns a fake of source src with the given missing updates.
func New(src pkgmgr.Source, missing ...pkgmgr.Update) *Fake {
	f := &Fake{Src: src}
	f.SetMissing(missing...)
	return f
}

// SetMissing replaces the missing updates.
func (f *Fake) SetMissing(us ...pkgmgr.Update) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = slices.Clone(us)
	for i := range f.updates {
		if f.updates[i].Source == "" {
			f.updates[i].Source = f.Src
		}
	}
}

// SetScanError makes scans fail with err (nil to succeed again).
func (f *Fake) SetScanError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scanErr = err
}

// SetSoftware sets what InstalledSoftware lists.
func (f *Fake) SetSoftware(sw ...pkgmgr.Software) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.software = slices.Clone(sw)
}

// SetRebootRequired sets what RebootRequired answers.
func (f *Fake) SetRebootRequired(b bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reboot = b
}

// Installs returns the install requests received.
func (f *Fake) Installs() []pkgmgr.InstallRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.installs)
}

// Scans returns how many scans ran.
func (f *Fake) Scans() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scans
}

// Source implements pkgmgr.Manager.
func (f *Fake) Source() pkgmgr.Source { return f.Src }

// Scan implements pkgmgr.Manager.
func (f *Fake) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans++
	if f.scanErr != nil {
		return nil, f.scanErr
	}
	return slices.Clone(f.updates), ctx.Err()
}

// Install implements pkgmgr.Manager: a target naming a missing update at
// its version is installed, anything else fails.
func (f *Fake) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installs = append(f.installs, req)
	var res pkgmgr.InstallResult
	for _, t := range req.Targets {
		i := slices.IndexFunc(f.updates, func(u pkgmgr.Update) bool {
			return u.ID == t.ID && u.Package == t.Package && (t.Version == "" || u.AvailableVersion == t.Version)
		})
		if i < 0 || ctx.Err() != nil {
			res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemFailed, Detail: "not available"})
			continue
		}
		u := f.updates[i]
		f.updates = slices.Delete(f.updates, i, i+1)
		res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemInstalled, FromVersion: u.InstalledVersion, ToVersion: u.AvailableVersion})
		res.RebootRequired = res.RebootRequired || u.RebootRequired
	}
	return res, nil
}

// RebootRequired implements pkgmgr.RebootReporter.
func (f *Fake) RebootRequired(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reboot, nil
}

// InstalledSoftware implements pkgmgr.SoftwareLister.
func (f *Fake) InstalledSoftware(context.Context) ([]pkgmgr.Software, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.software), nil
}

var (
	_ pkgmgr.Manager        = (*Fake)(nil)
	_ pkgmgr.RebootReporter = (*Fake)(nil)
	_ pkgmgr.SoftwareLister = (*Fake)(nil)
)
