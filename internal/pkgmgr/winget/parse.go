package winget

import (
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// upgradeScan is what one `winget upgrade` run reported.
type upgradeScan struct {
	Updates []pkgmgr.Update `json:"updates"`
	// Unusable lists rows that cannot be installed by identifier: winget
	// shortened the identifier with "…" to fit its table, or the
	// identifier fails validation. They are left out of Updates.
	Unusable []string `json:"unusable,omitempty"`
}

// unknownVersion is what winget prints for a package whose installed
// version it cannot determine (shown only with --include-unknown).
const unknownVersion = "Unknown"

func acceptUpgradeRow(roles []role, cells []string) bool {
	id := cell(roles, cells, roleID)
	ver := cell(roles, cells, roleVersion)
	avail := cell(roles, cells, roleAvailable)
	if id == "" || ver == "" || avail == "" {
		return false
	}
	if strings.ContainsAny(id, " ") || strings.ContainsAny(avail, " ") {
		return false
	}
	src := cell(roles, cells, roleSource)
	return !strings.Contains(src, " ")
}

// parseUpgrade parses the output of `winget upgrade --include-unknown`.
// Every table counts: winget prints a second one under "The following
// packages have an upgrade available, but require explicit targeting for
// upgrade:", and Patchring always targets explicitly.
func parseUpgrade(out []byte) (upgradeScan, error) {
	tables, err := parseTables(out, kindUpgrade, acceptUpgradeRow)
	if err != nil {
		return upgradeScan{}, fmt.Errorf("parse winget upgrade output: %w", err)
	}
	scan := upgradeScan{Updates: []pkgmgr.Update{}}
	seen := map[string]bool{}
	for _, t := range tables {
		if !hasRole(t.roles, roleAvailable) {
			continue
		}
		for _, cells := range t.rows {
			name := cell(t.roles, cells, roleName)
			id := cell(t.roles, cells, roleID)
			installed := cell(t.roles, cells, roleVersion)
			avail := cell(t.roles, cells, roleAvailable)
			if truncated(id) || validateID(id) != nil || validateVersion(avail) != nil {
				scan.Unusable = append(scan.Unusable, id)
				continue
			}
			if installed == unknownVersion {
				installed = ""
			}
			key := id + "=" + avail
			if seen[key] {
				continue // winget lists one row per installed copy
			}
			seen[key] = true
			scan.Updates = append(scan.Updates, pkgmgr.Update{
				Source:           pkgmgr.SourceWinget,
				ID:               key,
				Package:          id,
				Title:            name,
				Product:          strings.TrimSuffix(name, "…"),
				InstalledVersion: installed,
				AvailableVersion: avail,
				Classification:   pkgmgr.ClassApplication,
				Origin:           cell(t.roles, cells, roleSource),
			})
		}
	}
	return scan, nil
}

func hasRole(roles []role, want role) bool {
	for _, r := range roles {
		if r == want {
			return true
		}
	}
	return false
}

func acceptListRow(roles []role, cells []string) bool {
	name := cell(roles, cells, roleName)
	id := cell(roles, cells, roleID)
	if name == "" || id == "" {
		return false
	}
	// Available and Source never contain blanks; a summary sentence cut at
	// column boundaries almost always does.
	return !strings.Contains(cell(roles, cells, roleAvailable), " ") &&
		!strings.Contains(cell(roles, cells, roleSource), " ")
}

// parseList parses the output of `winget list`: every installed program
// winget can see (Apps & Features entries, MSIX packages), whether or not
// a winget source knows it.
func parseList(out []byte) ([]pkgmgr.Software, error) {
	tables, err := parseTables(out, kindList, acceptListRow)
	if err != nil {
		return nil, fmt.Errorf("parse winget list output: %w", err)
	}
	sw := []pkgmgr.Software{}
	for _, t := range tables {
		for _, cells := range t.rows {
			v := cell(t.roles, cells, roleVersion)
			if v == unknownVersion {
				v = ""
			}
			sw = append(sw, pkgmgr.Software{
				Name:    cell(t.roles, cells, roleName),
				Version: v,
				Source:  string(pkgmgr.SourceWinget),
			})
		}
	}
	return sw, nil
}
