// Package sqlstore implements the patch store contracts once, over
// database/sql, for both SQLite and PostgreSQL.
//
// The style guide proposed two store packages with their own SQL. We chose
// one implementation with a small [Dialect] instead, because the two engines
// agree on everything Patchring's queries need ($N parameters, ON CONFLICT
// upserts, RETURNING, partial and expression indexes, window functions) and
// two copies of every query would drift apart. What differs lives in the
// adapter packages that own the drivers: package sqlite (modernc.org/sqlite,
// pure Go) and package postgres (pgx). They open the connections, translate
// driver errors to patch error kinds by code, and supply the dialect.
//
// Schema rules that keep one schema portable: identifiers are TEXT (patch
// IDs), times are BIGINT Unix milliseconds in UTC (exact, sortable, no
// driver time-zone conversions), booleans are BOOLEAN, small lists are JSON
// in TEXT columns, and nothing relies on engine-specific types. Migrations
// are embedded and applied with goose, each in its own transaction; on
// PostgreSQL a session advisory lock keeps concurrent servers from
// migrating at the same time.
//
// Tenancy is enforced here, in the queries: every method derives the
// caller's scope from the Actor in its context and adds the client
// condition to its SQL, so a handler that forgets a check still cannot leak
// another client's rows. Every write runs in one transaction together with
// its audit entry.
package sqlstore
