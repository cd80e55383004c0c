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

const agentColumns = `id, client_id, asset_id, enrollment_id, public_key, hostname, version, protocol, remote_addr, inventory_hash,
	enrolled_at, last_check_in, expected_by, outbox_length, outbox_dropped, refused_jobs, last_error, last_scan_at, revoked_at, revoked_reason`

func scanAgent(s interface{ Scan(...any) error }, now time.Time, extra ...any) (*patch.Agent, error) {
	var (
		a                                 patch.Agent
		enrolled                          int64
		lastCheckIn, expected, scan, revo sql.NullInt64
	)
	if err := s.Scan(append([]any{&a.ID, &a.ClientID, &a.AssetID, &a.EnrollmentID, &a.PublicKey, &a.Hostname, &a.Version, &a.Protocol,
		&a.RemoteAddr, &a.InventoryHash, &enrolled, &lastCheckIn, &expected, &a.OutboxLength, &a.OutboxDropped, &a.RefusedJobs,
		&a.LastError, &scan, &revo, &a.RevokedReason}, extra...)...); err != nil {
		return nil, err
	}
	a.EnrolledAt, a.LastCheckIn, a.ExpectedBy = fromMS(enrolled), fromNullMS(lastCheckIn), fromNullMS(expected)
	a.LastScanAt, a.RevokedAt = fromNullMS(scan), fromNullMS(revo)
	a.Status = a.StatusAt(now)
	return &a, nil
}

// AuthenticateAgent returns an agent that may connect.
func (db *DB) AuthenticateAgent(ctx context.Context, id patch.AgentID) (*patch.Agent, error) {
	if !patch.ValidID(patch.PrefixAgent, string(id)) {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Unknown agent; enroll it again.")
	}
	a, err := scanAgent(db.read.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, string(id)), db.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Unknown agent; enroll it again.")
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("query agent: %w", err))
	}
	if !a.RevokedAt.IsZero() {
		return nil, agentRevoked(a.ID)
	}
	return a, nil
}

func agentRevoked(id patch.AgentID) error {
	return patch.Errorf(patch.KindForbidden, "Agent %s has been revoked; enroll the machine again to manage it.", id)
}

// FindAgentByID returns an agent in scope.
func (db *DB) FindAgentByID(ctx context.Context, id patch.AgentID) (*patch.Agent, error) {
	as, _, err := db.FindAgents(ctx, patch.AgentFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, notFound("Agent", id)
	}
	return as[0], nil
}

// FindAgents lists agents in scope, newest enrollment first.
func (db *DB) FindAgents(ctx context.Context, f patch.AgentFilter) ([]*patch.Agent, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	now := db.Now()
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.Status != nil {
		switch *f.Status {
		case patch.AgentRevoked:
			c.add("revoked_at IS NOT NULL")
		case patch.AgentOnline:
			c.add("revoked_at IS NULL AND expected_by > ?", ms(now))
		case patch.AgentOffline:
			c.add("revoked_at IS NULL AND (expected_by IS NULL OR expected_by <= ?)", ms(now))
		default:
			return nil, 0, patch.FieldError("status", "must be one of online, offline, revoked (got %q)", string(*f.Status))
		}
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+agentColumns+`, COUNT(*) OVER () FROM agents`+where+` ORDER BY enrolled_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query agents: %w", err))
	}
	defer rows.Close()
	var out []*patch.Agent
	total := 0
	for rows.Next() {
		a, err := scanAgent(rows, now, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan agent: %w", err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read agents: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "agents", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

func (tx *Tx) agentForUpdate(ctx context.Context, id patch.AgentID) (*patch.Agent, error) {
	a, err := scanAgent(tx.queryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)), tx.now)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(a.ClientID)) {
		return nil, notFound("Agent", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query agent %s: %w", id, err)
	}
	return a, nil
}

// RevokeAgent revokes an agent's key.
func (db *DB) RevokeAgent(ctx context.Context, id patch.AgentID, reason string) (*patch.Agent, error) {
	var out *patch.Agent
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.revokeAgent(ctx, id, reason)
		return err
	})
	return out, err
}

// revokeAgent revokes an agent (audited) and expires its open jobs.
func (tx *Tx) revokeAgent(ctx context.Context, id patch.AgentID, reason string) (*patch.Agent, error) {
	before, err := tx.agentForUpdate(ctx, id)
	if err != nil {
		return nil, err
	}
	if !before.RevokedAt.IsZero() {
		return before, nil
	}
	reason = truncate(strings.TrimSpace(reason), 500)
	if reason == "" {
		reason = "revoked by " + tx.actor.Name
	}
	after := *before
	after.RevokedAt, after.RevokedReason, after.Status = tx.now, reason, patch.AgentRevoked
	if _, err := tx.exec(ctx, `UPDATE agents SET revoked_at = $2, revoked_reason = $3 WHERE id = $1`, string(id), ms(tx.now), reason); err != nil {
		return nil, fmt.Errorf("revoke agent: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE agent_jobs SET state = $2, completed_at = $3 WHERE agent_id = $1 AND state IN ('pending', 'delivered')`,
		string(id), string(patch.JobExpired), ms(tx.now)); err != nil {
		return nil, fmt.Errorf("expire jobs of revoked agent: %w", err)
	}
	return &after, tx.audit(ctx, before.ClientID, "agent.revoke", "agent", string(id), before, &after)
}

// activeAgentIDs lists the agents of an asset that are not revoked.
func (tx *Tx) activeAgentIDs(ctx context.Context, asset patch.AssetID) ([]patch.AgentID, error) {
	rows, err := tx.query(ctx, `SELECT id FROM agents WHERE asset_id = $1 AND revoked_at IS NULL ORDER BY id`, string(asset))
	if err != nil {
		return nil, fmt.Errorf("query agents of asset: %w", err)
	}
	defer rows.Close()
	var ids []patch.AgentID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan agent id: %w", err)
		}
		ids = append(ids, patch.AgentID(id))
	}
	return ids, rows.Err()
}

// UseNonce remembers a nonce of the agent in ctx.
func (db *DB) UseNonce(ctx context.Context, nonce string, expires time.Time) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if tx.actor.Kind != patch.ActorAgent {
			return patch.Errorf(patch.KindForbidden, "Only agents use request nonces.")
		}
		return tx.useNonce(ctx, tx.actor.ID, nonce, expires)
	})
}

func (tx *Tx) useNonce(ctx context.Context, principal, nonce string, expires time.Time) error {
	if nonce == "" || len(nonce) > 64 {
		return patch.FieldError("nonce", "must be 1 to 64 characters")
	}
	res, err := tx.exec(ctx, `INSERT INTO agent_nonces (principal, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (principal, nonce) DO NOTHING`,
		principal, nonce, ms(expires))
	if err != nil {
		return fmt.Errorf("remember nonce: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("remember nonce: %w", err)
	} else if n == 0 {
		return patch.Errorf(patch.KindConflict, "This request was seen before (replayed nonce).")
	}
	return nil
}

// selfAgent checks that an agent actor acts for itself.
func (tx *Tx) selfAgent(id patch.AgentID) error {
	if tx.actor.Kind == patch.ActorAgent && tx.actor.ID != string(id) {
		return patch.Errorf(patch.KindForbidden, "An agent can only report for itself.")
	}
	return nil
}

// client reads a client without locking it (check-ins must not serialise
// on the client row).
func (tx *Tx) client(ctx context.Context, id patch.ClientID) (*patch.Client, error) {
	cl, err := scanClient(tx.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, string(id)))
	if err != nil {
		return nil, fmt.Errorf("query client %s: %w", id, err)
	}
	return cl, nil
}

// RecordCheckIn applies one check-in atomically.
func (db *DB) RecordCheckIn(ctx context.Context, c patch.CheckIn) (*patch.CheckInOutcome, error) {
	var out *patch.CheckInOutcome
	err := db.inTx(ctx, func(tx *Tx) error {
		out = &patch.CheckInOutcome{}
		if err := tx.selfAgent(c.AgentID); err != nil {
			return err
		}
		ag, err := tx.agentForUpdate(ctx, c.AgentID)
		if err != nil {
			return err
		}
		if !ag.RevokedAt.IsZero() {
			return agentRevoked(ag.ID)
		}
		asset, err := tx.assetForUpdate(ctx, ag.AssetID)
		if err != nil {
			return err
		}
		hash := ag.InventoryHash
		if c.Inventory != nil {
			cl, err := tx.client(ctx, asset.ClientID)
			if err != nil {
				return err
			}
			facts := c.Inventory.Facts
			facts.Sanitize()
			after, err := tx.applyFacts(ctx, cl, asset, &facts)
			if err != nil {
				return err
			}
			if factsChanged(asset, after) {
				if err := tx.audit(ctx, asset.ClientID, "asset.agent_update", "asset", string(asset.ID), asset, after); err != nil {
					return err
				}
			}
			asset = after
			if err := tx.storeInventory(ctx, asset, c.Inventory); err != nil {
				return err
			}
			hash = c.Inventory.Hash
		} else {
			// A heartbeat: only when it was last seen, which is telemetry,
			// not a change to audit.
			if _, err := tx.exec(ctx, `UPDATE assets SET last_seen = $2, managed = $3, source = $4 WHERE id = $1`,
				string(asset.ID), ms(tx.now), true, string(patch.SourceAgent)); err != nil {
				return fmt.Errorf("touch asset: %w", err)
			}
			asset.LastSeen, asset.Managed, asset.Source = tx.now, true, patch.SourceAgent
		}
		r := c.Report
		if _, err := tx.exec(ctx, `UPDATE agents SET last_check_in = $2, expected_by = $3, version = $4, protocol = $5, remote_addr = $6,
				hostname = $7, inventory_hash = $8, outbox_length = $9, outbox_dropped = $10, refused_jobs = $11, last_error = $12,
				last_scan_at = $13 WHERE id = $1`,
			string(ag.ID), ms(tx.now), nullMS(c.ExpectedBy), truncate(c.Version, 100), c.Protocol, truncate(c.RemoteAddr, 100),
			asset.Hostname, hash, r.OutboxLength, r.OutboxDropped, r.RefusedJobs, truncate(r.LastError, 2000), nullMS(r.LastScanAt)); err != nil {
			return fmt.Errorf("update agent: %w", err)
		}
		if out.Results, err = tx.recordResults(ctx, ag, asset, c.Results); err != nil {
			return err
		}
		if out.Jobs, err = tx.deliverJobs(ctx, ag.ID, c.MaxJobs, c.RedeliverAfter); err != nil {
			return err
		}
		out.InventoryNeeded = c.InventoryHash != "" && c.InventoryHash != hash
		out.Agent, err = tx.agentForUpdate(ctx, ag.ID)
		return err
	})
	return out, err
}

// RecordResults stores results delivered outside a check-in.
func (db *DB) RecordResults(ctx context.Context, rs []patch.AgentResult) ([]patch.ResultOutcome, error) {
	var out []patch.ResultOutcome
	err := db.inTx(ctx, func(tx *Tx) error {
		if tx.actor.Kind != patch.ActorAgent {
			return patch.Errorf(patch.KindForbidden, "Only agents deliver results.")
		}
		ag, err := tx.agentForUpdate(ctx, patch.AgentID(tx.actor.ID))
		if err != nil {
			return err
		}
		if !ag.RevokedAt.IsZero() {
			return agentRevoked(ag.ID)
		}
		asset, err := tx.assetForUpdate(ctx, ag.AssetID)
		if err != nil {
			return err
		}
		out, err = tx.recordResults(ctx, ag, asset, rs)
		return err
	})
	return out, err
}

// recordResults stores results idempotently by id and applies the new ones:
// scans to the asset's findings (unless older than a scan already applied),
// job outcomes to their jobs.
func (tx *Tx) recordResults(ctx context.Context, ag *patch.Agent, asset *patch.Asset, rs []patch.AgentResult) ([]patch.ResultOutcome, error) {
	out := make([]patch.ResultOutcome, 0, len(rs))
	for _, r := range rs {
		o := patch.ResultOutcome{ID: r.ID}
		res, err := tx.exec(ctx, `INSERT INTO agent_results (id, client_id, asset_id, agent_id, job_id, kind, status, error, started_at, finished_at, received_at, document)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
			r.ID, string(asset.ClientID), string(asset.ID), string(ag.ID), string(r.JobID), r.Kind, r.Status, truncate(r.Error, 2000),
			nullMS(r.StartedAt), ms(r.FinishedAt), ms(tx.now), string(r.Document))
		if err != nil {
			return nil, fmt.Errorf("store result %s: %w", r.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("store result %s: %w", r.ID, err)
		} else if n == 0 {
			o.Duplicate = true
			out = append(out, o)
			continue
		}
		if r.Scan != nil {
			applied, err := tx.applyAgentScan(ctx, asset, r, &o)
			if err != nil {
				return nil, err
			}
			if applied {
				if _, err := tx.exec(ctx, `UPDATE agent_results SET applied = $2 WHERE id = $1`, r.ID, true); err != nil {
					return nil, fmt.Errorf("mark result applied: %w", err)
				}
			}
		}
		if r.JobID != "" {
			state := patch.JobFailed
			switch r.Status {
			case "succeeded":
				state = patch.JobSucceeded
			case "partial":
				state = patch.JobPartial
			case "refused":
				state = patch.JobRefused
			}
			if _, err := tx.exec(ctx, `UPDATE agent_jobs SET state = $3, completed_at = $4, result_id = $5
				WHERE id = $1 AND agent_id = $2 AND state IN ('pending', 'delivered')`,
				string(r.JobID), string(ag.ID), string(state), ms(tx.now), r.ID); err != nil {
				return nil, fmt.Errorf("complete job %s: %w", r.JobID, err)
			}
			if err := tx.rolloutResult(ctx, asset, r); err != nil { // rollout.go
				return nil, err
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// applyAgentScan applies a scan result to the asset's findings unless a
// later scan of the same sources was applied already (results delivered
// late from an outbox must not reopen what a newer scan resolved).
func (tx *Tx) applyAgentScan(ctx context.Context, asset *patch.Asset, r patch.AgentResult, o *patch.ResultOutcome) (bool, error) {
	s := *r.Scan
	s.AssetID = asset.ID
	if s.At.IsZero() || s.At.After(tx.now) {
		s.At = tx.now
	}
	sources := slices.Clone(s.Sources)
	for src := range s.Failed {
		sources = append(sources, src)
	}
	if len(sources) > 0 {
		ph := make([]string, len(sources))
		args := []any{string(asset.ID)}
		for i, src := range sources {
			ph[i] = fmt.Sprintf("$%d", i+2)
			args = append(args, string(src))
		}
		var last sql.NullInt64
		if err := tx.queryRow(ctx, `SELECT MAX(last_attempt) FROM scan_status WHERE asset_id = $1 AND source IN (`+strings.Join(ph, ", ")+`)`, args...).Scan(&last); err != nil {
			return false, fmt.Errorf("read scan status: %w", err)
		}
		if last.Valid && s.At.UTC().Truncate(time.Millisecond).UnixMilli() < last.Int64 {
			o.Stale = true
			return false, nil
		}
	}
	outcome, err := tx.recordScan(ctx, asset, s)
	if err != nil {
		return false, err
	}
	o.Scan = &outcome
	return true, nil
}

const agentJobColumns = `id, client_id, asset_id, agent_id, kind, payload, state, created_by, created_at, expires_at, delivered_at, deliveries, completed_at, result_id`

func scanAgentJob(s interface{ Scan(...any) error }, extra ...any) (*patch.AgentJob, error) {
	var (
		j                    patch.AgentJob
		payload              string
		created, expires     int64
		delivered, completed sql.NullInt64
	)
	if err := s.Scan(append([]any{&j.ID, &j.ClientID, &j.AssetID, &j.AgentID, &j.Kind, &payload, &j.State, &j.CreatedBy, &created, &expires,
		&delivered, &j.Deliveries, &completed, &j.ResultID}, extra...)...); err != nil {
		return nil, err
	}
	j.Payload = []byte(payload)
	j.CreatedAt, j.ExpiresAt, j.DeliveredAt, j.CompletedAt = fromMS(created), fromMS(expires), fromNullMS(delivered), fromNullMS(completed)
	return &j, nil
}

// CreateAgentJob stores a pending job for an agent.
func (db *DB) CreateAgentJob(ctx context.Context, j *patch.AgentJob) error {
	return db.inTx(ctx, func(tx *Tx) error {
		ag, err := tx.agentForUpdate(ctx, j.AgentID)
		if err != nil {
			return err
		}
		if !ag.RevokedAt.IsZero() {
			return patch.Errorf(patch.KindConflict, "Agent %s is revoked; it will not take jobs.", ag.ID)
		}
		if j.Kind == "" || len(j.Kind) > 40 {
			return patch.FieldError("kind", "is required")
		}
		if !j.ExpiresAt.After(tx.now) {
			return patch.FieldError("expires_at", "must be in the future")
		}
		j.ClientID, j.AssetID, j.State, j.CreatedAt = ag.ClientID, ag.AssetID, patch.JobPending, tx.now
		j.DeliveredAt, j.CompletedAt, j.Deliveries, j.ResultID = time.Time{}, time.Time{}, 0, ""
		if j.CreatedBy == "" {
			j.CreatedBy = tx.actor.Name
		}
		if len(j.Payload) == 0 {
			j.Payload = []byte("{}")
		}
		if _, err := tx.exec(ctx, `INSERT INTO agent_jobs (`+agentJobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, NULL, '')`,
			string(j.ID), string(j.ClientID), string(j.AssetID), string(j.AgentID), j.Kind, string(j.Payload), string(j.State), j.CreatedBy,
			ms(j.CreatedAt), ms(j.ExpiresAt)); err != nil {
			return fmt.Errorf("insert agent job: %w", err)
		}
		return tx.audit(ctx, j.ClientID, "agent_job.create", "agent_job", string(j.ID), nil, j)
	})
}

// FindAgentJobs lists jobs in scope, newest first.
func (db *DB) FindAgentJobs(ctx context.Context, f patch.AgentJobFilter) ([]*patch.AgentJob, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.AgentID != nil {
		c.add("agent_id = ?", string(*f.AgentID))
	}
	if f.State != nil {
		c.add("state = ?", string(*f.State))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+agentJobColumns+`, COUNT(*) OVER () FROM agent_jobs`+where+` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query agent jobs: %w", err))
	}
	defer rows.Close()
	var out []*patch.AgentJob
	total := 0
	for rows.Next() {
		j, err := scanAgentJob(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan agent job: %w", err))
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read agent jobs: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "agent_jobs", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// deliverJobs expires the agent's overdue jobs and hands out pending ones
// (and delivered ones whose result is overdue), marking them delivered.
func (tx *Tx) deliverJobs(ctx context.Context, agent patch.AgentID, max int, redeliverAfter time.Duration) ([]*patch.AgentJob, error) {
	if _, err := tx.exec(ctx, `UPDATE agent_jobs SET state = $2, completed_at = $3 WHERE agent_id = $1 AND state IN ('pending', 'delivered') AND expires_at <= $3`,
		string(agent), string(patch.JobExpired), ms(tx.now)); err != nil {
		return nil, fmt.Errorf("expire jobs: %w", err)
	}
	if max <= 0 {
		return nil, nil
	}
	rows, err := tx.query(ctx, `SELECT `+agentJobColumns+` FROM agent_jobs
		WHERE agent_id = $1 AND (state = 'pending' OR (state = 'delivered' AND delivered_at <= $2)) ORDER BY created_at, id LIMIT $3`,
		string(agent), ms(tx.now.Add(-redeliverAfter)), max)
	if err != nil {
		return nil, fmt.Errorf("query pending jobs: %w", err)
	}
	var jobs []*patch.AgentJob
	for rows.Next() {
		j, err := scanAgentJob(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan job: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending jobs: %w", err)
	}
	for _, j := range jobs {
		if _, err := tx.exec(ctx, `UPDATE agent_jobs SET state = $2, delivered_at = $3, deliveries = deliveries + 1 WHERE id = $1`,
			string(j.ID), string(patch.JobDelivered), ms(tx.now)); err != nil {
			return nil, fmt.Errorf("mark job delivered: %w", err)
		}
		j.State, j.DeliveredAt = patch.JobDelivered, tx.now
		j.Deliveries++
	}
	return jobs, tx.rolloutDelivered(ctx, jobs) // rollout.go
}

// PruneAgentData deletes expired nonces and old delivered results, and
// expires jobs past their expiry.
func (db *DB) PruneAgentData(ctx context.Context, nonces, results time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		n = 0
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only the server prunes agent data.")
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM agent_nonces WHERE expires_at < $1`, []any{ms(nonces)}},
			{`DELETE FROM agent_results WHERE received_at < $1`, []any{ms(results)}},
			{`UPDATE agent_jobs SET state = $1, completed_at = $2 WHERE state IN ('pending', 'delivered') AND expires_at <= $2`, []any{string(patch.JobExpired), ms(tx.now)}},
		} {
			res, err := tx.exec(ctx, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("prune agent data: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}
