// Package httpapi serves Patchring's JSON API for operators and scripts
// (/api/v1, bearer tokens), the health and metrics endpoints, and the
// common HTTP middleware. The web console and the agent protocol have their
// own handlers with their own authentication, mounted beside this one.
//
// Operations are declared with huma, which derives the OpenAPI 3.1 document
// served at /api/v1/openapi.json from the same Go types that decode and
// validate requests, so the document cannot drift from the routes. Handlers
// return errors; one table maps patch error kinds to HTTP statuses, and
// every error body has the same shape:
//
//	{"error": {"code": "invalid", "message": "…", "field": "name"}}
//
// Huma's error constructor is a package variable; New sets it once so that
// huma's own validation errors use that shape too.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Prefix is where the operator API lives.
const Prefix = "/api/v1"

// DefaultMaxBody bounds JSON request bodies.
const DefaultMaxBody = 1 << 20

// API is the operator JSON API.
type API struct {
	srv     *server.Server
	logger  *slog.Logger
	huma    huma.API
	mux     *http.ServeMux
	metrics *Metrics
	// patterns records every route huma added to mux, so a test can check
	// that the OpenAPI document lists exactly the served routes.
	patterns []string
}

// recordingMux is the mux huma registers on.
type recordingMux struct{ a *API }

func (m recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.a.patterns = append(m.a.patterns, pattern)
	m.a.mux.HandleFunc(pattern, h)
}

func (m recordingMux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.a.mux.ServeHTTP(w, r) }

// Routes returns the method-and-path patterns the API serves.
func (a *API) Routes() []string { return slices.Clone(a.patterns) }

// Options configure the API.
type Options struct {
	Logger  *slog.Logger
	Version string
	Metrics *Metrics
}

var setErrorShape sync.Once

// New builds the API over srv.
func New(srv *server.Server, opts Options) *API {
	setErrorShape.Do(func() {
		huma.NewError = newHumaError
	})
	a := &API{srv: srv, logger: opts.Logger, mux: http.NewServeMux(), metrics: opts.Metrics}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	cfg := huma.DefaultConfig("Patchring API", opts.Version)
	cfg.Info.Description = "Patch management for managed service providers. Authenticate with `Authorization: Bearer prt_…`; create the first token on the server host with `patchring token create --role msp-admin --name NAME`."
	cfg.OpenAPIPath = Prefix + "/openapi"
	cfg.DocsPath = ""    // the hosted docs UI loads scripts from a CDN; we serve the document only
	cfg.SchemasPath = "" // and no per-schema endpoints
	cfg.CreateHooks = nil
	cfg.RejectUnknownQueryParameters = true
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A Patchring API token (prt_…)"},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	a.huma = humago.New(recordingMux{a}, cfg)
	a.routes()
	return a
}

// Handler returns the API's handler: authentication first, then huma.
func (a *API) Handler() http.Handler {
	return a.authenticate(a.mux)
}

// OpenAPI returns the API description.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

func (a *API) routes() {
	a.meRoutes()
	a.clientRoutes()
	a.siteRoutes()
	a.assetRoutes()
	a.userRoutes()
	a.tokenRoutes()
	a.auditRoutes()
	a.enrollmentRoutes()
	a.evidenceRoutes()
	a.reportRoutes()
	a.policyRoutes()
	a.complianceRoutes()
	a.rolloutRoutes()
	a.notifyRoutes()
}

// register adds an operation whose handler errors are translated into API
// errors.
func register[I, O any](a *API, op huma.Operation, h func(ctx context.Context, in *I) (*O, error)) {
	op.Path = Prefix + op.Path
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = DefaultMaxBody
	}
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	huma.Register(a.huma, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, a.fail(ctx, op.OperationID, err)
		}
		return out, nil
	})
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo says what went wrong and, for bad input, which field.
type ErrorInfo struct {
	Code    string `json:"code" doc:"Stable machine-readable code: invalid, not_found, conflict, unauthenticated, forbidden, unavailable, too_large, internal"`
	Message string `json:"message" doc:"What went wrong and how to fix it"`
	Field   string `json:"field,omitempty" doc:"The input field at fault, as a JSON path"`
}

// apiError is an error response; it satisfies huma.StatusError.
type apiError struct {
	status int
	body   ErrorBody
}

func (e *apiError) Error() string  { return e.body.Error.Message }
func (e *apiError) GetStatus() int { return e.status }

// MarshalJSON makes huma write the body shape rather than the struct.
func (e *apiError) MarshalJSON() ([]byte, error) { return jsonMarshal(e.body) }

// statusOf is the single Kind → status table.
var statusOf = map[patch.Kind]int{
	patch.KindInternal:        http.StatusInternalServerError,
	patch.KindInvalid:         http.StatusBadRequest,
	patch.KindNotFound:        http.StatusNotFound,
	patch.KindConflict:        http.StatusConflict,
	patch.KindUnauthenticated: http.StatusUnauthorized,
	patch.KindForbidden:       http.StatusForbidden,
	patch.KindUnavailable:     http.StatusServiceUnavailable,
	patch.KindTooLarge:        http.StatusRequestEntityTooLarge,
}

// StatusOf returns the HTTP status for an error.
func StatusOf(err error) int { return statusOf[patch.ErrorKind(err)] }

// ErrorResponse builds the response body for err. Internal errors get a
// generic message; their cause is only logged.
func ErrorResponse(err error) (int, ErrorBody) {
	k := patch.ErrorKind(err)
	return statusOf[k], ErrorBody{Error: ErrorInfo{Code: k.String(), Message: patch.ErrorMessage(err), Field: patch.ErrorField(err)}}
}

func (a *API) fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return &apiError{status: 499, body: ErrorBody{Error: ErrorInfo{Code: "canceled", Message: "The request was canceled."}}}
	}
	status, body := ErrorResponse(err)
	if status >= 500 {
		a.logger.ErrorContext(ctx, "request failed", "op", op, "request_id", patch.RequestIDFromContext(ctx), "err", err)
	}
	return &apiError{status: status, body: body}
}

// newHumaError shapes huma's own errors (decoding, validation, body size)
// like ours.
func newHumaError(status int, msg string, errs ...error) huma.StatusError {
	info := ErrorInfo{Message: msg}
	switch {
	case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
		status = http.StatusBadRequest
		info.Code = patch.KindInvalid.String()
	case status == http.StatusRequestEntityTooLarge:
		info.Code = patch.KindTooLarge.String()
	case status == http.StatusUnsupportedMediaType:
		info.Code = patch.KindInvalid.String()
	case status >= 500:
		info.Code = patch.KindInternal.String()
		info.Message = "Internal error."
	default:
		info.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	}
	for _, e := range errs {
		if e == nil {
			continue
		}
		if d, ok := e.(huma.ErrorDetailer); ok {
			det := d.ErrorDetail()
			info.Field = fieldOf(det.Location)
			info.Message = det.Message
			if info.Field != "" {
				info.Message = info.Field + ": " + det.Message
			}
		} else if status < 500 {
			info.Message = e.Error()
		}
		break
	}
	if info.Message != "" {
		info.Message = strings.ToUpper(info.Message[:1]) + info.Message[1:]
	}
	return &apiError{status: status, body: ErrorBody{Error: info}}
}

// fieldOf turns huma's "body.asset_classes[0].key" into "asset_classes[0].key".
func fieldOf(loc string) string {
	for _, p := range []string{"body.", "query.", "path.", "header."} {
		if strings.HasPrefix(loc, p) {
			return loc[len(p):]
		}
	}
	if loc == "body" {
		return ""
	}
	return loc
}
