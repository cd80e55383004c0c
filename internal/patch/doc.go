// Package patch is Patchring's domain vocabulary: the MSP, its clients (the
// tenant boundary), sites, assets, users, API tokens and the audit log, plus
// the classified error type and the per-aggregate store contracts that the
// SQLite and PostgreSQL packages implement.
//
// The package imports only the standard library and does no I/O. Rules that
// need nothing but the values themselves (validation, defaults, permission
// checks, tag semantics) live here as methods so that every transport (the
// JSON API, the web console, the CLI) and every store applies the same ones.
//
// Tenancy is part of the vocabulary: every request carries an [Actor] in its
// context, and stores derive a [Scope] from it with [ScopeFromContext]. A
// store that finds no actor refuses to work, so forgetting to authenticate
// fails closed.
package patch
