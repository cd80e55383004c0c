package dnf

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// available is one line of check-update: a package with a newer version.
type available struct {
	nevra
	Repo string
}

// parseCheckUpdate reads `dnf check-update` (dnf4) or `dnf check-upgrade`
// (dnf5) output. Each update is "name.arch  [epoch:]version-release  repo";
// dnf4 wraps a long name onto its own line with the rest indented below it.
// Lines that are not package rows (the metadata-age notice, locale warnings,
// blank lines) are skipped. The "Obsoleting Packages" section is not read:
// its rows name replacement packages and, indented under each, the installed
// package it replaces; the replacement is installed by upgrading, and it
// appears in the main list when it is a plain update.
func parseCheckUpdate(out []byte) ([]available, error) {
	var res []available
	seen := map[string]bool{}
	var pendingName string // a wrapped name waiting for its version line
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if strings.EqualFold(trimmed, "Obsoleting Packages") {
			break
		}
		f := strings.Fields(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case len(f) == 1 && !indented && pendingName == "":
			if _, _, err := splitNameArch(f[0]); err == nil {
				pendingName = f[0]
			}
			continue
		case len(f) == 2 && indented && pendingName != "":
			f = []string{pendingName, f[0], f[1]}
			pendingName = ""
		case len(f) == 3 && !indented:
			pendingName = ""
		default:
			pendingName = ""
			continue
		}
		name, arch, err := splitNameArch(f[0])
		if err != nil {
			continue // not a package row
		}
		e, err := parseEVR(f[1])
		if err != nil {
			return nil, fmt.Errorf("parse dnf check-update line %d: %w", n, err)
		}
		a := available{nevra: nevra{Name: name, Arch: arch, EVR: e}, Repo: f[2]}
		if seen[a.key()] {
			continue
		}
		seen[a.key()] = true
		res = append(res, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dnf check-update output: %w", err)
	}
	return res, nil
}
