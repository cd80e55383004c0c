package agent

import "github.com/patchring/patchring/internal/pkgmgr"

// BackendOptions tune the package-manager backends the agent detects. They
// come from the machine's own configuration (command-line flags of the
// service), never from the server.
type BackendOptions struct {
	// Runner runs the tools; nil means pkgmgr.ExecRunner{}.
	Runner pkgmgr.Runner
	// AptOptions and DnfOptions are passed to every apt-get or dnf call,
	// e.g. a private sources list.
	AptOptions []string
	DnfOptions []string
	// SkipRefresh scans from the package lists as they are, without
	// refreshing them first.
	SkipRefresh bool
	// Product names what updates apply to ("Debian GNU/Linux 12
	// (bookworm)"); the agent fills it from the inventory.
	Product string
}

func (o BackendOptions) runner() pkgmgr.Runner {
	if o.Runner == nil {
		return pkgmgr.ExecRunner{}
	}
	return o.Runner
}
