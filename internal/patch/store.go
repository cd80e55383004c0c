package patch

import "context"

// Store contracts. Each is implemented by the SQL store for SQLite and for
// PostgreSQL and exercised by one conformance suite (package storetest)
// against both.
//
// Rules common to every method:
//   - ctx must carry an Actor (see NewContextWithActor); without one the
//     method returns KindUnauthenticated. The actor's Scope limits every read
//     and write to its client: an object of another client is reported as
//     KindNotFound, exactly as if it did not exist, so scoped callers cannot
//     probe for other tenants' ids.
//   - Every write runs in one transaction together with its audit entry.
//   - A database that cannot be reached gives KindUnavailable.
//   - Find* methods that list return the page and the total count matching
//     the filter before paging. Limit 0 means the default page size (100);
//     limits above 1000 are capped.
//   - Implementations are safe for concurrent use.

// MSPStore holds the singleton MSP settings.
type MSPStore interface {
	// FindMSP returns the MSP settings; KindNotFound before they are set.
	FindMSP(ctx context.Context) (*MSP, error)
	// SetMSP creates or replaces the MSP settings. Unscoped actors only.
	SetMSP(ctx context.Context, m *MSP) error
}

// ClientStore persists clients and their asset classes.
type ClientStore interface {
	FindClientByID(ctx context.Context, id ClientID) (*Client, error)
	FindClients(ctx context.Context, f ClientFilter) ([]*Client, int, error)
	// CreateClient stores c; its ID and timestamps must be set. A name that
	// exists already (case-insensitively) gives KindConflict.
	CreateClient(ctx context.Context, c *Client) error
	// UpdateClient applies upd and returns the new state. Removing an asset
	// class that assets still use gives KindConflict.
	UpdateClient(ctx context.Context, id ClientID, upd ClientUpdate) (*Client, error)
	// DeleteClient removes a client with its sites and API tokens. A client
	// that still has assets or users gives KindConflict.
	DeleteClient(ctx context.Context, id ClientID) error
}

// SiteStore persists sites.
type SiteStore interface {
	FindSiteByID(ctx context.Context, id SiteID) (*Site, error)
	FindSites(ctx context.Context, f SiteFilter) ([]*Site, int, error)
	// CreateSite stores s. A duplicate name within the client gives
	// KindConflict; a client outside the scope gives KindNotFound.
	CreateSite(ctx context.Context, s *Site) error
	UpdateSite(ctx context.Context, id SiteID, upd SiteUpdate) (*Site, error)
	// DeleteSite removes a site; one that assets still reference gives
	// KindConflict.
	DeleteSite(ctx context.Context, id SiteID) error
}

// AssetStore persists assets and their tags.
type AssetStore interface {
	FindAssetByID(ctx context.Context, id AssetID) (*Asset, error)
	FindAssets(ctx context.Context, f AssetFilter) ([]*Asset, int, error)
	// CreateAsset stores a. The client must exist in scope; a SiteID of
	// another client gives KindInvalid on field site_id; an unknown class
	// gives KindInvalid on field class; a duplicate IdentityKey within the
	// client gives KindConflict.
	CreateAsset(ctx context.Context, a *Asset) error
	// UpdateAsset applies upd with the same checks as CreateAsset.
	UpdateAsset(ctx context.Context, id AssetID, upd AssetUpdate) (*Asset, error)
	DeleteAsset(ctx context.Context, id AssetID) error
	// ImportAssets creates or updates all rows in one transaction: either
	// every row is stored or none is. A row updates the asset with its ID,
	// or else the one asset of the client with its hostname, or else
	// creates one. Errors name the row's line.
	ImportAssets(ctx context.Context, clientID ClientID, rows []AssetImportRow) (ImportResult, error)
}

// AssetImportRow is one row of an asset import: the columns present in the
// file, as a partial update, and the line it came from.
type AssetImportRow struct {
	Line   int
	ID     AssetID
	Fields AssetUpdate
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// UserStore persists console users.
type UserStore interface {
	FindUserByID(ctx context.Context, id UserID) (*User, error)
	FindUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	// CreateUser stores u. A duplicate e-mail gives KindConflict.
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, id UserID, upd UserUpdate) (*User, error)
	DeleteUser(ctx context.Context, id UserID) error
}

// TokenStore persists API tokens.
type TokenStore interface {
	// AuthenticateToken looks up an active token by the hash of its secret
	// and records its use. It needs no actor (it is how one is obtained)
	// and returns KindUnauthenticated for unknown, revoked or expired
	// tokens, never saying which.
	AuthenticateToken(ctx context.Context, hash string) (*Token, error)
	FindTokenByID(ctx context.Context, id TokenID) (*Token, error)
	FindTokens(ctx context.Context, f TokenFilter) ([]*Token, int, error)
	// CreateToken stores t; t.Hash must be set.
	CreateToken(ctx context.Context, t *Token) error
	// RevokeToken revokes a token; revoking twice is not an error.
	RevokeToken(ctx context.Context, id TokenID) (*Token, error)
}

// AuditStore reads the audit log. Entries are written by the other stores.
type AuditStore interface {
	FindAuditEntries(ctx context.Context, f AuditFilter) ([]*AuditEntry, int, error)
}

// Pinger reports whether storage is reachable, for readiness checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// DefaultLimit and MaxLimit bound list pages.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageLimit returns the effective page size for a requested limit.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}
