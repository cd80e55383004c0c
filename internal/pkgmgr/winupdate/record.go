package winupdate

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// record is one IUpdate reduced to plain data. The COM walk (Windows only)
// fills it; everything after that is OS-independent. Field names match
// the PowerShell dump in testdata/README.md so recorded searches decode
// into the same struct.
type record struct {
	UpdateID                 string     `json:"UpdateID"`
	RevisionNumber           int32      `json:"RevisionNumber"`
	Title                    string     `json:"Title"`
	KBArticleIDs             []string   `json:"KBArticleIDs"`
	MsrcSeverity             string     `json:"MsrcSeverity"`
	Categories               []category `json:"Categories"`
	CveIDs                   []string   `json:"CveIDs"`
	SecurityBulletinIDs      []string   `json:"SecurityBulletinIDs"`
	LastDeploymentChangeTime psTime     `json:"LastDeploymentChangeTime"`
	MaxDownloadSize          int64      `json:"MaxDownloadSize"`
	RebootBehavior           int32      `json:"RebootBehavior"` // InstallationBehavior.RebootBehavior
	SupersededUpdateIDs      []string   `json:"SupersededUpdateIDs"`
	IsMandatory              bool       `json:"IsMandatory"`
	IsDownloaded             bool       `json:"IsDownloaded"`
	Type                     int32      `json:"Type"` // 1 software, 2 driver
}

// category is one ICategory: a classification, a product or a product
// family.
type category struct {
	Name       string `json:"Name"`
	CategoryID string `json:"CategoryID"`
	Type       string `json:"Type"` // "UpdateClassification", "Product", "ProductFamily", "Company"
}

// psTime decodes the date forms ConvertTo-Json writes: Windows PowerShell
// 5.1 "\/Date(1699920000000)\/" and PowerShell 7 ISO 8601.
type psTime struct{ time.Time }

var psDate = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)

func (t *psTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	if s == "" {
		return nil
	}
	if m := psDate.FindStringSubmatch(s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return fmt.Errorf("date %q: %w", s, err)
		}
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("date %q: unknown format", s)
}

func (t psTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.Time) }

// parseDump decodes a recorded search: a JSON array of records, or a
// single object (ConvertTo-Json unwraps one-element arrays).
func parseDump(b []byte) ([]record, error) {
	s := strings.TrimSpace(strings.TrimPrefix(string(b), "\uFEFF"))
	if s == "" {
		return []record{}, nil
	}
	if strings.HasPrefix(s, "{") {
		var r record
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return nil, fmt.Errorf("parse update dump: %w", err)
		}
		return []record{r}, nil
	}
	var rs []record
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		return nil, fmt.Errorf("parse update dump: %w", err)
	}
	return rs, nil
}

// Update classification category IDs. They are the same in every Windows
// language, unlike the names, so they are matched first.
var classificationIDs = map[string]pkgmgr.Classification{
	"0fa1201d-4330-4fa8-8ae9-b877473b6441": pkgmgr.ClassSecurity,     // Security Updates
	"e6cf1350-c01b-414d-a61f-263d14d133b4": pkgmgr.ClassCritical,     // Critical Updates
	"28bc880e-0592-4cbf-8f95-c79b17911d5f": pkgmgr.ClassUpdateRollup, // Update Rollups
	"68c5b0a3-d1a6-4553-ae49-01d3a7827828": pkgmgr.ClassServicePack,  // Service Packs
	"b54e7d24-7add-428f-8b75-90a396fa584f": pkgmgr.ClassFeaturePack,  // Feature Packs
	"3689bdc8-b205-4af4-8d4a-a63924c5e9d5": pkgmgr.ClassFeaturePack,  // Upgrades (feature updates)
	"e0789628-ce08-4437-be74-2495b842f43b": pkgmgr.ClassDefinition,   // Definition Updates
	"ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0": pkgmgr.ClassDriver,       // Drivers
	"b4832bd8-e735-4761-8daf-37f882276dab": pkgmgr.ClassTool,         // Tools
	"cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83": pkgmgr.ClassBugfix,       // Updates
	"5c9376ab-8ce6-464a-b136-22113dd69801": pkgmgr.ClassApplication,  // Applications
}

// English names, for records without category IDs.
var classificationNames = map[string]pkgmgr.Classification{
	"security updates":   pkgmgr.ClassSecurity,
	"critical updates":   pkgmgr.ClassCritical,
	"update rollups":     pkgmgr.ClassUpdateRollup,
	"service packs":      pkgmgr.ClassServicePack,
	"feature packs":      pkgmgr.ClassFeaturePack,
	"upgrades":           pkgmgr.ClassFeaturePack,
	"definition updates": pkgmgr.ClassDefinition,
	"drivers":            pkgmgr.ClassDriver,
	"tools":              pkgmgr.ClassTool,
	"updates":            pkgmgr.ClassBugfix,
	"applications":       pkgmgr.ClassApplication,
}

// classify returns the classification and the vendor's (possibly
// localized) classification name.
func classify(r record) (pkgmgr.Classification, string) {
	for _, c := range r.Categories {
		if c.Type != "" && c.Type != "UpdateClassification" {
			continue
		}
		if cl, ok := classificationIDs[strings.ToLower(strings.Trim(c.CategoryID, "{}"))]; ok {
			return cl, c.Name
		}
		if cl, ok := classificationNames[strings.ToLower(c.Name)]; ok {
			return cl, c.Name
		}
	}
	if r.Type == 2 {
		return pkgmgr.ClassDriver, ""
	}
	return pkgmgr.ClassUnclassified, ""
}

// product is the first Product category ("Windows 11", "Microsoft Defender
// Antivirus", "Office 2016").
func product(r record) string {
	for _, c := range r.Categories {
		if c.Type == "Product" {
			return c.Name
		}
	}
	return ""
}

// key is the stable identity of one revision of one update.
func key(updateID string, revision int32) string {
	return strings.ToLower(updateID) + "." + strconv.FormatInt(int64(revision), 10)
}

// parseKey splits a key made by key.
func parseKey(k string) (updateID string, revision int32, err error) {
	i := strings.LastIndexByte(k, '.')
	if i <= 0 {
		return "", 0, fmt.Errorf("update id %q is not GUID.revision", k)
	}
	n, err := strconv.ParseInt(k[i+1:], 10, 32)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("update id %q has no revision number", k)
	}
	if !guidRE.MatchString(k[:i]) {
		return "", 0, fmt.Errorf("update id %q is not a GUID", k[:i])
	}
	return strings.ToLower(k[:i]), int32(n), nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func formatKBs(ids []string) []string {
	var kbs []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !strings.HasPrefix(strings.ToUpper(id), "KB") {
			id = "KB" + id
		}
		kbs = append(kbs, strings.ToUpper(id))
	}
	return kbs
}

// toUpdate maps a record to the agent's Update.
func toUpdate(r record) pkgmgr.Update {
	class, vendor := classify(r)
	kbs := formatKBs(r.KBArticleIDs)
	u := pkgmgr.Update{
		Source:               pkgmgr.SourceWindowsUpdate,
		ID:                   key(r.UpdateID, r.RevisionNumber),
		Package:              strings.ToLower(r.UpdateID),
		Title:                r.Title,
		Product:              product(r),
		Classification:       class,
		VendorClassification: vendor,
		VendorSeverity:       r.MsrcSeverity,
		KBs:                  kbs,
		CVEs:                 r.CveIDs,
		ReleaseDate:          r.LastDeploymentChangeTime.Time,
		Size:                 r.MaxDownloadSize,
		// 1 AlwaysRequiresReboot, 2 CanRequestReboot; 0 NeverReboots.
		RebootRequired: r.RebootBehavior != 0,
		Supersedes:     lower(r.SupersededUpdateIDs),
	}
	if len(kbs) > 0 {
		u.Package = kbs[0]
	}
	if len(r.SecurityBulletinIDs) > 0 {
		u.Advisory = r.SecurityBulletinIDs[0]
	}
	return u
}

func lower(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, strings.ToLower(s))
	}
	return out
}

// decimalToInt64 reads a VARIANT of type VT_DECIMAL from its 16 raw bytes
// (little-endian DECIMAL: reserved(2), scale(1), sign(1), Hi32(4),
// Lo64(8)). IUpdate.MaxDownloadSize is a DECIMAL. Values beyond int64 or
// with a fractional part are truncated; negative sizes read as 0.
func decimalToInt64(raw [16]byte) int64 {
	scale := raw[2]
	negative := raw[3]&0x80 != 0
	hi := binary.LittleEndian.Uint32(raw[4:8])
	lo := binary.LittleEndian.Uint64(raw[8:16])
	n := new(big.Int).Lsh(new(big.Int).SetUint64(uint64(hi)), 64)
	n.Or(n, new(big.Int).SetUint64(lo))
	if scale > 0 && scale <= 28 {
		n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	}
	if negative || !n.IsInt64() {
		if negative {
			return 0
		}
		return int64(^uint64(0) >> 1)
	}
	return n.Int64()
}
