package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readier reports whether the server can serve requests.
type Readier interface {
	Ready(ctx context.Context) error
}

// MountOps adds /healthz (the process answers), /readyz (storage answers;
// 503 otherwise) and /metrics (Prometheus) to mux.
func MountOps(mux *http.ServeMux, r Readier, g prometheus.Gatherer) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		if err := r.Ready(ctx); err != nil {
			WriteError(w, patch.WrapError(err, patch.KindUnavailable, "Storage is not reachable."))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}

// Page is one page of a list.
type Page[T any] struct {
	Items  []T `json:"items" nullable:"false"`
	Total  int `json:"total" doc:"Number of items matching the filter, across all pages"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func page[T any](items []T, total, limit, offset int) *struct{ Body Page[T] } {
	if items == nil {
		items = []T{}
	}
	return &struct{ Body Page[T] }{Body: Page[T]{Items: items, Total: total, Limit: patch.PageLimit(limit), Offset: offset}}
}

// Paging is the common list query.
type Paging struct {
	Limit  int `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100, at most 1000)"`
	Offset int `query:"offset" minimum:"0" doc:"Items to skip"`
}

type empty struct{}

type body[T any] struct {
	Body T
}

func ok[T any](v T) *body[T] { return &body[T]{Body: v} }
