// Package softwareupdate drives macOS softwareupdate(8): Apple's updates
// for macOS itself, Safari, the command line tools and firmware, plus the
// automatic-update preferences an MSP enables once per machine.
//
// softwareupdate has no machine-readable listing, so the package parses
// `softwareupdate --list` in both shapes Apple has shipped: the Mojave-era
// two-line "* LABEL / Title (Version), SizeK [recommended] [restart]" form
// and the Catalina-and-later "* Label: ... / Title: ..., Version: ...,
// Size: ...K(iB), Recommended: YES, Action: restart," form. Parsing is
// pure and tested against output recorded on real Macs (testdata/README.md
// names each source). The label is the update's identity: it is what
// `softwareupdate --install` takes, and it is kept byte for byte, trailing
// blanks included (some Mojave labels only install with theirs).
//
// Classification: Apple publishes no classification, so it is derived
// from the title: Rapid Security Responses, Background Security
// Improvements and "Security Update" packages are security; a macOS whose
// major version is newer than the running one (sw_vers) is an OS upgrade;
// other macOS entries are cumulative OS updates (update-rollup); command
// line tools are tools, BridgeOS is firmware (driver), the rest are
// applications.
//
// Restarts: the backend never passes --restart. An item whose Action is
// "restart" or "shut down" sets RebootRequired and the agent's reboot
// policy decides when to restart. Installs on Apple silicon of macOS
// updates need the volume owner's credentials (or MDM) and fail without
// them; such failures are reported per item, not hidden.
package softwareupdate

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Manager is the softwareupdate backend. Create it with New.
type Manager struct {
	runner         pkgmgr.Runner
	softwareupdate string
	defaults       string
	swVers         string
}

// New returns a Manager that runs the system tools at their fixed paths
// through r (the agent runs as root; PATH is not trusted).
func New(r pkgmgr.Runner) *Manager {
	return &Manager{runner: r, softwareupdate: "/usr/sbin/softwareupdate", defaults: "/usr/bin/defaults", swVers: "/usr/bin/sw_vers"}
}

// Source implements pkgmgr.Manager.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceSoftwareUpdate }

func (m *Manager) hostVersion(ctx context.Context) string {
	out, err := m.runner.Run(ctx, pkgmgr.Command{Path: m.swVers, Args: []string{"-productVersion"}})
	if err != nil {
		return "" // classification then treats no entry as a major upgrade
	}
	return strings.TrimSpace(string(out))
}

func (m *Manager) list(ctx context.Context) ([]item, error) {
	out, err := m.runner.Run(ctx, pkgmgr.Command{Path: m.softwareupdate, Args: []string{"--list"}})
	if err != nil {
		return nil, fmt.Errorf("softwareupdate --list: %w", err)
	}
	return parseList(out)
}

// Scan implements pkgmgr.Manager. softwareupdate --list contacts Apple's
// catalog itself; there is no separate refresh step.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	host := m.hostVersion(ctx)
	items, err := m.list(ctx)
	if err != nil {
		return nil, err
	}
	ups := make([]pkgmgr.Update, 0, len(items))
	for _, it := range items {
		ups = append(ups, toUpdate(it, host))
	}
	return ups, nil
}

// validateLabel refuses labels that cannot be Apple's. Labels contain
// blanks and parentheses ("macOS Ventura 13.7.4-22H420", "Command Line
// Tools (macOS Mojave version 10.14) for Xcode-10.3"), so those are
// allowed; the command never goes through a shell.
func validateLabel(l string) error {
	switch {
	case strings.TrimSpace(l) == "":
		return fmt.Errorf("empty label")
	case len(l) > 256:
		return fmt.Errorf("label longer than 256 bytes")
	case strings.HasPrefix(l, "-"):
		return fmt.Errorf("label %q starts with '-'", l)
	case strings.ContainsAny(l, ";&|$`<>\"'\\*?{}[]!#~"):
		return fmt.Errorf("label %q contains a forbidden character", l)
	case strings.ContainsFunc(l, unicode.IsControl):
		return fmt.Errorf("label %q contains a control character", l)
	}
	return nil
}

// Install implements pkgmgr.Manager. It lists first and skips targets no
// longer offered or offered at another version, installs the rest one at
// a time with `softwareupdate --install LABEL --agree-to-license` (macOS 11
// or later), and lists again: an item still offered afterwards failed,
// unless it needs a restart, in which case it is staged and the restart
// completes it.
// With DownloadOnly it runs --download and reports the items as skipped
// with the detail "downloaded".
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	res := pkgmgr.InstallResult{Items: []pkgmgr.ItemResult{}}
	before, err := m.list(ctx)
	if err != nil {
		return res, err
	}
	offered := map[string]item{}
	for _, it := range before {
		offered[it.Label] = it
	}
	var output strings.Builder
	ran := map[int]item{} // index in res.Items -> item installed
	for _, t := range req.Targets {
		r := pkgmgr.ItemResult{ID: t.ID, Package: t.Package, ToVersion: t.Version}
		it, ok := offered[t.Package]
		switch err := validateLabel(t.Package); {
		case err != nil:
			r.Status, r.Detail = pkgmgr.ItemFailed, err.Error()
		case ctx.Err() != nil:
			r.Status, r.Detail = pkgmgr.ItemSkipped, "not started: "+ctx.Err().Error()
		case !ok:
			r.Status, r.Detail = pkgmgr.ItemSkipped, "no longer offered by softwareupdate"
		case t.Version != "" && it.Version != t.Version:
			r.Status, r.Detail = pkgmgr.ItemSkipped, fmt.Sprintf("softwareupdate now offers %s, not the approved %s", it.Version, t.Version)
		default:
			args := []string{"--install", t.Package, "--agree-to-license"}
			if req.DownloadOnly {
				args = []string{"--download", t.Package}
			}
			out, err := m.runner.Run(ctx, pkgmgr.Command{Path: m.softwareupdate, Args: args})
			output.Write(out)
			switch {
			case err != nil:
				r.Status, r.Detail = pkgmgr.ItemFailed, err.Error()
			case req.DownloadOnly:
				r.Status, r.Detail = pkgmgr.ItemSkipped, "downloaded"
			default:
				r.Status = pkgmgr.ItemInstalled
				ran[len(res.Items)] = it
			}
		}
		res.Items = append(res.Items, r)
	}
	if len(ran) > 0 {
		after, err := m.list(ctx)
		if err != nil {
			return res, fmt.Errorf("verify installs: %w", err)
		}
		still := map[string]bool{}
		for _, it := range after {
			still[it.Label] = true
		}
		for i, it := range ran {
			needsRestart := it.Restart || it.ShutDown
			switch {
			case still[it.Label] && needsRestart:
				// macOS updates are prepared by --install and applied
				// during the restart; until then they stay listed.
				res.Items[i].Detail = "staged; completes at restart"
			case still[it.Label]:
				res.Items[i].Status, res.Items[i].Detail = pkgmgr.ItemFailed, "still offered after softwareupdate reported success"
				continue
			}
			res.RebootRequired = res.RebootRequired || needsRestart
		}
	}
	res.Output = pkgmgr.Tail(output.String(), pkgmgr.MaxOutput)
	return res, nil
}
