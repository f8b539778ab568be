package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/web"
)

// BenchmarkGraphQLHandler measures the HTTP path without the engine: the
// handler (auth, body read, cached document, variables, arguments, plan,
// execution, rendering) answering the SPEC query for an account with no
// sessions, so the engine's share is nil. It calls the handler directly,
// as the target excludes the network.
func BenchmarkGraphQLHandler(b *testing.B) {
	exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), engine.New(engine.Config{}))
	if err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Config{}, exec, auth.New(auth.Config{AdminSecret: "s3cret"}), nil).Handler()
	body := servertest.MustJSON(map[string]any{"query": web.SpecQuery, "variables": map[string]any{
		"deskIds": "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c}", "startDate": "2024-01-08", "endDate": "2024-01-17", "intervalInDays": "1 day"}})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/graphql", bytes.NewReader(body))
		req.Header.Set("X-Admin-Secret", "s3cret")
		req.Header.Set("X-Moveo-Account-Id", servertest.Account)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"rows":[{`)) {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
