package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
)

// knownSources are the update sources the server records findings for
// (pkgmgr's Source values).
var knownSources = []string{"apt", "dnf", "wua", "winget", "softwareupdate", "brew"}

// inventoryFromWire turns a wire inventory into what the store keeps: the
// asset facts, the software list and the document. Identity keys and the
// role are derived with package inventory's own functions, so the server
// and the agent agree on what identifies a machine.
func inventoryFromWire(inv *agentapi.Inventory, hash string) (patch.AgentInventory, error) {
	doc, err := json.Marshal(inv)
	if err != nil {
		return patch.AgentInventory{}, fmt.Errorf("encode inventory: %w", err)
	}
	var host inventory.Host
	if err := json.Unmarshal(doc, &host); err != nil {
		return patch.AgentInventory{}, fmt.Errorf("read inventory: %w", err)
	}
	role := patch.RoleWorkstation
	switch inventory.Role(inv.OS.Role) {
	case inventory.RoleServer, inventory.RoleDomainController:
		role = patch.RoleServer
	}
	facts := patch.AssetFacts{
		Hostname: clean(inv.Hostname),
		FQDN:     clean(inv.FQDN),
		OS: patch.OS{
			Family:  patch.OSFamily(inv.OS.Family),
			Name:    clean(inv.OS.Name),
			Version: clean(inv.OS.Version),
			Build:   clean(inv.OS.Build),
			Kernel:  clean(inv.OS.Kernel),
			Arch:    clean(inv.OS.Arch),
		},
		IPAddresses:  slices.Clone(inv.IPAddresses),
		MACAddresses: slices.Clone(inv.MACAddresses),
		SerialNumber: clean(inv.Hardware.Serial),
		Role:         role,
		IdentityKeys: cleanAll(host.IdentityKeys()),
	}
	sw := make([]patch.Software, 0, len(inv.Software))
	for _, s := range inv.Software {
		sw = append(sw, patch.Software{Name: cleanField(s.Name, 500), Version: cleanField(s.Version, 200), Vendor: cleanField(s.Vendor, 500),
			Source: cleanField(s.Source, 40), Arch: cleanField(s.Arch, 40), InstallDate: truncateTime(s.InstallDate)})
	}
	return patch.AgentInventory{Hash: clean(hash), CollectedAt: truncateTime(inv.CollectedAt), Facts: facts, Software: sw, Document: doc}, nil
}

// resultsFromWire converts delivered results, rejecting (with a reason the
// agent logs) those that are not valid: a result that can never be stored
// must not block the agent's outbox.
func resultsFromWire(rs []agentapi.Result) ([]patch.AgentResult, []agentapi.Rejection) {
	out := make([]patch.AgentResult, 0, len(rs))
	var rejected []agentapi.Rejection
	seen := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if err := r.Validate(); err != nil {
			rejected = append(rejected, agentapi.Rejection{ID: r.ID, Reason: err.Error()})
			continue
		}
		if seen[r.ID] {
			continue // the same result twice in one batch is stored once
		}
		seen[r.ID] = true
		ar, err := resultFromWire(r)
		if err != nil {
			rejected = append(rejected, agentapi.Rejection{ID: r.ID, Reason: err.Error()})
			continue
		}
		out = append(out, ar)
	}
	return out, rejected
}

func resultFromWire(r *agentapi.Result) (patch.AgentResult, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return patch.AgentResult{}, fmt.Errorf("encode result: %w", err)
	}
	ar := patch.AgentResult{
		ID: r.ID, JobID: patch.AgentJobID(r.JobID), Kind: string(r.Kind), Status: string(r.Status),
		StartedAt: truncateTime(r.StartedAt), FinishedAt: truncateTime(r.FinishedAt), Error: clean(r.Error), Document: doc,
	}
	if ar.FinishedAt.IsZero() {
		return ar, fmt.Errorf("finished_at: %s is out of range", r.FinishedAt)
	}
	if r.Scan == nil {
		return ar, nil
	}
	scan := &patch.ScanResult{At: ar.FinishedAt, Failed: map[patch.UpdateSource]string{}}
	for _, src := range r.Scan.Sources {
		if !slices.Contains(knownSources, src) {
			return ar, fmt.Errorf("scan.sources: unknown source %q", src)
		}
		scan.Sources = append(scan.Sources, patch.UpdateSource(src))
	}
	for src, msg := range r.Scan.Failed {
		if !slices.Contains(knownSources, src) {
			return ar, fmt.Errorf("scan.failed: unknown source %q", src)
		}
		scan.Failed[patch.UpdateSource(src)] = clean(msg)
	}
	seen := map[string]bool{}
	for _, u := range r.Scan.Missing {
		key := u.Source + " " + u.ID
		if seen[key] {
			continue
		}
		seen[key] = true
		scan.Missing = append(scan.Missing, patch.ScannedUpdate{
			Update: patch.Update{
				Source:               patch.UpdateSource(u.Source),
				VendorID:             cleanField(u.ID, 512),
				Package:              cleanField(u.Package, 1000),
				Title:                cleanField(u.Title, 2000),
				Product:              cleanField(u.Product, 500),
				Version:              cleanField(u.AvailableVersion, 1000),
				Classification:       cleanField(u.Classification, 100),
				VendorClassification: cleanField(u.VendorClassification, 200),
				VendorSeverity:       cleanField(u.VendorSeverity, 100),
				Advisory:             cleanField(u.Advisory, 200),
				KBs:                  cleanAll(u.KBs),
				CVEs:                 cleanAll(u.CVEs),
				CVSS:                 u.CVSS,
				KnownExploited:       u.KnownExploited,
				ReleaseDate:          truncateTime(u.ReleaseDate),
				RebootRequired:       u.RebootRequired,
				Size:                 max(u.Size, 0),
				Supersedes:           cleanAll(u.Supersedes),
			},
			InstalledVersion: cleanField(u.InstalledVersion, 1000),
		})
	}
	ar.Scan = scan
	return ar, nil
}

// truncateTime drops times outside what the store keeps (Unix
// milliseconds in a BIGINT) so that a bogus release date cannot fail the
// whole scan.
func truncateTime(t time.Time) time.Time {
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

// clean makes agent-sent text storable everywhere: PostgreSQL refuses NUL
// characters in TEXT, the evidence chain refuses other control characters,
// and one bad string must not fail a whole check-in. Tabs and line breaks
// stay; invalid UTF-8 (which the JSON decoder already replaces) is
// replaced.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// cleanField is clean for one-line fields (package names, versions,
// titles): no line breaks either, and at most n bytes, so that it fits in
// an evidence entry's details.
func cleanField(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, clean(s))
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

func cleanAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, cleanField(s, 200))
	}
	return out
}
