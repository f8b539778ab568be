package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/testseed"
)

// TestRepeatedBodiesAnswerAsNew: a body sent again (from the body cache,
// with its operation and calls kept) is answered as an executor that
// never saw it answers it, before and after the data changes, for
// queries, refusals and a request that runs out of buckets in its second
// alias.
func TestRepeatedBodiesAnswerAsNew(t *testing.T) {
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	// With a request's buckets bounding its second alias, and not.
	for _, perRequest := range []int{50, 1000} {
		t.Run(fmt.Sprint(perRequest), func(t *testing.T) {
			repeatBodies(t, r, Config{Limits: analytics.Limits{MaxBuckets: 100}, MaxRequestBuckets: perRequest})
		})
	}
}

func repeatBodies(t *testing.T, r *rand.Rand, cfg Config) {
	ix := engine.New(engine.Config{})
	acc := caller.Account.UUID
	desks := []pgtext.UUID{{0xde, 1}, {0xde, 2}}
	channels := []string{"web", "whatsapp"}
	record := func(i int) *session.Record {
		rec := &session.Record{
			AccountID:   acc,
			SessionID:   fmt.Sprint(i),
			DeskID:      pgtext.NullUUID{UUID: desks[r.Intn(2)], Valid: true},
			Channel:     session.NullString{String: channels[r.Intn(2)], Valid: true},
			StartMicros: mustTimestamp(t, "2024-01-01") + r.Int63n(40*pgtext.MicrosPerDay),
		}
		if r.Intn(3) > 0 {
			rec.EndMicros, rec.HasEnd = rec.StartMicros+r.Int63n(pgtext.MicrosPerDay), true
		}
		return rec
	}
	l := ix.NewLoader()
	for i := range 2000 {
		l.Add(record(i))
	}
	l.Finish()
	kept, err := New(cfg, analytics.NewCatalogue(), ix)
	if err != nil {
		t.Fatal(err)
	}
	const q = `query Q($s: timestamp, $e: timestamp, $span: interval = "1 day", $d: _uuid, $c: _text) {
  a: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $e, interval_span: $span, desk_ids: $d, channels: $c}) { per_interval open_sessions closed_sessions }
  b: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $e, interval_span: "7 days", channels: $c}, order_by: {open_sessions: desc}, limit: 3) { per_interval open_sessions }
}`
	var bodies [][]byte
	for _, vars := range []map[string]any{
		{"s": "2024-01-01", "e": "2024-01-10", "d": "{" + desks[0].String() + "}"},
		{"s": "2024-01-05", "e": "2024-02-01", "span": "2 days", "c": "{web}"},
		{"s": "2024-01-01", "e": "2024-02-15"},                      // a: 46 buckets; b: 7, refused with 4 of 50 left
		{"s": "2024-01-01", "e": "2024-01-10", "span": "1 year"},    // one bucket each
		{"s": "2024-01-01", "e": "2024-01-10", "span": "-1 day"},    // refused
		{"s": "2024-01-01", "e": "2024-01-10", "d": "{not-a-uuid}"}, // refused
		{"s": "2024-01-01", "e": "2024-01-20", "span": "1 hour"},    // a: over MaxBuckets
	} {
		body, err := json.Marshal(map[string]any{"query": q, "variables": vars})
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	answer := func(e *Executor, body []byte) string {
		return string(e.ExecuteBody(context.Background(), caller, append([]byte(nil), body...)).AppendJSON(nil))
	}
	// asNew answers body without the body cache: decoded by the general
	// path, by an executor that never saw it.
	asNew := func(body []byte) string {
		fresh, err := New(cfg, analytics.NewCatalogue(), ix)
		if err != nil {
			t.Fatal(err)
		}
		var req Request
		if err := decodeRequest(body, &req, -1); err != nil {
			t.Fatal(err)
		}
		return string(fresh.Execute(context.Background(), caller, &req).AppendJSON(nil))
	}
	prev := make([]string, len(bodies))
	for round := range 3 {
		changed := 0
		for i, body := range bodies {
			want := asNew(body)
			for range 2 {
				if got := answer(kept, body); got != want {
					t.Fatalf("round %d, body %d:\nagain %s\nnew   %s", round, i, got, want)
				}
			}
			if kept.bodies.bodies[string(body)] == nil {
				t.Fatalf("body %d is not in the body cache", i)
			}
			if want != prev[i] {
				changed++
			}
			prev[i] = want
		}
		if round > 0 && changed == 0 {
			t.Fatalf("round %d: no answer changed with the data: the test no longer checks that answers are not kept", round)
		}
		// New sessions: the kept calls are plans, not answers.
		var changes []session.Change
		for i := range 300 {
			changes = append(changes, session.Change{New: record(10_000*(round+1) + i)})
		}
		ix.Apply(changes)
	}
	// At once: kept calls are shared by requests running together (go
	// test -race checks that they are only read).
	var wg sync.WaitGroup
	for i, body := range bodies {
		want := asNew(body)
		for range 4 {
			wg.Go(func() {
				if got := answer(kept, body); got != want {
					t.Errorf("body %d at once:\ngot  %s\nwant %s", i, got, want)
				}
			})
		}
	}
	wg.Wait()
	var memoized int
	for _, body := range bodies {
		d := kept.bodies.bodies[string(body)]
		if d.memo.op != nil {
			memoized++
		}
	}
	if memoized < 4 {
		t.Fatalf("only %d bodies kept their operation: the test no longer exercises the memo", memoized)
	}
}

func mustTimestamp(t *testing.T, s string) int64 {
	t.Helper()
	ts, err := pgtext.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestMemoBounded: a body keeps the calls of at most maxMemoBuckets rows,
// and the calls it does not keep are answered as before.
func TestMemoBounded(t *testing.T) {
	e := newExec(t)
	e.cfg.Limits.MaxBuckets = 10_000
	e.cfg.MaxRequestBuckets = 100_000
	field := func(alias string) string {
		return alias + `: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-01-25 23:00", interval_span: "1 hour", time_zone: "America/New_York"}) { per_interval }`
	}
	body, err := json.Marshal(map[string]any{"query": "{ " + field("a") + " " + field("b") + " " + field("c") + " }"})
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	for range 3 {
		answers = append(answers, string(e.ExecuteBody(context.Background(), caller, append([]byte(nil), body...)).AppendJSON(nil)))
	}
	if answers[0] != answers[1] || answers[1] != answers[2] || len(answers[0]) < 3*600*30 {
		t.Fatalf("answers differ or are short: %d, %d, %d bytes", len(answers[0]), len(answers[1]), len(answers[2]))
	}
	d := e.bodies.bodies[string(body)]
	if d == nil || d.memo.op == nil {
		t.Fatal("the body's operation was not kept")
	}
	if len(d.memo.calls) != 1 || d.memo.buckets > maxMemoBuckets {
		t.Fatalf("%d calls of %d rows kept; want the first alone (600 rows), at most %d", len(d.memo.calls), d.memo.buckets, maxMemoBuckets)
	}
}
