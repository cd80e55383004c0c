package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
)

// Notification channels (webhook, e-mail) and the notifier loop that
// delivers alerts and tickets to them; see docs/notifications.md.
//
// Who manages channels: MSP staff with the operate permission (technicians
// and MSP admins) manage every channel, MSP-wide or a client's; a client
// owner manages their own client's channels (the seeds' "notify the
// designated client owner": the owner chooses where that goes). Auditors
// and everyone else read them in their scope. The store keeps client
// owners to their client and MSP-wide channels from them.

// NotifyOptions configure notification channels and their delivery.
type NotifyOptions struct {
	// Senders deliver each channel kind. A kind without a sender cannot
	// be chosen for a channel (e-mail needs the server's SMTP settings).
	// A sender that is also a notify.ChannelValidator checks channels
	// when they are created or changed (the webhook sender refuses URLs
	// its network policy forbids).
	Senders map[patch.ChannelKind]notify.Sender
	// SecretKey, when set, is the 32-byte key that seals webhook signing
	// secrets, kept outside the database (--notify-key-file); otherwise a
	// key stored in the database is used. Secrets sealed under the
	// database key still open after an external key is configured.
	SecretKey []byte
	// Retry is the retry policy; notify.DefaultRetry when zero.
	Retry notify.Retry
	// Interval is how often RunNotifier looks for work; 2 s when zero.
	Interval time.Duration
	// Lease is how long a claimed delivery belongs to this server; it
	// must exceed a sender's timeout. 2 minutes when zero.
	Lease time.Duration
	// Batch is how many deliveries one pass claims; 50 when zero.
	Batch int
	// Workers is how many deliveries are sent at once; 4 when zero.
	Workers int
	// Retention is how long finished deliveries and events are kept;
	// 30 days when zero.
	Retention time.Duration
}

func (o NotifyOptions) withDefaults() NotifyOptions {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return o
}

type notifyState struct {
	mu        sync.Mutex
	sealer    *notify.Sealer
	lastPrune time.Time
}

// ChannelInput creates a notification channel.
type ChannelInput struct {
	// ClientID is the owning client; empty for an MSP-wide channel. A
	// client owner's channel is always their own client's.
	ClientID patch.ClientID    `json:"client_id,omitempty" doc:"Owning client; empty for an MSP-wide channel (MSP staff only). A client owner's channels are their client's."`
	Name     string            `json:"name" minLength:"1" maxLength:"200"`
	Kind     patch.ChannelKind `json:"kind" enum:"webhook,email"`
	// Enabled defaults to true.
	Enabled    *bool             `json:"enabled,omitempty" doc:"Default true"`
	URL        string            `json:"url,omitempty" maxLength:"2000" doc:"Webhook endpoint (https://…)"`
	Recipients []string          `json:"recipients,omitempty" maxItems:"50" doc:"E-mail addresses"`
	Filter     patch.EventFilter `json:"filter,omitzero" doc:"What the channel receives; empty: everything in its scope"`
}

// ChannelChange changes a channel; absent fields stay as they are.
type ChannelChange struct {
	Name       *string            `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Enabled    *bool              `json:"enabled,omitempty" doc:"Disabling cancels pending deliveries"`
	URL        *string            `json:"url,omitempty" maxLength:"2000"`
	Recipients *[]string          `json:"recipients,omitempty" maxItems:"50"`
	Filter     *patch.EventFilter `json:"filter,omitempty"`
	// RotateSecret replaces a webhook's signing secret; the new one is
	// returned once.
	RotateSecret bool `json:"rotate_secret,omitempty" doc:"Replace the webhook signing secret; the new secret is in the response, once"`
}

// ChannelWithSecret is a channel and, right after it was created or its
// secret rotated, the webhook signing secret.
type ChannelWithSecret struct {
	*patch.Channel
	Secret string `json:"secret,omitempty" doc:"The webhook signing secret (whsec_…): shown only now; give it to the receiver to verify signatures"`
}

// channelManager authorises managing a channel of client (empty: an
// MSP-wide one).
func channelManager(ctx context.Context, client patch.ClientID) error {
	a, ok := patch.ActorFromContext(ctx)
	if !ok {
		return patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	switch {
	case a.Kind == patch.ActorAgent:
		return patch.Errorf(patch.KindForbidden, "Agents cannot manage notification channels.")
	case a.Can(patch.PermOperate):
		return nil
	case a.Role == patch.RoleClientOwner && a.Can(patch.PermRequestChanges) && client != "" && client == a.ClientID:
		return nil
	case a.Role == patch.RoleClientOwner:
		return patch.Errorf(patch.KindForbidden, "Client owners manage their own client's notification channels only.")
	}
	return patch.Errorf(patch.KindForbidden, "Your role (%s) does not allow managing notification channels.", a.Role)
}

// ChannelKinds lists the channel kinds this server can deliver (e-mail
// only with SMTP settings), for forms that offer a choice.
func (s *Server) ChannelKinds(ctx context.Context) ([]patch.ChannelKind, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	out := []patch.ChannelKind{}
	for _, k := range patch.ChannelKinds {
		if s.notifyOpts.Senders[k] != nil {
			out = append(out, k)
		}
	}
	return out, nil
}

// Channels lists notification channels in the caller's scope.
func (s *Server) Channels(ctx context.Context, f patch.ChannelFilter) ([]*patch.Channel, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Channels.FindChannels(ctx, f)
}

// Channel returns one notification channel.
func (s *Server) Channel(ctx context.Context, id patch.ChannelID) (*patch.Channel, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Channels.FindChannelByID(ctx, id)
}

// checkDeliverable checks that this server can deliver to ch.
func (s *Server) checkDeliverable(ch *patch.Channel) error {
	if err := ch.Validate(); err != nil {
		return err
	}
	snd := s.notifyOpts.Senders[ch.Kind]
	if snd == nil {
		if ch.Kind == patch.ChannelEmail {
			return patch.FieldError("kind", "e-mail channels need the server's SMTP settings (--smtp-host, --smtp-from); ask the MSP's administrator")
		}
		return patch.FieldError("kind", "%s channels are not available on this server", ch.Kind)
	}
	if v, ok := snd.(notify.ChannelValidator); ok {
		return v.ValidateChannel(ch)
	}
	return nil
}

// CreateChannel creates a notification channel. A webhook gets a new
// signing secret, returned once.
func (s *Server) CreateChannel(ctx context.Context, in ChannelInput) (*ChannelWithSecret, error) {
	a, ok := patch.ActorFromContext(ctx)
	if !ok {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	if in.ClientID == "" {
		in.ClientID = a.ClientID // a client-scoped caller's channels are their client's
	}
	if err := channelManager(ctx, in.ClientID); err != nil {
		return nil, err
	}
	ch := &patch.Channel{
		ID: patch.ChannelID(patch.NewID(patch.PrefixChannel, s.now())), ClientID: in.ClientID, Name: in.Name, Kind: in.Kind,
		Enabled: in.Enabled == nil || *in.Enabled, URL: in.URL, Recipients: in.Recipients, Filter: in.Filter,
	}
	var secret string
	if ch.Kind == patch.ChannelWebhook {
		sealer, err := s.notifySealer(ctx)
		if err != nil {
			return nil, err
		}
		secret = notify.NewSecret()
		if ch.SealedSecret, err = sealer.Seal(string(ch.ID), secret); err != nil {
			return nil, err
		}
		ch.SecretHint = notify.SecretHint(secret)
	}
	if err := s.checkDeliverable(ch); err != nil {
		return nil, err
	}
	if err := s.st.Channels.CreateChannel(ctx, ch); err != nil {
		return nil, err
	}
	return &ChannelWithSecret{Channel: ch, Secret: secret}, nil
}

// UpdateChannel changes a notification channel; with RotateSecret a
// webhook gets a new signing secret, returned once (the old one stops
// working at once).
func (s *Server) UpdateChannel(ctx context.Context, id patch.ChannelID, in ChannelChange) (*ChannelWithSecret, error) {
	cur, err := s.Channel(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := channelManager(ctx, cur.ClientID); err != nil {
		return nil, err
	}
	upd := patch.ChannelUpdate{Name: in.Name, Enabled: in.Enabled, URL: in.URL, Recipients: in.Recipients, Filter: in.Filter}
	var secret string
	if in.RotateSecret {
		if cur.Kind != patch.ChannelWebhook {
			return nil, patch.FieldError("rotate_secret", "only webhook channels have a signing secret")
		}
		sealer, err := s.notifySealer(ctx)
		if err != nil {
			return nil, err
		}
		secret = notify.NewSecret()
		sealed, err := sealer.Seal(string(cur.ID), secret)
		if err != nil {
			return nil, err
		}
		hint := notify.SecretHint(secret)
		upd.SealedSecret, upd.SecretHint = &sealed, &hint
	}
	after := *cur
	upd.Apply(&after)
	if err := s.checkDeliverable(&after); err != nil {
		return nil, err
	}
	ch, err := s.st.Channels.UpdateChannel(ctx, id, upd)
	if err != nil {
		return nil, err
	}
	return &ChannelWithSecret{Channel: ch, Secret: secret}, nil
}

// DeleteChannel removes a notification channel and its deliveries.
func (s *Server) DeleteChannel(ctx context.Context, id patch.ChannelID) error {
	cur, err := s.Channel(ctx, id)
	if err != nil {
		return err
	}
	if err := channelManager(ctx, cur.ClientID); err != nil {
		return err
	}
	return s.st.Channels.DeleteChannel(ctx, id)
}

// TestChannel sends a test notification to a channel now, enabled or
// not, and records it with the channel's deliveries. A receiver that
// fails is not an error of the call: the returned delivery says what
// happened (state failed, last_status, last_error).
func (s *Server) TestChannel(ctx context.Context, id patch.ChannelID) (*patch.Delivery, error) {
	ch, err := s.Channel(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := channelManager(ctx, ch.ClientID); err != nil {
		return nil, err
	}
	now := s.now()
	ev := &patch.NotificationEvent{
		ID: patch.NotificationEventID(patch.NewID(patch.PrefixNotificationEvent, now)), Type: patch.EventTest, ClientID: ch.ClientID,
		Severity: patch.AlertInfo, Summary: fmt.Sprintf("Test notification for channel %q", ch.Name), CreatedAt: now,
	}
	if ch.ClientID != "" {
		if c, err := s.st.Clients.FindClientByID(ctx, ch.ClientID); err == nil {
			ev.ClientName = c.Name
		}
	}
	d := &patch.Delivery{ID: patch.DeliveryID(patch.NewID(patch.PrefixDelivery, now)), Attempts: 1}
	sendCtx, cancel := context.WithTimeout(ctx, s.notifyOpts.Lease)
	defer cancel()
	o := s.notifyOpts.Retry.Outcome(1, string(d.ID), s.send(sendCtx, ch, ev, d.ID, 1))
	d.State, d.LastStatus, d.LastError = o.State, o.LastStatus, o.LastError
	if d.State == patch.DeliveryPending {
		d.State = patch.DeliveryFailed // a test is not retried
	}
	if err := s.st.Notifications.RecordTestDelivery(ctx, ch, ev, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Deliveries lists deliveries of the channels in the caller's scope,
// newest first: what was sent, to which channel, and how it went.
func (s *Server) Deliveries(ctx context.Context, f patch.DeliveryFilter) ([]*patch.Delivery, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Notifications.FindDeliveries(ctx, f)
}

// EnsureNotifyKey makes sure webhook secrets can be sealed and opened, so
// a server reports a broken key store or key file at start.
func (s *Server) EnsureNotifyKey(ctx context.Context) error {
	_, err := s.notifySealer(ctx)
	return err
}

// notifySealer returns the sealer of webhook secrets: the external key
// when configured, else the database's notify-secrets key (created on
// first use; EnsureKey makes concurrent servers agree), opening values
// sealed under any stored key.
func (s *Server) notifySealer(ctx context.Context) (*notify.Sealer, error) {
	s.ntf.mu.Lock()
	defer s.ntf.mu.Unlock()
	if s.ntf.sealer != nil {
		return s.ntf.sealer, nil
	}
	sys := system(ctx, "notification secrets key")
	var current notify.Key
	if len(s.notifyOpts.SecretKey) > 0 {
		current = notify.ExternalKey(s.notifyOpts.SecretKey)
	} else {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generate notify-secrets key: %w", err)
		}
		k, err := s.st.Keys.EnsureKey(sys, &patch.ServerKey{ID: patch.NewID("key", s.now()), Purpose: patch.KeyNotifySecrets,
			Private: base64.StdEncoding.EncodeToString(b[:])})
		if err != nil {
			return nil, fmt.Errorf("ensure notify-secrets key: %w", err)
		}
		if current, err = storedKey(k); err != nil {
			return nil, err
		}
	}
	stored, err := s.st.Keys.FindKeys(sys, patch.KeyNotifySecrets)
	if err != nil {
		return nil, fmt.Errorf("read notify-secrets keys: %w", err)
	}
	var older []notify.Key
	for _, k := range stored {
		nk, err := storedKey(k)
		if err != nil {
			return nil, err
		}
		older = append(older, nk)
	}
	sealer, err := notify.NewSealer(current, older...)
	if err != nil {
		return nil, err
	}
	s.ntf.sealer = sealer
	return sealer, nil
}

func storedKey(k *patch.ServerKey) (notify.Key, error) {
	b, err := base64.StdEncoding.DecodeString(k.Private)
	if err != nil || len(b) != 32 {
		return notify.Key{}, fmt.Errorf("stored notify-secrets key %s is not 32 bytes of base64", k.ID)
	}
	return notify.Key{ID: k.ID, Secret: b}, nil
}

// send makes one attempt to deliver ev to ch.
func (s *Server) send(ctx context.Context, ch *patch.Channel, ev *patch.NotificationEvent, id patch.DeliveryID, attempt int) error {
	snd := s.notifyOpts.Senders[ch.Kind]
	if snd == nil {
		return notify.Permanent(fmt.Errorf("this server has no sender for %s channels", ch.Kind))
	}
	m := &notify.Message{DeliveryID: id, Channel: ch, Event: ev, Attempt: attempt}
	if ch.Kind == patch.ChannelWebhook {
		sealer, err := s.notifySealer(ctx)
		if err != nil {
			return err
		}
		if m.Secret, err = sealer.Open(string(ch.ID), ch.SealedSecret); err != nil {
			return notify.Permanent(fmt.Errorf("webhook secret: %w", err))
		}
	}
	return snd.Send(ctx, m)
}

// NotifierPass counts what one notifier pass did.
type NotifierPass struct {
	Routed    int `json:"routed"`
	Delivered int `json:"delivered"`
	Retrying  int `json:"retrying"`
	Failed    int `json:"failed"`
	// Lost counts outcomes not recorded because the lease had passed to
	// another server (it sends again).
	Lost   int `json:"lost"`
	Pruned int `json:"pruned"`
}

// DeliverNotifications runs one notifier pass: route new events to
// channels, claim the deliveries that are due, send them (Workers at a
// time) and record each outcome, and prune old rows once an hour. Alert
// recording never waits for it: it reads what the alerts' transactions
// committed.
func (s *Server) DeliverNotifications(ctx context.Context) (NotifierPass, error) {
	var pass NotifierPass
	sys := system(ctx, "notifier")
	o := s.notifyOpts
	for range 20 { // bounded, so one pass cannot run forever behind a flood
		n, err := s.st.Notifications.RouteNotifications(sys, o.Batch, notify.Match)
		pass.Routed += n
		if err != nil {
			return pass, fmt.Errorf("route notifications: %w", err)
		}
		if n < o.Batch {
			break
		}
	}
	jobs, err := s.st.Notifications.ClaimDeliveries(sys, o.Batch, o.Lease)
	if err != nil {
		return pass, fmt.Errorf("claim deliveries: %w", err)
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, o.Workers)
	)
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			state := s.deliver(ctx, sys, job)
			mu.Lock()
			defer mu.Unlock()
			switch state {
			case patch.DeliveryDelivered:
				pass.Delivered++
			case patch.DeliveryPending:
				pass.Retrying++
			case patch.DeliveryFailed:
				pass.Failed++
			default:
				pass.Lost++
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return pass, err
	}
	now := s.now()
	s.ntf.mu.Lock()
	due := now.Sub(s.ntf.lastPrune) >= time.Hour
	if due {
		s.ntf.lastPrune = now
	}
	s.ntf.mu.Unlock()
	if due {
		if pass.Pruned, err = s.st.Notifications.PruneNotifications(sys, now.Add(-o.Retention)); err != nil {
			return pass, fmt.Errorf("prune notifications: %w", err)
		}
	}
	return pass, nil
}

// deliver sends one claimed delivery and records the outcome; it returns
// the recorded state, or "" when nothing was recorded.
func (s *Server) deliver(ctx, sys context.Context, job *patch.DeliveryJob) patch.DeliveryState {
	d := job.Delivery
	err := s.send(ctx, job.Channel, job.Event, d.ID, d.Attempts)
	if err != nil && ctx.Err() != nil {
		// Shutting down: record nothing; the lease hands the delivery to
		// the next pass or server.
		return ""
	}
	o := s.notifyOpts.Retry.Outcome(d.Attempts, string(d.ID), err)
	// A delivery that succeeded just as the server stops is still recorded.
	rec, cancel := context.WithTimeout(context.WithoutCancel(sys), 10*time.Second)
	defer cancel()
	if _, cerr := s.st.Notifications.CompleteDelivery(rec, d.ID, job.Claim, o); cerr != nil {
		if patch.ErrorKind(cerr) == patch.KindConflict {
			s.logger.InfoContext(ctx, "notification lease lost; another server sends it", "delivery", d.ID, "channel", job.Channel.ID)
		} else {
			s.logger.WarnContext(ctx, "record notification outcome", "delivery", d.ID, "err", cerr)
		}
		return ""
	}
	log := s.logger.With("delivery", d.ID, "channel", job.Channel.ID, "kind", job.Channel.Kind, "tenant", job.Event.ClientID,
		"event", job.Event.Type, "attempt", d.Attempts)
	switch o.State {
	case patch.DeliveryFailed:
		log.WarnContext(ctx, "notification given up", "status", o.LastStatus, "err", o.LastError)
	case patch.DeliveryPending:
		log.InfoContext(ctx, "notification failed; will retry", "status", o.LastStatus, "retry_in", o.RetryIn, "err", o.LastError)
	default:
		log.DebugContext(ctx, "notification delivered")
	}
	return o.State
}

// RunNotifier delivers notifications until ctx is done: a pass every
// Interval. Several servers may run it against one PostgreSQL: each event
// is routed once and each delivery claimed by one server at a time.
func (s *Server) RunNotifier(ctx context.Context) error {
	if s.st.Notifications == nil {
		return errors.New("notifier: no notification store")
	}
	t := time.NewTicker(s.notifyOpts.Interval)
	defer t.Stop()
	for {
		if _, err := s.DeliverNotifications(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "notifier pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
