package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/prometheus/client_golang/prometheus"
)

// AgentProtocol serves the agent protocol under /agent/v1: plain net/http
// handlers, because agents authenticate by signing each request with their
// own key rather than with the operator API's bearer tokens, and the
// protocol's shape is fixed by package agentapi rather than by an OpenAPI
// document.
//
// Every handler bounds its body before reading it, and refuses (counting the
// reason in patchring_agent_refused_total) before anything is stored:
// unsigned or malformed requests, stale timestamps, unknown or revoked
// agents, bad signatures, replayed nonces and unusable enrollment secrets.
type AgentProtocol struct {
	srv     *server.Server
	logger  *slog.Logger
	metrics *AgentMetrics
	mux     *http.ServeMux
}

// AgentProtocolOptions configure the agent protocol handlers.
type AgentProtocolOptions struct {
	Logger  *slog.Logger
	Metrics *AgentMetrics
}

// AgentMetrics count agent protocol traffic.
type AgentMetrics struct {
	requests *prometheus.CounterVec
	refused  *prometheus.CounterVec
	results  *prometheus.CounterVec
}

// NewAgentMetrics registers the agent protocol metrics with reg.
func NewAgentMetrics(reg prometheus.Registerer) *AgentMetrics {
	m := &AgentMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchring_agent_requests_total", Help: "Agent protocol requests by endpoint and outcome (ok, refused, error).",
		}, []string{"endpoint", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchring_agent_refused_total", Help: "Agent protocol requests refused, by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchring_agent_results_total", Help: "Results delivered by agents, by outcome (acknowledged, rejected).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.refused, m.results)
	return m
}

func (m *AgentMetrics) request(endpoint, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(endpoint, outcome).Inc()
	}
}

func (m *AgentMetrics) refusal(endpoint, reason string) {
	if m != nil {
		m.refused.WithLabelValues(endpoint, reason).Inc()
	}
}

func (m *AgentMetrics) result(outcome string, n int) {
	if m != nil && n > 0 {
		m.results.WithLabelValues(outcome).Add(float64(n))
	}
}

// RefusedTooLarge is the refusal reason of an oversized body.
const RefusedTooLarge = "too_large"

// HeaderRefusal tells an agent why a request was refused when knowing
// helps it recover (clock_skew: fix the clock offset; revoked_agent: stop
// and ask for re-enrollment). Reasons that would help an attacker (which
// enrollment secrets exist) are never sent.
const HeaderRefusal = "Patchring-Refusal"

var disclosedRefusals = map[string]bool{server.RefusedClockSkew: true, server.RefusedRevokedAgent: true, RefusedTooLarge: true}

// NewAgentProtocol builds the agent protocol handlers over srv.
func NewAgentProtocol(srv *server.Server, opts AgentProtocolOptions) *AgentProtocol {
	p := &AgentProtocol{srv: srv, logger: opts.Logger, metrics: opts.Metrics, mux: http.NewServeMux()}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.mux.Handle("POST "+agentapi.PathEnroll, p.handle("enroll", agentapi.MaxEnrollBody, false,
		func(ctx context.Context, _ *patch.Agent, r server.AgentRequest) (any, error) {
			return srv.EnrollAgent(ctx, r)
		}))
	p.mux.Handle("POST "+agentapi.PathCheckIn, p.handle("checkin", agentapi.MaxCheckInBody, true,
		func(ctx context.Context, ag *patch.Agent, r server.AgentRequest) (any, error) {
			resp, err := srv.AgentCheckIn(ctx, ag, r)
			if err == nil {
				p.metrics.result("acknowledged", len(resp.Acknowledged))
				p.metrics.result("rejected", len(resp.Rejected))
			}
			return resp, err
		}))
	p.mux.Handle("POST "+agentapi.PathResults, p.handle("results", agentapi.MaxResultsBody, true,
		func(ctx context.Context, ag *patch.Agent, r server.AgentRequest) (any, error) {
			resp, err := srv.AgentResults(ctx, ag, r)
			if err == nil {
				p.metrics.result("acknowledged", len(resp.Acknowledged))
				p.metrics.result("rejected", len(resp.Rejected))
			}
			return resp, err
		}))
	p.mux.HandleFunc("/agent/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, patch.Errorf(patch.KindNotFound, "No agent protocol endpoint %s %s.", r.Method, r.URL.Path))
	})
	return p
}

// Handler returns the handler to mount at /agent/.
func (p *AgentProtocol) Handler() http.Handler { return p.mux }

type agentHandler func(ctx context.Context, ag *patch.Agent, r server.AgentRequest) (any, error)

// handle wraps an endpoint: it bounds and reads the body, authenticates
// signed requests when signed is set, and writes the answer or the error.
func (p *AgentProtocol) handle(endpoint string, maxBody int64, signed bool, h agentHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			if r.ContentLength > maxBody {
				return tooLarge(maxBody)
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					return tooLarge(maxBody)
				}
				return patch.WrapError(err, patch.KindInvalid, "The request body could not be read.")
			}
			req := server.AgentRequest{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header, Body: body, RemoteAddr: remoteHost(r.RemoteAddr)}
			ctx := r.Context()
			var ag *patch.Agent
			if signed {
				if ctx, ag, err = p.srv.AuthenticateAgentRequest(ctx, req); err != nil {
					return err
				}
				if lw, ok := w.(*loggingResponseWriter); ok {
					lw.actor = string(ag.ID)
				}
			}
			resp, err := h(ctx, ag, req)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, resp)
			return nil
		}()
		if err == nil {
			p.metrics.request(endpoint, "ok")
			return
		}
		reason := server.RefusalReason(err)
		if errors.Is(err, errTooLarge) {
			reason = RefusedTooLarge
		}
		status, body := ErrorResponse(err)
		switch {
		case reason != "":
			p.metrics.request(endpoint, "refused")
			p.metrics.refusal(endpoint, reason)
			if disclosedRefusals[reason] {
				w.Header().Set(HeaderRefusal, reason)
			}
			p.logger.WarnContext(r.Context(), "agent request refused", "endpoint", endpoint, "reason", reason,
				"remote", r.RemoteAddr, "request_id", patch.RequestIDFromContext(r.Context()), "err", err)
		case status >= 500:
			p.metrics.request(endpoint, "error")
			p.logger.ErrorContext(r.Context(), "agent request failed", "endpoint", endpoint,
				"request_id", patch.RequestIDFromContext(r.Context()), "err", err)
		default:
			p.metrics.request(endpoint, "error")
		}
		writeJSON(w, status, body)
	})
}

var errTooLarge = errors.New("request body too large")

func tooLarge(limit int64) error {
	return patch.WrapError(errTooLarge, patch.KindTooLarge, "The request body is larger than %d bytes.", limit)
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
