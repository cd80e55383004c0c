package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

const enrollmentColumns = `id, client_id, site_id, class, name, hash, hint, max_uses, uses, created_by, created_at, expires_at, revoked_at, last_used_at`

func scanEnrollmentSecret(s interface{ Scan(...any) error }, extra ...any) (*patch.EnrollmentSecret, error) {
	var (
		e              patch.EnrollmentSecret
		site           sql.NullString
		created        int64
		exp, rev, used sql.NullInt64
	)
	if err := s.Scan(append([]any{&e.ID, &e.ClientID, &site, &e.Class, &e.Name, &e.Hash, &e.Hint, &e.MaxUses, &e.Uses, &e.CreatedBy,
		&created, &exp, &rev, &used}, extra...)...); err != nil {
		return nil, err
	}
	e.SiteID = patch.SiteID(site.String)
	e.CreatedAt, e.ExpiresAt, e.RevokedAt, e.LastUsedAt = fromMS(created), fromNullMS(exp), fromNullMS(rev), fromNullMS(used)
	return &e, nil
}

// CreateEnrollmentSecret stores a new enrollment secret.
func (db *DB) CreateEnrollmentSecret(ctx context.Context, e *patch.EnrollmentSecret) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := e.Validate(); err != nil {
			return err
		}
		if e.Hash == "" {
			return fmt.Errorf("enrollment secret %s has no hash", e.ID)
		}
		cl, err := tx.clientForUpdate(ctx, e.ClientID)
		if err != nil {
			return err
		}
		if e.Class != "" {
			if _, ok := cl.Class(e.Class); !ok {
				return patch.FieldError("class", "%q is not an asset class of client %s", e.Class, cl.Name)
			}
		}
		if e.SiteID != "" {
			var clientID string
			err := tx.queryRow(ctx, `SELECT client_id FROM sites WHERE id = $1`, string(e.SiteID)).Scan(&clientID)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && clientID != string(e.ClientID)) {
				return patch.FieldError("site_id", "site %s is not a site of this client", e.SiteID)
			}
			if err != nil {
				return fmt.Errorf("check site: %w", err)
			}
		}
		e.CreatedAt, e.Uses, e.RevokedAt, e.LastUsedAt = tx.now, 0, time.Time{}, time.Time{}
		if e.CreatedBy == "" {
			e.CreatedBy = tx.actor.Name
		}
		if _, err := tx.exec(ctx, `INSERT INTO enrollment_secrets (`+enrollmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, NULL, NULL)`,
			string(e.ID), string(e.ClientID), nullStr(e.SiteID), e.Class, e.Name, e.Hash, e.Hint, e.MaxUses, e.CreatedBy,
			ms(e.CreatedAt), nullMS(e.ExpiresAt)); err != nil {
			return fmt.Errorf("insert enrollment secret: %w", err)
		}
		return tx.audit(ctx, e.ClientID, "enrollment_secret.create", "enrollment_secret", string(e.ID), nil, e)
	})
}

// FindEnrollmentSecretByID returns a secret in scope.
func (db *DB) FindEnrollmentSecretByID(ctx context.Context, id patch.EnrollmentSecretID) (*patch.EnrollmentSecret, error) {
	es, _, err := db.FindEnrollmentSecrets(ctx, patch.EnrollmentSecretFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, notFound("Enrollment secret", id)
	}
	return es[0], nil
}

// FindEnrollmentSecrets lists secrets in scope, newest first.
func (db *DB) FindEnrollmentSecrets(ctx context.Context, f patch.EnrollmentSecretFilter) ([]*patch.EnrollmentSecret, int, error) {
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
	if f.Active != nil {
		now := ms(db.Now())
		active := "(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (max_uses = 0 OR uses < max_uses))"
		if *f.Active {
			c.add(active, now)
		} else {
			c.add("NOT "+active, now)
		}
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+enrollmentColumns+`, COUNT(*) OVER () FROM enrollment_secrets`+where+` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query enrollment secrets: %w", err))
	}
	defer rows.Close()
	var out []*patch.EnrollmentSecret
	total := 0
	for rows.Next() {
		e, err := scanEnrollmentSecret(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan enrollment secret: %w", err))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read enrollment secrets: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "enrollment_secrets", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// RevokeEnrollmentSecret revokes a secret.
func (db *DB) RevokeEnrollmentSecret(ctx context.Context, id patch.EnrollmentSecretID) (*patch.EnrollmentSecret, error) {
	var out *patch.EnrollmentSecret
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := scanEnrollmentSecret(tx.queryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollment_secrets WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(before.ClientID)) {
			return notFound("Enrollment secret", id)
		}
		if err != nil {
			return fmt.Errorf("query enrollment secret: %w", err)
		}
		out = before
		if !before.RevokedAt.IsZero() {
			return nil
		}
		after := *before
		after.RevokedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE enrollment_secrets SET revoked_at = $2 WHERE id = $1`, string(id), ms(tx.now)); err != nil {
			return fmt.Errorf("revoke enrollment secret: %w", err)
		}
		out = &after
		return tx.audit(ctx, before.ClientID, "enrollment_secret.revoke", "enrollment_secret", string(id), before, &after)
	})
	return out, err
}

// secretRefused is the uniform refusal of an enrollment secret; Err says
// why, for metrics, and never reaches the agent.
func secretRefused(why error) error {
	return &patch.Error{Kind: patch.KindUnauthenticated, Message: "The enrollment secret is invalid, expired, used up or revoked; ask your MSP for a new one.", Err: why}
}

// Enroll redeems an enrollment secret and stores a new agent.
func (db *DB) Enroll(ctx context.Context, e patch.Enrollment) (*patch.EnrollmentResult, error) {
	// Learn the secret's client first, without a lock, so that the
	// transaction can act as the new agent of that client.
	var clientID string
	err := db.read.QueryRowContext(ctx, `SELECT client_id FROM enrollment_secrets WHERE hash = $1`, e.SecretHash).Scan(&clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, secretRefused(patch.ErrSecretUnknown)
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("look up enrollment secret: %w", err))
	}
	agent := e.Agent
	agent.ClientID = patch.ClientID(clientID)
	actx := patch.NewContextWithActor(ctx, agent.Actor())
	var res *patch.EnrollmentResult
	err = db.inTx(actx, func(tx *Tx) error {
		res = &patch.EnrollmentResult{}
		sec, err := scanEnrollmentSecret(tx.queryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollment_secrets WHERE hash = $1`+tx.db.dialect.ForUpdate, e.SecretHash))
		if errors.Is(err, sql.ErrNoRows) {
			return secretRefused(patch.ErrSecretUnknown)
		}
		if err != nil {
			return fmt.Errorf("lock enrollment secret: %w", err)
		}
		if err := sec.Usable(tx.now); err != nil {
			return secretRefused(err)
		}
		if sec.ClientID != agent.ClientID {
			return secretRefused(patch.ErrSecretUnknown) // moved between the two reads; cannot happen
		}
		if err := tx.useNonce(ctx, "enroll:"+agent.PublicKey, e.Nonce, e.NonceExpires); err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM agents WHERE public_key = $1`, agent.PublicKey).Scan(&n); err != nil {
			return fmt.Errorf("check agent key: %w", err)
		}
		if n > 0 {
			return &patch.Error{Kind: patch.KindConflict, Field: "public_key", Message: "This agent key is already enrolled; generate a new key to enroll again."}
		}
		cl, err := tx.clientForUpdate(ctx, agent.ClientID)
		if err != nil {
			return err
		}
		facts := e.Inventory.Facts
		facts.Sanitize()
		asset, reattached, err := tx.enrollAsset(ctx, cl, sec, facts)
		if err != nil {
			return err
		}
		res.Asset, res.Reattached = asset, reattached
		// The machine's earlier agents lose their keys: one machine, one
		// agent that may speak for it.
		old, err := tx.activeAgentIDs(ctx, asset.ID)
		if err != nil {
			return err
		}
		for _, id := range old {
			if _, err := tx.revokeAgent(ctx, id, "re-enrolled as "+string(agent.ID)); err != nil {
				return err
			}
		}
		res.Revoked = old

		agent.AssetID, agent.EnrollmentID, agent.EnrolledAt = asset.ID, sec.ID, tx.now
		agent.Hostname = asset.Hostname
		agent.InventoryHash = e.Inventory.Hash
		if _, err := tx.exec(ctx, `INSERT INTO agents (id, client_id, asset_id, enrollment_id, public_key, hostname, version, protocol, remote_addr,
				inventory_hash, enrolled_at, expected_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			string(agent.ID), string(agent.ClientID), string(agent.AssetID), string(agent.EnrollmentID), agent.PublicKey, agent.Hostname,
			truncate(agent.Version, 100), agent.Protocol, truncate(agent.RemoteAddr, 100), agent.InventoryHash, ms(agent.EnrolledAt), nullMS(agent.ExpectedBy)); err != nil {
			return fmt.Errorf("insert agent: %w", err)
		}
		agent.Status = agent.StatusAt(tx.now)
		res.Agent = &agent
		if err := tx.storeInventory(ctx, asset, &e.Inventory); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE enrollment_secrets SET uses = uses + 1, last_used_at = $2 WHERE id = $1`, string(sec.ID), ms(tx.now)); err != nil {
			return fmt.Errorf("count enrollment: %w", err)
		}
		return tx.audit(ctx, agent.ClientID, "agent.enroll", "agent", string(agent.ID), nil, res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// enrollAsset finds or creates the asset of an enrolling machine and makes
// it managed by the agent with the reported facts.
func (tx *Tx) enrollAsset(ctx context.Context, cl *patch.Client, sec *patch.EnrollmentSecret, facts patch.AssetFacts) (a *patch.Asset, reattached bool, err error) {
	id, err := tx.assetByIdentity(ctx, cl.ID, facts.IdentityKeys)
	if err != nil {
		return nil, false, err
	}
	if id == "" {
		// An asset registered by hand or imported before the agent was
		// installed: the one unmanaged asset with this host name and no
		// hardware identity yet.
		rows, err := tx.query(ctx, `SELECT id FROM assets WHERE client_id = $1 AND hostname = $2 AND identity_key = '' AND managed = $3 ORDER BY id LIMIT 2`,
			string(cl.ID), facts.Hostname, false)
		if err != nil {
			return nil, false, fmt.Errorf("find asset by hostname: %w", err)
		}
		var ids []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("scan asset id: %w", err)
			}
			ids = append(ids, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, fmt.Errorf("read asset ids: %w", err)
		}
		if len(ids) == 1 {
			id = patch.AssetID(ids[0])
		}
	}
	if id != "" {
		before, err := tx.assetForUpdate(ctx, id)
		if err != nil {
			return nil, false, err
		}
		after, err := tx.applyFacts(ctx, cl, before, &facts)
		if err != nil {
			return nil, false, err
		}
		return after, true, tx.audit(ctx, cl.ID, "asset.enroll", "asset", string(id), before, after)
	}
	a = &patch.Asset{
		ID:          patch.AssetID(patch.NewID(patch.PrefixAsset, tx.now)),
		ClientID:    cl.ID,
		SiteID:      sec.SiteID,
		Role:        facts.Role,
		Class:       enrollClass(cl, sec, facts.Role),
		Criticality: patch.CriticalityMedium,
		Source:      patch.SourceAgent,
		Managed:     true,
		Tags:        map[string]string{},
		FirstSeen:   tx.now,
	}
	setFacts(a, &facts, tx.now)
	if len(facts.IdentityKeys) > 0 {
		a.IdentityKey = facts.IdentityKeys[0]
	}
	if err := tx.checkAsset(ctx, cl, a); err != nil {
		return nil, false, fmt.Errorf("enrolled asset: %w", err)
	}
	if err := tx.insertAsset(ctx, a); err != nil {
		return nil, false, err
	}
	if err := tx.recordIdentities(ctx, a, facts.IdentityKeys); err != nil {
		return nil, false, err
	}
	return a, false, tx.audit(ctx, cl.ID, "asset.create", "asset", string(a.ID), nil, a)
}

// enrollClass picks the class of an asset created by enrollment: the
// secret's class, else the default class of the role if the client has it,
// else the client's first class of the role's kind, else its first class.
func enrollClass(cl *patch.Client, sec *patch.EnrollmentSecret, role patch.AssetRole) string {
	if sec.Class != "" {
		if _, ok := cl.Class(sec.Class); ok {
			return sec.Class
		}
	}
	def := patch.ClassWorkstation
	kind := patch.ClassKindWorkstation
	switch role {
	case patch.RoleServer:
		def, kind = patch.ClassServer, patch.ClassKindServer
	case patch.RoleKiosk:
		def = patch.ClassKiosk
	}
	if _, ok := cl.Class(def); ok {
		return def
	}
	for _, ac := range cl.AssetClasses {
		if ac.Kind == kind {
			return ac.Key
		}
	}
	if len(cl.AssetClasses) > 0 {
		return cl.AssetClasses[0].Key
	}
	return def
}

// assetByIdentity returns the client's asset with any of the identity keys
// (the asset matching the best key wins), or "".
func (tx *Tx) assetByIdentity(ctx context.Context, client patch.ClientID, keys []string) (patch.AssetID, error) {
	if len(keys) == 0 {
		return "", nil
	}
	ph := make([]string, len(keys))
	args := []any{string(client)}
	for i, k := range keys {
		ph[i] = fmt.Sprintf("$%d", i+2)
		args = append(args, k)
	}
	in := strings.Join(ph, ", ")
	rows, err := tx.query(ctx, `SELECT asset_id, key FROM asset_identities WHERE client_id = $1 AND key IN (`+in+`)
		UNION ALL SELECT id, identity_key FROM assets WHERE client_id = $1 AND identity_key IN (`+in+`)`, args...)
	if err != nil {
		return "", fmt.Errorf("find asset by identity: %w", err)
	}
	defer rows.Close()
	best, bestRank := "", len(keys)
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			return "", fmt.Errorf("scan asset identity: %w", err)
		}
		for i, k := range keys {
			if k == key && (i < bestRank || (i == bestRank && id < best)) {
				best, bestRank = id, i
			}
		}
	}
	return patch.AssetID(best), rows.Err()
}

// recordIdentities remembers every identity key reported for an asset. A
// key already known for another asset of the client stays with that asset.
func (tx *Tx) recordIdentities(ctx context.Context, a *patch.Asset, keys []string) error {
	for _, k := range keys {
		if _, err := tx.exec(ctx, `INSERT INTO asset_identities (client_id, key, asset_id, seen_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (client_id, key) DO UPDATE SET seen_at = excluded.seen_at WHERE asset_identities.asset_id = excluded.asset_id`,
			string(a.ClientID), k, string(a.ID), ms(tx.now)); err != nil {
			return fmt.Errorf("record identity key: %w", err)
		}
	}
	return nil
}
