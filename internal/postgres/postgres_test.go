package postgres_test

import (
	"testing"

	"github.com/patchring/patchring/internal/postgres/postgrestest"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return postgrestest.Open(t) })
}
