package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/patchring/patchring/internal/patch"
)

const clientColumns = `id, name, notes, contact_name, contact_email, asset_classes, created_at, updated_at`

func scanClient(s interface{ Scan(...any) error }, extra ...any) (*patch.Client, error) {
	var (
		c        patch.Client
		classes  string
		cat, uat int64
	)
	dest := append([]any{&c.ID, &c.Name, &c.Notes, &c.ContactName, &c.ContactEmail, &classes, &cat, &uat}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if err := fromJSON(classes, &c.AssetClasses); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(cat), fromMS(uat)
	return &c, nil
}

// FindMSP returns the MSP settings.
func (db *DB) FindMSP(ctx context.Context) (*patch.MSP, error) {
	if _, err := scopeOf(ctx); err != nil {
		return nil, err
	}
	var m patch.MSP
	var cat, uat int64
	err := db.read.QueryRowContext(ctx, `SELECT name, created_at, updated_at FROM msp WHERE id = 1`).Scan(&m.Name, &cat, &uat)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindNotFound, "The MSP has not been set up yet.")
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("query msp: %w", err))
	}
	m.CreatedAt, m.UpdatedAt = fromMS(cat), fromMS(uat)
	return &m, nil
}

// SetMSP creates or replaces the MSP settings.
func (db *DB) SetMSP(ctx context.Context, m *patch.MSP) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can change MSP settings.")
		}
		var before *patch.MSP
		var old patch.MSP
		var cat, uat int64
		err := tx.queryRow(ctx, `SELECT name, created_at, updated_at FROM msp WHERE id = 1`).Scan(&old.Name, &cat, &uat)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			m.CreatedAt = tx.now
		case err != nil:
			return fmt.Errorf("query msp: %w", err)
		default:
			old.CreatedAt, old.UpdatedAt = fromMS(cat), fromMS(uat)
			before = &old
			m.CreatedAt = old.CreatedAt
		}
		m.UpdatedAt = tx.now
		if _, err := tx.exec(ctx, `INSERT INTO msp (id, name, created_at, updated_at) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at`,
			m.Name, ms(m.CreatedAt), ms(m.UpdatedAt)); err != nil {
			return fmt.Errorf("upsert msp: %w", err)
		}
		return tx.audit(ctx, "", "msp.update", "msp", "msp", before, m)
	})
}

// FindClientByID returns a client in scope.
func (db *DB) FindClientByID(ctx context.Context, id patch.ClientID) (*patch.Client, error) {
	cs, _, err := db.FindClients(ctx, patch.ClientFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound("Client", id)
	}
	return cs[0], nil
}

// FindClients lists clients in scope, by name.
func (db *DB) FindClients(ctx context.Context, f patch.ClientFilter) ([]*patch.Client, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.Name != nil {
		c.add("LOWER(name) = LOWER(?)", *f.Name)
	}
	if f.Query != nil {
		c.add(`LOWER(name) LIKE ? ESCAPE '\'`, likePattern(*f.Query))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+clientColumns+`, COUNT(*) OVER () FROM clients`+where+` ORDER BY LOWER(name), id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query clients: %w", err))
	}
	defer rows.Close()
	var out []*patch.Client
	total := 0
	for rows.Next() {
		cl, err := scanClient(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan client: %w", err))
		}
		out = append(out, cl)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read clients: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "clients", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// clientForUpdate reads a client in scope inside a write transaction.
func (tx *Tx) clientForUpdate(ctx context.Context, id patch.ClientID) (*patch.Client, error) {
	if !tx.scope.Allows(id) {
		return nil, notFound("Client", id)
	}
	cl, err := scanClient(tx.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Client", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query client %s: %w", id, err)
	}
	return cl, nil
}

func (tx *Tx) checkClientName(ctx context.Context, name string, except patch.ClientID) error {
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM clients WHERE LOWER(name) = LOWER($1) AND id <> $2`, name, string(except)).Scan(&id)
	if err == nil {
		return &patch.Error{Kind: patch.KindConflict, Field: "name", Message: fmt.Sprintf("A client named %q already exists.", name)}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check client name: %w", err)
	}
	return nil
}

// CreateClient stores a new client.
func (db *DB) CreateClient(ctx context.Context, c *patch.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can create clients.")
		}
		if err := tx.checkClientName(ctx, c.Name, ""); err != nil {
			return err
		}
		c.CreatedAt, c.UpdatedAt = tx.now, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			string(c.ID), c.Name, c.Notes, c.ContactName, c.ContactEmail, mustJSON(c.AssetClasses), ms(c.CreatedAt), ms(c.UpdatedAt)); err != nil {
			return fmt.Errorf("insert client: %w", err)
		}
		return tx.audit(ctx, c.ID, "client.create", "client", string(c.ID), nil, c)
	})
}

// UpdateClient applies a partial update.
func (db *DB) UpdateClient(ctx context.Context, id patch.ClientID, upd patch.ClientUpdate) (*patch.Client, error) {
	var out *patch.Client
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.clientForUpdate(ctx, id)
		if err != nil {
			return err
		}
		after := *before
		upd.Apply(&after)
		if err := after.Validate(); err != nil {
			return err
		}
		if after.Name != before.Name {
			if err := tx.checkClientName(ctx, after.Name, id); err != nil {
				return err
			}
		}
		if err := tx.checkClassesInUse(ctx, id, before.AssetClasses, after.AssetClasses); err != nil {
			return err
		}
		after.UpdatedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE clients SET name = $2, notes = $3, contact_name = $4, contact_email = $5, asset_classes = $6, updated_at = $7 WHERE id = $1`,
			string(id), after.Name, after.Notes, after.ContactName, after.ContactEmail, mustJSON(after.AssetClasses), ms(after.UpdatedAt)); err != nil {
			return fmt.Errorf("update client: %w", err)
		}
		out = &after
		return tx.audit(ctx, id, "client.update", "client", string(id), before, &after)
	})
	return out, err
}

// checkClassesInUse refuses to drop an asset class that assets still use.
func (tx *Tx) checkClassesInUse(ctx context.Context, id patch.ClientID, before, after []patch.AssetClass) error {
	for _, old := range before {
		if slices.ContainsFunc(after, func(ac patch.AssetClass) bool { return ac.Key == old.Key }) {
			continue
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM assets WHERE client_id = $1 AND class = $2`, string(id), old.Key).Scan(&n); err != nil {
			return fmt.Errorf("count assets of class %s: %w", old.Key, err)
		}
		if n > 0 {
			return &patch.Error{Kind: patch.KindConflict, Field: "asset_classes", Message: fmt.Sprintf("Asset class %q is used by %d assets; move them to another class first.", old.Key, n)}
		}
	}
	return nil
}

// DeleteClient removes a client without assets or users, with its sites
// and tokens.
func (db *DB) DeleteClient(ctx context.Context, id patch.ClientID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can delete clients.")
		}
		before, err := tx.clientForUpdate(ctx, id)
		if err != nil {
			return err
		}
		var assets, users int
		if err := tx.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM assets WHERE client_id = $1), (SELECT COUNT(*) FROM users WHERE client_id = $1)`, string(id)).Scan(&assets, &users); err != nil {
			return fmt.Errorf("count client dependents: %w", err)
		}
		if assets > 0 || users > 0 {
			return patch.Errorf(patch.KindConflict, "Client %s still has %d assets and %d users; remove them first.", before.Name, assets, users)
		}
		for _, q := range []string{
			`DELETE FROM api_tokens WHERE client_id = $1`,
			`DELETE FROM enrollment_secrets WHERE client_id = $1`,
			`DELETE FROM alerts WHERE client_id = $1`,
			`DELETE FROM exceptions WHERE client_id = $1`,
			`DELETE FROM tier_overrides WHERE client_id = $1`,
			`DELETE FROM update_decisions WHERE client_id = $1`,
			`DELETE FROM policies WHERE client_id = $1`,
			`DELETE FROM os_baselines WHERE client_id = $1`,
			`DELETE FROM compliance_snapshots WHERE client_id = $1`,
			`DELETE FROM compliance_asset_days WHERE client_id = $1`,
			`DELETE FROM monitor_events WHERE client_id = $1`,
			`DELETE FROM rollout_jobs WHERE client_id = $1`,
			`DELETE FROM deployment_findings WHERE client_id = $1`,
			`DELETE FROM deployments WHERE client_id = $1`,
			`DELETE FROM cycles WHERE client_id = $1`,
			`DELETE FROM tickets WHERE client_id = $1`,
			`DELETE FROM runbooks WHERE client_id = $1`,
			`DELETE FROM notification_deliveries WHERE client_id = $1 OR channel_client_id = $1`,
			`DELETE FROM notification_events WHERE client_id = $1`,
			`DELETE FROM notification_channels WHERE client_id = $1`,
			`DELETE FROM sites WHERE client_id = $1`,
			`DELETE FROM clients WHERE id = $1`,
		} {
			if _, err := tx.exec(ctx, q, string(id)); err != nil {
				return fmt.Errorf("delete client %s: %w", id, err)
			}
		}
		return tx.audit(ctx, id, "client.delete", "client", string(id), before, nil)
	})
}
