package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
)

// appendEvidence chains events onto their clients' evidence logs inside
// the transaction. The head row of each client is locked (and on SQLite the
// whole database is), so concurrent appends to one chain serialise and the
// chain never forks.
func (tx *Tx) appendEvidence(ctx context.Context, events ...patch.EvidenceEvent) error {
	heads := map[patch.ClientID]*evidence.Entry{}
	for _, ev := range events {
		prev, ok := heads[ev.ClientID]
		if !ok {
			var err error
			if prev, err = tx.evidenceHead(ctx, ev.ClientID); err != nil {
				return err
			}
		}
		actor := evidenceActor(tx.actor)
		next, err := evidence.Append(prev, evidence.Entry{
			ClientID: string(ev.ClientID),
			Time:     tx.now,
			Type:     evidence.EventType(ev.Type),
			Actor:    actor,
			Subject: evidence.Subject{
				AssetID: string(ev.Subject.AssetID), UpdateID: string(ev.Subject.UpdateID),
				CycleID: ev.Subject.CycleID, ExceptionID: ev.Subject.ExceptionID,
			},
			Details: ev.Details,
		})
		if err != nil {
			return fmt.Errorf("append evidence %s: %w", ev.Type, err)
		}
		details := next.Details
		if details == nil {
			details = map[string]string{}
		}
		if _, err := tx.exec(ctx, `INSERT INTO evidence_entries (client_id, seq, at, type, actor_kind, actor_id, actor_name,
				asset_id, update_id, cycle_id, exception_id, details, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			next.ClientID, int64(next.Seq), next.Time.UnixMilli(), string(next.Type), string(next.Actor.Kind), next.Actor.ID, next.Actor.Name,
			next.Subject.AssetID, next.Subject.UpdateID, next.Subject.CycleID, next.Subject.ExceptionID, mustJSON(details),
			next.PrevHash.String(), next.Hash.String()); err != nil {
			return fmt.Errorf("insert evidence entry: %w", err)
		}
		heads[ev.ClientID] = &next
	}
	for client, head := range heads {
		if _, err := tx.exec(ctx, `INSERT INTO evidence_heads (client_id, seq, hash) VALUES ($1, $2, $3)
			ON CONFLICT (client_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
			string(client), int64(head.Seq), head.Hash.String()); err != nil {
			return fmt.Errorf("move evidence head: %w", err)
		}
	}
	return nil
}

// evidenceHead locks and returns the newest entry of a client's chain, or
// nil for an empty chain.
func (tx *Tx) evidenceHead(ctx context.Context, client patch.ClientID) (*evidence.Entry, error) {
	var seq int64
	var hash string
	err := tx.queryRow(ctx, `SELECT seq, hash FROM evidence_heads WHERE client_id = $1`+tx.db.dialect.ForUpdate, string(client)).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		// Take the row lock for a new chain too: the insert below conflicts
		// for a concurrent first append, which then retries.
		if _, err := tx.exec(ctx, `INSERT INTO evidence_heads (client_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (client_id) DO NOTHING`, string(client)); err != nil {
			return nil, fmt.Errorf("create evidence head: %w", err)
		}
		err = tx.queryRow(ctx, `SELECT seq, hash FROM evidence_heads WHERE client_id = $1`+tx.db.dialect.ForUpdate, string(client)).Scan(&seq, &hash)
	}
	if err != nil {
		return nil, fmt.Errorf("read evidence head: %w", err)
	}
	if seq == 0 {
		return nil, nil
	}
	entries, err := tx.db.evidenceEntries(ctx, tx.tx, `WHERE client_id = $1 AND seq = $2`, "", []any{string(client), seq})
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 || entries[0].Hash.String() != hash {
		return nil, fmt.Errorf("evidence chain of %s is inconsistent at %d: head row does not match the entry", client, seq)
	}
	return &entries[0], nil
}

func evidenceActor(a patch.Actor) evidence.Actor {
	kind := evidence.ActorSystem
	switch a.Kind {
	case patch.ActorUser:
		kind = evidence.ActorUser
	case patch.ActorToken:
		kind = evidence.ActorAPIKey
	case patch.ActorAgent:
		kind = evidence.ActorAgent
	}
	return evidence.Actor{Kind: kind, ID: a.ID, Name: a.Name}
}

// evidenceEntries reads entries with a WHERE clause.
func (db *DB) evidenceEntries(ctx context.Context, q querier, where, tail string, args []any) ([]evidence.Entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT client_id, seq, at, type, actor_kind, actor_id, actor_name, asset_id, update_id, cycle_id, exception_id,
		details, prev_hash, hash FROM evidence_entries `+where+` ORDER BY client_id, seq`+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("query evidence: %w", err)
	}
	defer rows.Close()
	var out []evidence.Entry
	for rows.Next() {
		var (
			e          evidence.Entry
			seq, at    int64
			typ, kind  string
			details    string
			prev, hash string
		)
		if err := rows.Scan(&e.ClientID, &seq, &at, &typ, &kind, &e.Actor.ID, &e.Actor.Name, &e.Subject.AssetID, &e.Subject.UpdateID,
			&e.Subject.CycleID, &e.Subject.ExceptionID, &details, &prev, &hash); err != nil {
			return nil, fmt.Errorf("scan evidence: %w", err)
		}
		e.Seq, e.Time, e.Type, e.Actor.Kind = uint64(seq), fromMS(at), evidence.EventType(typ), evidence.ActorKind(kind)
		if err := fromJSON(details, &e.Details); err != nil {
			return nil, err
		}
		if len(e.Details) == 0 {
			e.Details = nil
		}
		if err := e.PrevHash.UnmarshalText([]byte(prev)); err != nil {
			return nil, fmt.Errorf("evidence %s/%d prev hash: %w", e.ClientID, seq, err)
		}
		if err := e.Hash.UnmarshalText([]byte(hash)); err != nil {
			return nil, fmt.Errorf("evidence %s/%d hash: %w", e.ClientID, seq, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AppendEvidence appends events in one transaction.
func (db *DB) AppendEvidence(ctx context.Context, events ...patch.EvidenceEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		for _, ev := range events {
			if !tx.scope.Allows(ev.ClientID) {
				return notFound("Client", ev.ClientID)
			}
		}
		return tx.appendEvidence(ctx, events...)
	})
}

// FindEvidence lists a client's chain entries in order.
func (db *DB) FindEvidence(ctx context.Context, f patch.EvidenceFilter) ([]*patch.EvidenceEntry, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	if f.ClientID == "" {
		return nil, 0, patch.FieldError("client_id", "is required")
	}
	if !scope.Allows(f.ClientID) {
		return nil, 0, nil
	}
	var c conds
	c.add("client_id = ?", string(f.ClientID))
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.UpdateID != nil {
		c.add("update_id = ?", string(*f.UpdateID))
	}
	if f.CycleID != nil {
		c.add("cycle_id = ?", *f.CycleID)
	}
	if len(f.Types) > 0 {
		ph := make([]string, len(f.Types))
		for i := range f.Types {
			ph[i] = "?"
		}
		args := make([]any, len(f.Types))
		for i, t := range f.Types {
			args[i] = t
		}
		c.add("type IN ("+strings.Join(ph, ", ")+")", args...)
	}
	if f.Since != nil {
		c.add("at >= ?", ms(*f.Since))
	}
	if f.Until != nil {
		c.add("at < ?", ms(*f.Until))
	}
	if f.AfterSeq > 0 {
		c.add("seq > ?", int64(f.AfterSeq))
	}
	where := c.where()
	var total int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM evidence_entries`+where, c.args...).Scan(&total); err != nil {
		return nil, 0, db.classify(fmt.Errorf("count evidence: %w", err))
	}
	pageSQL := c.page(f.Limit, f.Offset)
	entries, err := db.evidenceEntries(ctx, db.read, where, pageSQL, c.args)
	if err != nil {
		return nil, 0, db.classify(err)
	}
	out := make([]*patch.EvidenceEntry, len(entries))
	for i, e := range entries {
		out[i] = toPatchEntry(e)
	}
	return out, total, nil
}

func toPatchEntry(e evidence.Entry) *patch.EvidenceEntry {
	kind := patch.ActorSystem
	switch e.Actor.Kind {
	case evidence.ActorUser:
		kind = patch.ActorUser
	case evidence.ActorAPIKey:
		kind = patch.ActorToken
	case evidence.ActorAgent:
		kind = patch.ActorAgent
	}
	return &patch.EvidenceEntry{
		ClientID: patch.ClientID(e.ClientID), Seq: e.Seq, At: e.Time, Type: string(e.Type),
		Actor:   patch.Actor{Kind: kind, ID: e.Actor.ID, Name: e.Actor.Name},
		Subject: patch.EvidenceSubject{AssetID: patch.AssetID(e.Subject.AssetID), UpdateID: patch.UpdateID(e.Subject.UpdateID), CycleID: e.Subject.CycleID, ExceptionID: e.Subject.ExceptionID},
		Details: e.Details, PrevHash: e.PrevHash.String(), Hash: e.Hash.String(),
	}
}

// EvidenceChain returns a client's raw entries from seq from (inclusive)
// to to (inclusive), for verification and bundles.
func (db *DB) EvidenceChain(ctx context.Context, client patch.ClientID, from, to uint64) ([]evidence.Entry, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.Allows(client) {
		return nil, notFound("Client", client)
	}
	es, err := db.evidenceEntries(ctx, db.read, `WHERE client_id = $1 AND seq >= $2 AND seq <= $3`, "", []any{string(client), int64(from), int64(to)})
	return es, db.classify(err)
}

// EvidenceHeads returns the head of every chain in scope.
func (db *DB) EvidenceHeads(ctx context.Context) ([]*patch.EvidenceHead, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	c.scope("client_id", scope)
	c.add("seq > 0")
	rows, err := db.read.QueryContext(ctx, `SELECT client_id, seq, hash FROM evidence_heads`+c.where()+` ORDER BY client_id`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query evidence heads: %w", err))
	}
	defer rows.Close()
	var out []*patch.EvidenceHead
	for rows.Next() {
		var h patch.EvidenceHead
		var seq int64
		if err := rows.Scan(&h.ClientID, &seq, &h.Hash); err != nil {
			return nil, db.classify(fmt.Errorf("scan evidence head: %w", err))
		}
		h.Seq = uint64(seq)
		out = append(out, &h)
	}
	return out, db.classify(rows.Err())
}
