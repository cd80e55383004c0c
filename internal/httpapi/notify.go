package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Notification channels (webhook, e-mail), their test action and their
// deliveries; see docs/notifications.md. Authorisation is the server's:
// MSP staff who operate manage every channel, a client owner their own
// client's, everyone reads in their scope.

// ChannelKindsView lists the channel kinds this server can deliver.
type ChannelKindsView struct {
	Kinds []patch.ChannelKind `json:"kinds" nullable:"false" doc:"e-mail appears only when the server has SMTP settings"`
}

func (a *API) notifyRoutes() {
	tags := []string{"Notifications"}
	register(a, huma.Operation{OperationID: "list-notification-channel-kinds", Method: http.MethodGet, Path: "/notification-channel-kinds",
		Summary: "Channel kinds this server can deliver", Tags: tags},
		func(ctx context.Context, _ *empty) (*body[ChannelKindsView], error) {
			ks, err := a.srv.ChannelKinds(ctx)
			return ok(ChannelKindsView{Kinds: ks}), err
		})
	register(a, huma.Operation{OperationID: "list-notification-channels", Method: http.MethodGet, Path: "/notification-channels",
		Summary: "Notification channels in your scope, MSP-wide first", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id" maxLength:"64" doc:"Only this client's channels"`
			MSP      bool   `query:"msp" doc:"Only the MSP-wide channels"`
			Kind     string `query:"kind" enum:"webhook,email"`
		}) (*struct{ Body Page[*patch.Channel] }, error) {
			f := patch.ChannelFilter{ClientID: (*patch.ClientID)(str(in.ClientID)), MSPOnly: in.MSP, Kind: (*patch.ChannelKind)(str(in.Kind)),
				Limit: in.Limit, Offset: in.Offset}
			cs, n, err := a.srv.Channels(ctx, f)
			return page(cs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-notification-channel", Method: http.MethodPost, Path: "/notification-channels",
		Summary: "Create a notification channel; a webhook's signing secret is in the response, once", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.ChannelInput]) (*body[*server.ChannelWithSecret], error) {
			ch, err := a.srv.CreateChannel(ctx, in.Body)
			return ok(ch), err
		})
	register(a, huma.Operation{OperationID: "get-notification-channel", Method: http.MethodGet, Path: "/notification-channels/{id}",
		Summary: "Get a notification channel", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Channel], error) {
			ch, err := a.srv.Channel(ctx, patch.ChannelID(in.ID))
			return ok(ch), err
		})
	register(a, huma.Operation{OperationID: "update-notification-channel", Method: http.MethodPatch, Path: "/notification-channels/{id}",
		Summary: "Change a notification channel; rotate_secret returns a new webhook secret, once", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body server.ChannelChange
		}) (*body[*server.ChannelWithSecret], error) {
			ch, err := a.srv.UpdateChannel(ctx, patch.ChannelID(in.ID), in.Body)
			return ok(ch), err
		})
	register(a, huma.Operation{OperationID: "delete-notification-channel", Method: http.MethodDelete, Path: "/notification-channels/{id}",
		Summary: "Delete a notification channel and its deliveries", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *IDPath) (*empty, error) {
			return nil, a.srv.DeleteChannel(ctx, patch.ChannelID(in.ID))
		})
	register(a, huma.Operation{OperationID: "test-notification-channel", Method: http.MethodPost, Path: "/notification-channels/{id}/test",
		Summary: "Send a test notification now; the delivery says whether the receiver took it", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Delivery], error) {
			d, err := a.srv.TestChannel(ctx, patch.ChannelID(in.ID))
			return ok(d), err
		})
	register(a, huma.Operation{OperationID: "list-notification-deliveries", Method: http.MethodGet, Path: "/notification-deliveries",
		Summary: "Deliveries of the channels in your scope, newest first", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ChannelID string `query:"channel_id" maxLength:"64"`
			ClientID  string `query:"client_id" maxLength:"64" doc:"Deliveries of this client's events"`
			State     string `query:"state" enum:"pending,delivered,failed,canceled"`
		}) (*struct{ Body Page[*patch.Delivery] }, error) {
			f := patch.DeliveryFilter{ChannelID: (*patch.ChannelID)(str(in.ChannelID)), ClientID: (*patch.ClientID)(str(in.ClientID)),
				State: (*patch.DeliveryState)(str(in.State)), Limit: in.Limit, Offset: in.Offset}
			ds, n, err := a.srv.Deliveries(ctx, f)
			return page(ds, n, in.Limit, in.Offset), err
		})
}
