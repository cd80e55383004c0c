package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect is what differs between the SQL engines.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Goose is the migration dialect.
	Goose goose.Dialect
	// Locker, when set, serialises migrations across processes.
	Locker lock.SessionLocker
	// Classify translates a driver error into a *patch.Error when it
	// recognises it (by code, never by message) and returns err otherwise.
	Classify func(err error) error
	// Retryable reports whether a transaction failed only because of a
	// concurrent one (serialisation failure, deadlock) and may be retried.
	Retryable func(err error) bool
	// ForUpdate is appended to SELECTs whose rows the transaction will
	// change: " FOR UPDATE" on PostgreSQL. SQLite locks the database for
	// the whole write transaction instead, so it is empty there.
	ForUpdate string
}

// DB is a Patchring store on one SQL database. It implements every store
// contract of package patch.
type DB struct {
	// read serves queries outside transactions; write serves transactions.
	// On PostgreSQL they are the same pool; on SQLite write has a single
	// connection (SQLite has one writer) and read many (WAL readers).
	read, write *sql.DB
	dialect     Dialect

	closed atomic.Bool

	// Now returns the current time; every transaction reads it once so
	// that all rows written together carry the same timestamp.
	Now func() time.Time
}

// New returns a store over the given pools.
func New(read, write *sql.DB, d Dialect) *DB {
	return &DB{read: read, write: write, dialect: d, Now: time.Now}
}

// Dialect returns the name of the SQL dialect ("sqlite" or "postgres").
func (db *DB) Dialect() string { return db.dialect.Name }

// Close closes the connection pools.
func (db *DB) Close() error {
	db.closed.Store(true)
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.write.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return db.classify(err)
	}
	return nil
}

// classify turns an error from the driver into a classified one.
func (db *DB) classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*patch.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) || db.closed.Load() {
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	return db.dialect.Classify(err)
}

// Tx is a write transaction with a fixed clock and the caller's identity.
type Tx struct {
	tx    *sql.Tx
	db    *DB
	now   time.Time
	actor patch.Actor
	scope patch.Scope
}

// inTx runs fn in a write transaction. It commits when fn returns nil and
// rolls back otherwise. Transactions that fail only because of a concurrent
// one are retried a few times.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	actor, ok := patch.ActorFromContext(ctx)
	if !ok {
		return patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	scope, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := db.runTx(ctx, actor, scope, fn)
		if err != nil && attempt < 4 && db.dialect.Retryable != nil && db.dialect.Retryable(err) {
			continue
		}
		return err
	}
}

func (db *DB) runTx(ctx context.Context, actor patch.Actor, scope patch.Scope, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.classify(fmt.Errorf("begin transaction: %w", err))
	}
	tx := &Tx{tx: sqlTx, db: db, now: db.Now().UTC().Truncate(time.Millisecond), actor: actor, scope: scope}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		if db.dialect.Retryable != nil && db.dialect.Retryable(err) {
			return err
		}
		return db.classify(err)
	}
	if err := sqlTx.Commit(); err != nil {
		if db.dialect.Retryable != nil && db.dialect.Retryable(err) {
			return err
		}
		return db.classify(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, query, args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, query, args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// querier is what read helpers need: *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// conds builds a WHERE clause with numbered parameters.
type conds struct {
	parts []string
	args  []any
}

// add appends a condition; each '?' in expr becomes the next $N.
func (c *conds) add(expr string, args ...any) {
	var b strings.Builder
	i := 0
	for _, r := range expr {
		if r == '?' {
			c.args = append(c.args, args[i])
			i++
			b.WriteString("$" + strconv.Itoa(len(c.args)))
			continue
		}
		b.WriteRune(r)
	}
	if i != len(args) {
		panic(fmt.Sprintf("sqlstore: %d placeholders, %d args in %q", i, len(args), expr))
	}
	c.parts = append(c.parts, b.String())
}

// scope restricts column to the caller's client.
func (c *conds) scope(column string, s patch.Scope) {
	if !s.All {
		c.add(column+" = ?", string(s.ClientID))
	}
}

func (c *conds) where() string {
	if len(c.parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.parts, " AND ")
}

// page returns a LIMIT/OFFSET clause using the next parameters.
func (c *conds) page(limit, offset int) string {
	c.args = append(c.args, patch.PageLimit(limit), max(offset, 0))
	return fmt.Sprintf(" LIMIT $%d OFFSET $%d", len(c.args)-1, len(c.args))
}

// ms converts a time to stored milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMS converts an optional time: the zero time is stored as NULL.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// nullStr stores "" as NULL (for optional references).
func nullStr[S ~string](s S) any {
	if s == "" {
		return nil
	}
	return string(s)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return string(b)
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode stored JSON: %w", err)
	}
	return nil
}

// likePattern escapes a user substring for LIKE ... ESCAPE '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + strings.ToLower(r.Replace(s)) + "%"
}

// notFound is the uniform answer for a missing or out-of-scope object.
func notFound(what string, id any) error {
	return patch.Errorf(patch.KindNotFound, "%s %v not found.", what, id)
}

// scopeOf returns the caller's scope or an error.
func scopeOf(ctx context.Context) (patch.Scope, error) { return patch.ScopeFromContext(ctx) }
