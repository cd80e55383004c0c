package agent

import (
	"fmt"
	"os"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/winget"
	"github.com/patchring/patchring/internal/pkgmgr/winupdate"
)

// Backends returns the Windows Update Agent and, when winget is installed,
// winget for third-party applications.
func Backends(o BackendOptions) ([]pkgmgr.Manager, []string) {
	var ms []pkgmgr.Manager
	var notes []string
	if wu, err := winupdate.New(o.runner()); err == nil {
		ms = append(ms, wu)
		notes = append(notes, "using the Windows Update Agent")
	} else {
		notes = append(notes, fmt.Sprintf("Windows Update Agent unavailable: %v", err))
	}
	if path, err := winget.Locate(os.Getenv("ProgramFiles")); err == nil {
		ms = append(ms, winget.New(o.runner(), path))
		notes = append(notes, "winget found: "+path)
	} else {
		notes = append(notes, fmt.Sprintf("winget not found (third-party applications are not scanned): %v", err))
	}
	return ms, notes
}
