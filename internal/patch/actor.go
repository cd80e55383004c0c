package patch

import (
	"context"
	"slices"
)

// Role is what a user or token may do. Values are persisted: never change them.
type Role string

// Roles. An MSP admin runs the platform; technicians operate patching for
// every client; auditors read everything and change nothing; a client owner
// sees one client and signs off its exceptions.
const (
	RoleMSPAdmin    Role = "msp-admin"
	RoleTechnician  Role = "technician"
	RoleAuditor     Role = "auditor"
	RoleClientOwner Role = "client-owner"
)

// Roles lists every role, most privileged first.
var Roles = []Role{RoleMSPAdmin, RoleTechnician, RoleAuditor, RoleClientOwner}

// Validate reports whether r is a known role.
func (r Role) Validate() error {
	if !slices.Contains(Roles, r) {
		return FieldError("role", "must be one of msp-admin, technician, auditor, client-owner (got %q)", string(r))
	}
	return nil
}

// ClientScoped reports whether the role is confined to one client.
func (r Role) ClientScoped() bool { return r == RoleClientOwner }

// ActorKind says what kind of principal an Actor is.
type ActorKind string

// Actor kinds. They are persisted in the audit log.
const (
	ActorUser   ActorKind = "user"   // a person logged in to the console
	ActorToken  ActorKind = "token"  // an API token
	ActorAgent  ActorKind = "agent"  // an enrolled endpoint agent
	ActorSystem ActorKind = "system" // the server itself (background jobs, host-side CLI)
)

// Actor is the authenticated principal of a request.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Role Role      `json:"role,omitempty"`
	// ClientID confines the actor to one client when set. It is always set
	// for client owners and agents.
	ClientID ClientID `json:"client_id,omitempty"`
}

// SystemActor is the actor of work the server does on its own behalf and of
// host-side CLI commands (which already require access to the database).
func SystemActor(name string) Actor {
	return Actor{Kind: ActorSystem, ID: "system", Name: name, Role: RoleMSPAdmin}
}

// Permission names an action checked before a use case runs.
type Permission string

// Permissions. The table in [Actor.Can] is the single source of truth and
// is reproduced in docs/api.md.
const (
	PermRead           Permission = "read"            // read data of clients in scope
	PermManageClients  Permission = "manage-clients"  // create, edit, delete clients
	PermManageAssets   Permission = "manage-assets"   // sites, assets, imports
	PermManageUsers    Permission = "manage-users"    // users and API tokens of others
	PermReadAudit      Permission = "read-audit"      // the audit log
	PermOperate        Permission = "operate"         // approvals, cycles, policy, enrollment
	PermSignOff        Permission = "sign-off"        // client-owner sign-off of exceptions
	PermRequestChanges Permission = "request-changes" // request exceptions
)

var permissions = map[Role][]Permission{
	RoleMSPAdmin:    {PermRead, PermManageClients, PermManageAssets, PermManageUsers, PermReadAudit, PermOperate, PermRequestChanges},
	RoleTechnician:  {PermRead, PermManageAssets, PermOperate, PermRequestChanges},
	RoleAuditor:     {PermRead, PermReadAudit},
	RoleClientOwner: {PermRead, PermReadAudit, PermSignOff, PermRequestChanges},
}

// Can reports whether the actor holds permission p. The system actor can do
// everything an MSP admin can.
func (a Actor) Can(p Permission) bool {
	return slices.Contains(permissions[a.Role], p)
}

// Scope is the set of clients an actor may see: all of them, or one.
type Scope struct {
	All      bool
	ClientID ClientID
}

// Allows reports whether the scope covers client id.
func (s Scope) Allows(id ClientID) bool { return s.All || (id != "" && id == s.ClientID) }

// ScopeOf returns the client scope of an actor.
func ScopeOf(a Actor) Scope {
	if a.ClientID != "" || a.Role.ClientScoped() || a.Kind == ActorAgent {
		return Scope{ClientID: a.ClientID}
	}
	return Scope{All: true}
}

type actorKey struct{}

// NewContextWithActor returns a context carrying the actor of a request.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor in ctx, if any.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// ScopeFromContext returns the client scope of the actor in ctx. Without an
// actor it returns a KindUnauthenticated error: stores fail closed.
func ScopeFromContext(ctx context.Context) (Scope, error) {
	a, ok := ActorFromContext(ctx)
	if !ok {
		return Scope{}, Errorf(KindUnauthenticated, "Authentication required.")
	}
	s := ScopeOf(a)
	if !s.All && s.ClientID == "" {
		// A client-scoped role without a client sees nothing.
		return Scope{}, Errorf(KindForbidden, "This account is not assigned to a client.")
	}
	return s, nil
}

// Authorize returns a KindForbidden error unless the actor in ctx holds p.
func Authorize(ctx context.Context, p Permission) (Actor, error) {
	a, ok := ActorFromContext(ctx)
	if !ok {
		return Actor{}, Errorf(KindUnauthenticated, "Authentication required.")
	}
	if !a.Can(p) {
		return a, Errorf(KindForbidden, "Your role (%s) does not allow this (%s).", a.Role, p)
	}
	return a, nil
}
