package winupdate

import (
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// plan matches requested targets to the records of a fresh search. It
// returns, per target, the index of the record to install (-1 when none)
// and the item result for targets that will not be installed.
func plan(records []record, targets []pkgmgr.Target) (pick []int, items []pkgmgr.ItemResult) {
	byKey := map[string]int{}
	byGUID := map[string]int{}
	for i, r := range records {
		byKey[key(r.UpdateID, r.RevisionNumber)] = i
		byGUID[strings.ToLower(r.UpdateID)] = i
	}
	for _, t := range targets {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package}
		id, rev, err := parseKey(t.ID)
		switch {
		case err != nil:
			item.Status, item.Detail = pkgmgr.ItemFailed, err.Error()
			pick = append(pick, -1)
		default:
			i, ok := byKey[key(id, rev)]
			switch {
			case ok:
				pick = append(pick, i)
			default:
				item.Status = pkgmgr.ItemSkipped
				if j, other := byGUID[id]; other {
					item.Detail = fmt.Sprintf("Windows Update now offers revision %d, not the approved %d", records[j].RevisionNumber, rev)
				} else {
					item.Detail = "no longer offered (installed, superseded or hidden)"
				}
				pick = append(pick, -1)
			}
		}
		items = append(items, item)
	}
	return pick, items
}

// OperationResultCode values of WUA.
const (
	orcNotStarted          = 0
	orcInProgress          = 1
	orcSucceeded           = 2
	orcSucceededWithErrors = 3
	orcFailed              = 4
	orcAborted             = 5
)

// outcome maps one IUpdateInstallationResult.
func outcome(resultCode int32, hresult int32, reboot bool) (pkgmgr.ItemStatus, string) {
	switch resultCode {
	case orcSucceeded:
		if reboot {
			return pkgmgr.ItemInstalled, "installed; restart required"
		}
		return pkgmgr.ItemInstalled, ""
	case orcSucceededWithErrors:
		return pkgmgr.ItemInstalled, fmt.Sprintf("installed with errors (HRESULT 0x%08X)", uint32(hresult))
	case orcAborted:
		return pkgmgr.ItemFailed, "aborted"
	case orcNotStarted, orcInProgress:
		return pkgmgr.ItemSkipped, "not started"
	}
	return pkgmgr.ItemFailed, fmt.Sprintf("failed (HRESULT 0x%08X)", uint32(hresult))
}
