package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Settings → Notification channels (docs/notifications.md): webhooks and
// e-mail that receive alerts (monitors, exception expiry) and tickets
// (halted cycles, escalations), filtered by event, kind, severity and
// client; send a test, enable or disable, rotate a webhook's signing
// secret (shown once), delete; and the recent deliveries with how each
// went. MSP staff manage every channel, a client owner their client's
// (the server decides).

func (c *Console) channelRoutes() {
	c.handle("GET /settings/notifications", c.channelSettings)
	c.handle("POST /settings/notifications", c.createChannel)
	c.handle("POST /settings/notifications/{id}/test", c.testChannel)
	c.handle("POST /settings/notifications/{id}/enable", c.setChannelEnabled(true))
	c.handle("POST /settings/notifications/{id}/disable", c.setChannelEnabled(false))
	c.handle("POST /settings/notifications/{id}/rotate", c.rotateChannelSecret)
	c.handle("POST /settings/notifications/{id}/delete", c.deleteChannel)
}

// ChannelsPage is Settings → Notification channels.
type ChannelsPage struct {
	Page
	Tabs       []NavLink
	Rows       []ChannelRow
	Deliveries []DeliveryRow
	Form       Form
	Kinds      []Option
	Owners     []Option
	Severities []Option
	Events     []Option
	Clients    []Option
	// CanManage shows the create form (operators; client owners for
	// their client).
	CanManage bool
	// Secret is a webhook signing secret just created or rotated.
	Secret     string
	SecretName string
	NoKinds    bool
}

// ChannelRow is a channel in the list.
type ChannelRow struct {
	*patch.Channel
	Owner  string
	Target string
	Filter string
	Badge  Badge
}

// DeliveryRow is one delivery.
type DeliveryRow struct {
	*patch.Delivery
	Channel string
	Badge   Badge
}

func deliveryBadge(s patch.DeliveryState) Badge {
	switch s {
	case patch.DeliveryDelivered:
		return Badge{StatusOK, "Delivered"}
	case patch.DeliveryPending:
		return Badge{StatusInfo, "Pending"}
	case patch.DeliveryFailed:
		return Badge{StatusBad, "Failed"}
	case patch.DeliveryCanceled:
		return Badge{StatusUnknown, "Canceled"}
	}
	return Badge{StatusUnknown, string(s)}
}

// filterText describes a channel's filter.
func filterText(f patch.EventFilter, names map[patch.ClientID]string) string {
	var parts []string
	if len(f.Events) > 0 {
		var es []string
		for _, e := range f.Events {
			es = append(es, string(e))
		}
		parts = append(parts, strings.Join(es, ", "))
	} else {
		parts = append(parts, "every event")
	}
	if len(f.Kinds) > 0 {
		parts = append(parts, "kinds "+strings.Join(f.Kinds, ", "))
	}
	if f.MinSeverity != "" {
		parts = append(parts, f.MinSeverity+" and above")
	}
	if len(f.ClientIDs) > 0 {
		var cs []string
		for _, id := range f.ClientIDs {
			cs = append(cs, cmpOr(names[id], string(id)))
		}
		parts = append(parts, "clients "+strings.Join(cs, ", "))
	}
	return strings.Join(parts, " · ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Console) loadChannels(ctx context.Context, s *session, p *ChannelsPage) error {
	p.Title, p.Section = "Notification channels", sectionSettings
	p.Crumbs = []Link{{Label: "Settings", Href: "/settings"}}
	p.Tabs = settingsNav("notifications")
	p.CanManage = s.Actor.Can(patch.PermOperate) || s.Actor.Role == patch.RoleClientOwner
	if p.Form.Values == nil {
		p.Form = newForm(nil)
	}
	kinds, err := c.srv.ChannelKinds(ctx)
	if err != nil {
		return err
	}
	for _, k := range kinds {
		label := "Webhook (signed HTTP POST)"
		if k == patch.ChannelEmail {
			label = "E-mail"
		}
		p.Kinds = append(p.Kinds, Option{Value: string(k), Label: label})
	}
	p.NoKinds = len(p.Kinds) == 0
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	if mspStaff(s.Actor) {
		p.Owners = []Option{{Value: "", Label: "MSP-wide (every client's events)"}}
	}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Owners = append(p.Owners, Option{Value: string(cl.ID), Label: cl.Name})
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name, Selected: slices.Contains(p.Form.Values["filter.client_ids"], string(cl.ID))})
	}
	p.Severities = []Option{{Value: "", Label: "Everything (info and above)"}, {Value: patch.AlertWarning, Label: "Warning and critical"}, {Value: patch.AlertCritical, Label: "Critical only"}}
	for _, e := range patch.EventTypes {
		p.Events = append(p.Events, Option{Value: string(e), Label: string(e), Selected: slices.Contains(p.Form.Values["filter.events"], string(e))})
	}
	chs, _, err := c.srv.Channels(ctx, patch.ChannelFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	chNames := map[patch.ChannelID]string{}
	for _, ch := range chs {
		chNames[ch.ID] = ch.Name
		row := ChannelRow{Channel: ch, Owner: "MSP-wide", Filter: filterText(ch.Filter, names), Badge: Badge{StatusOK, "Enabled"}}
		if ch.ClientID != "" {
			row.Owner = cmpOr(names[ch.ClientID], string(ch.ClientID))
		}
		if !ch.Enabled {
			row.Badge = Badge{StatusUnknown, "Disabled"}
		}
		row.Target = ch.URL
		if ch.Kind == patch.ChannelEmail {
			row.Target = strings.Join(ch.Recipients, ", ")
		}
		p.Rows = append(p.Rows, row)
	}
	ds, _, err := c.srv.Deliveries(ctx, patch.DeliveryFilter{Limit: 30})
	if err != nil {
		return err
	}
	for _, d := range ds {
		p.Deliveries = append(p.Deliveries, DeliveryRow{Delivery: d, Channel: cmpOr(chNames[d.ChannelID], string(d.ChannelID)), Badge: deliveryBadge(d.State)})
	}
	return nil
}

func (c *Console) channelSettings(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &ChannelsPage{}
	if err := c.loadChannels(r.Context(), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplChannels, p)
}

// channelInputs are the form's inputs; server fields map onto them.
var channelInputs = []string{"client_id", "name", "kind", "url", "recipients", "filter.events", "filter.kinds", "filter.min_severity", "filter.client_ids"}

func channelField(f string) string {
	for _, in := range channelInputs {
		if f == in || strings.HasPrefix(f, in+"[") {
			return in
		}
	}
	if f == "secret" {
		return "url"
	}
	return f
}

func (c *Console) createChannel(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	in := server.ChannelInput{ClientID: patch.ClientID(f.Get("client_id")), Name: strings.TrimSpace(f.Get("name")), Kind: patch.ChannelKind(f.Get("kind")),
		URL: strings.TrimSpace(f.Get("url")), Recipients: splitList(strings.ReplaceAll(f.Get("recipients"), ";", ","))}
	for _, e := range f["filter.events"] {
		in.Filter.Events = append(in.Filter.Events, patch.EventType(e))
	}
	in.Filter.Kinds = splitList(f.Get("filter.kinds"))
	in.Filter.MinSeverity = f.Get("filter.min_severity")
	for _, id := range f["filter.client_ids"] {
		in.Filter.ClientIDs = append(in.Filter.ClientIDs, patch.ClientID(id))
	}
	ch, err := c.srv.CreateChannel(r.Context(), in)
	if err != nil {
		p := &ChannelsPage{Form: newForm(f, channelInputs...)}
		if !p.Form.setError(renameField(err, channelField), channelInputs...) {
			return err
		}
		if lerr := c.loadChannels(r.Context(), s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplChannels, p)
	}
	if ch.Secret == "" {
		return c.redirect(w, r, "/settings/notifications", "Channel "+ch.Name+" created.")
	}
	// A webhook's signing secret is shown on this response only.
	p := &ChannelsPage{Secret: ch.Secret, SecretName: ch.Name}
	if err := c.loadChannels(r.Context(), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplChannels, p)
}

func (c *Console) testChannel(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.srv.TestChannel(r.Context(), patch.ChannelID(r.PathValue("id")))
	if err != nil {
		return err
	}
	if d.State == patch.DeliveryDelivered {
		return c.redirect(w, r, "/settings/notifications", fmt.Sprintf("Test notification delivered (receiver answered %d).", d.LastStatus))
	}
	c.setFlash(w, flashError, "The test notification was not delivered: "+cmpOr(d.LastError, fmt.Sprintf("status %d", d.LastStatus)))
	http.Redirect(w, r, "/settings/notifications", http.StatusSeeOther)
	return nil
}

func (c *Console) setChannelEnabled(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		ch, err := c.srv.UpdateChannel(r.Context(), patch.ChannelID(r.PathValue("id")), server.ChannelChange{Enabled: &on})
		if err != nil {
			return err
		}
		msg := "Channel " + ch.Name + " enabled."
		if !on {
			msg = "Channel " + ch.Name + " disabled: its pending deliveries are canceled."
		}
		return c.redirect(w, r, "/settings/notifications", msg)
	}
}

func (c *Console) rotateChannelSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	ch, err := c.srv.UpdateChannel(r.Context(), patch.ChannelID(r.PathValue("id")), server.ChannelChange{RotateSecret: true})
	if err != nil {
		if patch.ErrorKind(err) == patch.KindInvalid {
			c.setFlash(w, flashError, patch.ErrorMessage(err))
			http.Redirect(w, r, "/settings/notifications", http.StatusSeeOther)
			return nil
		}
		return err
	}
	p := &ChannelsPage{Secret: ch.Secret, SecretName: ch.Name}
	if err := c.loadChannels(r.Context(), s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplChannels, p)
}

func (c *Console) deleteChannel(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ChannelID(r.PathValue("id"))
	ch, err := c.srv.Channel(r.Context(), id)
	if err != nil {
		return err
	}
	if err := c.srv.DeleteChannel(r.Context(), id); err != nil {
		return err
	}
	return c.redirect(w, r, "/settings/notifications", "Channel "+ch.Name+" deleted.")
}
