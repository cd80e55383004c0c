// Package notify is the contract between Patchring's notifier and the
// ways it delivers (package webhook, package email), plus what they share:
// which channels an event goes to (Match), the payload receivers get
// (Payload, Text), the retry policy (Retry) and the box that keeps webhook
// signing secrets encrypted at rest (Sealer).
//
// The notifier itself (routing the outbox, claiming deliveries, recording
// outcomes) is a background loop of package server; this package has no
// I/O of its own so that all of it is tested as pure functions.
//
// Delivery is at least once: a delivery whose sender crashed after the
// receiver accepted it is sent again, with the same idempotency key (the
// delivery ID, sent as the webhook-id header and the e-mail Message-ID).
// Receivers drop repeats by that key.
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Message is one attempt to deliver an event to a channel.
type Message struct {
	// DeliveryID is the idempotency key: the same for every attempt.
	DeliveryID patch.DeliveryID
	Channel    *patch.Channel
	// Secret is a webhook's signing secret, unsealed.
	Secret  string
	Event   *patch.NotificationEvent
	Attempt int
}

// A Sender delivers messages of one channel kind. Send returns nil when
// the receiver accepted the message; otherwise an error, a *SendError
// when it knows more (the receiver's status, whether retrying can help).
// Senders must be safe for concurrent use and must return when ctx is
// done.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// A ChannelValidator checks, when a channel is created or changed, that
// this server can deliver to it (a webhook URL its network policy allows,
// an SMTP relay configured for e-mail). Errors are *patch.Error on the
// channel's fields.
type ChannelValidator interface {
	ValidateChannel(ch *patch.Channel) error
}

// SendError is a failed attempt with what the receiver said.
type SendError struct {
	// Status is the HTTP status or SMTP reply code; 0 when none came.
	Status int
	// Permanent means retrying cannot help (a refused destination, a
	// rejected recipient): the delivery is given up at once.
	Permanent bool
	// RetryAfter is the receiver's requested delay (HTTP Retry-After),
	// if any.
	RetryAfter time.Duration
	Err        error
}

// Error is the cause's text; Status is kept apart (senders' errors name
// it already).
func (e *SendError) Error() string { return e.Err.Error() }

func (e *SendError) Unwrap() error { return e.Err }

// Permanent wraps err as a failure that retrying cannot fix.
func Permanent(err error) error { return &SendError{Permanent: true, Err: err} }

// Match returns the channels of chs that receive ev, in the order given.
func Match(ev *patch.NotificationEvent, chs []*patch.Channel) []*patch.Channel {
	var out []*patch.Channel
	for _, ch := range chs {
		if Matches(ch, ev) {
			out = append(out, ch)
		}
	}
	return out
}

// Matches reports whether ch receives ev: the channel is enabled, belongs
// to the MSP or to the event's client, and its filter lets the event
// through. Test events are never routed.
func Matches(ch *patch.Channel, ev *patch.NotificationEvent) bool {
	if !ch.Enabled || ev.Type == patch.EventTest {
		return false
	}
	if ch.ClientID != "" && ch.ClientID != ev.ClientID {
		return false
	}
	f := ch.Filter
	if len(f.ClientIDs) > 0 && !slices.Contains(f.ClientIDs, ev.ClientID) {
		return false
	}
	if len(f.Events) > 0 && !slices.Contains(f.Events, ev.Type) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, ev.Kind) {
		return false
	}
	if f.MinSeverity != "" && patch.SeverityRank(ev.Severity) < patch.SeverityRank(f.MinSeverity) {
		return false
	}
	return true
}

// Retry is the retry policy: after the n-th failed attempt the next one
// waits Base·2^(n-1), at most Max, spread by ±20 % (derived from the
// delivery ID, so it is the same on every server and in tests); after
// Attempts attempts the delivery is given up.
type Retry struct {
	Base     time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultRetry waits 30 s, 1 min, 2 min … up to 1 h between attempts and
// gives up after 12 attempts, about 5 hours after the first.
var DefaultRetry = Retry{Base: 30 * time.Second, Max: time.Hour, Attempts: 12}

func (r Retry) withDefaults() Retry {
	if r.Base <= 0 {
		r.Base = DefaultRetry.Base
	}
	if r.Max <= 0 {
		r.Max = DefaultRetry.Max
	}
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	return r
}

// Delay is the wait after the attempt-th failed attempt (1-based) of the
// delivery with the given key.
func (r Retry) Delay(attempt int, key string) time.Duration {
	r = r.withDefaults()
	d := r.Base
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	// ±20 %, from an FNV-1a hash of key and attempt.
	h := uint32(2166136261)
	for _, b := range []byte(fmt.Sprintf("%s/%d", key, attempt)) {
		h ^= uint32(b)
		h *= 16777619
	}
	spread := float64(h%4001)/10000 - 0.2 // -0.2 … +0.2
	return d + time.Duration(float64(d)*spread).Truncate(time.Millisecond)
}

// Outcome turns the result of the attempt-th attempt into what to record.
func (r Retry) Outcome(attempt int, key string, err error) patch.DeliveryOutcome {
	r = r.withDefaults()
	if err == nil {
		return patch.DeliveryOutcome{State: patch.DeliveryDelivered}
	}
	o := patch.DeliveryOutcome{State: patch.DeliveryPending, LastError: err.Error()}
	var se *SendError
	if errors.As(err, &se) {
		o.LastStatus = se.Status
		if se.Permanent {
			o.State = patch.DeliveryFailed
			return o
		}
	}
	if attempt >= r.Attempts {
		o.State = patch.DeliveryFailed
		o.LastError = fmt.Sprintf("gave up after %d attempts: %s", attempt, o.LastError)
		return o
	}
	o.RetryIn = r.Delay(attempt, key)
	if se != nil && se.RetryAfter > o.RetryIn {
		o.RetryIn = min(se.RetryAfter, r.withDefaults().Max)
	}
	return o
}
