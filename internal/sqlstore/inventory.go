package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// setFacts copies sanitised agent facts onto an asset and marks it managed
// by its agent and seen now.
func setFacts(a *patch.Asset, f *patch.AssetFacts, now time.Time) {
	a.Hostname, a.FQDN = f.Hostname, f.FQDN
	a.OS = f.OS
	a.IPAddresses = slices.Clone(f.IPAddresses)
	a.MACAddresses = slices.Clone(f.MACAddresses)
	if f.SerialNumber != "" {
		a.SerialNumber = f.SerialNumber
	}
	a.LastSeen, a.Managed, a.Source = now, true, patch.SourceAgent
}

// applyFacts updates a locked asset with an agent's facts and returns the
// new state. The hardware identity moves to the best key the agent reports
// unless another asset of the client holds it.
func (tx *Tx) applyFacts(ctx context.Context, cl *patch.Client, before *patch.Asset, f *patch.AssetFacts) (*patch.Asset, error) {
	after := cloneAsset(before)
	setFacts(after, f, tx.now)
	if len(f.IdentityKeys) > 0 {
		after.IdentityKey = f.IdentityKeys[0]
	}
	err := tx.checkAsset(ctx, cl, after)
	if patch.ErrorField(err) == "identity_key" {
		after.IdentityKey = before.IdentityKey
		err = tx.checkAsset(ctx, cl, after)
	}
	if err != nil {
		return nil, fmt.Errorf("apply agent facts to asset %s: %w", before.ID, err)
	}
	if err := tx.updateAssetRow(ctx, after); err != nil {
		return nil, err
	}
	return after, tx.recordIdentities(ctx, after, f.IdentityKeys)
}

// factsChanged reports whether an update changed what an operator would
// call the asset's facts, rather than only when it was last seen.
func factsChanged(a, b *patch.Asset) bool {
	return a.Hostname != b.Hostname || a.FQDN != b.FQDN || a.OS != b.OS || a.SerialNumber != b.SerialNumber ||
		a.IdentityKey != b.IdentityKey || a.Managed != b.Managed || a.Source != b.Source ||
		!slices.Equal(a.IPAddresses, b.IPAddresses) || !slices.Equal(a.MACAddresses, b.MACAddresses)
}

// storeInventory replaces an asset's inventory snapshot and software list.
func (tx *Tx) storeInventory(ctx context.Context, a *patch.Asset, inv *patch.AgentInventory) error {
	if len(inv.Document) == 0 {
		return nil
	}
	if _, err := tx.exec(ctx, `INSERT INTO asset_inventory (asset_id, client_id, hash, collected_at, received_at, document) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (asset_id) DO UPDATE SET client_id = excluded.client_id, hash = excluded.hash, collected_at = excluded.collected_at,
			received_at = excluded.received_at, document = excluded.document`,
		string(a.ID), string(a.ClientID), inv.Hash, nullMS(inv.CollectedAt), ms(tx.now), string(inv.Document)); err != nil {
		return fmt.Errorf("store inventory: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM installed_software WHERE asset_id = $1`, string(a.ID)); err != nil {
		return fmt.Errorf("clear software: %w", err)
	}
	type key struct{ source, name, version, arch string }
	seen := map[key]bool{}
	var rows [][]any
	for _, s := range inv.Software {
		k := key{truncate(s.Source, 40), truncate(s.Name, 500), truncate(s.Version, 200), truncate(s.Arch, 40)}
		if k.name == "" || seen[k] {
			continue
		}
		seen[k] = true
		rows = append(rows, []any{string(a.ID), string(a.ClientID), k.source, k.name, k.version, k.arch, truncate(s.Vendor, 500), nullMS(s.InstallDate)})
	}
	const perInsert = 200
	for len(rows) > 0 {
		n := min(len(rows), perInsert)
		var ph []string
		var args []any
		for i, r := range rows[:n] {
			p := make([]string, len(r))
			for j := range r {
				p[j] = fmt.Sprintf("$%d", i*len(r)+j+1)
			}
			ph = append(ph, "("+strings.Join(p, ", ")+")")
			args = append(args, r...)
		}
		if _, err := tx.exec(ctx, `INSERT INTO installed_software (asset_id, client_id, source, name, version, arch, vendor, install_date) VALUES `+strings.Join(ph, ", "), args...); err != nil {
			return fmt.Errorf("insert software: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// FindInventory returns an asset's last inventory.
func (db *DB) FindInventory(ctx context.Context, asset patch.AssetID) (*patch.InventorySnapshot, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	c.scope("client_id", scope)
	c.add("asset_id = ?", string(asset))
	var (
		s         patch.InventorySnapshot
		collected sql.NullInt64
		received  int64
		doc       string
	)
	err = db.read.QueryRowContext(ctx, `SELECT asset_id, client_id, hash, collected_at, received_at, document FROM asset_inventory`+c.where(), c.args...).
		Scan(&s.AssetID, &s.ClientID, &s.Hash, &collected, &received, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindNotFound, "Asset %s has no inventory (it has no agent, or the agent has not reported yet).", asset)
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("query inventory: %w", err))
	}
	s.CollectedAt, s.ReceivedAt, s.Document = fromNullMS(collected), fromMS(received), []byte(doc)
	return &s, nil
}

// FindSoftware lists installed software in scope, by name.
func (db *DB) FindSoftware(ctx context.Context, f patch.SoftwareFilter) ([]*patch.Software, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.Source != nil {
		c.add("source = ?", *f.Source)
	}
	if f.Query != nil && *f.Query != "" {
		p := likePattern(*f.Query)
		c.add(`(LOWER(name) LIKE ? ESCAPE '\' OR LOWER(vendor) LIKE ? ESCAPE '\')`, p, p)
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT asset_id, name, version, vendor, source, arch, install_date, COUNT(*) OVER () FROM installed_software`+where+
		` ORDER BY LOWER(name), name, version, source, arch, asset_id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query software: %w", err))
	}
	defer rows.Close()
	var out []*patch.Software
	total := 0
	for rows.Next() {
		var (
			s  patch.Software
			at sql.NullInt64
		)
		if err := rows.Scan(&s.AssetID, &s.Name, &s.Version, &s.Vendor, &s.Source, &s.Arch, &at, &total); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan software: %w", err))
		}
		s.InstallDate = fromNullMS(at)
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read software: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "installed_software", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}
