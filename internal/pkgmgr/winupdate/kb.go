package winupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// normalizeKB accepts "KB5032339", "kb5032339" or "5032339" and returns
// the digits. Anything else is refused: the value ends up on wusa's
// command line.
func normalizeKB(s string) (string, error) {
	d := s
	if len(d) >= 2 && strings.EqualFold(d[:2], "KB") {
		d = d[2:]
	}
	if d == "" || len(d) > 10 || strings.TrimLeft(d, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a KB article number", s)
	}
	return d, nil
}

// wusa exit codes: Windows Installer's reboot codes and the WU_S_* success
// HRESULTs of wuerror.h.
const (
	exitRebootRequired    = 3010     // ERROR_SUCCESS_REBOOT_REQUIRED
	exitRebootInitiated   = 1641     // ERROR_SUCCESS_REBOOT_INITIATED
	wuSRebootRequired     = 0x240005 // WU_S_REBOOT_REQUIRED
	wuSAlreadyUninstalled = 0x240007 // WU_S_ALREADY_UNINSTALLED
	exitInvalidParameter  = 87
)

func (m *Manager) rollbackCommand(kb string) pkgmgr.Command {
	return pkgmgr.Command{Path: m.wusa, Args: []string{"/uninstall", "/kb:" + kb, "/quiet", "/norestart"}}
}

// Rollback implements pkgmgr.Rollbacker: it removes each target's KB
// (Target.Package) with `wusa.exe /uninstall /kb:N /quiet /norestart`.
// Not every update can be removed this way: servicing-stack updates and
// some cumulative updates refuse, and wusa reports that as a failure.
func (m *Manager) Rollback(ctx context.Context, req pkgmgr.RollbackRequest) (pkgmgr.InstallResult, error) {
	res := pkgmgr.InstallResult{Items: []pkgmgr.ItemResult{}}
	var output strings.Builder
	for _, t := range req.Targets {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package}
		kb, err := normalizeKB(t.Package)
		switch {
		case err != nil:
			item.Status, item.Detail = pkgmgr.ItemFailed, err.Error()
		case ctx.Err() != nil:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "not started: "+ctx.Err().Error()
		default:
			out, err := m.runner.Run(ctx, m.rollbackCommand(kb))
			output.Write(out)
			var reboot bool
			item.Status, item.Detail, reboot = wusaOutcome(err)
			res.RebootRequired = res.RebootRequired || reboot
		}
		res.Items = append(res.Items, item)
	}
	res.Output = pkgmgr.Tail(output.String(), pkgmgr.MaxOutput)
	return res, nil
}

func wusaOutcome(err error) (pkgmgr.ItemStatus, string, bool) {
	if err == nil {
		return pkgmgr.ItemInstalled, "removed", false
	}
	ee, ok := errors.AsType[*pkgmgr.ExitError](err)
	if !ok {
		return pkgmgr.ItemFailed, err.Error(), false
	}
	switch uint32(ee.ExitCode) {
	case exitRebootRequired, exitRebootInitiated, wuSRebootRequired:
		return pkgmgr.ItemInstalled, "removed; restart required", true
	case wuSAlreadyUninstalled:
		return pkgmgr.ItemSkipped, "not installed", false
	case exitInvalidParameter:
		return pkgmgr.ItemFailed, "wusa rejected the arguments (exit 87)", false
	}
	return pkgmgr.ItemFailed, fmt.Sprintf("wusa exit code 0x%08X", uint32(ee.ExitCode)), false
}
