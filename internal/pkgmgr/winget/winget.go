// Package winget drives the Windows Package Manager (winget.exe) to find
// and install updates for third-party applications on Windows, the part of
// patching the Windows Update Agent does not cover.
//
// winget has no stable machine-readable output for "what can be upgraded":
// `winget export` writes JSON but only of installed identifiers and
// versions, without the available version, and the structured routes (the
// Microsoft.WinGet.Client PowerShell module, the in-process COM API) are
// not present on a stock machine or not usable from the SYSTEM account the
// agent runs as. So this package parses the human table of
// `winget upgrade --include-unknown` and `winget list`, and keeps that
// parsing pure, table-tested and fuzzed against output recorded from real
// machines (testdata/README.md says where each sample came from).
//
// What the parser handles, because real output has it: column positions
// taken from the header line and counted in terminal cells (CJK names are
// two cells wide), the progress spinner winget writes before the table
// (carriage returns, backspaces, VT cursor moves), cells shortened with
// "…", the trailing "N upgrades available." and "N package(s) have version
// numbers that cannot be determined" lines, and the second table of
// packages that "require explicit targeting". Localized headers are a
// known trap: English, Simplified Chinese and Japanese header words are
// recognised, any other language falls back to column position (Name, Id,
// Version, Available, Source), which winget keeps stable. A header word
// that itself contains a blank in some language would split a column; no
// such language has been seen yet.
//
// Rows whose identifier winget truncated cannot be installed by
// identifier and are reported as unusable rather than guessed.
//
// Installs run `winget upgrade --id ID --version V --exact` per target, so
// winget never substitutes a newer version than the one the server
// approved, and the backend rescans first and refuses (skips) a target
// whose offered version changed since the server's scan.
package winget

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Manager is the winget backend. Create it with New.
type Manager struct {
	runner pkgmgr.Runner
	path   string
}

// New returns a Manager that runs winget at path (use Locate on Windows:
// winget.exe is not on the SYSTEM account's PATH) through r.
func New(r pkgmgr.Runner, path string) *Manager {
	return &Manager{runner: r, path: path}
}

// Source implements pkgmgr.Manager.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceWinget }

// Exit codes winget documents (AppInstallerErrors.h); the process exit code
// is the HRESULT.
const (
	hrNoApplicationsFound    uint32 = 0x8A150014 // no installed package matches
	hrUpdateNotApplicable    uint32 = 0x8A15002B // no applicable update found
	hrRebootRequiredToFinish uint32 = 0x8A150109
	hrRebootRequiredInstall  uint32 = 0x8A15010A
	hrRebootInitiated        uint32 = 0x8A15010B
	hrInstallAlreadyDone     uint32 = 0x8A15010D
)

// common flags that keep winget from ever waiting for input.
var nonInteractive = []string{"--accept-source-agreements", "--disable-interactivity"}

func (m *Manager) command(args ...string) pkgmgr.Command {
	return pkgmgr.Command{Path: m.path, Args: args}
}

func (m *Manager) scanCommand() pkgmgr.Command {
	return m.command(append([]string{"upgrade", "--include-unknown"}, nonInteractive...)...)
}

func (m *Manager) listCommand() pkgmgr.Command {
	return m.command(append([]string{"list"}, nonInteractive...)...)
}

// installCommand builds the upgrade command for one target. The id and
// version have been validated; source is the winget source the scan
// reported ("winget", "msstore"), empty when unknown.
func (m *Manager) installCommand(id, version, source string, includeUnknown bool) pkgmgr.Command {
	args := []string{"upgrade", "--id", id, "--version", version, "--exact"}
	if source != "" {
		args = append(args, "--source", source)
	}
	if includeUnknown {
		args = append(args, "--include-unknown")
	}
	args = append(args, "--silent", "--accept-package-agreements", "--accept-source-agreements", "--disable-interactivity")
	return m.command(args...)
}

// exitCode extracts the exit code of a finished winget run as the unsigned
// HRESULT winget returned.
func exitCode(err error) (uint32, bool) {
	if ee, ok := errors.AsType[*pkgmgr.ExitError](err); ok {
		return uint32(ee.ExitCode), true
	}
	return 0, false
}

func (m *Manager) scan(ctx context.Context) (upgradeScan, error) {
	cmd := m.scanCommand()
	out, err := m.runner.Run(ctx, cmd)
	if code, ok := exitCode(err); ok && code == hrNoApplicationsFound {
		return upgradeScan{Updates: []pkgmgr.Update{}}, nil
	}
	if err != nil {
		return upgradeScan{}, fmt.Errorf("winget scan: %w", err)
	}
	return parseUpgrade(out)
}

// Scan implements pkgmgr.Manager. winget refreshes its source index itself
// when the index is older than its configured interval.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	s, err := m.scan(ctx)
	if err != nil {
		return nil, err
	}
	return s.Updates, nil
}

// InstalledSoftware implements pkgmgr.SoftwareLister with `winget list`.
func (m *Manager) InstalledSoftware(ctx context.Context) ([]pkgmgr.Software, error) {
	out, err := m.runner.Run(ctx, m.listCommand())
	if code, ok := exitCode(err); ok && code == hrNoApplicationsFound {
		return []pkgmgr.Software{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("winget list: %w", err)
	}
	return parseList(out)
}

// Install implements pkgmgr.Manager. It rescans, then upgrades each target
// to exactly the version the server asked for, one at a time, and stops
// starting new upgrades once ctx is done. DownloadOnly is not supported:
// winget has no staged-install notion, so such targets are skipped.
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	res := pkgmgr.InstallResult{Items: []pkgmgr.ItemResult{}}
	var valid []pkgmgr.Target
	for _, t := range req.Targets {
		if err := validateTarget(t); err != nil {
			res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemFailed, ToVersion: t.Version, Detail: err.Error()})
			continue
		}
		if req.DownloadOnly {
			res.Items = append(res.Items, pkgmgr.ItemResult{ID: t.ID, Package: t.Package, Status: pkgmgr.ItemSkipped, ToVersion: t.Version, Detail: "winget cannot download without installing"})
			continue
		}
		valid = append(valid, t)
	}
	if len(valid) == 0 {
		return res, nil
	}
	current, err := m.scan(ctx)
	if err != nil {
		return res, err
	}
	offered := map[string]pkgmgr.Update{}
	for _, u := range current.Updates {
		offered[strings.ToLower(u.Package)] = u
	}
	var output strings.Builder
	for _, t := range valid {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package, ToVersion: t.Version}
		u, ok := offered[strings.ToLower(t.Package)]
		switch {
		case ctx.Err() != nil:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "not started: "+ctx.Err().Error()
		case !ok:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "winget no longer offers an upgrade for this package"
		case u.AvailableVersion != t.Version:
			item.Status, item.Detail = pkgmgr.ItemSkipped, fmt.Sprintf("winget now offers %s, not the approved %s", u.AvailableVersion, t.Version)
		default:
			item.FromVersion = u.InstalledVersion
			out, err := m.runner.Run(ctx, m.installCommand(u.Package, t.Version, u.Origin, u.InstalledVersion == ""))
			output.Write(out)
			reboot := false
			item.Status, item.Detail, reboot = installOutcome(err)
			res.RebootRequired = res.RebootRequired || reboot
		}
		res.Items = append(res.Items, item)
	}
	res.Output = pkgmgr.Tail(output.String(), pkgmgr.MaxOutput)
	return res, nil
}

// installOutcome maps the result of one `winget upgrade --id` run.
func installOutcome(err error) (pkgmgr.ItemStatus, string, bool) {
	if err == nil {
		return pkgmgr.ItemInstalled, "", false
	}
	code, ok := exitCode(err)
	if !ok {
		return pkgmgr.ItemFailed, err.Error(), false
	}
	switch code {
	case hrRebootRequiredToFinish, hrRebootInitiated:
		return pkgmgr.ItemInstalled, fmt.Sprintf("installed; restart required (0x%08X)", code), true
	case hrRebootRequiredInstall:
		return pkgmgr.ItemFailed, fmt.Sprintf("a restart is required before this package can install (0x%08X)", code), true
	case hrInstallAlreadyDone:
		return pkgmgr.ItemSkipped, fmt.Sprintf("already installed (0x%08X)", code), false
	case hrUpdateNotApplicable:
		return pkgmgr.ItemSkipped, fmt.Sprintf("no applicable update found (0x%08X)", code), false
	}
	return pkgmgr.ItemFailed, fmt.Sprintf("winget exit code 0x%08X", code), false
}
