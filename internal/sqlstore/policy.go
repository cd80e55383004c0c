package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// FindPolicy returns a client's stored policy.
func (db *DB) FindPolicy(ctx context.Context, client patch.ClientID) (*patch.Policy, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.Allows(client) {
		return nil, notFound("Policy of client", client)
	}
	p, err := readPolicy(ctx, db.read, client, "")
	return p, db.classify(err)
}

func readPolicy(ctx context.Context, q querier, client patch.ClientID, lock string) (*patch.Policy, error) {
	var (
		doc       string
		version   int
		updatedAt int64
		updatedBy string
	)
	err := q.QueryRowContext(ctx, `SELECT doc, version, updated_at, updated_by FROM policies WHERE client_id = $1`+lock, string(client)).Scan(&doc, &version, &updatedAt, &updatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Policy of client", client)
	}
	if err != nil {
		return nil, fmt.Errorf("query policy of %s: %w", client, err)
	}
	var p patch.Policy
	if err := fromJSON(doc, &p); err != nil {
		return nil, err
	}
	p.ClientID, p.Version, p.UpdatedAt, p.UpdatedBy = client, version, fromMS(updatedAt), updatedBy
	return &p, nil
}

// PutPolicy stores a client's policy.
func (db *DB) PutPolicy(ctx context.Context, p *patch.Policy) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, p.ClientID); err != nil {
			return err
		}
		before, err := readPolicy(ctx, tx.tx, p.ClientID, tx.db.dialect.ForUpdate)
		stored := 0
		switch {
		case patch.ErrorKind(err) == patch.KindNotFound:
			before = nil
		case err != nil:
			return err
		default:
			stored = before.Version
		}
		if p.Version != 0 && p.Version != stored {
			return &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf(
				"The policy changed since version %d was read (it is at version %d now); read it again, or omit the version to overwrite.", p.Version, stored)}
		}
		p.Version, p.UpdatedAt, p.UpdatedBy = stored+1, tx.now, tx.actor.Name
		if _, err := tx.exec(ctx, `INSERT INTO policies (client_id, version, doc, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (client_id) DO UPDATE SET version = excluded.version, doc = excluded.doc, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			string(p.ClientID), p.Version, mustJSON(p), ms(p.UpdatedAt), p.UpdatedBy); err != nil {
			return fmt.Errorf("store policy: %w", err)
		}
		return tx.audit(ctx, p.ClientID, "policy.update", "policy", string(p.ClientID), before, p)
	})
}

// FindMSPCanary returns the MSP canary ring.
func (db *DB) FindMSPCanary(ctx context.Context) (*patch.MSPCanary, error) {
	if _, err := scopeOf(ctx); err != nil {
		return nil, err
	}
	c, err := readCanary(ctx, db.read, "")
	return c, db.classify(err)
}

func readCanary(ctx context.Context, q querier, lock string) (*patch.MSPCanary, error) {
	var (
		doc     string
		version int
		at      int64
	)
	err := q.QueryRowContext(ctx, `SELECT doc, version, updated_at FROM msp_canary WHERE id = 1`+lock).Scan(&doc, &version, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return &patch.MSPCanary{Assets: []patch.AssetID{}, Tags: []patch.TagRef{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query msp canary: %w", err)
	}
	var c patch.MSPCanary
	if err := fromJSON(doc, &c); err != nil {
		return nil, err
	}
	c.Version, c.UpdatedAt = version, fromMS(at)
	return &c, nil
}

// PutMSPCanary replaces the MSP canary ring.
func (db *DB) PutMSPCanary(ctx context.Context, c *patch.MSPCanary) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can change the MSP canary ring.")
		}
		before, err := readCanary(ctx, tx.tx, tx.db.dialect.ForUpdate)
		if err != nil {
			return err
		}
		if c.Version != 0 && c.Version != before.Version {
			return &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf("The MSP canary ring changed since version %d was read (it is at version %d now).", c.Version, before.Version)}
		}
		if c.Assets == nil {
			c.Assets = []patch.AssetID{}
		}
		if c.Tags == nil {
			c.Tags = []patch.TagRef{}
		}
		c.Version, c.UpdatedAt = before.Version+1, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO msp_canary (id, version, doc, updated_at) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version, doc = excluded.doc, updated_at = excluded.updated_at`,
			c.Version, mustJSON(c), ms(c.UpdatedAt)); err != nil {
			return fmt.Errorf("store msp canary: %w", err)
		}
		var b any
		if before.Version > 0 {
			b = before
		}
		return tx.audit(ctx, "", "msp_canary.update", "msp_canary", "msp", b, c)
	})
}
