package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/prometheus/client_golang/prometheus"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// WriteError writes err as a JSON error response.
func WriteError(w http.ResponseWriter, err error) {
	status, body := ErrorResponse(err)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate resolves the bearer token of every API request except the
// OpenAPI document into an actor in the request context.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Prefix+"/openapi.json" || r.URL.Path == Prefix+"/openapi.yaml" {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patchring"`)
			WriteError(w, patch.Errorf(patch.KindUnauthenticated, "Send an API token as 'Authorization: Bearer prt_…'."))
			a.metrics.authFailure("missing")
			return
		}
		actor, err := a.srv.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if patch.ErrorKind(err) == patch.KindUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="patchring", error="invalid_token"`)
				a.metrics.authFailure("invalid")
			}
			WriteError(w, err)
			return
		}
		if lr, ok := w.(*loggingResponseWriter); ok {
			lr.actor = actor.Name
		}
		next.ServeHTTP(w, r.WithContext(patch.NewContextWithActor(r.Context(), actor)))
	})
}

// Metrics are the HTTP server's Prometheus metrics.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchring_http_requests_total", Help: "HTTP requests by handler group, method and status code.",
		}, []string{"group", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "patchring_http_request_duration_seconds", Help: "HTTP request latency by handler group.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"group"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchring_api_auth_failures_total", Help: "Operator API requests refused for missing or invalid tokens.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.authFailures)
	return m
}

func (m *Metrics) authFailure(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(reason).Inc()
	}
}

// group names the part of the server a path belongs to, for metric labels
// with bounded cardinality.
func group(path string) string {
	switch {
	case strings.HasPrefix(path, Prefix+"/"):
		return "api"
	case strings.HasPrefix(path, "/agent/"):
		return "agent"
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return "ops"
	}
	return "web"
}

type loggingResponseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	actor  string
}

func (w *loggingResponseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggingResponseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *loggingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware wraps the whole server: request ids, panic recovery, access
// logs, metrics and security headers. It is shared by the API, the agent
// endpoints and the web console.
func Middleware(logger *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		lw := &loggingResponseWriter{ResponseWriter: w}
		ctx := patch.NewContextWithRequestID(r.Context(), id)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(ctx, "panic serving request", "request_id", id, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if lw.status == 0 {
					WriteError(lw, patch.Errorf(patch.KindInternal, "Internal error."))
				}
			}
			status := lw.status
			if status == 0 {
				status = http.StatusOK
			}
			g := group(r.URL.Path)
			if m != nil {
				m.requests.WithLabelValues(g, r.Method, strconv.Itoa(status)).Inc()
				m.duration.WithLabelValues(g).Observe(time.Since(start).Seconds())
			}
			if g == "ops" && status < 400 {
				return // probes every few seconds would drown the log
			}
			logger.LogAttrs(ctx, levelOf(status), "http request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Int64("bytes", lw.bytes), slog.Duration("duration", time.Since(start)),
				slog.String("actor", lw.actor), slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(lw, r.WithContext(ctx))
	})
}

func levelOf(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
