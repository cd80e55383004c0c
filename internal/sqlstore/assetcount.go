package sqlstore

import (
	"context"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// CountAssets aggregates assets per client, OS family, class and managed
// flag in one grouped query, so a dashboard over tens of thousands of
// assets reads a few dozen rows.
func (db *DB) CountAssets(ctx context.Context, f patch.AssetCountFilter) ([]patch.AssetCount, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	// The stale threshold is the first parameter; -1 when unused so that no
	// last_seen (all are >= 0) is below it.
	stale := int64(-1)
	if !f.StaleBefore.IsZero() {
		stale = ms(f.StaleBefore)
	}
	c.args = append(c.args, stale)
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	q := `SELECT client_id, os_family, class, managed, COUNT(*),
		CAST(SUM(CASE WHEN managed AND CAST($1 AS BIGINT) >= 0 AND (last_seen IS NULL OR last_seen < CAST($1 AS BIGINT)) THEN 1 ELSE 0 END) AS BIGINT)
		FROM assets` + c.where() + `
		GROUP BY client_id, os_family, class, managed
		ORDER BY client_id, os_family, class, managed`
	rows, err := db.read.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("count assets: %w", err))
	}
	defer rows.Close()
	var out []patch.AssetCount
	for rows.Next() {
		var r patch.AssetCount
		if err := rows.Scan(&r.ClientID, &r.OSFamily, &r.Class, &r.Managed, &r.Count, &r.Stale); err != nil {
			return nil, db.classify(fmt.Errorf("scan asset count: %w", err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read asset counts: %w", err))
	}
	return out, nil
}
