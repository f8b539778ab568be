package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// tallyServer is a real Tally (SQLite store, engine, GraphQL, HTTP) on a
// loopback port.
type tallyServer struct {
	URL    string
	be     *embedded.Backend
	secret string
	dir    string
	pg     *postgres.Store
}

type harnessOpts struct {
	adminSecret string
	maxBuckets  int
	maxIngest   int64
	dir         string
	compactRows int
	maxRecords  int
	databaseURL string // set: the PostgreSQL backend instead of SQLite + engine
}

func startTally(t *testing.T, o harnessOpts) *tallyServer {
	t.Helper()
	ctx := context.Background()
	ts := &tallyServer{secret: o.adminSecret}
	var be backend
	if o.databaseURL != "" {
		store, err := postgres.Open(ctx, postgres.Config{URL: o.databaseURL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(store.Close)
		ts.pg, be = store, store
	} else {
		dir := o.dir
		if dir == "" {
			dir = t.TempDir()
		}
		b, err := embedded.Open(ctx, embedded.Config{Dir: dir, Engine: engine.Config{CompactRows: o.compactRows}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		ts.be, ts.dir, be = b, dir, b
	}
	exec, err := graphql.New(graphql.Config{Limits: analytics.Limits{MaxBuckets: o.maxBuckets}}, analytics.NewCatalogue(), be)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{MaxIngestBytes: o.maxIngest, Ingest: ingest.Config{MaxRecords: o.maxRecords}, Keys: be, Health: be.Health},
		exec, auth.New(auth.Config{AdminSecret: o.adminSecret, Keys: be}), be)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts.URL = hs.URL
	return ts
}

// newDatabase creates an empty database in the shared throwaway cluster
// and returns its URL.
func newDatabase(t *testing.T, name string) string {
	t.Helper()
	srv := pgtest.Shared(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(srv.URL, "/postgres?", "/"+name+"?", 1)
}

// post sends body to path with headers and returns status and body.
func post(t *testing.T, url string, headers map[string]string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
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
	return resp.StatusCode, b
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// gqlResponse is a decoded /v1/graphql answer.
type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []wireError                `json:"errors"`
}

func (s *tallyServer) query(t *testing.T, account string, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	h := map[string]string{"Content-Type": "application/json"}
	if account != "" {
		h["X-Moveo-Account-Id"] = account
	}
	if s.secret != "" {
		h["X-Admin-Secret"] = s.secret
	}
	code, b := post(t, s.URL+"/v1/graphql", h, body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var r gqlResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return r
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("marshal: ", err))
	}
	return b
}

// withHeaders returns base with overrides applied; an empty override
// value removes the header.
func withHeaders(base, overrides map[string]string) map[string]string {
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

// referenceSQL is reference.sql with the search path pinned to public, so
// its unqualified names never meet Tally's schema.
func referenceSQL(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.sql")
	if err != nil {
		t.Fatal(err)
	}
	return "SET search_path = public;\n" + string(b)
}

// wireError is one error of a /v1/graphql answer as clients decode it.
type wireError struct {
	Message    string `json:"message"`
	Extensions struct {
		Path string `json:"path"`
		Code string `json:"code"`
	} `json:"extensions"`
}
