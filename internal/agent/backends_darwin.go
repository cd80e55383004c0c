package agent

import (
	"fmt"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/brew"
	"github.com/patchring/patchring/internal/pkgmgr/softwareupdate"
)

// Backends returns softwareupdate(8) and, when Homebrew is installed,
// Homebrew for third-party tools and applications.
func Backends(o BackendOptions) ([]pkgmgr.Manager, []string) {
	ms := []pkgmgr.Manager{softwareupdate.New(o.runner())}
	notes := []string{"using softwareupdate"}
	if b, err := brew.New(o.runner(), brew.Options{}); err == nil {
		ms = append(ms, b)
		notes = append(notes, "Homebrew found")
	} else {
		notes = append(notes, fmt.Sprintf("Homebrew not used: %v", err))
	}
	return ms, notes
}
