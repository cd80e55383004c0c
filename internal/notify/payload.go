package notify

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Payload is the JSON body of a webhook, in the Standard Webhooks shape
// (type, timestamp, data). It is the same for every attempt of a delivery:
// timestamp is when the event happened, not when it was sent (the signed
// webhook-timestamp header is the send time).
type Payload struct {
	Type      patch.EventType `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      PayloadData     `json:"data"`
}

// PayloadData describes the event.
type PayloadData struct {
	// DeliveryID equals the webhook-id header: drop repeats by it.
	DeliveryID patch.DeliveryID `json:"delivery_id"`
	// EventID is the same for every channel the event went to.
	EventID    patch.NotificationEventID `json:"event_id"`
	ClientID   patch.ClientID            `json:"client_id,omitempty"`
	ClientName string                    `json:"client_name,omitempty"`
	Kind       string                    `json:"kind,omitempty"`
	Severity   string                    `json:"severity"`
	Summary    string                    `json:"summary"`
	// Alert or Ticket as it was when the event happened.
	Alert  *patch.Alert  `json:"alert,omitempty"`
	Ticket *patch.Ticket `json:"ticket,omitempty"`
}

// NewPayload returns the payload of a message.
func NewPayload(m *Message) Payload {
	ev := m.Event
	return Payload{
		Type:      ev.Type,
		Timestamp: ev.CreatedAt.UTC(),
		Data: PayloadData{
			DeliveryID: m.DeliveryID, EventID: ev.ID, ClientID: ev.ClientID, ClientName: ev.ClientName,
			Kind: ev.Kind, Severity: ev.Severity, Summary: ev.Summary, Alert: ev.Alert, Ticket: ev.Ticket,
		},
	}
}

// Body returns the JSON body of a message's webhook.
func Body(m *Message) ([]byte, error) {
	b, err := json.Marshal(NewPayload(m))
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	return b, nil
}

// eventTitles name event types in subjects.
var eventTitles = map[patch.EventType]string{
	patch.EventAlertRaised:    "Alert",
	patch.EventAlertEscalated: "Alert escalated",
	patch.EventAlertResolved:  "Resolved",
	patch.EventTicketOpened:   "Ticket",
	patch.EventTicketResolved: "Ticket resolved",
	patch.EventTest:           "Test",
}

// Text returns the subject and plain-text body of a message's e-mail. The
// subject is one line (no CR or LF, at most 200 characters).
func Text(m *Message) (subject, body string) {
	ev := m.Event
	title := eventTitles[ev.Type]
	if title == "" {
		title = string(ev.Type)
	}
	var sb strings.Builder
	sb.WriteString("[Patchring] ")
	if ev.Type != patch.EventAlertResolved && ev.Type != patch.EventTicketResolved && ev.Severity != "" {
		sb.WriteString(strings.ToUpper(ev.Severity) + " ")
	}
	sb.WriteString(title + ": ")
	if ev.ClientName != "" {
		sb.WriteString(ev.ClientName + " – ")
	}
	sb.WriteString(ev.Summary)
	subject = oneLine(sb.String(), 200)

	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", k+":", v)
		}
	}
	b.WriteString(ev.Summary + "\n\n")
	line("Event", string(ev.Type))
	line("Client", ev.ClientName)
	line("Severity", ev.Severity)
	line("Kind", ev.Kind)
	line("When", ev.CreatedAt.UTC().Format(time.RFC1123))
	if a := ev.Alert; a != nil {
		line("Alert", string(a.ID))
		line("Subject", a.SubjectType+" "+a.SubjectID)
		keys := make([]string, 0, len(a.Details))
		for k := range a.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 0 {
			b.WriteString("\nDetails\n")
			for _, k := range keys {
				fmt.Fprintf(&b, "  %s: %s\n", k, a.Details[k])
			}
		}
	}
	if t := ev.Ticket; t != nil {
		line("Ticket", string(t.ID))
		line("Cycle", string(t.CycleID))
		line("Asset", string(t.AssetID))
		line("Ring", t.Ring)
		line("Resolution", t.Resolution)
		if t.Body != "" {
			b.WriteString("\n" + t.Body + "\n")
		}
	}
	fmt.Fprintf(&b, "\nDelivery %s (event %s). Sent by Patchring; change what you receive under Settings → Notification channels.\n", m.DeliveryID, ev.ID)
	return subject, b.String()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// SecretPrefix starts every webhook signing secret (the Standard Webhooks
// convention: whsec_ and the base64 of the key bytes).
const SecretPrefix = "whsec_"

// NewSecret returns a new webhook signing secret: 32 random bytes.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("notify: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// SecretHint returns the displayable start of a secret.
func SecretHint(secret string) string {
	if len(secret) > len(SecretPrefix)+6 {
		return secret[:len(SecretPrefix)+6]
	}
	return ""
}
