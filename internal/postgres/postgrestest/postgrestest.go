// Package postgrestest gives each test its own empty PostgreSQL schema in
// the database named by PATCHRING_POSTGRES_DSN, so tests run in parallel
// without seeing each other's rows and leave nothing behind.
//
// Without the variable the tests skip, except in CI (CI=true), where a
// missing PostgreSQL is a failure: nothing is silently skipped there.
package postgrestest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/patchring/patchring/internal/postgres"
	"github.com/patchring/patchring/internal/sqlstore"
)

// EnvDSN names the variable holding the test database's connection string.
const EnvDSN = "PATCHRING_POSTGRES_DSN"

// DSN returns the test database's connection string, skipping the test (or
// failing it in CI) when none is configured.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL suite (see .ci/run)", EnvDSN)
		}
		t.Skipf("%s not set; skipping PostgreSQL tests", EnvDSN)
	}
	return dsn
}

// NewSchema creates an empty schema, drops it when the test ends, and
// returns a connection string whose search_path points at it.
func NewSchema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin := mustAdmin(t, dsn)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin := mustAdmin(t, dsn)
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// Open returns a fresh, migrated store in its own schema.
func Open(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustAdmin(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDSN, err)
	}
	return stdlib.OpenDB(*cfg)
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", EnvDSN, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
