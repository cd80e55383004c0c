package patch

import (
	"context"
	"time"
)

// ClientCounts are the attention numbers of one client that a dashboard
// shows side by side: each is the row count of a list a person can open
// (open findings past their SLA deadline, assets whose UPDATES – Failed or
// Agent offline monitor alarms, halted cycles, exceptions about to end).
// They are counted in one grouped query, so an overview of every client
// costs the same whatever the fleet's size.
type ClientCounts struct {
	ClientID ClientID `json:"client_id"`
	// SLABreached and SLADueSoon count open findings by their stored SLA
	// status (the last evaluation's, as the findings list filters them).
	SLABreached int `json:"sla_breached"`
	SLADueSoon  int `json:"sla_due_soon"`
	// FailedUpdates and AgentsOffline count assets whose UPDATES – Failed
	// or Agent offline monitor is warning or critical.
	FailedUpdates int `json:"failed_updates"`
	AgentsOffline int `json:"agents_offline"`
	// HaltedCycles and RunningCycles count patch cycles by state.
	HaltedCycles  int `json:"halted_cycles"`
	RunningCycles int `json:"running_cycles"`
	// ExpiringExceptions counts approved or active exceptions whose hard
	// expiry is before the filter's ExpiringBefore; AwaitingSignOff the
	// requested ones.
	ExpiringExceptions int `json:"expiring_exceptions"`
	AwaitingSignOff    int `json:"awaiting_sign_off"`
}

// ClientCountFilter selects what CountByClient counts.
type ClientCountFilter struct {
	ClientID *ClientID
	// ExpiringBefore is the hard-expiry bound of ExpiringExceptions; zero
	// counts none.
	ExpiringBefore time.Time
}

// ClientCountStore aggregates the attention numbers of clients.
type ClientCountStore interface {
	// CountByClient returns one row per client in scope with at least one
	// non-zero number, ordered by client id. A client outside the caller's
	// scope contributes nothing, even when named by the filter.
	CountByClient(ctx context.Context, f ClientCountFilter) ([]ClientCounts, error)
}
