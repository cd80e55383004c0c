package apt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/debversion"
)

// parseSimulate reads the output of `apt-get -s dist-upgrade` and returns one
// update per "Inst" line that upgrades an installed package. The line format
// is apt's pkgSimulate::Describe:
//
//	Inst NAME[:ARCH] [OLD] (NEW LABEL:VERSION/SUITE[, LABEL:VERSION/SUITE...] [ARCH]) [BROKEN...]
//
// Lines without [OLD] are packages newly pulled in as dependencies (a new
// kernel ABI package, say); they are not missing updates of their own and are
// skipped: installing the update that needs them brings them along. Conf,
// Remv and human-readable lines are ignored. A malformed Inst line, or one
// whose name or version would not be safe to hand back to apt-get, is an
// error: a scan that silently drops updates would report a host as patched.
// Product is left empty for the caller to fill.
func parseSimulate(out []byte) ([]pkgmgr.Update, error) {
	var updates []pkgmgr.Update
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if !strings.HasPrefix(line, "Inst ") {
			continue
		}
		inst, err := parseInstLine(line)
		if err != nil {
			return nil, fmt.Errorf("parse apt-get simulate line %d: %w", n, err)
		}
		if inst.old == "" {
			continue
		}
		u := inst.update()
		if seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		updates = append(updates, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apt-get simulate output: %w", err)
	}
	return updates, nil
}

// instLine is one parsed "Inst" line.
type instLine struct {
	pkg     string   // as apt prints it, with ":arch" for foreign architectures
	old     string   // installed version; empty for new installs
	new     string   // candidate version
	origins []string // "Label:Version/Suite" (or "Label:Suite", or a host name)
	arch    string   // architecture of the candidate
}

var errMalformed = errors.New("malformed Inst line")

func parseInstLine(line string) (instLine, error) {
	var in instLine
	rest, ok := strings.CutPrefix(line, "Inst ")
	if !ok {
		return in, errMalformed
	}
	in.pkg, rest, ok = strings.Cut(rest, " ")
	if !ok {
		return in, fmt.Errorf("%w: no version in %q", errMalformed, line)
	}
	if !validPackage(in.pkg) {
		return in, fmt.Errorf("%w: invalid package name %q", errMalformed, in.pkg)
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return in, fmt.Errorf("%w: unterminated installed version in %q", errMalformed, line)
		}
		in.old = rest[1:end]
		rest = strings.TrimPrefix(rest[end+1:], " ")
		if _, err := debversion.Parse(in.old); err != nil {
			return in, fmt.Errorf("installed version of %s: %w", in.pkg, err)
		}
	}
	if !strings.HasPrefix(rest, "(") {
		return in, fmt.Errorf("%w: no candidate in %q", errMalformed, line)
	}
	// Trailing "[pkg:arch on pkg:arch]" groups name packages only, which
	// cannot hold ')', so the last ')' closes the candidate group even when
	// an origin label holds parentheses of its own.
	end := strings.LastIndexByte(rest, ')')
	if end < 0 {
		return in, fmt.Errorf("%w: unterminated candidate in %q", errMalformed, line)
	}
	inner := rest[1:end]
	var origins string
	in.new, origins, ok = strings.Cut(inner, " ")
	if !ok {
		return in, fmt.Errorf("%w: no origin in %q", errMalformed, line)
	}
	if _, err := debversion.Parse(in.new); err != nil {
		return in, fmt.Errorf("candidate version of %s: %w", in.pkg, err)
	}
	open := strings.LastIndex(origins, " [")
	if open < 0 || !strings.HasSuffix(origins, "]") {
		return in, fmt.Errorf("%w: no architecture in %q", errMalformed, line)
	}
	in.arch = origins[open+2 : len(origins)-1]
	for o := range strings.SplitSeq(origins[:open], ", ") {
		if o = strings.TrimSpace(o); o != "" {
			in.origins = append(in.origins, o)
		}
	}
	return in, nil
}

// update turns an upgrade line into a pkgmgr.Update. The origin reported is
// the one that makes the classification: the first security origin when
// there is one (Ubuntu publishes security fixes in -updates and -security at
// once), otherwise the first listed.
func (in instLine) update() pkgmgr.Update {
	u := pkgmgr.Update{
		Source:           pkgmgr.SourceApt,
		ID:               in.pkg + "=" + in.new,
		Package:          in.pkg,
		Title:            in.pkg + " " + in.new,
		InstalledVersion: in.old,
		AvailableVersion: in.new,
		Classification:   pkgmgr.ClassBugfix,
	}
	if len(in.origins) > 0 {
		u.Origin = in.origins[0]
	}
	for _, o := range in.origins {
		if isSecurityOrigin(o) {
			u.Origin = o
			u.Classification = pkgmgr.ClassSecurity
			break
		}
	}
	u.VendorClassification = suiteOf(u.Origin)
	return u
}

// isSecurityOrigin reports whether an origin printed by apt is a security
// archive: Debian's "Debian-Security" label, or any suite (pocket) ending in
// "-security" (Debian's bookworm-security / stable-security, Ubuntu's
// jammy-security, and Ubuntu Pro's jammy-infra-security / jammy-apps-security).
func isSecurityOrigin(origin string) bool {
	label, _, _ := strings.Cut(origin, ":")
	if label == "Debian-Security" {
		return true
	}
	return strings.HasSuffix(suiteOf(origin), "-security")
}

// suiteOf returns the suite of an origin "Label:Version/Suite" or
// "Label:Suite"; empty for a bare host name (a repository without a Release
// file).
func suiteOf(origin string) string {
	if i := strings.LastIndexByte(origin, '/'); i >= 0 {
		return origin[i+1:]
	}
	if i := strings.LastIndexByte(origin, ':'); i >= 0 {
		return origin[i+1:]
	}
	return ""
}
