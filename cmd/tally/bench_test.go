package main

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
)

// BenchmarkIngestHTTP measures POST /v1/sessions end to end over loopback:
// batches of 10k NDJSON sessions, each acknowledged only once durable.
func BenchmarkIngestHTTP(b *testing.B) {
	ctx := context.Background()
	be, err := embedded.Open(ctx, embedded.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	exec, _ := graphql.New(graphql.Config{}, analytics.NewCatalogue(), be)
	hs := httptest.NewServer(server.New(server.Config{}, exec, auth.New(auth.Config{}), be).Handler())
	defer hs.Close()
	// Bodies are made before timing starts; run with -benchtime=20x or
	// less so that every batch inserts new sessions.
	const batch, batches = 10000, 20
	bodies := ingestBodies(batches, batch)
	n := 0
	for b.Loop() {
		resp, err := http.Post(hs.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(bodies[n/batch%batches]))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", err, resp.Status)
		}
		resp.Body.Close()
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkIngestPostgres measures POST /v1/sessions on the PostgreSQL
// backend over loopback: batches of 10k NDJSON sessions, acknowledged
// after COMMIT, on a cluster with fsync and synchronous commit on. Run
// with -benchtime=20x or less (every batch is new).
func BenchmarkIngestPostgres(b *testing.B) {
	url := pgtest.StartDurable(b).URL
	store, err := postgres.Open(b.Context(), postgres.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	exec, _ := graphql.New(graphql.Config{}, analytics.NewCatalogue(), store)
	hs := httptest.NewServer(server.New(server.Config{}, exec, auth.New(auth.Config{}), store).Handler())
	defer hs.Close()
	bodies := ingestBodies(20, 10000)
	n := 0
	for b.Loop() {
		resp, err := http.Post(hs.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(bodies[n/10000%len(bodies)]))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", err, resp.Status)
		}
		resp.Body.Close()
		n += 10000
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}

func ingestBodies(batches, batch int) []string {
	r := rand.New(rand.NewSource(1))
	var bodies []string
	for k := 0; k < batches; k++ {
		var body strings.Builder
		for i := 0; i < batch; i++ {
			fmt.Fprintf(&body, `{"account_id":%q,"session_id":"s%d-%d","desk_id":"d2be0283-9b53-4d7b-b77d-2650f3a1a99%d","brain_parent_id":"51ff88a7-9b53-4d7b-b77d-2650f3a1a99%d","brain_version":%d,"channel":"web","agent_ids":["a%d"],"is_test":false,"start_time":"2024-%02d-%02dT%02d:%02d:00","end_time":"2025-01-01T00:00:00","updated_at":"2025-01-01T00:00:00"}`+"\n",
				acct, k, i, r.Intn(10), r.Intn(4), r.Intn(5), r.Intn(20), 1+r.Intn(12), 1+r.Intn(28), r.Intn(24), r.Intn(60))
		}
		bodies = append(bodies, body.String())
	}
	return bodies
}
