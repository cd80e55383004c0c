package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

const siteColumns = `id, client_id, name, location, time_zone, subnets, created_at, updated_at`

func scanSite(s interface{ Scan(...any) error }, extra ...any) (*patch.Site, error) {
	var (
		st       patch.Site
		subnets  string
		cat, uat int64
	)
	if err := s.Scan(append([]any{&st.ID, &st.ClientID, &st.Name, &st.Location, &st.TimeZone, &subnets, &cat, &uat}, extra...)...); err != nil {
		return nil, err
	}
	if err := fromJSON(subnets, &st.Subnets); err != nil {
		return nil, err
	}
	st.CreatedAt, st.UpdatedAt = fromMS(cat), fromMS(uat)
	return &st, nil
}

// FindSiteByID returns a site in scope.
func (db *DB) FindSiteByID(ctx context.Context, id patch.SiteID) (*patch.Site, error) {
	ss, _, err := db.FindSites(ctx, patch.SiteFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, notFound("Site", id)
	}
	return ss[0], nil
}

// FindSites lists sites in scope, by name.
func (db *DB) FindSites(ctx context.Context, f patch.SiteFilter) ([]*patch.Site, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.Name != nil {
		c.add("LOWER(name) = LOWER(?)", *f.Name)
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+siteColumns+`, COUNT(*) OVER () FROM sites`+where+` ORDER BY LOWER(name), id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query sites: %w", err))
	}
	defer rows.Close()
	var out []*patch.Site
	total := 0
	for rows.Next() {
		s, err := scanSite(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan site: %w", err))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read sites: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "sites", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

func (tx *Tx) siteForUpdate(ctx context.Context, id patch.SiteID) (*patch.Site, error) {
	s, err := scanSite(tx.queryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(s.ClientID)) {
		return nil, notFound("Site", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query site %s: %w", id, err)
	}
	return s, nil
}

func (tx *Tx) checkSiteName(ctx context.Context, s *patch.Site) error {
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM sites WHERE client_id = $1 AND LOWER(name) = LOWER($2) AND id <> $3`, string(s.ClientID), s.Name, string(s.ID)).Scan(&id)
	if err == nil {
		return &patch.Error{Kind: patch.KindConflict, Field: "name", Message: fmt.Sprintf("The client already has a site named %q.", s.Name)}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check site name: %w", err)
	}
	return nil
}

// CreateSite stores a new site.
func (db *DB) CreateSite(ctx context.Context, s *patch.Site) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, s.ClientID); err != nil {
			return err
		}
		if err := tx.checkSiteName(ctx, s); err != nil {
			return err
		}
		s.CreatedAt, s.UpdatedAt = tx.now, tx.now
		if s.Subnets == nil {
			s.Subnets = []string{}
		}
		if _, err := tx.exec(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			string(s.ID), string(s.ClientID), s.Name, s.Location, s.TimeZone, mustJSON(s.Subnets), ms(s.CreatedAt), ms(s.UpdatedAt)); err != nil {
			return fmt.Errorf("insert site: %w", err)
		}
		return tx.audit(ctx, s.ClientID, "site.create", "site", string(s.ID), nil, s)
	})
}

// UpdateSite applies a partial update.
func (db *DB) UpdateSite(ctx context.Context, id patch.SiteID, upd patch.SiteUpdate) (*patch.Site, error) {
	var out *patch.Site
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.siteForUpdate(ctx, id)
		if err != nil {
			return err
		}
		after := *before
		upd.Apply(&after)
		if after.Subnets == nil {
			after.Subnets = []string{}
		}
		if err := after.Validate(); err != nil {
			return err
		}
		if err := tx.checkSiteName(ctx, &after); err != nil {
			return err
		}
		after.UpdatedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE sites SET name = $2, location = $3, time_zone = $4, subnets = $5, updated_at = $6 WHERE id = $1`,
			string(id), after.Name, after.Location, after.TimeZone, mustJSON(after.Subnets), ms(after.UpdatedAt)); err != nil {
			return fmt.Errorf("update site: %w", err)
		}
		out = &after
		return tx.audit(ctx, after.ClientID, "site.update", "site", string(id), before, &after)
	})
	return out, err
}

// DeleteSite removes a site no asset references.
func (db *DB) DeleteSite(ctx context.Context, id patch.SiteID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.siteForUpdate(ctx, id)
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM assets WHERE site_id = $1`, string(id)).Scan(&n); err != nil {
			return fmt.Errorf("count site assets: %w", err)
		}
		if n > 0 {
			return patch.Errorf(patch.KindConflict, "Site %s still has %d assets; move them first.", before.Name, n)
		}
		if _, err := tx.exec(ctx, `DELETE FROM sites WHERE id = $1`, string(id)); err != nil {
			return fmt.Errorf("delete site: %w", err)
		}
		return tx.audit(ctx, before.ClientID, "site.delete", "site", string(id), before, nil)
	})
}
