package agent

import (
	"os/exec"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/apt"
	"github.com/patchring/patchring/internal/pkgmgr/dnf"
)

// Backends returns the package managers of this Linux machine: apt on
// Debian and Ubuntu, dnf (or yum, where yum is dnf) on the Red Hat family.
// The notes say what was chosen and why, for the log.
func Backends(o BackendOptions) ([]pkgmgr.Manager, []string) {
	if _, err := exec.LookPath("apt-get"); err == nil {
		return []pkgmgr.Manager{apt.New(apt.Options{Runner: o.runner(), AptOptions: o.AptOptions, SkipRefresh: o.SkipRefresh, Product: o.Product})},
			[]string{"apt-get found: using the apt backend"}
	}
	for _, tool := range []string{"dnf", "yum"} {
		if path, err := exec.LookPath(tool); err == nil {
			return []pkgmgr.Manager{dnf.New(dnf.Options{Runner: o.runner(), Dnf: path, DnfOptions: o.DnfOptions, SkipRefresh: o.SkipRefresh, Product: o.Product})},
				[]string{tool + " found: using the dnf backend"}
		}
	}
	return nil, []string{"neither apt-get nor dnf found: this machine reports inventory but no updates"}
}
