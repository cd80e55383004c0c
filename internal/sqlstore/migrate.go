package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies every pending migration. It is safe to call from several
// processes at once on PostgreSQL (the dialect's session locker serialises
// them) and is a no-op when the schema is current.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := db.migrations()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, db.classify(fmt.Errorf("apply migrations: %w", err))
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// SchemaVersion returns the current and the newest known migration versions.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrations()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, db.classify(fmt.Errorf("read schema version: %w", err))
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

func (db *DB) migrations() (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithTableName("schema_migrations")}
	if db.dialect.Locker != nil {
		opts = append(opts, goose.WithSessionLocker(db.dialect.Locker))
	}
	p, err := goose.NewProvider(db.dialect.Goose, db.write, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}
