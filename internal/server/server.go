// Package server is Tally's HTTP API: POST /v1/graphql, POST /v1/sessions,
// GET /api/rest/…, GET /healthz, GET /metrics and the browser pages.
// Handlers are methods on Server, which holds its dependencies; routing is
// net/http's ServeMux.
//
// Data flows one way: HTTP → auth → graphql (queries) or ingest → Ingester
// (writes); REST calls the catalogue's functions on an analytics.Source.
// The server imports no store and no engine.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/live"
)

// Config configures the server. Zero values take the defaults
// (WithDefaults).
type Config struct {
	MaxQueryBytes  int64         // per /v1/graphql body; default 1 MiB
	MaxIngestBytes int64         // per /v1/sessions body, after gunzip; default 64 MiB
	QueryTimeout   time.Duration // per GraphQL request; default 30s
	// Request bodies of every route (bodies.go): the bytes held at once,
	// default 128 MiB; the longest wait for a body's next bytes, default
	// 10s; the longest a whole body may take, default 2m.
	MaxBodyBytesInFlight int64
	BodyIdleTimeout      time.Duration
	BodyTimeout          time.Duration
	Ingest               ingest.Config
	Version              string
	// Health reports whether the server can serve; nil means always.
	Health   func(ctx context.Context) error
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: no /metrics
	// Sessions reports the sessions held, for the tally_sessions gauge.
	Sessions func() float64
	// Console is what the browser pages start with.
	Console ConsoleConfig
	// REST is what GET /api/rest/… calls; without a Source there is no REST.
	REST RESTConfig
	// Keys enables the admin key API; nil answers 501 there.
	Keys KeyManager
	// CORSOrigins are the origins browsers may call Tally from
	// (transport.go); empty allows every origin, as Hasura does.
	CORSOrigins []string
	// Live serves subscriptions over WebSocket on /v1/graphql (ws.go);
	// nil leaves upgrades to the GET handler.
	Live *live.Hub
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.MaxQueryBytes <= 0 {
		c.MaxQueryBytes = 1 << 20
	}
	if c.MaxIngestBytes <= 0 {
		c.MaxIngestBytes = 64 << 20
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 30 * time.Second
	}
	c = c.bodyDefaults()
	c.Ingest = c.Ingest.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	exec   *graphql.Executor
	authn  *auth.Authenticator
	ingest Ingester
	log    *slog.Logger
	m      *metrics
	bufs   sync.Pool
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	ingested prometheus.Counter
}

// New builds a Server.
func New(cfg Config, exec *graphql.Executor, authn *auth.Authenticator, ing Ingester) *Server {
	cfg = cfg.WithDefaults()
	s := &Server{cfg: cfg, exec: exec, authn: authn, ingest: ing, log: cfg.Logger}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	if cfg.Registry != nil {
		s.m = &metrics{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
			latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tally_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"route"}),
			errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_graphql_errors_total", Help: "GraphQL responses with an error, by Hasura code."}, []string{"code"}),
			ingested: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_ingested_sessions_total", Help: "Session records written by POST /v1/sessions."}),
		}
		cfg.Registry.MustRegister(s.m.requests, s.m.latency, s.m.errors, s.m.ingested)
		if cfg.Sessions != nil {
			cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tally_sessions", Help: "Sessions held."}, cfg.Sessions))
		}
	}
	return s
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/graphql", s.instrument("graphql", s.graphql))
	mux.Handle("GET /v1/graphql", s.websocketOr(s.instrument("graphql", s.graphqlGet)))
	mux.Handle("POST /v1/sessions", s.instrument("sessions", s.sessions))
	mux.Handle("GET /healthz", s.instrument("healthz", s.healthz))
	mux.Handle("GET /hasura/healthz", s.instrument("healthz", s.healthz))
	mux.Handle("GET /v1/version", s.instrument("version", s.version))
	if s.cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	}
	mux.Handle("POST /v1/admin/keys", s.instrument("admin_keys", s.createKey))
	mux.Handle("GET /v1/admin/keys", s.instrument("admin_keys", s.listKeys))
	mux.Handle("DELETE /v1/admin/keys/{id}", s.instrument("admin_keys", s.revokeKey))
	s.consoleRoutes(mux)
	s.restRoutes(mux)
	return s.transport(s.limitBodies(mux))
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	if s.m == nil {
		return h
	}
	// The route's series, and its 200s', are looked up once.
	latency := s.m.latency.WithLabelValues(route)
	ok := s.m.requests.WithLabelValues(route, "200")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		if sw.code == http.StatusOK {
			ok.Inc()
		} else {
			s.m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		}
		latency.Observe(time.Since(start).Seconds())
	})
}

func (s *Server) getBuf() *bytes.Buffer {
	b := s.bufs.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func (s *Server) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		s.bufs.Put(b)
	}
}

// errorBody is the JSON body of every non-GraphQL error.
type errorBody struct {
	Error    string           `json:"error"`
	Problems []ingest.Problem `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"could not encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
