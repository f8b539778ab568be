// Package servertest runs a real Tally — a backend, the GraphQL executor,
// authentication and the HTTP server, wired as tally serve wires them — on
// a loopback httptest server, with the helpers tests use to talk to it.
// The HTTP API's tests and cmd/tally's whole-system tests share it.
//
// servertest is imported only by tests.
package servertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
)

// Account is the account tests use when one is enough.
const Account = "d2be0283-9b53-4d7b-b77d-2650f3a1a99c"

// Options choose the backend and the limits. Zero values take the
// server's defaults.
type Options struct {
	AdminSecret string
	MaxBuckets  int
	MaxIngest   int64 // bytes of a /v1/sessions body
	MaxRecords  int   // records of a batch
	// Dir is the embedded backend's data directory; default a new
	// temporary one.
	Dir         string
	CompactRows int
	// IdleCompaction is embedded.Config's; 0 turns it off here (the
	// server's default is 2 s).
	IdleCompaction time.Duration
	// DatabaseURL, when set, selects the PostgreSQL backend.
	DatabaseURL string
	// Registry, when set, serves /metrics from it.
	Registry *prometheus.Registry
	// Configure, when set, adjusts the server's Config before it starts
	// (the limits of a test that provokes them).
	Configure func(*server.Config)
	// Admission is the budget of heavy queries; zero values take the
	// defaults, as tally serve does.
	Admission analytics.AdmissionConfig
	// GraphQL sets the GraphQL limits (MaxBuckets above sets Limits).
	GraphQL graphql.Config
	// QueryTimeout is --query-timeout; default the server's.
	QueryTimeout time.Duration
	// CORSOrigins is --cors-origins; default every origin.
	CORSOrigins []string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Console is what the browser pages start with.
	Console server.ConsoleConfig
	// Live configures the live queries (WebSocket on /v1/graphql);
	// zero values take the defaults.
	Live live.Config
	// HTTPTimeout, when set, is the HTTP server's read and write timeout,
	// as tally serve sets them.
	HTTPTimeout time.Duration
}

// Server is a running Tally. The helpers send Secret as X-Admin-Secret
// when it is set.
type Server struct {
	URL    string
	Secret string
	Dir    string
	// Embedded is the backend, or nil on PostgreSQL.
	Embedded *embedded.Backend
	// Postgres is the backend, or nil on the embedded one.
	Postgres *postgres.Store
	// Hub runs the live queries, fed by the backend's change feed.
	Hub *live.Hub

	stopLive func()
	// Admission is the budget of heavy queries the server runs under.
	Admission *analytics.Admission
}

// backend is what the wiring needs of either backend.
type backend interface {
	analytics.Source
	server.Ingester
	server.KeyManager
	auth.KeyStore
	Health(ctx context.Context) error
}

// Start runs a Tally for the test; it stops when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ctx := context.Background()
	s := &Server{Secret: o.AdminSecret}
	var be backend
	var sessions func() float64
	if o.DatabaseURL != "" {
		store, err := postgres.Open(ctx, postgres.Config{URL: o.DatabaseURL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(store.Close)
		s.Postgres, be = store, store
	} else {
		s.Dir = o.Dir
		if s.Dir == "" {
			s.Dir = t.TempDir()
		}
		// Idle compaction is off unless asked for: a test's engine keeps
		// its deltas however long the test takes.
		idle := o.IdleCompaction
		if idle == 0 {
			idle = -1
		}
		b, err := embedded.Open(ctx, embedded.Config{Dir: s.Dir, Engine: engine.Config{CompactRows: o.CompactRows}, IdleCompaction: idle, IdleMinRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		s.Embedded, be = b, b
		sessions = func() float64 { return float64(b.Sessions()) }
	}
	gcfg := o.GraphQL
	gcfg.Limits = analytics.Limits{MaxBuckets: o.MaxBuckets}
	gcfg.QueryTimeout = o.QueryTimeout
	gcfg.Logger = o.Logger
	cat := analytics.NewCatalogue()
	// As tally serve wires it: heavy queries admitted by cost, refusals
	// worded as a GraphQL data-exception.
	adm := o.Admission
	adm.Refused = func(e *analytics.BusyError) error { return graphql.NewError(graphql.CodeDataException, e.Error()) }
	s.Admission = analytics.NewAdmission(adm)
	src := s.Admission.Source(be)
	exec, err := graphql.New(gcfg, cat, src)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Config{AdminSecret: o.AdminSecret, Keys: be})
	t.Cleanup(authn.Close)
	s.startLive(o)
	scfg := server.Config{
		MaxIngestBytes: o.MaxIngest,
		Ingest:         ingest.Config{MaxRecords: o.MaxRecords},
		Keys:           be,
		Health:         be.Health,
		Registry:       o.Registry,
		Sessions:       sessions,
		QueryTimeout:   o.QueryTimeout,
		CORSOrigins:    o.CORSOrigins,
		Logger:         o.Logger,
		Console:        o.Console,
		REST:           server.RESTConfig{Catalogue: cat, Source: src, Limits: gcfg.Limits},
		Live:           s.Hub,
	}
	if o.Configure != nil {
		o.Configure(&scfg)
	}
	srv := server.New(scfg, exec, authn, be)
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = o.HTTPTimeout, o.HTTPTimeout
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(s.stopLive) // before the HTTP server, as tally serve does
	s.URL = hs.URL
	return s
}

// Do sends a request and returns its status and body.
func (s *Server) Do(t testing.TB, method, path string, headers map[string]string, body []byte) (int, []byte) {
	t.Helper()
	code, _, b := s.Send(t, method, path, headers, body)
	return code, b
}

// Send sends a request and returns its status, headers and body.
func (s *Server) Send(t testing.TB, method, path string, headers map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// Post is Do with POST.
func (s *Server) Post(t testing.TB, path string, headers map[string]string, body []byte) (int, []byte) {
	t.Helper()
	return s.Do(t, http.MethodPost, path, headers, body)
}

// Error is one error of a /v1/graphql answer as clients decode it.
type Error struct {
	Message    string `json:"message"`
	Extensions struct {
		Path string `json:"path"`
		Code string `json:"code"`
	} `json:"extensions"`
}

// Response is a decoded /v1/graphql answer.
type Response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []Error                    `json:"errors"`
}

// Query sends a GraphQL query as account (none when empty), with the
// admin secret when the server has one; the answer must be HTTP 200.
func (s *Server) Query(t testing.TB, account, query string, vars map[string]any) Response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if account != "" {
		h["X-Moveo-Account-Id"] = account
	}
	if s.Secret != "" {
		h["X-Admin-Secret"] = s.Secret
	}
	code, b := s.Post(t, "/v1/graphql", h, MustJSON(map[string]any{"query": query, "variables": vars}))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return r
}

// Ingest posts NDJSON records to /v1/sessions with the admin secret; the
// answer must be HTTP 200.
func (s *Server) Ingest(t testing.TB, ndjson string) {
	t.Helper()
	h := map[string]string{}
	if s.Secret != "" {
		h["X-Admin-Secret"] = s.Secret
	}
	if code, b := s.Post(t, "/v1/sessions", h, []byte(ndjson)); code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, b)
	}
}

// CreatedKey is the admin API's answer to a key creation.
type CreatedKey struct {
	ID        string   `json:"id"`
	Key       string   `json:"key"`
	AccountID string   `json:"account_id"`
	Scopes    []string `json:"scopes"`
	Name      string   `json:"name"`
	CreatedAt string   `json:"created_at"`
}

// CreateKey makes an API key through the admin API.
func (s *Server) CreateKey(t testing.TB, account string, scopes ...string) CreatedKey {
	t.Helper()
	code, b := s.Post(t, "/v1/admin/keys", map[string]string{"X-Admin-Secret": s.Secret}, MustJSON(map[string]any{"account_id": account, "scopes": scopes, "name": "test"}))
	if code != http.StatusCreated {
		t.Fatalf("create key: %d %s", code, b)
	}
	var k CreatedKey
	if err := json.Unmarshal(b, &k); err != nil || !strings.HasPrefix(k.Key, "tly_") || k.ID == "" || k.AccountID != account {
		t.Fatalf("create key answered %s", b)
	}
	return k
}

// Record is an NDJSON session of Account starting 2024-01-08T10:00, with
// extra fields (",\"end_time\":...") appended.
func Record(id, extra string) string {
	return fmt.Sprintf(`{"account_id":%q,"session_id":%q,"start_time":"2024-01-08T10:00:00"%s}`, Account, id, extra)
}

// LoadFew stores three sessions of Account: a (desk 9566c74d…, web,
// closed) and b (whatsapp, agent ann, open) on 2024-01-08 at 10:00, and c
// (a test session, open) on 2024-01-09 at 00:00.
func (s *Server) LoadFew(t testing.TB) {
	t.Helper()
	s.Ingest(t, Record("a", `,"channel":"web","desk_id":"9566c74d-1003-4c4d-bbbb-0407d1e2c649","end_time":"2024-01-08T11:00:00"`)+"\n"+
		Record("b", `,"channel":"whatsapp","agent_ids":["ann"]`)+"\n"+
		strings.Replace(Record("c", `,"is_test":true`), "2024-01-08T10", "2024-01-09T00", 1)+"\n")
}

// MustJSON marshals v.
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("marshal: ", err))
	}
	return b
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// WithHeaders returns base with overrides applied; an empty override
// value removes the header.
func WithHeaders(base, overrides map[string]string) map[string]string {
	h := maps.Clone(base)
	for k, v := range overrides {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// Compact is JSON text without insignificant blanks.
func Compact(b []byte) []byte {
	var buf bytes.Buffer
	json.Compact(&buf, b)
	return buf.Bytes()
}

// CopyData copies the embedded store's data into a new temporary data
// directory and returns it: the data of a restarted server, since two
// servers may not share a data directory.
func (s *Server) CopyData(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := s.Embedded.Store().CopyTo(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// AliveWithin is how long CheckAlive waits for { __typename }: the bound
// issue 9 sets for a server under attack.
const AliveWithin = 2 * time.Second

// CheckAlive asks { __typename } and fails the test unless the answer is
// HTTP 200 with data, within AliveWithin: what every protection test
// checks while its attack is under way.
func (s *Server) CheckAlive(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Secret != "" {
		req.Header.Set("X-Admin-Secret", s.Secret)
	}
	c := &http.Client{Timeout: AliveWithin}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("{ __typename } got no answer within %s: %v", AliveWithin, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"__typename":"query_root"`) {
		t.Fatalf("{ __typename }: HTTP %d %s", resp.StatusCode, b)
	}
}
