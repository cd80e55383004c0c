package patch

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry records one change: who made it, when, to what, and the
// object's state before and after. Stores write audit entries in the same
// transaction as the change itself, so a change without its entry (or the
// reverse) cannot exist.
type AuditEntry struct {
	ID         string          `json:"id"`
	At         time.Time       `json:"at"`
	Actor      Actor           `json:"actor"`
	ClientID   ClientID        `json:"client_id,omitempty"`
	Action     string          `json:"action"` // "client.create", "asset.update", "token.revoke"
	EntityType string          `json:"entity_type"`
	EntityID   string          `json:"entity_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	ClientID   *ClientID
	EntityType *string
	EntityID   *string
	ActorID    *string
	Action     *string
	Since      *time.Time
	Until      *time.Time
	Offset     int
	Limit      int
}

type requestIDKey struct{}

// NewContextWithRequestID returns a context carrying the id of the request,
// which audit entries record so that a change can be traced to its log line.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request id in ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
