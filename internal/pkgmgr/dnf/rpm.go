package dnf

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// rpmQueryFormat is the --queryformat of every rpm call: tab-separated, one
// package per line. EPOCHNUM prints 0 for "no epoch" (rpm 4.9 and later).
const rpmQueryFormat = `%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{VENDOR}\t%{INSTALLTIME}\n`

// rpmEntry is one installed package.
type rpmEntry struct {
	nevra
	Vendor      string
	InstallTime time.Time
}

// parseRPMQuery reads `rpm -qa --queryformat rpmQueryFormat` output. rpm
// prints "(none)" for absent tags; gpg-pubkey pseudo-packages (ARCH
// "(none)") are not software and are dropped.
func parseRPMQuery(out []byte) ([]rpmEntry, error) {
	var res []rpmEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return nil, fmt.Errorf("parse rpm query line %d: want 7 tab-separated fields, got %d", n, len(f))
		}
		if f[4] == "(none)" {
			continue
		}
		epoch := f[1]
		if epoch == "(none)" {
			epoch = "0"
		}
		if f[0] == "" || f[2] == "" || f[3] == "" || f[4] == "" || !epochRE.MatchString(epoch) {
			return nil, fmt.Errorf("parse rpm query line %d: malformed package %q", n, line)
		}
		e := rpmEntry{nevra: nevra{Name: f[0], Arch: f[4], EVR: evr{Epoch: epoch, Version: f[2], Release: f[3]}}}
		if f[5] != "(none)" {
			e.Vendor = f[5]
		}
		if secs, err := strconv.ParseInt(f[6], 10, 64); err == nil && secs > 0 {
			e.InstallTime = time.Unix(secs, 0).UTC()
		}
		res = append(res, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read rpm query output: %w", err)
	}
	return res, nil
}

func rpmSoftware(entries []rpmEntry) []pkgmgr.Software {
	sw := make([]pkgmgr.Software, 0, len(entries))
	for _, e := range entries {
		sw = append(sw, pkgmgr.Software{
			Name:        e.Name,
			Version:     e.EVR.String(),
			Vendor:      e.Vendor,
			Source:      "rpm",
			Arch:        e.Arch,
			InstallDate: e.InstallTime,
		})
	}
	return sw
}

// rpmState indexes installed versions by "name.arch"; install-only packages
// (kernels) have several.
type rpmState map[string][]evr

func newRPMState(entries []rpmEntry) rpmState {
	s := rpmState{}
	for _, e := range entries {
		s[e.key()] = append(s[e.key()], e.EVR)
	}
	return s
}

// newest returns the highest installed version of key.
func (s rpmState) newest(key string) (evr, bool) {
	vs := s[key]
	if len(vs) == 0 {
		return evr{}, false
	}
	best := vs[0]
	for _, v := range vs[1:] {
		if v.compare(best) > 0 {
			best = v
		}
	}
	return best, true
}

func (s rpmState) has(key string, v evr) bool {
	for _, x := range s[key] {
		if x.equal(v) {
			return true
		}
	}
	return false
}
