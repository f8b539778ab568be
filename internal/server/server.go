// Package server is Tally's HTTP API: POST /v1/graphql, POST /v1/sessions,
// GET /healthz, GET /metrics and the console pages. Handlers are methods on
// Server, which holds its dependencies; routing is net/http's ServeMux.
//
// Data flows one way: HTTP → auth → graphql (queries) or ingest → Ingester
// (writes). The server imports no store and no engine.
package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/tally-server/tally/internal/session"
)

// Ingester makes a validated batch durable and visible to queries.
type Ingester interface {
	// Ingest writes recs atomically. It returns how many records were
	// written and how many were ignored as older than the stored session.
	// When it returns nil the batch is durable.
	Ingest(ctx context.Context, recs []session.Record) (accepted, ignored int, err error)
}

// Config configures the server. Zero values take the defaults.
type Config struct {
	MaxQueryBytes  int64         // per /v1/graphql body; default 1 MiB
	MaxIngestBytes int64         // per /v1/sessions body, after gunzip; default 64 MiB
	QueryTimeout   time.Duration // per GraphQL request; default 30s
	Ingest         ingest.Config
	Version        string
	// Health reports whether the server can serve; nil means always.
	Health   func(ctx context.Context) error
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: no /metrics
	// Sessions reports the sessions held, for the tally_sessions gauge.
	Sessions func() float64
	// Console is what the console page starts with.
	Console ConsoleConfig
	// Keys enables the admin key API; nil answers 501 there.
	Keys KeyManager
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
	if cfg.MaxQueryBytes <= 0 {
		cfg.MaxQueryBytes = 1 << 20
	}
	if cfg.MaxIngestBytes <= 0 {
		cfg.MaxIngestBytes = 64 << 20
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, exec: exec, authn: authn, ingest: ing, log: log}
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
	mux.Handle("GET /v1/graphql", s.instrument("graphql", s.graphqlGet))
	mux.Handle("POST /v1/sessions", s.instrument("sessions", s.sessions))
	mux.Handle("GET /healthz", s.instrument("healthz", s.healthz))
	mux.Handle("GET /v1/version", s.instrument("version", s.version))
	if s.cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	}
	mux.Handle("POST /v1/admin/keys", s.instrument("admin_keys", s.createKey))
	mux.Handle("GET /v1/admin/keys", s.instrument("admin_keys", s.listKeys))
	mux.Handle("DELETE /v1/admin/keys/{id}", s.instrument("admin_keys", s.revokeKey))
	s.consoleRoutes(mux)
	return mux
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		s.m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		s.m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
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

// writeGraphQL renders a GraphQL response and writes it: always HTTP 200,
// as Hasura's /v1/graphql does, errors included. The error metric reads
// the codes from the response value.
func (s *Server) writeGraphQL(w http.ResponseWriter, resp *graphql.Response) {
	out := s.getBuf()
	defer s.putBuf(out)
	body := resp.AppendJSON(out.AvailableBuffer())
	if s.m != nil {
		for _, e := range resp.Errors() {
			s.m.errors.WithLabelValues(e.Code).Inc()
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func graphqlError(code, msg string) *graphql.Response {
	return graphql.ErrorResponse(graphql.NewError(code, msg))
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	p, err := s.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, err.Error()))
		return
	}
	if p.KeyID != "" && !p.AccountHeader {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, "X-Moveo-Account-Id header required with an API key: send the UUID of the key's account"))
		return
	}
	if !p.Can(auth.ScopeRead) {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, "this API key may not read; it needs the read scope"))
		return
	}
	buf := s.getBuf()
	defer s.putBuf(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxQueryBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeGraphQL(w, graphqlError(graphql.CodeBadRequest, fmt.Sprintf("the request body is larger than %d bytes, the limit for /v1/graphql (--max-query-bytes)", s.cfg.MaxQueryBytes)))
			return
		}
		s.writeGraphQL(w, graphqlError(graphql.CodeBadRequest, "could not read the request body: "+err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	s.writeGraphQL(w, s.exec.ExecuteBody(ctx, graphql.Caller{Account: p.Account}, buf.Bytes()))
}

func (s *Server) graphqlGet(w http.ResponseWriter, r *http.Request) {
	s.writeGraphQL(w, graphqlError(graphql.CodeNotSupported, "GET requests to /v1/graphql are not supported; POST {\"query\": ...} as JSON"))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Health(ctx); err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "ERROR: %v", err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK")
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.cfg.Version, "server_type": "tally"})
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

// errorBody is the JSON body of every non-GraphQL error.
type errorBody struct {
	Error    string           `json:"error"`
	Problems []ingest.Problem `json:"problems,omitempty"`
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !p.Can(auth.ScopeWrite) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "this API key may not write sessions; it needs the write scope"})
		return
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, s.cfg.MaxIngestBytes))
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.ingestReadError(w, err)
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, left: s.cfg.MaxIngestBytes}
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: fmt.Sprintf("Content-Encoding %q is not supported; send the body plain or gzip-compressed", enc)})
		return
	}
	recs, err := ingest.Decode(ingest.ReaderErrors(body), p.Account, s.cfg.Ingest)
	if err != nil {
		var (
			be *ingest.BatchError
			tm *ingest.TooManyError
			se *ingest.SyntaxError
		)
		switch {
		case errors.As(err, &be):
			n := len(be.Problems) + be.More
			msg := fmt.Sprintf("%d problems in the batch; nothing was written", n)
			if n == 1 {
				msg = "1 problem in the batch; nothing was written"
			}
			if be.More > 0 {
				msg += fmt.Sprintf(" (the first %d are listed)", len(be.Problems))
			}
			writeJSON(w, http.StatusBadRequest, errorBody{Error: msg, Problems: be.Problems})
		case errors.As(err, &tm):
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: tm.Error() + "; nothing was written"})
		case errors.As(err, &se):
			writeJSON(w, http.StatusBadRequest, errorBody{Error: se.Error() + "; nothing was written"})
		default:
			s.ingestReadError(w, err)
		}
		return
	}
	accepted, ignored, err := s.ingest.Ingest(r.Context(), recs)
	if err != nil {
		s.log.ErrorContext(r.Context(), "ingest failed", "err", err, "records", len(recs))
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the batch could not be stored and nothing was written; retry later (" + err.Error() + ")"})
		return
	}
	if s.m != nil {
		s.m.ingested.Add(float64(accepted))
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": accepted, "ignored": ignored})
}

func (s *Server) ingestReadError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	var le *limitError
	switch {
	case errors.As(err, &mbe), errors.As(err, &le):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("the request body is larger than %d bytes (after decompression), the limit for /v1/sessions; split the batch or raise --max-ingest-bytes; nothing was written", s.cfg.MaxIngestBytes)})
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body is not valid gzip (" + err.Error() + "); nothing was written"})
	default:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "could not read the request body (" + err.Error() + "); nothing was written"})
	}
}

type limitError struct{}

func (limitError) Error() string { return "decompressed body too large" }

// limitedReader fails, rather than stopping quietly, past its limit.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &limitError{}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &limitError{}
	}
	return n, err
}
