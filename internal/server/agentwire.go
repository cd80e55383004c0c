package server

import (
	"encoding/json"
	"fmt"
	"slices"
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
		Hostname: inv.Hostname,
		FQDN:     inv.FQDN,
		OS: patch.OS{
			Family:  patch.OSFamily(inv.OS.Family),
			Name:    inv.OS.Name,
			Version: inv.OS.Version,
			Build:   inv.OS.Build,
			Kernel:  inv.OS.Kernel,
			Arch:    inv.OS.Arch,
		},
		IPAddresses:  slices.Clone(inv.IPAddresses),
		MACAddresses: slices.Clone(inv.MACAddresses),
		SerialNumber: inv.Hardware.Serial,
		Role:         role,
		IdentityKeys: host.IdentityKeys(),
	}
	sw := make([]patch.Software, 0, len(inv.Software))
	for _, s := range inv.Software {
		sw = append(sw, patch.Software{Name: s.Name, Version: s.Version, Vendor: s.Vendor, Source: s.Source, Arch: s.Arch, InstallDate: s.InstallDate})
	}
	return patch.AgentInventory{Hash: hash, CollectedAt: inv.CollectedAt, Facts: facts, Software: sw, Document: doc}, nil
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
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Error: r.Error, Document: doc,
	}
	if r.Scan == nil {
		return ar, nil
	}
	scan := &patch.ScanResult{At: r.FinishedAt, Failed: map[patch.UpdateSource]string{}}
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
		scan.Failed[patch.UpdateSource(src)] = msg
	}
	seen := map[string]bool{}
	for _, u := range r.Scan.Missing {
		key := u.Source + "\x00" + u.ID
		if seen[key] {
			continue
		}
		seen[key] = true
		scan.Missing = append(scan.Missing, patch.ScannedUpdate{
			Update: patch.Update{
				Source:               patch.UpdateSource(u.Source),
				VendorID:             u.ID,
				Package:              u.Package,
				Title:                u.Title,
				Product:              u.Product,
				Version:              u.AvailableVersion,
				Classification:       u.Classification,
				VendorClassification: u.VendorClassification,
				VendorSeverity:       u.VendorSeverity,
				Advisory:             u.Advisory,
				KBs:                  u.KBs,
				CVEs:                 u.CVEs,
				CVSS:                 u.CVSS,
				KnownExploited:       u.KnownExploited,
				ReleaseDate:          truncateTime(u.ReleaseDate),
				RebootRequired:       u.RebootRequired,
				Size:                 u.Size,
				Supersedes:           u.Supersedes,
			},
			InstalledVersion: u.InstalledVersion,
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
