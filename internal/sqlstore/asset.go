package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

const assetColumns = `id, client_id, site_id, hostname, fqdn, os_family, os_name, os_version, os_build, os_kernel, os_arch,
	role, class, owner, location, criticality, ring, managed, source, identity_key, serial_number,
	ip_addresses, mac_addresses, first_seen, last_seen, created_at, updated_at`

func scanAsset(s interface{ Scan(...any) error }, extra ...any) (*patch.Asset, error) {
	var (
		a               patch.Asset
		site            sql.NullString
		ips, macs       string
		first, cat, uat int64
		last            sql.NullInt64
	)
	dest := []any{&a.ID, &a.ClientID, &site, &a.Hostname, &a.FQDN, &a.OS.Family, &a.OS.Name, &a.OS.Version, &a.OS.Build, &a.OS.Kernel, &a.OS.Arch,
		&a.Role, &a.Class, &a.Owner, &a.Location, &a.Criticality, &a.Ring, &a.Managed, &a.Source, &a.IdentityKey, &a.SerialNumber,
		&ips, &macs, &first, &last, &cat, &uat}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	a.SiteID = patch.SiteID(site.String)
	if err := fromJSON(ips, &a.IPAddresses); err != nil {
		return nil, err
	}
	if err := fromJSON(macs, &a.MACAddresses); err != nil {
		return nil, err
	}
	a.FirstSeen, a.LastSeen = fromMS(first), fromNullMS(last)
	a.CreatedAt, a.UpdatedAt = fromMS(cat), fromMS(uat)
	a.Tags = map[string]string{}
	return &a, nil
}

// FindAssetByID returns an asset in scope.
func (db *DB) FindAssetByID(ctx context.Context, id patch.AssetID) (*patch.Asset, error) {
	as, _, err := db.FindAssets(ctx, patch.AssetFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, notFound("Asset", id)
	}
	return as[0], nil
}

var assetSortColumns = map[patch.AssetSort][]string{
	"":                 {"hostname"},
	patch.SortHostname: {"hostname"},
	patch.SortLastSeen: {"COALESCE(last_seen, 0)"},
	patch.SortOS:       {"os_family", "os_name", "os_version"},
	patch.SortClass:    {"class", "hostname"},
	patch.SortCreated:  {"created_at"},
}

// FindAssets lists assets in scope.
func (db *DB) FindAssets(ctx context.Context, f patch.AssetFilter) ([]*patch.Asset, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	order, ok := assetSortColumns[f.Sort]
	if !ok {
		return nil, 0, patch.FieldError("sort", "must be one of hostname, last_seen, os, class, created (got %q)", string(f.Sort))
	}
	c := assetConds(scope, f)
	where := c.where()
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	var orderBy []string
	for _, col := range order {
		orderBy = append(orderBy, col+dir)
	}
	q := `SELECT ` + assetColumns + `, COUNT(*) OVER () FROM assets` + where + ` ORDER BY ` + strings.Join(orderBy, ", ") + `, id` + dir + c.page(f.Limit, f.Offset)
	rows, err := db.read.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query assets: %w", err))
	}
	defer rows.Close()
	var out []*patch.Asset
	total := 0
	for rows.Next() {
		a, err := scanAsset(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan asset: %w", err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read assets: %w", err))
	}
	if err := loadTags(ctx, db.read, out); err != nil {
		return nil, 0, db.classify(err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "assets", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

func assetConds(scope patch.Scope, f patch.AssetFilter) *conds {
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.SiteID != nil {
		c.add("site_id = ?", string(*f.SiteID))
	}
	if f.OSFamily != nil {
		c.add("os_family = ?", string(*f.OSFamily))
	}
	if f.Class != nil {
		c.add("class = ?", *f.Class)
	}
	if f.Role != nil {
		c.add("role = ?", string(*f.Role))
	}
	if f.Ring != nil {
		c.add("ring = ?", *f.Ring)
	}
	if f.Managed != nil {
		c.add("managed = ?", *f.Managed)
	}
	if f.Source != nil {
		c.add("source = ?", string(*f.Source))
	}
	if f.IdentityKey != nil {
		c.add("identity_key = ?", *f.IdentityKey)
	}
	for _, t := range f.Tags {
		if t.Value == "" {
			c.add("EXISTS (SELECT 1 FROM asset_tags t WHERE t.asset_id = assets.id AND t.key = ?)", t.Key)
		} else {
			c.add("EXISTS (SELECT 1 FROM asset_tags t WHERE t.asset_id = assets.id AND t.key = ? AND t.value = ?)", t.Key, t.Value)
		}
	}
	if f.Query != nil && *f.Query != "" {
		p := likePattern(*f.Query)
		c.add(`(LOWER(hostname) LIKE ? ESCAPE '\' OR LOWER(fqdn) LIKE ? ESCAPE '\' OR LOWER(owner) LIKE ? ESCAPE '\' OR LOWER(serial_number) LIKE ? ESCAPE '\')`, p, p, p, p)
	}
	if f.LastSeenBefore != nil {
		c.add("(last_seen IS NULL OR last_seen < ?)", ms(*f.LastSeenBefore))
	}
	if f.LastSeenAfter != nil {
		c.add("last_seen >= ?", ms(*f.LastSeenAfter))
	}
	return &c
}

// loadTags fills the Tags of assets with one query.
func loadTags(ctx context.Context, q querier, assets []*patch.Asset) error {
	if len(assets) == 0 {
		return nil
	}
	byID := make(map[patch.AssetID]*patch.Asset, len(assets))
	var ph []string
	var args []any
	for i, a := range assets {
		byID[a.ID] = a
		ph = append(ph, fmt.Sprintf("$%d", i+1))
		args = append(args, string(a.ID))
	}
	rows, err := q.QueryContext(ctx, `SELECT asset_id, key, value FROM asset_tags WHERE asset_id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("query asset tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return fmt.Errorf("scan asset tag: %w", err)
		}
		if a := byID[patch.AssetID(id)]; a != nil {
			a.Tags[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read asset tags: %w", err)
	}
	return nil
}

func (tx *Tx) assetForUpdate(ctx context.Context, id patch.AssetID) (*patch.Asset, error) {
	a, err := scanAsset(tx.queryRow(ctx, `SELECT `+assetColumns+` FROM assets WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(a.ClientID)) {
		return nil, notFound("Asset", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query asset %s: %w", id, err)
	}
	if err := loadTags(ctx, tx.tx, []*patch.Asset{a}); err != nil {
		return nil, err
	}
	return a, nil
}

// checkAsset validates a against its client and site inside tx.
func (tx *Tx) checkAsset(ctx context.Context, cl *patch.Client, a *patch.Asset) error {
	a.Normalize()
	if err := a.Validate(); err != nil {
		return err
	}
	if err := a.ValidateFor(cl); err != nil {
		return err
	}
	if a.SiteID != "" {
		var clientID string
		err := tx.queryRow(ctx, `SELECT client_id FROM sites WHERE id = $1`, string(a.SiteID)).Scan(&clientID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && clientID != string(a.ClientID)) {
			return patch.FieldError("site_id", "site %s is not a site of this client", a.SiteID)
		}
		if err != nil {
			return fmt.Errorf("check site: %w", err)
		}
	}
	if a.IdentityKey != "" {
		var id string
		err := tx.queryRow(ctx, `SELECT id FROM assets WHERE client_id = $1 AND identity_key = $2 AND id <> $3`, string(a.ClientID), a.IdentityKey, string(a.ID)).Scan(&id)
		if err == nil {
			return &patch.Error{Kind: patch.KindConflict, Field: "identity_key", Message: fmt.Sprintf("Asset %s already has this hardware identity.", id)}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check identity: %w", err)
		}
	}
	return nil
}

func (tx *Tx) insertAsset(ctx context.Context, a *patch.Asset) error {
	a.CreatedAt, a.UpdatedAt = tx.now, tx.now
	if a.FirstSeen.IsZero() {
		a.FirstSeen = tx.now
	}
	if _, err := tx.exec(ctx, `INSERT INTO assets (`+assetColumns+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)`,
		string(a.ID), string(a.ClientID), nullStr(a.SiteID), a.Hostname, a.FQDN, string(a.OS.Family), a.OS.Name, a.OS.Version, a.OS.Build, a.OS.Kernel, a.OS.Arch,
		string(a.Role), a.Class, a.Owner, a.Location, string(a.Criticality), a.Ring, a.Managed, string(a.Source), a.IdentityKey, a.SerialNumber,
		mustJSON(a.IPAddresses), mustJSON(a.MACAddresses), ms(a.FirstSeen), nullMS(a.LastSeen), ms(a.CreatedAt), ms(a.UpdatedAt)); err != nil {
		return fmt.Errorf("insert asset: %w", err)
	}
	return tx.writeTags(ctx, a)
}

func (tx *Tx) updateAssetRow(ctx context.Context, a *patch.Asset) error {
	a.UpdatedAt = tx.now
	if _, err := tx.exec(ctx, `UPDATE assets SET site_id = $2, hostname = $3, fqdn = $4, os_family = $5, os_name = $6, os_version = $7, os_build = $8,
		os_kernel = $9, os_arch = $10, role = $11, class = $12, owner = $13, location = $14, criticality = $15, ring = $16, managed = $17, source = $18,
		identity_key = $19, serial_number = $20, ip_addresses = $21, mac_addresses = $22, first_seen = $23, last_seen = $24, updated_at = $25 WHERE id = $1`,
		string(a.ID), nullStr(a.SiteID), a.Hostname, a.FQDN, string(a.OS.Family), a.OS.Name, a.OS.Version, a.OS.Build,
		a.OS.Kernel, a.OS.Arch, string(a.Role), a.Class, a.Owner, a.Location, string(a.Criticality), a.Ring, a.Managed, string(a.Source),
		a.IdentityKey, a.SerialNumber, mustJSON(a.IPAddresses), mustJSON(a.MACAddresses), ms(a.FirstSeen), nullMS(a.LastSeen), ms(a.UpdatedAt)); err != nil {
		return fmt.Errorf("update asset: %w", err)
	}
	return tx.writeTags(ctx, a)
}

func (tx *Tx) writeTags(ctx context.Context, a *patch.Asset) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_tags WHERE asset_id = $1`, string(a.ID)); err != nil {
		return fmt.Errorf("clear asset tags: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
		if _, err := tx.exec(ctx, `INSERT INTO asset_tags (asset_id, client_id, key, value) VALUES ($1, $2, $3, $4)`, string(a.ID), string(a.ClientID), k, a.Tags[k]); err != nil {
			return fmt.Errorf("insert asset tag %s: %w", k, err)
		}
	}
	return nil
}

// CreateAsset stores a new asset.
func (db *DB) CreateAsset(ctx context.Context, a *patch.Asset) error {
	return db.inTx(ctx, func(tx *Tx) error {
		cl, err := tx.clientForUpdate(ctx, a.ClientID)
		if err != nil {
			return err
		}
		if err := tx.checkAsset(ctx, cl, a); err != nil {
			return err
		}
		if err := tx.insertAsset(ctx, a); err != nil {
			return err
		}
		return tx.audit(ctx, a.ClientID, "asset.create", "asset", string(a.ID), nil, a)
	})
}

// UpdateAsset applies a partial update.
func (db *DB) UpdateAsset(ctx context.Context, id patch.AssetID, upd patch.AssetUpdate) (*patch.Asset, error) {
	var out *patch.Asset
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.assetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		cl, err := tx.clientForUpdate(ctx, before.ClientID)
		if err != nil {
			return err
		}
		after := cloneAsset(before)
		upd.Apply(after)
		if err := tx.checkAsset(ctx, cl, after); err != nil {
			return err
		}
		if err := tx.updateAssetRow(ctx, after); err != nil {
			return err
		}
		out = after
		return tx.audit(ctx, after.ClientID, "asset.update", "asset", string(id), before, after)
	})
	return out, err
}

// DeleteAsset removes an asset.
func (db *DB) DeleteAsset(ctx context.Context, id patch.AssetID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.assetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.deleteAssetRows(ctx, id); err != nil {
			return err
		}
		return tx.audit(ctx, before.ClientID, "asset.delete", "asset", string(id), before, nil)
	})
}

// deleteAssetRows removes an asset and every row that belongs to it.
func (tx *Tx) deleteAssetRows(ctx context.Context, id patch.AssetID) error {
	for _, q := range assetDependents {
		if _, err := tx.exec(ctx, q, string(id)); err != nil {
			return fmt.Errorf("delete asset %s: %w", id, err)
		}
	}
	return nil
}

// assetDependents are the statements that delete an asset and its rows, in
// order. Later migrations' tables that reference assets add theirs here.
var assetDependents = []string{
	`DELETE FROM findings WHERE asset_id = $1`,
	`DELETE FROM scan_status WHERE asset_id = $1`,
	`DELETE FROM asset_tags WHERE asset_id = $1`,
	`DELETE FROM agent_jobs WHERE asset_id = $1`,
	`DELETE FROM agent_results WHERE asset_id = $1`,
	`DELETE FROM installed_software WHERE asset_id = $1`,
	`DELETE FROM asset_inventory WHERE asset_id = $1`,
	`DELETE FROM asset_identities WHERE asset_id = $1`,
	`DELETE FROM agents WHERE asset_id = $1`,
	`DELETE FROM monitor_states WHERE asset_id = $1`,
	`DELETE FROM monitor_events WHERE asset_id = $1`,
	`DELETE FROM assets WHERE id = $1`,
}

func cloneAsset(a *patch.Asset) *patch.Asset {
	c := *a
	c.Tags = maps.Clone(a.Tags)
	c.IPAddresses = slices.Clone(a.IPAddresses)
	c.MACAddresses = slices.Clone(a.MACAddresses)
	return &c
}

// ImportAssets creates or updates many assets in one transaction.
func (db *DB) ImportAssets(ctx context.Context, clientID patch.ClientID, rows []patch.AssetImportRow) (patch.ImportResult, error) {
	var res patch.ImportResult
	err := db.inTx(ctx, func(tx *Tx) error {
		res = patch.ImportResult{}
		cl, err := tx.clientForUpdate(ctx, clientID)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := tx.importRow(ctx, cl, row, &res); err != nil {
				if pe, ok := errors.AsType[*patch.Error](err); ok {
					return &patch.Error{Kind: pe.Kind, Field: lineField(row.Line, pe.Field), Message: fmt.Sprintf("Line %d: %s", row.Line, pe.Message), Err: pe.Err}
				}
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
		}
		return tx.audit(ctx, clientID, "asset.import", "client", string(clientID), nil, res)
	})
	return res, err
}

func lineField(line int, field string) string {
	if field == "" {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("line %d: %s", line, field)
}

func (tx *Tx) importRow(ctx context.Context, cl *patch.Client, row patch.AssetImportRow, res *patch.ImportResult) error {
	var existing *patch.Asset
	switch {
	case row.ID != "":
		a, err := tx.assetForUpdate(ctx, row.ID)
		if err != nil {
			return err
		}
		if a.ClientID != cl.ID {
			return notFound("Asset", row.ID)
		}
		existing = a
	case row.Fields.Hostname != nil:
		ids, err := tx.assetIDsByHostname(ctx, cl.ID, strings.ToLower(strings.TrimSpace(*row.Fields.Hostname)))
		if err != nil {
			return err
		}
		switch len(ids) {
		case 0:
		case 1:
			if existing, err = tx.assetForUpdate(ctx, ids[0]); err != nil {
				return err
			}
		default:
			return &patch.Error{Kind: patch.KindConflict, Field: "hostname", Message: fmt.Sprintf("hostname %q matches %d assets; add an id column to say which", *row.Fields.Hostname, len(ids))}
		}
	default:
		return patch.FieldError("hostname", "is required (or an id)")
	}
	if existing != nil {
		after := cloneAsset(existing)
		row.Fields.Apply(after)
		if err := tx.checkAsset(ctx, cl, after); err != nil {
			return err
		}
		if err := tx.updateAssetRow(ctx, after); err != nil {
			return err
		}
		res.Updated++
		return tx.audit(ctx, cl.ID, "asset.update", "asset", string(after.ID), existing, after)
	}
	a := &patch.Asset{ID: patch.AssetID(patch.NewID(patch.PrefixAsset, tx.now)), ClientID: cl.ID, Source: patch.SourceImport, Role: patch.RoleWorkstation, Class: patch.ClassWorkstation}
	row.Fields.Apply(a)
	if row.Fields.Class == nil && row.Fields.Role != nil && *row.Fields.Role != patch.RoleWorkstation {
		a.Class = patch.ClassServer
		if *row.Fields.Role == patch.RoleKiosk {
			a.Class = patch.ClassKiosk
		}
	}
	if row.Fields.OS == nil || row.Fields.OS.Family == nil {
		return patch.FieldError("os_family", "is required for a new asset")
	}
	if err := tx.checkAsset(ctx, cl, a); err != nil {
		return err
	}
	if err := tx.insertAsset(ctx, a); err != nil {
		return err
	}
	res.Created++
	return tx.audit(ctx, cl.ID, "asset.create", "asset", string(a.ID), nil, a)
}

func (tx *Tx) assetIDsByHostname(ctx context.Context, clientID patch.ClientID, hostname string) ([]patch.AssetID, error) {
	rows, err := tx.query(ctx, `SELECT id FROM assets WHERE client_id = $1 AND hostname = $2 ORDER BY id`, string(clientID), hostname)
	if err != nil {
		return nil, fmt.Errorf("find assets by hostname: %w", err)
	}
	defer rows.Close()
	var ids []patch.AssetID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan asset id: %w", err)
		}
		ids = append(ids, patch.AssetID(id))
	}
	return ids, rows.Err()
}
