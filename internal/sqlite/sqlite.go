// Package sqlite opens Patchring's embedded database: a single SQLite file
// driven by modernc.org/sqlite, a pure-Go translation of SQLite, so the
// binary needs no cgo and cross-compiles to every agent and server platform.
//
// SQLite has one writer at a time. Instead of letting writers collide and
// retry on SQLITE_BUSY, Open makes two pools: a write pool with a single
// connection whose transactions begin IMMEDIATE (writers queue in Go, in
// order) and a read pool of several connections that read concurrently
// from the write-ahead log. The shared store logic lives in package
// sqlstore; this package supplies the connection setup and the translation
// of SQLite result codes into patch error kinds.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file created under a data directory.
const FileName = "patchring.db"

// Open opens (creating if needed) the database file at path and returns a
// store. It does not migrate; call Migrate.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		pragmas.Add("_pragma", p)
	}
	writeDSN := "file:" + path + "?" + pragmas.Encode() + "&_txlock=immediate"
	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// The first connection creates the file and switches it to WAL, so do
	// it before the read pool opens the same file.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		write.Close()
		return nil, fmt.Errorf("restrict permissions of %s: %w", path, err)
	}
	pragmas.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return sqlstore.New(read, write, Dialect()), nil
}

// Dialect returns the SQLite dialect of the shared store.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:      "sqlite",
		Goose:     goose.DialectSQLite3,
		Classify:  classify,
		Retryable: func(error) bool { return false }, // writers are serialised; nothing to retry
	}
}

// classify maps SQLite result codes to error kinds.
func classify(err error) error {
	se, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return patch.WrapError(err, patch.KindConflict, "This conflicts with an existing record.")
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return patch.WrapError(err, patch.KindInvalid, "This refers to a record that does not exist or is still in use.")
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK:
		return patch.WrapError(err, patch.KindInvalid, "A required value is missing or out of range.")
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	switch se.Code() & 0xff { // primary result code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return patch.WrapError(err, patch.KindUnavailable, "The database is unavailable; try again shortly.")
	}
	return err
}
