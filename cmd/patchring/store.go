package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/patchring/patchring/internal/postgres"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/spf13/cobra"
)

// storeFlags are the flags that choose the database.
type storeFlags struct {
	data string
	db   string
}

func (s *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.data, "data", defaultDataDir, "directory for the embedded SQLite database (used unless --db is set)")
	cmd.Flags().StringVar(&s.db, "db", "", "PostgreSQL URL (postgres://user@host/db) instead of embedded SQLite")
}

// open opens the chosen database.
func (s *storeFlags) open(ctx context.Context) (*sqlstore.DB, error) {
	if s.db != "" {
		if !strings.HasPrefix(s.db, "postgres://") && !strings.HasPrefix(s.db, "postgresql://") {
			return nil, usagef("--db must be a postgres:// URL (leave it empty for embedded SQLite under --data)")
		}
		db, err := postgres.Open(ctx, s.db)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return db, nil
	}
	path := filepath.Join(s.data, sqlite.FileName)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// describe names the database for log lines, without credentials.
func (s *storeFlags) describe() string {
	if s.db != "" {
		if i := strings.Index(s.db, "@"); i >= 0 {
			return "postgres://…" + s.db[i:]
		}
		return "postgres"
	}
	return "sqlite:" + filepath.Join(s.data, sqlite.FileName)
}
