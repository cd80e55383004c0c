package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, MustOpen)
}

// MustOpen opens a fresh migrated database in a temporary directory.
func MustOpen(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
