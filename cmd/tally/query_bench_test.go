package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/session"
)

// queryBenchIndex is an engine holding the data of "tally-load seed" for
// servertest.Account: 1 M sessions over 2024, four desks, three channels,
// five agents, nine in ten closed; and 80 k sessions of another account.
func queryBenchIndex(tb testing.TB) *engine.Index {
	tb.Helper()
	ix := engine.New(engine.Config{})
	l := ix.NewLoader()
	other := pgtext.UUID{0x11}
	acc, err := pgtext.ParseUUID(servertest.Account)
	if err != nil {
		tb.Fatal(err)
	}
	channels := []string{"web", "whatsapp", "messenger"}
	agents := []string{"ann", "bob", "cem", "dua", "eli"}
	year := mustTS("2024-01-01")
	r := rand.New(rand.NewSource(1))
	for i := range 1_080_000 {
		rec := session.Record{
			AccountID:   acc,
			SessionID:   fmt.Sprint(i),
			DeskID:      pgtext.NullUUID{UUID: pgtext.UUID{0xde, byte(r.Intn(4))}, Valid: true},
			Channel:     session.NullString{String: channels[r.Intn(len(channels))], Valid: true},
			AgentIDs:    []string{agents[r.Intn(len(agents))]},
			StartMicros: year + r.Int63n(366*pgtext.MicrosPerDay),
		}
		if i >= 1_000_000 {
			rec.AccountID = other
		}
		if r.Intn(10) != 0 {
			rec.EndMicros, rec.HasEnd = rec.StartMicros+r.Int63n(2*pgtext.MicrosPerHour), true
		}
		l.Add(&rec)
	}
	l.Finish()
	return ix
}

// BenchmarkQueryHTTP sends issue 15's reference queries to the GraphQL
// handler over loopback HTTP (a real listener, Go's client, keep-alive),
// each beside an empty server (<query>/empty) giving the same answer,
// with the engine of queryBenchIndex behind it; RunParallel with
// -cpu 1 or -cpu 8 (16 clients on two cores). For profiles:
//
//	go test -run X -bench QueryHTTP/dashboard -benchtime 3s -cpuprofile /tmp/cpu.out ./cmd/tally/
func BenchmarkQueryHTTP(b *testing.B) {
	exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), queryBenchIndex(b))
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(server.New(server.Config{}, exec, auth.New(auth.Config{}), nil).Handler())
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	const fn = `query Q($start: timestamp, $end: timestamp, $span: interval, $desks: _uuid, $channels: _text, $isTest: Boolean, $agents: _text) {
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: $start, end_time: $end, interval_span: $span, desk_ids: $desks, channels: $channels, is_test: $isTest, agent_ids: $agents}) { closed_sessions open_sessions date: per_interval }
}`
	desk := pgtext.UUID{0xde}.String()
	for _, c := range []struct {
		name string
		vars map[string]any
	}{
		{"dashboard", map[string]any{"desks": "{" + desk + "}", "start": "2024-06-01", "end": "2024-06-10", "span": "1 day"}},
		{"year_weekly", map[string]any{"start": "2024-01-01", "end": "2024-12-30", "span": "7 days"}},
		{"year_daily_2ch_prod", map[string]any{"start": "2024-01-01", "end": "2024-12-31", "span": "1 day", "channels": "{web,whatsapp}", "isTest": false}},
		{"quarter_hourly_2agents", map[string]any{"start": "2024-04-01", "end": "2024-06-30T23:00:00", "span": "1 hour", "agents": "{ann,bob}"}},
	} {
		body := servertest.MustJSON(map[string]any{"query": fn, "variables": c.vars})
		// The empty server: reads the request, writes Tally's answer.
		answer := post(b, client, hs.URL, body)
		empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(answer)
		}))
		defer empty.Close()
		for _, srv := range []struct{ name, url string }{{c.name, hs.URL}, {c.name + "/empty", empty.URL}} {
			b.Run(srv.name, func(b *testing.B) {
				post(b, client, srv.url, body)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						post(b, client, srv.url, body)
					}
				})
			})
		}
	}
}

// post sends a GraphQL body and returns the answer, which must be data.
func post(b *testing.B, client *http.Client, url string, body []byte) []byte {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/v1/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Moveo-Account-Id", servertest.Account)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(out, []byte(`{"data":{"rows":[{`)) {
		b.Fatalf("%d %s", resp.StatusCode, out)
	}
	return out
}
