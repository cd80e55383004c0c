package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

func (a *API) meRoutes() {
	register(a, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: "/me", Summary: "Who am I", Tags: []string{"Account"}},
		func(ctx context.Context, _ *empty) (*body[patch.Actor], error) {
			me, err := a.srv.Me(ctx)
			return ok(me), err
		})
	register(a, huma.Operation{OperationID: "get-msp", Method: http.MethodGet, Path: "/msp", Summary: "MSP settings", Tags: []string{"Account"}},
		func(ctx context.Context, _ *empty) (*body[*patch.MSP], error) {
			m, err := a.srv.MSP(ctx)
			return ok(m), err
		})
	register(a, huma.Operation{OperationID: "set-msp", Method: http.MethodPut, Path: "/msp", Summary: "Name the MSP", Tags: []string{"Account"}},
		func(ctx context.Context, in *body[struct {
			Name string `json:"name" minLength:"1" maxLength:"200"`
		}]) (*body[*patch.MSP], error) {
			m, err := a.srv.SetMSPName(ctx, in.Body.Name)
			return ok(m), err
		})
}

type IDPath struct {
	ID string `path:"id" maxLength:"64"`
}

func (a *API) clientRoutes() {
	tags := []string{"Clients"}
	register(a, huma.Operation{OperationID: "list-clients", Method: http.MethodGet, Path: "/clients", Summary: "List clients", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			Q string `query:"q" maxLength:"200" doc:"Substring of the client name"`
		}) (*struct{ Body Page[*patch.Client] }, error) {
			f := patch.ClientFilter{Limit: in.Limit, Offset: in.Offset}
			if in.Q != "" {
				f.Query = &in.Q
			}
			cs, n, err := a.srv.Clients(ctx, f)
			return page(cs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-client", Method: http.MethodPost, Path: "/clients", Summary: "Create a client", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.ClientInput]) (*body[*patch.Client], error) {
			c, err := a.srv.CreateClient(ctx, in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "get-client", Method: http.MethodGet, Path: "/clients/{id}", Summary: "Get a client", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Client], error) {
			c, err := a.srv.Client(ctx, patch.ClientID(in.ID))
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "update-client", Method: http.MethodPatch, Path: "/clients/{id}", Summary: "Change a client", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body patch.ClientUpdate
		}) (*body[*patch.Client], error) {
			c, err := a.srv.UpdateClient(ctx, patch.ClientID(in.ID), in.Body)
			return ok(c), err
		})
	register(a, huma.Operation{OperationID: "delete-client", Method: http.MethodDelete, Path: "/clients/{id}", Summary: "Delete a client without assets or users", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *IDPath) (*empty, error) {
			return nil, a.srv.DeleteClient(ctx, patch.ClientID(in.ID))
		})
}

func (a *API) siteRoutes() {
	tags := []string{"Sites"}
	register(a, huma.Operation{OperationID: "list-sites", Method: http.MethodGet, Path: "/sites", Summary: "List sites", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
		}) (*struct{ Body Page[*patch.Site] }, error) {
			f := patch.SiteFilter{Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			ss, n, err := a.srv.Sites(ctx, f)
			return page(ss, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-site", Method: http.MethodPost, Path: "/sites", Summary: "Create a site", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.SiteInput]) (*body[*patch.Site], error) {
			s, err := a.srv.CreateSite(ctx, in.Body)
			return ok(s), err
		})
	register(a, huma.Operation{OperationID: "get-site", Method: http.MethodGet, Path: "/sites/{id}", Summary: "Get a site", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Site], error) {
			s, err := a.srv.Site(ctx, patch.SiteID(in.ID))
			return ok(s), err
		})
	register(a, huma.Operation{OperationID: "update-site", Method: http.MethodPatch, Path: "/sites/{id}", Summary: "Change a site", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body patch.SiteUpdate
		}) (*body[*patch.Site], error) {
			s, err := a.srv.UpdateSite(ctx, patch.SiteID(in.ID), in.Body)
			return ok(s), err
		})
	register(a, huma.Operation{OperationID: "delete-site", Method: http.MethodDelete, Path: "/sites/{id}", Summary: "Delete a site no asset uses", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *IDPath) (*empty, error) {
			return nil, a.srv.DeleteSite(ctx, patch.SiteID(in.ID))
		})
}

func (a *API) userRoutes() {
	tags := []string{"Users"}
	register(a, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/users", Summary: "List users", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			Role     string `query:"role" enum:"msp-admin,technician,auditor,client-owner"`
		}) (*struct{ Body Page[*patch.User] }, error) {
			f := patch.UserFilter{Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			if in.Role != "" {
				f.Role = (*patch.Role)(&in.Role)
			}
			us, n, err := a.srv.Users(ctx, f)
			return page(us, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: "/users", Summary: "Create a user", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.UserInput]) (*body[*patch.User], error) {
			u, err := a.srv.CreateUser(ctx, in.Body)
			return ok(u), err
		})
	register(a, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/users/{id}", Summary: "Get a user", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.User], error) {
			u, err := a.srv.User(ctx, patch.UserID(in.ID))
			return ok(u), err
		})
	register(a, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: "/users/{id}", Summary: "Change a user; disabling or changing role revokes their tokens", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Body server.UserChange
		}) (*body[*patch.User], error) {
			u, err := a.srv.UpdateUser(ctx, patch.UserID(in.ID), in.Body)
			return ok(u), err
		})
	register(a, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: "/users/{id}", Summary: "Delete a user and their tokens", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *IDPath) (*empty, error) {
			return nil, a.srv.DeleteUser(ctx, patch.UserID(in.ID))
		})
}

func (a *API) tokenRoutes() {
	tags := []string{"Tokens"}
	register(a, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: "/tokens", Summary: "List API tokens (never their secrets)", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			Active   string `query:"active" enum:"true,false"`
		}) (*struct{ Body Page[*patch.Token] }, error) {
			f := patch.TokenFilter{Limit: in.Limit, Offset: in.Offset}
			if in.ClientID != "" {
				f.ClientID = (*patch.ClientID)(&in.ClientID)
			}
			if in.Active != "" {
				active := in.Active == "true"
				f.Active = &active
			}
			ts, n, err := a.srv.Tokens(ctx, f)
			return page(ts, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/tokens", Summary: "Create an API token; the secret is returned once", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *body[server.TokenInput]) (*body[*server.NewToken], error) {
			t, err := a.srv.CreateToken(ctx, in.Body)
			return ok(t), err
		})
	register(a, huma.Operation{OperationID: "revoke-token", Method: http.MethodDelete, Path: "/tokens/{id}", Summary: "Revoke an API token", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*patch.Token], error) {
			t, err := a.srv.RevokeToken(ctx, patch.TokenID(in.ID))
			return ok(t), err
		})
}
