package dnf

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// advisoryPackage is one row of `updateinfo list`: an advisory and one
// package build it ships.
type advisoryPackage struct {
	ID       string
	Type     string // security, bugfix, enhancement, newpackage, or a vendor's own word
	Severity string // Critical, Important, Moderate, Low; empty when unknown
	Package  nevra
}

var advisoryIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:._-]*$`)

// parseUpdateinfoList reads `dnf updateinfo list` output in either format:
//
//	dnf4: ID  TYPE-OR-SEVERITY/Sec.  NEVRA  [DATE TIME with -v]
//	dnf5: Name  Type  Severity  Package  Issued   (a header row, then rows; Severity may be blank)
//
// dnf4 writes a security advisory's type as its severity ("Important/Sec.",
// "Unknown/Sec." when the advisory has none) and other types as words
// ("bugfix", "enhancement"); an "i" or "I" column before the ID marks
// installed advisories in --all listings. Lines that are not rows are
// skipped; a row whose package is not a valid NEVRA is an error.
func parseUpdateinfoList(out []byte) ([]advisoryPackage, error) {
	var res []advisoryPackage
	dnf5 := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[0] == "Name" && f[1] == "Type" && f[2] == "Severity" {
			dnf5 = true
			continue
		}
		if len(f) > 0 && (f[0] == "i" || f[0] == "I") {
			f = f[1:]
		}
		var a advisoryPackage
		var pkg string
		switch {
		case dnf5 && (len(f) == 5 || len(f) == 6) && isDate(f[len(f)-2]):
			a.ID, a.Type, pkg = f[0], f[1], f[len(f)-3]
			if len(f) == 6 {
				a.Severity = f[2]
			}
		case !dnf5 && (len(f) == 3 || (len(f) == 5 && isDate(f[3]))):
			a.ID, pkg = f[0], f[2]
			if sev, ok := strings.CutSuffix(f[1], "/Sec."); ok {
				a.Type, a.Severity = "security", sev
			} else {
				a.Type = f[1]
			}
		default:
			continue
		}
		if !advisoryIDRE.MatchString(a.ID) {
			continue
		}
		p, err := parseNEVRA(pkg)
		if err != nil {
			return nil, fmt.Errorf("parse dnf updateinfo list line %d: %w", n, err)
		}
		a.Package = p
		a.Type = strings.ToLower(a.Type)
		a.Severity = normSeverity(a.Severity)
		res = append(res, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dnf updateinfo list output: %w", err)
	}
	return res, nil
}

// normSeverity keeps the vendor's word but drops the placeholders dnf
// prints for "no severity".
func normSeverity(s string) string {
	switch strings.ToLower(s) {
	case "", "none", "unknown", "unspecified":
		return ""
	}
	return s
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// advisory is the detail of one advisory from `updateinfo info`.
type advisory struct {
	ID       string
	Title    string
	Type     string
	Severity string
	Issued   time.Time
	CVEs     []string
}

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// parseUpdateinfoInfo reads `dnf updateinfo info` output in either format
// and returns the advisories by ID.
//
// dnf4 prints blocks that open with a rule of '=' characters, the title and
// another rule, followed by right-aligned "Key: value" lines where a
// continuation line has an empty key (": value"). dnf5 prints "Key : value"
// blocks separated by blank lines, opening with "Name", with indented
// Reference sub-blocks (Id and Type; Type "cve" marks a CVE) and Collection
// sub-blocks. Dates ("Updated" in dnf4, "Issued" in dnf5) are read as UTC:
// dnf prints the host's local time without a zone.
//
// Only well-formed CVE identifiers are kept; dnf's test data and some
// vendors put bare numbers in the CVE list.
func parseUpdateinfoInfo(out []byte) (map[string]advisory, error) {
	res := map[string]advisory{}
	var (
		cur       *advisory
		dnf5      bool   // format of the current block
		key       string // dnf4: the key a continuation line belongs to
		inRef     bool   // dnf5: inside a Reference sub-block
		refID     string
		refType   string
		inHeader  bool // dnf4: between the two rules around a title
		haveTitle bool
	)
	endRef := func() {
		if cur != nil && inRef && strings.EqualFold(refType, "cve") && cveRE.MatchString(refID) {
			cur.CVEs = append(cur.CVEs, refID)
		}
		inRef, refID, refType = false, "", ""
	}
	flush := func() {
		endRef()
		if cur != nil && cur.ID != "" {
			slices.Sort(cur.CVEs)
			cur.CVEs = slices.Compact(cur.CVEs)
			res[cur.ID] = *cur
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r ")
		trimmed := strings.TrimSpace(line)
		if len(trimmed) >= 10 && strings.Trim(trimmed, "=") == "" {
			if inHeader {
				inHeader = false
				continue
			}
			flush()
			cur, dnf5, key, inHeader, haveTitle = &advisory{}, false, "", true, false
			continue
		}
		if inHeader {
			if !haveTitle && trimmed != "" {
				cur.Title, haveTitle = trimmed, true
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		top := k != "" && k[0] != ' '
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if top && k == "Name" {
			flush()
			cur, dnf5 = &advisory{ID: v}, true
			continue
		}
		if cur == nil {
			continue
		}
		if dnf5 {
			if !top {
				switch {
				case inRef && k == "Id":
					refID = v
				case inRef && k == "Type":
					refType = v
				}
				continue
			}
			endRef()
			switch k {
			case "Title":
				cur.Title = v
			case "Type":
				cur.Type = strings.ToLower(v)
			case "Severity":
				cur.Severity = normSeverity(v)
			case "Issued":
				cur.Issued = parseDate(v)
			case "Reference":
				inRef = true
			}
			continue
		}
		if k == "" {
			k = key
		} else {
			key = k
		}
		switch k {
		case "Update ID":
			cur.ID = v
		case "Type":
			cur.Type = strings.ToLower(v)
		case "Severity":
			cur.Severity = normSeverity(v)
		case "Updated", "Issued":
			cur.Issued = parseDate(v)
		case "CVEs":
			if cveRE.MatchString(v) {
				cur.CVEs = append(cur.CVEs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dnf updateinfo info output: %w", err)
	}
	flush()
	return res, nil
}

// parseDate reads dnf's "2006-01-02 15:04:05" (or a bare date) as UTC; zero
// when it is neither.
func parseDate(s string) time.Time {
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	return time.Time{}
}
