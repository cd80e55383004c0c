package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
)

// Rollout storage: cycles, deployments, rollout jobs, tickets, runbooks
// and leader leases (migration 0009). The scheduler writes through
// ApplyCycleStep, which is fenced by the leader lease and by the cycle's
// version; people's actions go through ChangeCycle, which locks the cycle.

const cycleColumns = `id, client_id, kind, name, state, rings, updates, created_by, created_at, completed_at, halted_at, halt_ring,
	halt_reason, ticket_id, resumed_at, resumed_by, updated_at, version`

func scanCycle(s interface{ Scan(...any) error }, extra ...any) (*patch.Cycle, error) {
	var (
		c                                   patch.Cycle
		rings, updates                      string
		created, updated                    int64
		completed, halted, resumed          sql.NullInt64
		haltRing, haltReason, ticket, resBy string
	)
	if err := s.Scan(append([]any{&c.ID, &c.ClientID, &c.Kind, &c.Name, &c.State, &rings, &updates, &c.CreatedBy, &created, &completed,
		&halted, &haltRing, &haltReason, &ticket, &resumed, &resBy, &updated, &c.Version}, extra...)...); err != nil {
		return nil, err
	}
	if err := fromJSON(rings, &c.Rings); err != nil {
		return nil, err
	}
	if err := fromJSON(updates, &c.Updates); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt, c.CompletedAt, c.HaltedAt, c.ResumedAt = fromMS(created), fromMS(updated), fromNullMS(completed), fromNullMS(halted), fromNullMS(resumed)
	c.HaltRing, c.HaltReason, c.TicketID, c.ResumedBy = haltRing, haltReason, patch.TicketID(ticket), resBy
	if c.Updates == nil {
		c.Updates = []patch.CycleUpdate{}
	}
	return &c, nil
}

// storedRings strips the computed progress before a cycle's rings are
// stored.
func storedRings(c *patch.Cycle) string {
	rs := slices.Clone(c.Rings)
	for i := range rs {
		rs[i].Progress = patch.RingProgress{}
	}
	return mustJSON(rs)
}

const deploymentColumns = `id, cycle_id, client_id, asset_id, hostname, ring, state, targets, step, attempts, failures, next_attempt_at,
	last_error, reboot_required, reboot_approved, waived, window_end, scheduled_at, snapshot_at, sent_at, installed_at, reboot_requested_at,
	rebooted_at, verified_at, health_checked_at, rolled_back_at, failed_at, completed_at, ticket_id, updated_at`

// deploymentColumnList returns deploymentColumns one by one.
func deploymentColumnList() []string {
	var out []string
	for _, c := range strings.Split(deploymentColumns, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

func scanDeployment(s interface{ Scan(...any) error }, extra ...any) (*patch.Deployment, error) {
	var (
		d       patch.Deployment
		targets string
		updated int64
		times   [14]sql.NullInt64
	)
	if err := s.Scan(append([]any{&d.ID, &d.CycleID, &d.ClientID, &d.AssetID, &d.Hostname, &d.Ring, &d.State, &targets, &d.Step, &d.Attempts,
		&d.Failures, &times[0], &d.LastError, &d.RebootRequired, &d.RebootApproved, &d.Waived, &times[1], &times[2], &times[3], &times[4],
		&times[5], &times[6], &times[7], &times[8], &times[9], &times[10], &times[11], &times[12], &d.TicketID, &updated}, extra...)...); err != nil {
		return nil, err
	}
	if err := fromJSON(targets, &d.Targets); err != nil {
		return nil, err
	}
	for i, p := range []*time.Time{&d.NextAttemptAt, &d.WindowEnd, &d.ScheduledAt, &d.SnapshotAt, &d.SentAt, &d.InstalledAt, &d.RebootRequestAt,
		&d.RebootedAt, &d.VerifiedAt, &d.HealthCheckedAt, &d.RolledBackAt, &d.FailedAt, &d.CompletedAt} {
		*p = fromNullMS(times[i])
	}
	d.UpdatedAt = fromMS(updated)
	return &d, nil
}

func deploymentArgs(d *patch.Deployment) []any {
	return []any{string(d.ID), string(d.CycleID), string(d.ClientID), string(d.AssetID), truncate(d.Hostname, 253), d.Ring, string(d.State),
		mustJSON(d.Targets), d.Step, d.Attempts, d.Failures, nullMS(d.NextAttemptAt), truncate(d.LastError, 4000), d.RebootRequired,
		d.RebootApproved, d.Waived, nullMS(d.WindowEnd), nullMS(d.ScheduledAt), nullMS(d.SnapshotAt), nullMS(d.SentAt), nullMS(d.InstalledAt),
		nullMS(d.RebootRequestAt), nullMS(d.RebootedAt), nullMS(d.VerifiedAt), nullMS(d.HealthCheckedAt), nullMS(d.RolledBackAt),
		nullMS(d.FailedAt), nullMS(d.CompletedAt), string(d.TicketID), ms(d.UpdatedAt)}
}

// CreateCycle stores a new cycle with its deployments.
func (db *DB) CreateCycle(ctx context.Context, c *patch.Cycle, ds []*patch.Deployment, events []patch.EvidenceEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, c.ClientID); err != nil {
			return err
		}
		if !patch.ValidID(patch.PrefixCycle, string(c.ID)) {
			return patch.FieldError("id", "must be a cycle id")
		}
		if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
			return patch.FieldError("name", "must be 1 to 200 characters")
		}
		if c.CreatedAt.IsZero() || c.CreatedAt.After(tx.now) {
			c.CreatedAt = tx.now // imported history keeps its own time
		}
		c.UpdatedAt, c.Version = tx.now, 1
		if _, err := tx.exec(ctx, `INSERT INTO cycles (`+cycleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, '', '', '', NULL, '', $10, $11)`,
			string(c.ID), string(c.ClientID), string(c.Kind), c.Name, string(c.State), storedRings(c), mustJSON(c.Updates), c.CreatedBy,
			ms(c.CreatedAt), ms(c.UpdatedAt), c.Version); err != nil {
			return fmt.Errorf("insert cycle: %w", err)
		}
		order := ringOrder(c)
		for _, d := range ds {
			if d.CycleID != c.ID || d.ClientID != c.ClientID {
				return patch.Errorf(patch.KindInvalid, "Deployment %s belongs to another cycle or client.", d.ID)
			}
			a, err := tx.assetForUpdate(ctx, d.AssetID)
			if err != nil {
				return err
			}
			if a.ClientID != c.ClientID {
				return notFound("Asset", d.AssetID)
			}
			d.UpdatedAt = tx.now
			if err := tx.insertDeployment(ctx, d, order[d.Ring]); err != nil {
				return err
			}
		}
		if err := tx.appendEvidence(ctx, events...); err != nil {
			return err
		}
		return tx.audit(ctx, c.ClientID, "cycle.create", "cycle", string(c.ID), nil, c)
	})
}

func ringOrder(c *patch.Cycle) map[string]int {
	order := map[string]int{}
	for i, r := range c.Rings {
		order[r.Key] = i
	}
	return order
}

func (tx *Tx) insertDeployment(ctx context.Context, d *patch.Deployment, order int) error {
	args := deploymentArgs(d)
	args = append(args[:6:6], append([]any{order}, args[6:]...)...)
	ph := make([]string, len(args))
	for i := range args {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	cols := strings.Replace(deploymentColumns, "ring, state", "ring, ring_order, state", 1)
	if _, err := tx.exec(ctx, `INSERT INTO deployments (`+cols+`) VALUES (`+strings.Join(ph, ", ")+`)`, args...); err != nil {
		return fmt.Errorf("insert deployment: %w", err)
	}
	seen := map[patch.FindingID]bool{}
	for _, t := range d.Targets {
		if t.FindingID == "" || seen[t.FindingID] {
			continue
		}
		seen[t.FindingID] = true
		if _, err := tx.exec(ctx, `INSERT INTO deployment_findings (finding_id, deployment_id, client_id) VALUES ($1, $2, $3)`,
			string(t.FindingID), string(d.ID), string(d.ClientID)); err != nil {
			return fmt.Errorf("insert deployment finding: %w", err)
		}
	}
	return nil
}

// updateDeployment stores a deployment's new state; it must belong to
// cycle.
func (tx *Tx) updateDeployment(ctx context.Context, cycle patch.CycleID, d *patch.Deployment) error {
	args := deploymentArgs(d)
	var b strings.Builder
	for i, col := range deploymentColumnList() {
		if i < 4 { // id, cycle_id, client_id, asset_id do not change
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = $%d", col, i+1)
	}
	res, err := tx.exec(ctx, `UPDATE deployments SET `+b.String()+` WHERE id = $1 AND cycle_id = $2 AND client_id = $3 AND asset_id = $4`, args...)
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update deployment %s: %w", d.ID, err)
	} else if n != 1 || d.CycleID != cycle {
		return patch.Errorf(patch.KindConflict, "Deployment %s is not part of cycle %s.", d.ID, cycle)
	}
	return nil
}

// FindCycleByID returns a cycle in scope.
func (db *DB) FindCycleByID(ctx context.Context, id patch.CycleID) (*patch.Cycle, error) {
	cs, _, err := db.FindCycles(ctx, patch.CycleFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound("Cycle", id)
	}
	return cs[0], nil
}

// FindCycles lists cycles in scope, newest first.
func (db *DB) FindCycles(ctx context.Context, f patch.CycleFilter) ([]*patch.Cycle, int, error) {
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
	if len(f.States) > 0 {
		c.inList("state", f.States)
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+cycleColumns+`, COUNT(*) OVER () FROM cycles`+where+` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query cycles: %w", err))
	}
	defer rows.Close()
	var out []*patch.Cycle
	total := 0
	for rows.Next() {
		cy, err := scanCycle(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan cycle: %w", err))
		}
		out = append(out, cy)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read cycles: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "cycles", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// inList adds "column IN (...)" for a list of string-like values.
func (c *conds) inList(column string, vs any) {
	var args []any
	switch v := vs.(type) {
	case []patch.CycleState:
		for _, x := range v {
			args = append(args, string(x))
		}
	case []patch.DeploymentState:
		for _, x := range v {
			args = append(args, string(x))
		}
	case []patch.FindingID:
		for _, x := range v {
			args = append(args, string(x))
		}
	case []patch.DeploymentID:
		for _, x := range v {
			args = append(args, string(x))
		}
	default:
		panic(fmt.Sprintf("sqlstore: conds.in of %T", vs))
	}
	if len(args) == 0 {
		c.add("1 = 0")
		return
	}
	c.add(column+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args...)
}

// FindDeployments lists deployments in scope, by cycle, ring order and
// hostname.
func (db *DB) FindDeployments(ctx context.Context, f patch.DeploymentFilter) ([]*patch.Deployment, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("d.client_id", scope)
	if f.IDs != nil {
		c.inList("d.id", f.IDs)
	}
	if f.CycleID != nil {
		c.add("d.cycle_id = ?", string(*f.CycleID))
	}
	if f.ClientID != nil {
		c.add("d.client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("d.asset_id = ?", string(*f.AssetID))
	}
	if f.Ring != nil {
		c.add("d.ring = ?", *f.Ring)
	}
	if len(f.States) > 0 {
		c.inList("d.state", f.States)
	}
	if f.ChangedSince != nil {
		c.add("d.updated_at >= ?", ms(*f.ChangedSince))
	}
	if f.ActiveCycles {
		c.add("d.cycle_id IN (SELECT id FROM cycles WHERE state IN ('running', 'halted'))")
	}
	if len(f.FindingIDs) > 0 {
		var fc conds
		fc.args = c.args
		fc.inList("finding_id", f.FindingIDs)
		c.args = fc.args
		c.parts = append(c.parts, "d.id IN (SELECT deployment_id FROM deployment_findings WHERE "+fc.parts[0]+")")
	}
	where := c.where()
	cols := "d." + strings.Join(deploymentColumnList(), ", d.")
	rows, err := db.read.QueryContext(ctx, `SELECT `+cols+`, COUNT(*) OVER () FROM deployments d`+where+
		` ORDER BY d.cycle_id DESC, d.ring_order, d.hostname, d.id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query deployments: %w", err))
	}
	defer rows.Close()
	var out []*patch.Deployment
	total := 0
	for rows.Next() {
		d, err := scanDeployment(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan deployment: %w", err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read deployments: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "deployments d", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// FindingDeployments maps findings to the deployments that targeted their
// asset and update.
func (db *DB) FindingDeployments(ctx context.Context, client patch.ClientID, findings []patch.FindingID) (map[patch.FindingID][]patch.FindingTarget, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	out := map[patch.FindingID][]patch.FindingTarget{}
	if len(findings) == 0 || !scope.Allows(client) {
		return out, nil
	}
	var c conds
	c.add("want.client_id = ?", string(client))
	c.inList("want.id", findings)
	rows, err := db.read.QueryContext(ctx, `SELECT want.id, df.deployment_id, want.update_id FROM findings want
		JOIN findings done ON done.asset_id = want.asset_id AND done.update_id = want.update_id
		JOIN deployment_findings df ON df.finding_id = done.id`+c.where(), c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query finding deployments: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			fid string
			ft  patch.FindingTarget
		)
		if err := rows.Scan(&fid, &ft.DeploymentID, &ft.UpdateID); err != nil {
			return nil, db.classify(fmt.Errorf("scan finding deployment: %w", err))
		}
		out[patch.FindingID(fid)] = append(out[patch.FindingID(fid)], ft)
	}
	return out, db.classify(rows.Err())
}

// FindRolloutJobs lists rollout jobs with their agent job's state and the
// agent's result.
func (db *DB) FindRolloutJobs(ctx context.Context, f patch.RolloutJobFilter) ([]*patch.RolloutJob, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	c.scope("rj.client_id", scope)
	c.add("rj.cycle_id = ?", string(f.CycleID))
	if f.DeploymentIDs != nil {
		c.inList("rj.deployment_id", f.DeploymentIDs)
	}
	from := ` FROM rollout_jobs rj LEFT JOIN agent_jobs aj ON aj.id = rj.id`
	if f.CurrentStep {
		from += ` JOIN deployments d ON d.id = rj.deployment_id AND d.step = rj.step_no`
	}
	rows, err := db.read.QueryContext(ctx, `SELECT rj.id, rj.deployment_id, rj.cycle_id, rj.client_id, rj.asset_id, rj.step_no, rj.step, rj.source,
		rj.webhook, rj.url, COALESCE(aj.state, rj.state), rj.created_at, rj.expires_at, aj.delivered_at, COALESCE(aj.deliveries, 0),
		COALESCE(aj.completed_at, rj.completed_at), rj.result, rj.error,
		(SELECT r.document FROM agent_results r WHERE r.job_id = rj.id ORDER BY r.finished_at DESC LIMIT 1),
		(SELECT r.received_at FROM agent_results r WHERE r.job_id = rj.id ORDER BY r.finished_at DESC LIMIT 1)`+
		from+c.where()+` ORDER BY rj.created_at, rj.id`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query rollout jobs: %w", err))
	}
	defer rows.Close()
	var out []*patch.RolloutJob
	for rows.Next() {
		var (
			j                              patch.RolloutJob
			created, expires               int64
			delivered, completed, received sql.NullInt64
			result                         string
			doc                            sql.NullString
		)
		if err := rows.Scan(&j.ID, &j.DeploymentID, &j.CycleID, &j.ClientID, &j.AssetID, &j.StepNo, &j.Step, &j.Source, &j.Webhook, &j.URL,
			&j.State, &created, &expires, &delivered, &j.Deliveries, &completed, &result, &j.Error, &doc, &received); err != nil {
			return nil, db.classify(fmt.Errorf("scan rollout job: %w", err))
		}
		j.CreatedAt, j.ExpiresAt, j.DeliveredAt, j.CompletedAt = fromMS(created), fromMS(expires), fromNullMS(delivered), fromNullMS(completed)
		switch {
		case doc.Valid && doc.String != "":
			j.Result, j.ResultAt = json.RawMessage(doc.String), fromNullMS(received)
		case result != "":
			j.Result, j.ResultAt = json.RawMessage(result), j.CompletedAt
		}
		out = append(out, &j)
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read rollout jobs: %w", err))
	}
	return out, nil
}

// cycleForUpdate loads and locks a cycle in scope.
func (tx *Tx) cycleForUpdate(ctx context.Context, id patch.CycleID) (*patch.Cycle, error) {
	c, err := scanCycle(tx.queryRow(ctx, `SELECT `+cycleColumns+` FROM cycles WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(c.ClientID)) {
		return nil, notFound("Cycle", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query cycle %s: %w", id, err)
	}
	return c, nil
}

func (tx *Tx) cycleDeployments(ctx context.Context, id patch.CycleID) ([]*patch.Deployment, error) {
	rows, err := tx.query(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE cycle_id = $1 ORDER BY ring_order, hostname, id`, string(id))
	if err != nil {
		return nil, fmt.Errorf("query deployments: %w", err)
	}
	defer rows.Close()
	var out []*patch.Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("scan deployment: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// storeCycle writes a cycle's new state if it is still at the version it
// was read at; KindConflict otherwise.
func (tx *Tx) storeCycle(ctx context.Context, c *patch.Cycle) error {
	res, err := tx.exec(ctx, `UPDATE cycles SET state = $3, rings = $4, updates = $5, completed_at = $6, halted_at = $7, halt_ring = $8,
			halt_reason = $9, ticket_id = $10, resumed_at = $11, resumed_by = $12, updated_at = $13, version = version + 1
		WHERE id = $1 AND version = $2`,
		string(c.ID), c.Version, string(c.State), storedRings(c), mustJSON(c.Updates), nullMS(c.CompletedAt), nullMS(c.HaltedAt), c.HaltRing,
		truncate(c.HaltReason, 2000), string(c.TicketID), nullMS(c.ResumedAt), truncate(c.ResumedBy, 200), ms(tx.now))
	if err != nil {
		return fmt.Errorf("update cycle: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update cycle: %w", err)
	} else if n != 1 {
		return &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf("Cycle %s changed since version %d was read.", c.ID, c.Version)}
	}
	c.Version++
	c.UpdatedAt = tx.now
	return nil
}

// ChangeCycle applies a person's action to a cycle.
func (db *DB) ChangeCycle(ctx context.Context, id patch.CycleID, a patch.CycleAction) (*patch.Cycle, error) {
	var out *patch.Cycle
	err := db.inTx(ctx, func(tx *Tx) error {
		c, err := tx.cycleForUpdate(ctx, id)
		if err != nil {
			return err
		}
		before := *c
		ds, err := tx.cycleDeployments(ctx, id)
		if err != nil {
			return err
		}
		ch, err := a.Change(c, ds)
		if err != nil {
			return err
		}
		if err := tx.storeCycle(ctx, c); err != nil {
			return err
		}
		for _, d := range ch.Deployments {
			d.UpdatedAt = tx.now
			if err := tx.updateDeployment(ctx, id, d); err != nil {
				return err
			}
		}
		if err := tx.insertTickets(ctx, c.ClientID, ch.Tickets); err != nil {
			return err
		}
		if err := tx.resolveTickets(ctx, c.ClientID, ch.ResolveTickets); err != nil {
			return err
		}
		if ch.ExpireJobs {
			if _, err := tx.exec(ctx, `UPDATE agent_jobs SET state = $2, completed_at = $3 WHERE state = 'pending' AND id IN (SELECT id FROM rollout_jobs WHERE cycle_id = $1)`,
				string(id), string(patch.JobExpired), ms(tx.now)); err != nil {
				return fmt.Errorf("withdraw jobs: %w", err)
			}
			if _, err := tx.exec(ctx, `UPDATE rollout_jobs SET state = $2, completed_at = $3 WHERE cycle_id = $1 AND webhook = $4 AND state = 'pending'`,
				string(id), string(patch.JobExpired), ms(tx.now), true); err != nil {
				return fmt.Errorf("withdraw webhooks: %w", err)
			}
		}
		if err := tx.appendEvidence(ctx, ch.Events...); err != nil {
			return err
		}
		action := a.Audit
		if action == "" {
			action = "cycle.update"
		}
		out = c
		return tx.audit(ctx, c.ClientID, action, "cycle", string(id), &before, c)
	})
	return out, err
}

// checkLease fails unless the lease is held with its token: a deposed
// leader writes nothing.
func (tx *Tx) checkLease(ctx context.Context, l patch.Lease) error {
	var (
		holder  string
		token   int64
		expires int64
	)
	err := tx.queryRow(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = $1`+tx.db.dialect.ForUpdate, l.Name).Scan(&holder, &token, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (holder != l.Holder || token != l.Token || expires <= ms(tx.now))) {
		return &patch.Error{Kind: patch.KindConflict, Field: "lease", Message: fmt.Sprintf("The %s lease is no longer held by %s with token %d.", l.Name, l.Holder, l.Token)}
	}
	if err != nil {
		return fmt.Errorf("check lease: %w", err)
	}
	return nil
}

// ApplyCycleStep stores one scheduler step.
func (db *DB) ApplyCycleStep(ctx context.Context, s patch.CycleStep) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only the scheduler advances cycles.")
		}
		if err := tx.checkLease(ctx, s.Lease); err != nil {
			return err
		}
		c := s.Cycle
		before, err := tx.cycleForUpdate(ctx, c.ID)
		if err != nil {
			return err
		}
		if before.Version != c.Version {
			return &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf("Cycle %s changed since version %d was read.", c.ID, c.Version)}
		}
		if err := tx.storeCycle(ctx, c); err != nil {
			return err
		}
		for _, d := range s.Deployments {
			if err := tx.updateDeployment(ctx, c.ID, d); err != nil {
				return err
			}
		}
		for _, nj := range s.Jobs {
			j, r := nj.Job, nj.Rollout
			if j.ClientID != c.ClientID || r.CycleID != c.ID {
				return patch.Errorf(patch.KindInvalid, "Job %s belongs to another cycle.", j.ID)
			}
			if _, err := tx.exec(ctx, `INSERT INTO agent_jobs (`+agentJobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, NULL, '')`,
				string(j.ID), string(j.ClientID), string(j.AssetID), string(j.AgentID), j.Kind, string(j.Payload), string(patch.JobPending),
				j.CreatedBy, ms(tx.now), ms(j.ExpiresAt)); err != nil {
				return fmt.Errorf("insert agent job: %w", err)
			}
			if err := tx.insertRolloutJob(ctx, &r); err != nil {
				return err
			}
		}
		for i := range s.Webhooks {
			w := s.Webhooks[i]
			w.Webhook = true
			if err := tx.insertRolloutJob(ctx, &w); err != nil {
				return err
			}
		}
		if err := tx.insertTickets(ctx, c.ClientID, s.Tickets); err != nil {
			return err
		}
		if err := tx.resolveTickets(ctx, c.ClientID, s.ResolveTickets); err != nil {
			return err
		}
		if err := tx.appendEvidence(ctx, s.Events...); err != nil {
			return err
		}
		// The cycle's own changes (a halt, a ring moving on, the end) are
		// audited; each deployment's steps are in the evidence chain.
		if before.State != c.State || storedRings(before) != storedRings(c) {
			return tx.audit(ctx, c.ClientID, "cycle.advance", "cycle", string(c.ID), before, c)
		}
		return nil
	})
}

func (tx *Tx) insertRolloutJob(ctx context.Context, r *patch.RolloutJob) error {
	if r.State == "" {
		r.State = patch.JobPending
	}
	r.CreatedAt = tx.now
	if _, err := tx.exec(ctx, `INSERT INTO rollout_jobs (id, deployment_id, cycle_id, client_id, asset_id, step_no, step, source, webhook, url, state,
			created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.ID, string(r.DeploymentID), string(r.CycleID), string(r.ClientID), string(r.AssetID), r.StepNo, string(r.Step), string(r.Source),
		r.Webhook, r.URL, string(r.State), ms(r.CreatedAt), ms(r.ExpiresAt)); err != nil {
		return fmt.Errorf("insert rollout job: %w", err)
	}
	return nil
}

// RecordWebhookResult stores a snapshot webhook's answer.
func (db *DB) RecordWebhookResult(ctx context.Context, id string, state patch.JobState, result json.RawMessage, errText string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only the scheduler records webhook results.")
		}
		if !patch.JobDone(state) {
			return patch.FieldError("state", "must be a final job state")
		}
		res, err := tx.exec(ctx, `UPDATE rollout_jobs SET state = $2, completed_at = $3, result = $4, error = $5 WHERE id = $1 AND webhook = $6 AND state = 'pending'`,
			id, string(state), ms(tx.now), string(result), truncate(errText, 2000), true)
		if err != nil {
			return fmt.Errorf("record webhook result: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return patch.Errorf(patch.KindConflict, "Webhook call %s is not pending.", id)
		}
		return nil
	})
}

// --- Tickets ---

const ticketColumns = `id, client_id, kind, state, title, body, cycle_id, deployment_id, asset_id, ring, created_by, created_at, resolved_at,
	resolved_by, resolution, external_ref`

func scanTicket(s interface{ Scan(...any) error }, extra ...any) (*patch.Ticket, error) {
	var (
		t        patch.Ticket
		created  int64
		resolved sql.NullInt64
	)
	if err := s.Scan(append([]any{&t.ID, &t.ClientID, &t.Kind, &t.State, &t.Title, &t.Body, &t.CycleID, &t.DeploymentID, &t.AssetID, &t.Ring,
		&t.CreatedBy, &created, &resolved, &t.ResolvedBy, &t.Resolution, &t.ExternalRef}, extra...)...); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ResolvedAt = fromMS(created), fromNullMS(resolved)
	return &t, nil
}

func (tx *Tx) insertTickets(ctx context.Context, client patch.ClientID, ts []*patch.Ticket) error {
	for _, t := range ts {
		if t.ClientID != client {
			return patch.Errorf(patch.KindInvalid, "Ticket %s belongs to another client.", t.ID)
		}
		t.CreatedAt, t.State = tx.now, patch.TicketOpen
		if t.CreatedBy == "" {
			t.CreatedBy = tx.actor.Name
		}
		if _, err := tx.exec(ctx, `INSERT INTO tickets (`+ticketColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, '', '', '')`,
			string(t.ID), string(t.ClientID), string(t.Kind), string(t.State), truncate(t.Title, 200), truncate(t.Body, 8000), string(t.CycleID),
			string(t.DeploymentID), string(t.AssetID), t.Ring, truncate(t.CreatedBy, 200), ms(t.CreatedAt)); err != nil {
			return fmt.Errorf("insert ticket: %w", err)
		}
		if err := tx.audit(ctx, client, "ticket.create", "ticket", string(t.ID), nil, t); err != nil {
			return err
		}
		if err := tx.outboxTicket(ctx, t, patch.EventTicketOpened); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) resolveTickets(ctx context.Context, client patch.ClientID, rs []patch.TicketResolution) error {
	for _, r := range rs {
		t, err := scanTicket(tx.queryRow(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1 AND client_id = $2`+tx.db.dialect.ForUpdate,
			string(r.ID), string(client)))
		if errors.Is(err, sql.ErrNoRows) {
			continue // a ticket resolved by hand and deleted is no reason to fail
		}
		if err != nil {
			return fmt.Errorf("query ticket %s: %w", r.ID, err)
		}
		if t.State != patch.TicketOpen {
			continue
		}
		if _, err := tx.resolveTicket(ctx, t, r.Resolution); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) resolveTicket(ctx context.Context, t *patch.Ticket, resolution string) (*patch.Ticket, error) {
	after := *t
	after.State, after.ResolvedAt, after.ResolvedBy, after.Resolution = patch.TicketResolved, tx.now, tx.actor.Name, truncate(resolution, 2000)
	if _, err := tx.exec(ctx, `UPDATE tickets SET state = $2, resolved_at = $3, resolved_by = $4, resolution = $5 WHERE id = $1`,
		string(t.ID), string(after.State), ms(tx.now), truncate(after.ResolvedBy, 200), after.Resolution); err != nil {
		return nil, fmt.Errorf("resolve ticket: %w", err)
	}
	if err := tx.outboxTicket(ctx, &after, patch.EventTicketResolved); err != nil {
		return nil, err
	}
	return &after, tx.audit(ctx, t.ClientID, "ticket.resolve", "ticket", string(t.ID), t, &after)
}

// FindTicketByID returns a ticket in scope.
func (db *DB) FindTicketByID(ctx context.Context, id patch.TicketID) (*patch.Ticket, error) {
	ts, _, err := db.FindTickets(ctx, patch.TicketFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, notFound("Ticket", id)
	}
	return ts[0], nil
}

// FindTickets lists tickets in scope, newest first.
func (db *DB) FindTickets(ctx context.Context, f patch.TicketFilter) ([]*patch.Ticket, int, error) {
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
	if f.CycleID != nil {
		c.add("cycle_id = ?", string(*f.CycleID))
	}
	if f.Kind != nil {
		c.add("kind = ?", string(*f.Kind))
	}
	if f.State != nil {
		c.add("state = ?", string(*f.State))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+ticketColumns+`, COUNT(*) OVER () FROM tickets`+where+` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query tickets: %w", err))
	}
	defer rows.Close()
	var out []*patch.Ticket
	total := 0
	for rows.Next() {
		t, err := scanTicket(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan ticket: %w", err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read tickets: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "tickets", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// ResolveTicket closes an open ticket.
func (db *DB) ResolveTicket(ctx context.Context, id patch.TicketID, resolution string) (*patch.Ticket, error) {
	var out *patch.Ticket
	err := db.inTx(ctx, func(tx *Tx) error {
		t, err := scanTicket(tx.queryRow(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(t.ClientID)) {
			return notFound("Ticket", id)
		}
		if err != nil {
			return fmt.Errorf("query ticket: %w", err)
		}
		if t.State != patch.TicketOpen {
			return patch.Errorf(patch.KindConflict, "Ticket %s was resolved already by %s.", id, t.ResolvedBy)
		}
		if strings.TrimSpace(resolution) == "" {
			return patch.FieldError("resolution", "is required: say what was done")
		}
		out, err = tx.resolveTicket(ctx, t, resolution)
		return err
	})
	return out, err
}

// --- Runbooks ---

// FindRunbook returns a client's stored runbook.
func (db *DB) FindRunbook(ctx context.Context, client patch.ClientID) (*patch.Runbook, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.Allows(client) {
		return nil, notFound("Runbook of client", client)
	}
	r, err := readRunbook(ctx, db.read, client, "")
	return r, db.classify(err)
}

func readRunbook(ctx context.Context, q querier, client patch.ClientID, lock string) (*patch.Runbook, error) {
	var (
		doc, by string
		version int
		at      int64
	)
	err := q.QueryRowContext(ctx, `SELECT doc, version, updated_at, updated_by FROM runbooks WHERE client_id = $1`+lock, string(client)).Scan(&doc, &version, &at, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Runbook of client", client)
	}
	if err != nil {
		return nil, fmt.Errorf("query runbook of %s: %w", client, err)
	}
	var r patch.Runbook
	if err := fromJSON(doc, &r); err != nil {
		return nil, err
	}
	r.ClientID, r.Version, r.UpdatedAt, r.UpdatedBy = client, version, fromMS(at), by
	return &r, nil
}

// PutRunbook stores a client's runbook.
func (db *DB) PutRunbook(ctx context.Context, r *patch.Runbook) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, r.ClientID); err != nil {
			return err
		}
		before, err := readRunbook(ctx, tx.tx, r.ClientID, tx.db.dialect.ForUpdate)
		stored := 0
		switch {
		case patch.ErrorKind(err) == patch.KindNotFound:
			before = nil
		case err != nil:
			return err
		default:
			stored = before.Version
		}
		if r.Version != 0 && r.Version != stored {
			return &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf(
				"The runbook changed since version %d was read (it is at version %d now); read it again, or omit the version to overwrite.", r.Version, stored)}
		}
		r.Version, r.UpdatedAt, r.UpdatedBy = stored+1, tx.now, tx.actor.Name
		if _, err := tx.exec(ctx, `INSERT INTO runbooks (client_id, version, doc, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (client_id) DO UPDATE SET version = excluded.version, doc = excluded.doc, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			string(r.ClientID), r.Version, mustJSON(r), ms(r.UpdatedAt), r.UpdatedBy); err != nil {
			return fmt.Errorf("store runbook: %w", err)
		}
		return tx.audit(ctx, r.ClientID, "runbook.update", "runbook", string(r.ClientID), before, r)
	})
}

// --- Leases ---

// AcquireLease takes or renews a leader lease.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (patch.Lease, bool, error) {
	var (
		out  patch.Lease
		held bool
	)
	err := db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only servers take leases.")
		}
		if name == "" || holder == "" || len(holder) > 200 || ttl <= 0 {
			return patch.FieldError("lease", "needs a name, a holder and a positive time to live")
		}
		if _, err := tx.exec(ctx, `INSERT INTO leases (name, holder, token, acquired_at, expires_at) VALUES ($1, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
			return fmt.Errorf("create lease: %w", err)
		}
		var (
			cur     string
			token   int64
			expires int64
		)
		if err := tx.queryRow(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = $1`+tx.db.dialect.ForUpdate, name).Scan(&cur, &token, &expires); err != nil {
			return fmt.Errorf("read lease: %w", err)
		}
		now, until := ms(tx.now), ms(tx.now.Add(ttl))
		switch {
		case cur == holder && expires > now:
			// Renewal: same holder, same token.
			held = true
			if _, err := tx.exec(ctx, `UPDATE leases SET expires_at = $2 WHERE name = $1`, name, until); err != nil {
				return fmt.Errorf("renew lease: %w", err)
			}
		case expires <= now:
			// Free or expired: take it with a new token.
			held, token = true, token+1
			if _, err := tx.exec(ctx, `UPDATE leases SET holder = $2, token = $3, acquired_at = $4, expires_at = $5 WHERE name = $1`, name, holder, token, now, until); err != nil {
				return fmt.Errorf("take lease: %w", err)
			}
			if err := tx.audit(ctx, "", "lease.acquire", "lease", name, map[string]any{"holder": cur}, map[string]any{"holder": holder, "token": token}); err != nil {
				return err
			}
		}
		out = patch.Lease{Name: name, Holder: cur, Token: token, ExpiresAt: fromMS(expires)}
		if held {
			out.Holder, out.ExpiresAt = holder, fromMS(until)
		}
		return nil
	})
	return out, held, err
}

// ReleaseLease gives a lease up.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only servers take leases.")
		}
		_, err := tx.exec(ctx, `UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2 AND expires_at > $3`, name, holder, ms(tx.now))
		if err != nil {
			return fmt.Errorf("release lease: %w", err)
		}
		return nil
	})
}

// FindLatestScans returns each asset's latest applied scan result.
func (db *DB) FindLatestScans(ctx context.Context, assets []patch.AssetID) (map[patch.AssetID]*patch.AgentResult, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	out := map[patch.AssetID]*patch.AgentResult{}
	for _, id := range assets {
		var c conds
		c.scope("client_id", scope)
		c.add("asset_id = ?", string(id))
		c.add("kind = 'scan' AND applied = ?", true)
		var (
			r        patch.AgentResult
			finished int64
			doc      string
		)
		err := db.read.QueryRowContext(ctx, `SELECT id, job_id, status, finished_at, document FROM agent_results`+c.where()+` ORDER BY finished_at DESC LIMIT 1`, c.args...).
			Scan(&r.ID, &r.JobID, &r.Status, &finished, &doc)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, db.classify(fmt.Errorf("query latest scan of %s: %w", id, err))
		}
		r.Kind, r.FinishedAt, r.Document = "scan", fromMS(finished), json.RawMessage(doc)
		out[id] = &r
	}
	return out, nil
}

// --- Deployment evidence as it arrives ---
//
// "Deployment means the package was sent": the rollout's install jobs are
// recorded in the evidence chain when their agent takes them (sent) and
// when it reports the outcome (installed, install_failed), in the same
// transaction as the check-in or the results delivery, so that the chain
// shows them before the verifying scan that the agent sends after the
// install. The rollout engine reads the state from the jobs later and
// decides what comes next; it does not record these events again.

// rolloutJob is a rollout job with its deployment, for evidence.
type rolloutJob struct {
	deployment patch.DeploymentID
	cycle      patch.CycleID
	step       patch.RolloutStep
	ring       string
	targets    []patch.DeploymentTarget
}

func (tx *Tx) rolloutJobInfo(ctx context.Context, id string) (*rolloutJob, error) {
	var (
		j       rolloutJob
		targets string
	)
	err := tx.queryRow(ctx, `SELECT rj.deployment_id, rj.cycle_id, rj.step, d.ring, d.targets FROM rollout_jobs rj
		JOIN deployments d ON d.id = rj.deployment_id WHERE rj.id = $1`, id).Scan(&j.deployment, &j.cycle, &j.step, &j.ring, &targets)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query rollout job %s: %w", id, err)
	}
	return &j, fromJSON(targets, &j.targets)
}

// updateOf returns the update a deployment target of an install job is
// for.
func (j *rolloutJob) updateOf(t agentapi.Target) patch.UpdateID {
	for _, d := range j.targets {
		if d.VendorID == t.ID && d.Package == t.Package {
			return d.UpdateID
		}
	}
	return ""
}

func (j *rolloutJob) event(client patch.ClientID, asset patch.AssetID, typ string, update patch.UpdateID, details map[string]string) patch.EvidenceEvent {
	details["deployment"], details["ring"] = string(j.deployment), j.ring
	return patch.EvidenceEvent{ClientID: client, Type: typ, Subject: patch.EvidenceSubject{AssetID: asset, UpdateID: update, CycleID: string(j.cycle)}, Details: details}
}

// rolloutDelivered appends "sent" for rollout install jobs handed to their
// agent for the first time.
func (tx *Tx) rolloutDelivered(ctx context.Context, jobs []*patch.AgentJob) error {
	var events []patch.EvidenceEvent
	for _, aj := range jobs {
		if aj.Kind != string(agentapi.JobInstall) || aj.Deliveries != 1 {
			continue
		}
		j, err := tx.rolloutJobInfo(ctx, string(aj.ID))
		if err != nil {
			return err
		}
		if j == nil {
			continue // an operator's job, not the rollout's
		}
		var p agentapi.InstallPayload
		if err := json.Unmarshal(aj.Payload, &p); err != nil {
			return fmt.Errorf("read install payload of %s: %w", aj.ID, err)
		}
		for _, t := range p.Targets {
			events = append(events, j.event(aj.ClientID, aj.AssetID, patch.EventSent, j.updateOf(t), map[string]string{"package": t.Package,
				"version": t.Version, "job": string(aj.ID), "delivered_at": tx.now.Format(time.RFC3339Nano), "window_end": p.Deadline.UTC().Format(time.RFC3339)}))
		}
	}
	return tx.appendEvidence(ctx, events...)
}

// rolloutResult appends installed or install_failed for each target of a
// rollout install job whose result arrived.
func (tx *Tx) rolloutResult(ctx context.Context, asset *patch.Asset, r patch.AgentResult) error {
	if r.JobID == "" || r.Kind != string(agentapi.JobInstall) {
		return nil
	}
	j, err := tx.rolloutJobInfo(ctx, string(r.JobID))
	if err != nil || j == nil {
		return err
	}
	var payload string
	if err := tx.queryRow(ctx, `SELECT payload FROM agent_jobs WHERE id = $1`, string(r.JobID)).Scan(&payload); err != nil {
		return fmt.Errorf("read job %s: %w", r.JobID, err)
	}
	var p agentapi.InstallPayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return fmt.Errorf("read install payload of %s: %w", r.JobID, err)
	}
	var res agentapi.Result
	_ = json.Unmarshal(r.Document, &res) // validated on the way in; a partial read only loses details
	items := map[string]agentapi.ItemResult{}
	if res.Install != nil {
		for _, it := range res.Install.Items {
			items[it.ID] = it
		}
	}
	at := r.FinishedAt.UTC().Format(time.RFC3339Nano)
	var events []patch.EvidenceEvent
	for _, t := range p.Targets {
		it, ok := items[t.ID]
		switch {
		case ok && it.Status == pkgmgrInstalled:
			events = append(events, j.event(asset.ClientID, asset.ID, patch.EventInstalled, j.updateOf(t), map[string]string{"package": t.Package,
				"version": cmpOr(it.ToVersion, t.Version), "previous_version": it.FromVersion, "agent_time": at, "job": string(r.JobID)}))
		case ok && it.Status == pkgmgrSkipped:
			// Nothing was done; the verifying scan tells whether the
			// update is there.
		default:
			reason := it.Detail
			if reason == "" {
				reason = r.Error
			}
			if r.Status == string(agentapi.ResultRefused) {
				reason = "the agent refused the job: " + r.Error
			}
			if reason == "" {
				reason = "the agent did not report on it"
			}
			events = append(events, j.event(asset.ClientID, asset.ID, patch.EventInstallFailed, j.updateOf(t), map[string]string{"package": t.Package,
				"version": t.Version, "reason": truncate(reason, 2000), "agent_time": at, "job": string(r.JobID)}))
		}
	}
	return tx.appendEvidence(ctx, events...)
}

// Item statuses of the agent protocol (pkgmgr.ItemStatus values).
const (
	pkgmgrInstalled = "installed"
	pkgmgrSkipped   = "skipped"
)

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
