package patch

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// The asset CSV format is the inventory's exchange format: what the export
// writes, the import reads, so a file can be exported, edited in a
// spreadsheet and imported back. Read-only columns (managed, source,
// first_seen, last_seen, ip_addresses, mac_addresses) are written on export
// and ignored on import, because the agent owns those facts.
var assetCSVColumns = []string{
	"id", "hostname", "fqdn", "site", "os_family", "os_name", "os_version", "os_build",
	"role", "class", "criticality", "owner", "location", "ring", "ephi", "tags", "serial_number",
	"managed", "source", "ip_addresses", "mac_addresses", "first_seen", "last_seen",
}

var assetCSVReadOnly = []string{"managed", "source", "ip_addresses", "mac_addresses", "first_seen", "last_seen"}

// MaxImportRows bounds one asset import.
const MaxImportRows = 50_000

// AssetCSVRow is one parsed import row. Site is the site column as written
// (a site name or id), resolved against the client's sites by the caller.
type AssetCSVRow struct {
	AssetImportRow
	Site *string
}

// ParseAssetCSV reads an asset CSV. The first line is the header; columns
// may come in any order and any subset, but hostname or id is required.
// Errors say which line and column to fix.
func ParseAssetCSV(r io.Reader) ([]AssetCSVRow, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	cr.FieldsPerRecord = 0
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, FieldError("line 1", "the file is empty; the first line must be a header such as hostname,os_family,role,class")
	}
	if err != nil {
		return nil, csvError(err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(assetCSVColumns, h) {
			return nil, FieldError("line 1", "unknown column %q (known columns: %s)", h, strings.Join(assetCSVColumns, ", "))
		}
		if _, dup := cols[h]; dup {
			return nil, FieldError("line 1", "column %q appears twice", h)
		}
		cols[h] = i
	}
	_, hasID := cols["id"]
	_, hasHost := cols["hostname"]
	if !hasID && !hasHost {
		return nil, FieldError("line 1", "a hostname or id column is required")
	}
	var rows []AssetCSVRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rows) >= MaxImportRows {
			return nil, FieldError(fmt.Sprintf("line %d", line), "too many rows: at most %d per import", MaxImportRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		row, err := parseAssetCSVRecord(cols, rec, line)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func csvError(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return FieldError(fmt.Sprintf("line %d", pe.Line), "malformed CSV: %v", pe.Err)
	}
	return WrapError(err, KindInvalid, "The CSV file could not be read.")
}

func parseAssetCSVRecord(cols map[string]int, rec []string, line int) (AssetCSVRow, error) {
	row := AssetCSVRow{AssetImportRow: AssetImportRow{Line: line}}
	get := func(name string) (string, bool) {
		i, ok := cols[name]
		if !ok || i >= len(rec) {
			return "", false
		}
		return strings.TrimSpace(rec[i]), true
	}
	bad := func(col, format string, args ...any) error {
		return FieldError(fmt.Sprintf("line %d: %s", line, col), "Line %d, column %s: %s", line, col, fmt.Sprintf(format, args...))
	}
	u := &row.Fields
	if v, ok := get("id"); ok && v != "" {
		row.ID = AssetID(v)
	}
	str := func(col string, dst **string) {
		if v, ok := get(col); ok {
			*dst = &v
		}
	}
	str("hostname", &u.Hostname)
	if u.Hostname != nil && *u.Hostname == "" {
		if row.ID == "" {
			return row, bad("hostname", "is empty (give a hostname or an id)")
		}
		u.Hostname = nil
	}
	str("fqdn", &u.FQDN)
	str("owner", &u.Owner)
	str("location", &u.Location)
	str("ring", &u.Ring)
	str("serial_number", &u.SerialNumber)
	if v, ok := get("site"); ok {
		row.Site = &v
	}
	var os OSUpdate
	if v, ok := get("os_family"); ok {
		f := OSFamily(strings.ToLower(v))
		if !slices.Contains(OSFamilies, f) {
			return row, bad("os_family", "must be windows, macos, linux or other (got %q)", v)
		}
		os.Family = &f
	}
	str("os_name", &os.Name)
	str("os_version", &os.Version)
	str("os_build", &os.Build)
	if os != (OSUpdate{}) {
		u.OS = &os
	}
	if v, ok := get("role"); ok && v != "" {
		r := AssetRole(strings.ToLower(v))
		if !slices.Contains(AssetRoles, r) {
			return row, bad("role", "must be server, workstation or kiosk (got %q)", v)
		}
		u.Role = &r
	}
	if v, ok := get("class"); ok && v != "" {
		u.Class = &v
	}
	if v, ok := get("criticality"); ok && v != "" {
		c := Criticality(strings.ToLower(v))
		if !slices.Contains(Criticalities, c) {
			return row, bad("criticality", "must be low, medium, high or critical (got %q)", v)
		}
		u.Criticality = &c
	}
	if v, ok := get("tags"); ok {
		tags := map[string]string{}
		if v != "" {
			for _, kv := range strings.Split(v, ";") {
				k, val, found := strings.Cut(kv, "=")
				k = strings.TrimSpace(k)
				if !found || k == "" {
					return row, bad("tags", "must be key=value pairs separated by ';' (got %q)", kv)
				}
				tags[k] = strings.TrimSpace(val)
			}
		}
		u.Tags = &tags
	}
	if v, ok := get("ephi"); ok {
		v = strings.ToLower(v)
		switch v {
		case "yes", "no":
			u.SetTags = map[string]string{TagEPHI: v}
		case "":
		default:
			return row, bad("ephi", "must be yes or no (got %q)", v)
		}
	}
	return row, nil
}

// WriteAssetCSV writes assets in the exchange format. siteNames maps site
// ids to names for the site column.
func WriteAssetCSV(w io.Writer, assets []*Asset, siteNames map[SiteID]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(assetCSVColumns); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	for _, a := range assets {
		var tags []string
		for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
			if k != TagEPHI {
				tags = append(tags, k+"="+a.Tags[k])
			}
		}
		ephi := a.Tags[TagEPHI]
		managed := "no"
		if a.Managed {
			managed = "yes"
		}
		lastSeen := ""
		if !a.LastSeen.IsZero() {
			lastSeen = a.LastSeen.UTC().Format(time.RFC3339)
		}
		rec := []string{
			string(a.ID), a.Hostname, a.FQDN, siteNames[a.SiteID], string(a.OS.Family), a.OS.Name, a.OS.Version, a.OS.Build,
			string(a.Role), a.Class, string(a.Criticality), a.Owner, a.Location, a.Ring, ephi, strings.Join(tags, ";"), a.SerialNumber,
			managed, string(a.Source), strings.Join(a.IPAddresses, " "), strings.Join(a.MACAddresses, " "),
			a.FirstSeen.UTC().Format(time.RFC3339), lastSeen,
		}
		for i, f := range rec {
			rec[i] = csvSafe(f)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formula injection: a cell that a spreadsheet
// would evaluate (starting with =, +, -, @, tab or CR) is prefixed with a
// single quote. Hostnames and versions never start with these.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// IsAssetCSVReadOnly reports whether an import ignores column c.
func IsAssetCSVReadOnly(c string) bool { return slices.Contains(assetCSVReadOnly, c) }
