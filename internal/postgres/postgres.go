// Package postgres opens Patchring's PostgreSQL database, for MSPs that
// outgrow one machine or want several servers behind a load balancer. It
// uses pgx through database/sql so that the shared store logic in package
// sqlstore serves both engines, and translates PostgreSQL SQLSTATE codes
// into patch error kinds. Migrations take a session advisory lock, so
// servers started together migrate one at a time.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and returns a store. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, patch.WrapError(err, patch.KindInvalid, "The PostgreSQL connection string is invalid.")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, classify(fmt.Errorf("connect to postgres: %w", err))
	}
	return sqlstore.New(db, db, dialect()), nil
}

func dialect() sqlstore.Dialect {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		panic(fmt.Sprintf("postgres: session locker: %v", err)) // only fails on invalid options
	}
	return sqlstore.Dialect{
		Name:      "postgres",
		Goose:     goose.DialectPostgres,
		Locker:    locker,
		Classify:  classify,
		Retryable: retryable,
		ForUpdate: " FOR UPDATE",
	}
}

// classify maps SQLSTATE codes and connection failures to error kinds.
func classify(err error) error {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case pe.Code == "23505":
			return patch.WrapError(err, patch.KindConflict, "This conflicts with an existing record.")
		case pe.Code == "23503":
			return patch.WrapError(err, patch.KindInvalid, "This refers to a record that does not exist or is still in use.")
		case pe.Code == "23502", pe.Code == "23514", pe.Code == "22001", pe.Code == "22P02":
			return patch.WrapError(err, patch.KindInvalid, "A required value is missing or out of range.")
		case pe.Code[:2] == "08", pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300", pe.Code[:2] == "53":
			return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
		}
		return err
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	return err
}

// retryable reports serialisation failures and deadlocks.
func retryable(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pe.Code == "40001" || pe.Code == "40P01")
}
