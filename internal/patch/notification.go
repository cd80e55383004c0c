package patch

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Notification channels and the outbox of what they deliver.
//
// Alerts and tickets are recorded by the stores that detect their cause;
// in the same transaction the store appends a NotificationEvent (the
// outbox). A background loop routes each event to the channels whose
// filter matches it, as one NotificationDelivery per channel, and delivers
// them with retries. Nothing about channels or delivery is consulted while
// an alert is recorded, so a slow or broken receiver never holds up alert
// recording.

// ChannelID identifies a notification channel, DeliveryID one delivery and
// NotificationEventID one outbox event.
type (
	ChannelID           string
	DeliveryID          string
	NotificationEventID string
)

// ID prefixes of notifications.
const (
	PrefixChannel           = "nch"
	PrefixDelivery          = "ndl"
	PrefixNotificationEvent = "nev"
)

// KeyNotifySecrets is the server-key purpose of the key that seals webhook
// signing secrets when no external key is configured.
const KeyNotifySecrets = "notify-secrets"

// ChannelKind is how a channel delivers. Persisted.
type ChannelKind string

// Channel kinds.
const (
	ChannelWebhook ChannelKind = "webhook" // a signed HTTP POST (Standard Webhooks)
	ChannelEmail   ChannelKind = "email"   // a plain-text e-mail through the server's SMTP relay
)

// ChannelKinds lists every kind.
var ChannelKinds = []ChannelKind{ChannelWebhook, ChannelEmail}

// EventType names what happened. Persisted and sent to receivers: never
// change a value.
type EventType string

// Event types.
const (
	EventAlertRaised    EventType = "alert.raised"
	EventAlertEscalated EventType = "alert.escalated" // an open alert's severity rose
	EventAlertResolved  EventType = "alert.resolved"
	EventTicketOpened   EventType = "ticket.opened"
	EventTicketResolved EventType = "ticket.resolved"
	// EventTest is the "send test notification" action; it is never routed.
	EventTest EventType = "test"
)

// EventTypes lists the routable event types.
var EventTypes = []EventType{EventAlertRaised, EventAlertEscalated, EventAlertResolved, EventTicketOpened, EventTicketResolved}

// SeverityRank orders alert severities: info < warning < critical. Unknown
// severities rank lowest.
func SeverityRank(s string) int {
	switch s {
	case AlertWarning:
		return 2
	case AlertCritical:
		return 3
	case AlertInfo:
		return 1
	}
	return 0
}

// TicketSeverity is the severity under which a ticket is routed: a halted
// cycle stops patching for a whole client and is critical; an escalation
// concerns one deployment and is a warning.
func TicketSeverity(k TicketKind) string {
	if k == TicketCycleHalted {
		return AlertCritical
	}
	return AlertWarning
}

// EventFilter selects the events a channel receives. Empty lists do not
// filter.
type EventFilter struct {
	// Events are the event types to deliver; empty means all.
	Events []EventType `json:"events,omitempty" maxItems:"10" doc:"Event types to deliver (alert.raised, alert.escalated, alert.resolved, ticket.opened, ticket.resolved); empty: all"`
	// Kinds are alert kinds (updates_failed, exception_expired, …) and
	// ticket kinds (cycle_halted, escalation); empty means all.
	Kinds []string `json:"kinds,omitempty" maxItems:"50" doc:"Alert kinds (updates_failed, agent_offline, exception_expired, …) and ticket kinds (cycle_halted, escalation); empty: all"`
	// MinSeverity drops events below it; empty means info (everything).
	MinSeverity string `json:"min_severity,omitempty" enum:"info,warning,critical" doc:"Drop events below this severity; tickets: cycle_halted is critical, escalation warning"`
	// ClientIDs limits an MSP-wide channel to some clients; empty means
	// all. A client's own channel must leave it empty.
	ClientIDs []ClientID `json:"client_ids,omitempty" maxItems:"500" doc:"MSP-wide channels only: deliver only these clients' events; empty: all clients"`
}

// Channel is a destination for notifications: the MSP's (ClientID empty,
// all clients' events) or one client's (only that client's events).
type Channel struct {
	ID ChannelID `json:"id"`
	// ClientID is the client the channel belongs to; empty for an
	// MSP-wide channel.
	ClientID ClientID    `json:"client_id,omitempty"`
	Name     string      `json:"name"`
	Kind     ChannelKind `json:"kind"`
	Enabled  bool        `json:"enabled"`
	// URL is a webhook's endpoint.
	URL string `json:"url,omitempty"`
	// SecretHint is the start of the webhook's signing secret, to tell
	// secrets apart; the secret itself is shown once.
	SecretHint string `json:"secret_hint,omitempty"`
	// SealedSecret is the webhook signing secret, encrypted by the server;
	// the store keeps it opaque.
	SealedSecret string `json:"-"`
	// Recipients are an e-mail channel's addresses.
	Recipients []string    `json:"recipients,omitempty"`
	Filter     EventFilter `json:"filter"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// Limits of a channel.
const (
	MaxChannelRecipients = 50
	MaxWebhookURL        = 2000
)

// Validate checks the channel's fields (not the reachability of a webhook
// URL, which the server's network policy decides).
func (c *Channel) Validate() error {
	if err := validName("name", c.Name, 200); err != nil {
		return err
	}
	switch c.Kind {
	case ChannelWebhook:
		if err := ValidateWebhookURL("url", c.URL); err != nil {
			return err
		}
		if len(c.Recipients) > 0 {
			return FieldError("recipients", "are for e-mail channels; a webhook has a url")
		}
		if c.SealedSecret == "" {
			return FieldError("secret", "is required for a webhook")
		}
	case ChannelEmail:
		if c.URL != "" {
			return FieldError("url", "is for webhook channels; an e-mail channel has recipients")
		}
		if len(c.Recipients) == 0 {
			return FieldError("recipients", "must list at least one e-mail address")
		}
		if len(c.Recipients) > MaxChannelRecipients {
			return FieldError("recipients", "must list at most %d addresses", MaxChannelRecipients)
		}
		for i, r := range c.Recipients {
			if err := validEmail(fmt.Sprintf("recipients[%d]", i), r); err != nil {
				return err
			}
			if slices.Contains(c.Recipients[:i], r) {
				return FieldError(fmt.Sprintf("recipients[%d]", i), "repeats %s", r)
			}
		}
	default:
		return FieldError("kind", "must be webhook or email (got %q)", string(c.Kind))
	}
	return c.Filter.validate(c.ClientID)
}

func (f *EventFilter) validate(owner ClientID) error {
	for i, e := range f.Events {
		if !slices.Contains(EventTypes, e) {
			return FieldError(fmt.Sprintf("filter.events[%d]", i), "must be one of alert.raised, alert.escalated, alert.resolved, ticket.opened, ticket.resolved (got %q)", string(e))
		}
	}
	for i, k := range f.Kinds {
		if k == "" || len(k) > 64 || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return FieldError(fmt.Sprintf("filter.kinds[%d]", i), "must be an alert or ticket kind such as updates_failed (got %q)", k)
		}
	}
	if f.MinSeverity != "" && SeverityRank(f.MinSeverity) == 0 {
		return FieldError("filter.min_severity", "must be info, warning or critical (got %q)", f.MinSeverity)
	}
	if owner != "" && len(f.ClientIDs) > 0 {
		return FieldError("filter.client_ids", "applies to MSP-wide channels only; a client's channel receives that client's events")
	}
	for i, id := range f.ClientIDs {
		if id == "" || slices.Contains(f.ClientIDs[:i], id) {
			return FieldError(fmt.Sprintf("filter.client_ids[%d]", i), "must name each client once")
		}
	}
	return nil
}

// ValidateWebhookURL checks the shape of a webhook URL: http or https, a
// host, no credentials, no fragment.
func ValidateWebhookURL(field, raw string) error {
	if raw == "" {
		return FieldError(field, "is required")
	}
	if len(raw) > MaxWebhookURL {
		return FieldError(field, "must be at most %d characters", MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return FieldError(field, "must be an absolute https:// URL")
	}
	if u.User != nil {
		return FieldError(field, "must not carry credentials; the receiver checks the signature instead")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return FieldError(field, "must not have a #fragment")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return FieldError(field, "must not contain spaces")
	}
	return nil
}

// ChannelUpdate is a partial update of a channel. Kind and owner never
// change.
type ChannelUpdate struct {
	Name       *string      `json:"name,omitempty"`
	Enabled    *bool        `json:"enabled,omitempty"`
	URL        *string      `json:"url,omitempty"`
	Recipients *[]string    `json:"recipients,omitempty"`
	Filter     *EventFilter `json:"filter,omitempty"`
	// SealedSecret replaces the webhook secret (rotation); set by the
	// server, never by callers.
	SealedSecret *string `json:"-"`
	SecretHint   *string `json:"-"`
}

// Apply applies u to c.
func (u ChannelUpdate) Apply(c *Channel) {
	set(&c.Name, u.Name)
	set(&c.Enabled, u.Enabled)
	set(&c.URL, u.URL)
	set(&c.Recipients, u.Recipients)
	set(&c.Filter, u.Filter)
	set(&c.SealedSecret, u.SealedSecret)
	set(&c.SecretHint, u.SecretHint)
}

// ChannelFilter selects channels, by name.
type ChannelFilter struct {
	ID       *ChannelID
	ClientID *ClientID
	// MSPOnly selects the MSP-wide channels (no client).
	MSPOnly bool
	Kind    *ChannelKind
	Enabled *bool
	Offset  int
	Limit   int
}

// NotificationEvent is one outbox entry: what happened, with a snapshot of
// the alert or ticket as it was then, so a retry days later sends what was
// true at the time.
type NotificationEvent struct {
	ID         NotificationEventID `json:"id"`
	Type       EventType           `json:"type"`
	ClientID   ClientID            `json:"client_id,omitempty"`
	ClientName string              `json:"client_name,omitempty"`
	// Source is "alert" or "ticket"; SourceID its id.
	Source   string `json:"source,omitempty"`
	SourceID string `json:"source_id,omitempty"`
	// Kind is the alert's or ticket's kind; Severity the alert's severity
	// or the ticket's (see TicketSeverity).
	Kind     string `json:"kind,omitempty"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	// Alert or Ticket is the snapshot.
	Alert     *Alert    `json:"alert,omitempty"`
	Ticket    *Ticket   `json:"ticket,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DeliveryState is where a delivery stands. Persisted.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"   // waiting for its (next) attempt
	DeliveryDelivered DeliveryState = "delivered" // the receiver accepted it
	DeliveryFailed    DeliveryState = "failed"    // given up: out of attempts or refused for good
	DeliveryCanceled  DeliveryState = "canceled"  // the channel was disabled before it was sent
)

// Delivery is one event sent, or to be sent, to one channel. Its ID is the
// idempotency key receivers see (the webhook-id header, the e-mail's
// Message-ID): it stays the same across retries.
type Delivery struct {
	ID        DeliveryID          `json:"id"`
	ChannelID ChannelID           `json:"channel_id"`
	EventID   NotificationEventID `json:"event_id"`
	EventType EventType           `json:"event_type"`
	// ClientID is the event's client (empty for a test).
	ClientID ClientID      `json:"client_id,omitempty"`
	Summary  string        `json:"summary"`
	Severity string        `json:"severity"`
	State    DeliveryState `json:"state"`
	Attempts int           `json:"attempts"`
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// LastStatus is the receiver's last answer: an HTTP status or an SMTP
	// reply code; 0 when none came (network error, timeout).
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	ChannelID *ChannelID
	ClientID  *ClientID
	State     *DeliveryState
	Offset    int
	Limit     int
}

// DeliveryJob is a claimed delivery with what is needed to send it.
type DeliveryJob struct {
	Delivery *Delivery
	Channel  *Channel
	Event    *NotificationEvent
	// Claim fences the job: only the claimant's outcome is recorded, and
	// only until the lease expires and another server claims it.
	Claim string
}

// DeliveryOutcome is what an attempt did.
type DeliveryOutcome struct {
	// State is DeliveryDelivered, DeliveryFailed (give up) or
	// DeliveryPending (retry after RetryIn).
	State      DeliveryState
	RetryIn    time.Duration
	LastStatus int
	LastError  string
}

// ChannelStore persists notification channels. Client-scoped actors see
// and change only their client's channels; MSP-wide channels (no client)
// exist only for unscoped actors (KindNotFound otherwise).
type ChannelStore interface {
	FindChannelByID(ctx context.Context, id ChannelID) (*Channel, error)
	FindChannels(ctx context.Context, f ChannelFilter) ([]*Channel, int, error)
	// CreateChannel stores c (ID set by the caller), audited. An owning
	// client out of scope or a filter naming an unknown client gives
	// KindNotFound / KindInvalid on filter.client_ids[i]; a duplicate name
	// within the owner gives KindConflict on name.
	CreateChannel(ctx context.Context, c *Channel) error
	// UpdateChannel applies upd, audited. Disabling a channel cancels its
	// pending deliveries.
	UpdateChannel(ctx context.Context, id ChannelID, upd ChannelUpdate) (*Channel, error)
	// DeleteChannel removes a channel with its deliveries, audited.
	DeleteChannel(ctx context.Context, id ChannelID) error
}

// NotificationStore is the outbox and the delivery queue. The methods
// that drive delivery are for the server's own (unscoped) actor.
type NotificationStore interface {
	// RouteNotifications takes up to limit unrouted events, oldest first,
	// passes each with the enabled channels to match, stores one pending
	// delivery per matched channel (due now) and marks the event routed,
	// in one transaction. Several servers may route at once: an event is
	// routed by exactly one. It returns how many events it routed.
	RouteNotifications(ctx context.Context, limit int, match func(*NotificationEvent, []*Channel) []*Channel) (int, error)
	// ClaimDeliveries claims up to limit due pending deliveries of enabled
	// channels for lease: each gets a new claim token, one more attempt,
	// and is not due again until the lease ends, so a server that dies
	// mid-send hands it on. A delivery is claimed by one server at a time.
	ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]*DeliveryJob, error)
	// CompleteDelivery records an attempt's outcome. It returns
	// KindConflict when the claim is no longer current (the lease ran out
	// and another server claimed the delivery) and records nothing.
	CompleteDelivery(ctx context.Context, id DeliveryID, claim string, o DeliveryOutcome) (*Delivery, error)
	// RecordTestDelivery stores a test event and its delivery to ch with
	// the attempt's outcome, audited as channel.test.
	RecordTestDelivery(ctx context.Context, ch *Channel, ev *NotificationEvent, d *Delivery) error
	// FindDeliveries lists deliveries of channels in scope, newest first.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, int, error)
	// PruneNotifications deletes routed events and finished deliveries
	// older than before; it returns how many rows it deleted.
	PruneNotifications(ctx context.Context, before time.Time) (int, error)
}
