// Package winupdate drives the Windows Update Agent (WUA) COM API to find
// and install Microsoft updates: Windows cumulative and security updates,
// Defender definitions, Office and other Microsoft products, from Windows
// Update or the WSUS server the machine is configured for.
//
// The COM walk is kept thin and Windows-only (wua_windows.go): it turns
// each IUpdate into a plain record and nothing else. Everything that
// decides something (classification, product, severity, reboot
// behaviour, KB formatting, supersedence, the update key) is pure Go over
// records, compiled and table-tested on every OS against searches
// recorded as JSON (testdata/README.md gives the PowerShell used and says
// which values are real and which were reconstructed).
//
// Identity: an update's ID is "UpdateID.RevisionNumber" (lower-case GUID),
// which WUA guarantees names one revision of one update everywhere;
// Package is its first KB article ("KB5041585") or the GUID when it has
// none. Classification uses the classification category's ID, which is
// the same in every Windows language, before its (localized) name.
// Supersedes lists the GUIDs WUA reports, without revisions: WUA does not
// say which revision was superseded.
//
// Installs search again, take exactly the requested UpdateID+revision
// pairs (a revision published since the server's scan is not
// substituted; a missing one is skipped), download them together and
// install them one at a time so that a maintenance window's end (ctx)
// stops the run between updates. A WUA call in progress is not
// interrupted. Rollback removes a KB with wusa.exe.
//
// New exists on every OS so that the package documents one API, but
// outside Windows it returns an error: the agent calls it only from its
// _windows.go wiring.
package winupdate

import (
	"github.com/patchring/patchring/internal/pkgmgr"
)

// Manager is the Windows Update Agent backend. Create it with New.
type Manager struct {
	runner pkgmgr.Runner // runs wusa.exe for Rollback
	wusa   string
}

// Source implements pkgmgr.Manager.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceWindowsUpdate }

// searchCriteria selects what Windows Update itself would offer: missing,
// not hidden by an administrator, software (drivers are left to the
// hardware vendor's tooling).
const searchCriteria = "IsInstalled=0 and Type='Software' and IsHidden=0"
