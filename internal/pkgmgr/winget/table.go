package winget

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// A table is one fixed-width table from winget's output: the cell text of
// every data row, keyed by column role.
type table struct {
	roles []role
	rows  [][]string // rows[i][j] is the cell of column j (roles[j])
}

type role int

const (
	roleUnknown role = iota
	roleName
	roleID
	roleVersion
	roleAvailable
	roleSource
	roleMatch // "Match" column of search output; ignored
)

// headerRoles maps header words winget prints to column roles. Only
// languages seen in recorded output are listed (English, Simplified
// Chinese, Japanese); other languages fall back to column position (see
// assignRoles).
var headerRoles = map[string]role{
	"name":      roleName,
	"id":        roleID,
	"version":   roleVersion,
	"available": roleAvailable,
	"source":    roleSource,
	"match":     roleMatch,
	// zh-CN (winget-cli#1618)
	"名称": roleName,
	"版本": roleVersion,
	"可用": roleAvailable,
	"源":  roleSource,
	// ja-JP (winget-pkgs#51343)
	"名前":    roleName,
	"バージョン": roleVersion,
	"ソース":   roleSource,
	"利用可能":  roleAvailable,
}

// truncation marks winget appends to a cell it shortened: U+2026, and the
// same character's UTF-8 bytes read as code page 437 (seen when PowerShell
// captures winget's output with the wrong encoding).
var truncationMarks = []string{"…", "ΓÇª"}

func truncated(s string) bool {
	for _, m := range truncationMarks {
		if strings.HasSuffix(s, m) {
			return true
		}
	}
	return false
}

// cleanLines turns raw winget output into the lines a terminal would show:
// carriage returns and cursor-to-column-0 sequences overwrite the line
// (the progress spinner writes "\r-\r\\\r|" before the table), backspaces
// delete, other ANSI escape sequences and a UTF-8 byte-order mark vanish.
// Trailing blanks are removed.
func cleanLines(out []byte) []string {
	s := string(bytes.ToValidUTF8(out, []byte("\uFFFD")))
	s = strings.TrimPrefix(s, "\uFEFF")
	var lines []string
	var cur []rune
	flush := func() {
		lines = append(lines, strings.TrimRightFunc(string(cur), unicode.IsSpace))
		cur = cur[:0]
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\n':
			flush()
		case r == '\r':
			// "\r\n" is a line end, not an overwrite.
			if i+1 < len(rs) && rs[i+1] == '\n' {
				continue
			}
			cur = cur[:0]
		case r == '\b':
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
		case r == 0x1b:
			n, reset := escapeLen(rs[i:])
			if reset {
				cur = cur[:0]
			}
			i += n - 1
		case r == '\t':
			cur = append(cur, ' ')
		case unicode.IsControl(r):
			// drop
		default:
			cur = append(cur, r)
		}
	}
	if len(cur) > 0 {
		flush()
	}
	return lines
}

// escapeLen returns the length in runes of the escape sequence at the start
// of rs and whether it moves the cursor to the start of the line (CSI G with
// column 0 or 1, CSI 2K).
func escapeLen(rs []rune) (n int, reset bool) {
	if len(rs) < 2 || rs[1] != '[' {
		return min(2, len(rs)), false
	}
	j := 2
	for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';' || rs[j] == '?') {
		j++
	}
	if j == len(rs) {
		return j, false
	}
	param := string(rs[2:j])
	switch rs[j] {
	case 'G':
		reset = param == "" || param == "0" || param == "1"
	case 'K':
		reset = param == "2"
	}
	return j + 1, reset
}

// cellWidth is the number of terminal cells r occupies, as winget counts
// them when it pads columns: East Asian wide and fullwidth characters take
// two, combining marks none.
func cellWidth(r rune) int {
	if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == '\u200b' {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// cells splits a line into runes with their starting cell positions.
type positioned struct {
	r   rune
	col int
}

func layout(line string) (rs []positioned, end int) {
	for _, r := range line {
		rs = append(rs, positioned{r, end})
		end += cellWidth(r)
	}
	return rs, end
}

// headerStarts returns the starting cell of every word in a header line.
func headerStarts(h string) (starts []int, names []string) {
	rs, _ := layout(h)
	var b strings.Builder
	for i, p := range rs {
		if p.r == ' ' {
			continue
		}
		if i == 0 || rs[i-1].r == ' ' {
			if b.Len() > 0 {
				names = append(names, b.String())
				b.Reset()
			}
			starts = append(starts, p.col)
		}
		b.WriteRune(p.r)
	}
	if b.Len() > 0 {
		names = append(names, b.String())
	}
	return starts, names
}

// splitRow cuts a data line at the column starts. It reports false when
// the line does not fit the layout: a non-blank cell just before a column
// start (winget separates columns by one space), or a wide character
// straddling a boundary. Such a line is not a table row; summary lines
// like "3 upgrades available." are rejected here or by the callers' cell
// checks.
func splitRow(line string, starts []int) ([]string, bool) {
	rs, _ := layout(line)
	for _, s := range starts[1:] {
		for _, p := range rs {
			w := cellWidth(p.r)
			if w == 0 || p.col+w <= s-1 || p.col > s-1 {
				continue
			}
			// p covers cell s-1.
			if p.r != ' ' || p.col+w > s {
				return nil, false
			}
			break
		}
	}
	cells := make([]strings.Builder, len(starts))
	for _, p := range rs {
		j := len(starts) - 1
		for j > 0 && p.col < starts[j] {
			j--
		}
		if p.col < starts[0] {
			continue
		}
		cells[j].WriteRune(p.r)
	}
	out := make([]string, len(starts))
	for j := range cells {
		out[j] = strings.TrimSpace(cells[j].String())
	}
	return out, true
}

func isRule(line string) bool {
	if len(line) < 3 {
		return false
	}
	return strings.Trim(line, "-") == ""
}

// parseTables finds every table in winget output: a header line directly
// above a line of dashes, then data rows up to the first line that is
// blank or does not fit the header's layout. accept decides, per row,
// whether the cells look like data; the first rejected row ends the table.
func parseTables(out []byte, kind tableKind, accept func(roles []role, cells []string) bool) ([]table, error) {
	lines := cleanLines(out)
	var tables []table
	for i := 1; i < len(lines); i++ {
		if !isRule(lines[i]) || strings.TrimSpace(lines[i-1]) == "" {
			continue
		}
		starts, names := headerStarts(lines[i-1])
		roles, err := assignRoles(names, kind)
		if err != nil {
			return nil, fmt.Errorf("table header on line %d: %w", i, err)
		}
		t := table{roles: roles}
		j := i + 1
		for ; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "" {
				break
			}
			cells, ok := splitRow(lines[j], starts)
			if !ok || !accept(roles, cells) {
				break
			}
			t.rows = append(t.rows, cells)
		}
		tables = append(tables, t)
		i = j
	}
	return tables, nil
}

type tableKind int

const (
	kindUpgrade tableKind = iota
	kindList
)

// assignRoles maps header words to roles. Known words are mapped directly;
// when any word is unknown (a language not in headerRoles) the roles come
// from position, which winget keeps stable: Name, Id, Version, then for
// upgrade output Available and Source, for list output Available and
// Source when there are five columns and Source alone when there are four
// (list prints Available only when some package has an upgrade).
func assignRoles(names []string, kind tableKind) ([]role, error) {
	roles := make([]role, len(names))
	known := true
	for i, n := range names {
		r, ok := headerRoles[strings.ToLower(n)]
		if !ok {
			known = false
			break
		}
		roles[i] = r
	}
	if !known {
		if len(names) < 3 || len(names) > 5 {
			return nil, fmt.Errorf("%d columns in an unrecognised header %q", len(names), strings.Join(names, " "))
		}
		roles = []role{roleName, roleID, roleVersion}
		switch {
		case len(names) == 5:
			roles = append(roles, roleAvailable, roleSource)
		case len(names) == 4 && kind == kindUpgrade:
			roles = append(roles, roleAvailable)
		case len(names) == 4:
			roles = append(roles, roleSource)
		}
	}
	have := map[role]bool{}
	for _, r := range roles {
		have[r] = true
	}
	if !have[roleName] || !have[roleID] || !have[roleVersion] {
		return nil, fmt.Errorf("header %q lacks a name, id or version column", strings.Join(names, " "))
	}
	return roles, nil
}

func cell(roles []role, cells []string, want role) string {
	for i, r := range roles {
		if r == want && i < len(cells) {
			return cells[i]
		}
	}
	return ""
}
