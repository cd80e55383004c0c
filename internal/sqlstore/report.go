package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// CreateReport stores a report and its files in one transaction.
func (db *DB) CreateReport(ctx context.Context, r *patch.Report, contents map[string][]byte) error {
	if len(r.Files) == 0 || len(r.Files) != len(contents) {
		return patch.Errorf(patch.KindInvalid, "A report needs its files and their contents (%d files, %d contents).", len(r.Files), len(contents))
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if r.Kind.Internal() && !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Internal reports are for MSP staff only.")
		}
		if r.ClientID == "" && !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "MSP-wide reports are for MSP staff only.")
		}
		if r.ClientID != "" {
			if !tx.scope.Allows(r.ClientID) {
				return notFound("Client", r.ClientID)
			}
			var one int
			err := tx.queryRow(ctx, `SELECT 1 FROM clients WHERE id = $1`, string(r.ClientID)).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("Client", r.ClientID)
			}
			if err != nil {
				return fmt.Errorf("check client: %w", err)
			}
		}
		r.GeneratedAt = tx.now
		r.GeneratedBy = tx.actor
		_, err := tx.exec(ctx, `INSERT INTO reports (id, client_id, kind, period, period_start, period_end, title, trigger_kind, generated_at, generated_by, summary)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			string(r.ID), string(r.ClientID), string(r.Kind), r.Period.Key, ms(r.Period.Start), ms(r.Period.End), r.Title, string(r.Trigger),
			ms(r.GeneratedAt), mustJSON(r.GeneratedBy), mustJSON(r.Summary))
		if err != nil {
			if patch.ErrorKind(db.classify(err)) == patch.KindConflict {
				return patch.Errorf(patch.KindConflict, "A scheduled %s report for %s exists already.", r.Kind, r.Period.Key)
			}
			return fmt.Errorf("insert report: %w", err)
		}
		for i := range r.Files {
			f := &r.Files[i]
			data, ok := contents[f.Name]
			if !ok {
				return patch.Errorf(patch.KindInvalid, "No content for report file %s.", f.Name)
			}
			sum := sha256.Sum256(data)
			f.Size, f.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
			if _, err := tx.exec(ctx, `INSERT INTO report_files (report_id, name, format, content_type, size, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				string(r.ID), f.Name, string(f.Format), f.ContentType, f.Size, f.SHA256, data); err != nil {
				return fmt.Errorf("insert report file %s: %w", f.Name, err)
			}
		}
		// The audit entry names the report and its files' hashes, not
		// their contents.
		return tx.audit(ctx, r.ClientID, "report.generate", "report", string(r.ID), nil, r)
	})
}

// FindReportByID returns a report's metadata.
func (db *DB) FindReportByID(ctx context.Context, id patch.ReportID) (*patch.Report, error) {
	rs, _, err := db.FindReports(ctx, patch.ReportFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, notFound("Report", id)
	}
	return rs[0], nil
}

// reportScope restricts a report query to what the caller may see: a
// client-scoped caller sees its client's client-facing reports only.
func reportScope(c *conds, s patch.Scope) {
	if s.All {
		return
	}
	c.add("r.client_id = ?", string(s.ClientID))
	c.add("r.kind <> ?", string(patch.ReportScorecard))
}

// FindReports lists reports, newest first.
func (db *DB) FindReports(ctx context.Context, f patch.ReportFilter) ([]*patch.Report, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	reportScope(&c, scope)
	if f.ID != nil {
		c.add("r.id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("r.client_id = ?", string(*f.ClientID))
	}
	if f.MSP {
		c.add("r.client_id = ''")
	}
	if f.Kind != nil {
		c.add("r.kind = ?", string(*f.Kind))
	}
	if f.Period != nil {
		c.add("r.period = ?", *f.Period)
	}
	if f.Trigger != nil {
		c.add("r.trigger_kind = ?", string(*f.Trigger))
	}
	where := c.where()
	var total int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports r`+where, c.args...).Scan(&total); err != nil {
		return nil, 0, db.classify(fmt.Errorf("count reports: %w", err))
	}
	tail := c.page(f.Limit, f.Offset)
	rows, err := db.read.QueryContext(ctx, `SELECT r.id, r.client_id, r.kind, r.period, r.period_start, r.period_end, r.title, r.trigger_kind,
		r.generated_at, r.generated_by, r.summary FROM reports r`+where+` ORDER BY r.generated_at DESC, r.id DESC`+tail, c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query reports: %w", err))
	}
	defer rows.Close()
	var out []*patch.Report
	byID := map[patch.ReportID]*patch.Report{}
	for rows.Next() {
		var (
			r                 patch.Report
			start, end, at    int64
			by, summary, kind string
			trigger           string
		)
		if err := rows.Scan(&r.ID, &r.ClientID, &kind, &r.Period.Key, &start, &end, &r.Title, &trigger, &at, &by, &summary); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan report: %w", err))
		}
		r.Kind, r.Trigger = patch.ReportKind(kind), patch.ReportTrigger(trigger)
		r.Period.Start, r.Period.End, r.GeneratedAt = fromMS(start), fromMS(end), fromMS(at)
		if err := fromJSON(by, &r.GeneratedBy); err != nil {
			return nil, 0, err
		}
		if err := fromJSON(summary, &r.Summary); err != nil {
			return nil, 0, err
		}
		r.Files = []patch.ReportFile{}
		out = append(out, &r)
		byID[r.ID] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, total, nil
	}
	var fc conds
	ids := make([]any, len(out))
	ph := ""
	for i, r := range out {
		ids[i] = string(r.ID)
		if i > 0 {
			ph += ", "
		}
		ph += "?"
	}
	fc.add("report_id IN ("+ph+")", ids...)
	frows, err := db.read.QueryContext(ctx, `SELECT report_id, name, format, content_type, size, sha256 FROM report_files`+fc.where()+` ORDER BY report_id, name`, fc.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query report files: %w", err))
	}
	defer frows.Close()
	for frows.Next() {
		var (
			id     patch.ReportID
			rf     patch.ReportFile
			format string
		)
		if err := frows.Scan(&id, &rf.Name, &format, &rf.ContentType, &rf.Size, &rf.SHA256); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan report file: %w", err))
		}
		rf.Format = patch.ReportFormat(format)
		if r := byID[id]; r != nil {
			r.Files = append(r.Files, rf)
		}
	}
	return out, total, db.classify(frows.Err())
}

// ReportContent returns the bytes of one file of a report.
func (db *DB) ReportContent(ctx context.Context, id patch.ReportID, name string) ([]byte, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	reportScope(&c, scope)
	c.add("f.report_id = ?", string(id))
	c.add("f.name = ?", name)
	var data []byte
	err = db.read.QueryRowContext(ctx, `SELECT f.content FROM report_files f JOIN reports r ON r.id = f.report_id`+c.where(), c.args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindNotFound, "Report %s has no file %q.", id, name)
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("read report file: %w", err))
	}
	return data, nil
}
