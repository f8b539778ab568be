package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"time"
)

// The soak of the reliability campaign: --duration of mixed queries and
// writes against a running server, reporting every --every the requests,
// their errors, latency percentiles by kind and the server's memory, then
// checking that every acknowledged write is counted.

// queryKind is one kind of query the soak sends.
type queryKind struct {
	name   string
	weight int
	query  string
	vars   func(rng *rand.Rand) map[string]any
}

var soakQueries = []queryKind{
	{"dashboard", 50, specQuery, func(rng *rand.Rand) map[string]any {
		day := year.AddDate(0, 0, rng.Intn(350))
		return map[string]any{"deskIds": "{" + desks[rng.Intn(len(desks))] + "}", "startDate": day.Format("2006-01-02"), "endDate": day.AddDate(0, 0, 9).Format("2006-01-02"), "intervalInDays": "1 day"}
	}},
	{"year-daily", 15, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-12-31"}) { open_sessions closed_sessions per_interval } }`, nil},
	{"year-hourly", 10, yearHourly, nil},
	{"month-filtered", 10, `query($c: _text, $a: _text) { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-03-01", end_time: "2024-03-31", interval_span: "1 hour", channels: $c, agent_ids: $a, is_test: false}) { open_sessions per_interval } }`, func(rng *rand.Rand) map[string]any {
		return map[string]any{"c": []string{channels[rng.Intn(len(channels))]}, "a": "{" + agents[rng.Intn(len(agents))] + "}"}
	}},
	{"aggregate", 10, `{ a: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: "2024-01-01", end_time: "2024-12-31", interval_span: "1 week"}, where: {open_sessions: {_gt: 0}}) { aggregate { count sum { open_sessions closed_sessions } max { open_sessions } } } }`, nil},
	{"typename", 5, `{ __typename }`, nil},
}

// totalQuery counts every session of 2024 in one bucket.
const totalQuery = `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2025-01-01", interval_span: "1 year"}) { open_sessions closed_sessions } }`

// outcome is a finished request of the soak.
type outcome struct {
	kind string
	result
}

// window aggregates the outcomes of one reporting interval, or of the
// whole run.
type window struct {
	lat  map[string]latencies
	errs map[string]int // "kind: what" → count
	n    int
}

func newWindow() *window { return &window{lat: map[string]latencies{}, errs: map[string]int{}} }

func (w *window) add(o outcome) {
	w.n++
	if o.ok() {
		w.lat[o.kind] = append(w.lat[o.kind], o.took)
		return
	}
	w.errs[o.kind+": "+o.what()+" "+firstLine(o.message)]++
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	duration := fs.Duration("duration", 10*time.Minute, "how long to run")
	every := fs.Duration("every", 30*time.Second, "how often to report")
	readers := fs.Int("readers", 4, "clients sending queries back to back")
	writers := fs.Int("writers", 2, "clients sending batches")
	batch := fs.Int("batch", 500, "sessions per batch")
	rate := fs.Float64("batches-per-second", 4, "batches each writer sends a second, at most")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random seed (printed, to repeat a run)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := t.start(ctx); err != nil {
		fmt.Fprintln(stderr, "tally-load:", err)
		return exitFailure
	}
	before, err := total(ctx, t)
	if err != nil {
		fmt.Fprintln(stderr, "tally-load soak: counting the sessions before:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "soak of %s for %s: %d readers, %d writers (%d sessions a batch, %.1f batches/s each), seed %d; %d sessions in 2024 before\n",
		t.url, *duration, *readers, *writers, *batch, *rate, *seed, before)

	rctx, stop := context.WithTimeout(ctx, *duration)
	defer stop()
	outcomes := make(chan outcome, 1024)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int // new sessions in acknowledged batches
		unknown int // batches whose fate the client could not learn
	)
	weights := 0
	for _, q := range soakQueries {
		weights += q.weight
	}
	for i := range *readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(*seed + int64(i)))
			for rctx.Err() == nil {
				k := rng.Intn(weights)
				q := soakQueries[0]
				for _, c := range soakQueries {
					if k < c.weight {
						q = c
						break
					}
					k -= c.weight
				}
				var vars map[string]any
				if q.vars != nil {
					vars = q.vars(rng)
				}
				r := t.query(rctx, q.query, vars, q.name != "year-hourly")
				if rctx.Err() != nil {
					return
				}
				outcomes <- outcome{q.name, r}
			}
		}()
	}
	for i := range *writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(*seed + 1000 + int64(i)))
			tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
			defer tick.Stop()
			next := 0 // sessions of this writer so far
			for {
				select {
				case <-rctx.Done():
					return
				case <-tick.C:
				}
				// Half new sessions, half earlier ones sent again (the
				// upsert path: the stored row is read and replaced).
				var b strings.Builder
				fresh := *batch
				if next > 0 {
					fresh = *batch / 2
					for range *batch - fresh {
						old := rng.Intn(next)
						sessionJSON(&b, rand.New(rand.NewSource(int64(old))), t.account, fmt.Sprintf("soak%x-%d", *seed, i), old)
					}
				}
				for k := range fresh {
					sessionJSON(&b, rand.New(rand.NewSource(int64(next+k))), t.account, fmt.Sprintf("soak%x-%d", *seed, i), next+k)
				}
				r := t.post(context.Background(), "/v1/sessions", "application/x-ndjson", []byte(b.String()), true)
				switch {
				case r.status == 200:
					mu.Lock()
					created += fresh
					mu.Unlock()
					next += fresh
				case r.status == 0:
					mu.Lock()
					unknown++
					mu.Unlock()
				}
				outcomes <- outcome{"write", r}
			}
		}()
	}
	go func() { wg.Wait(); close(outcomes) }()

	all := newWindow()
	cur := newWindow()
	start := time.Now()
	report := time.NewTicker(*every)
	defer report.Stop()
	var rss, heap []float64
	line := func() {
		r := t.metric(ctx, "process_resident_memory_bytes")
		h := t.metric(ctx, "go_memstats_heap_inuse_bytes")
		s := t.metric(ctx, "tally_sessions")
		rss, heap = append(rss, r), append(heap, h)
		fmt.Fprintf(stdout, "%6s  %6d req  %4d err  dashboard %s  year-hourly p50 %s  write p50 %s  rss %s heap %s sessions %.0f\n",
			time.Since(start).Round(time.Second), cur.n, cur.n-okCount(cur), cur.lat["dashboard"].summary(), ms(cur.lat["year-hourly"].pct(50)), ms(cur.lat["write"].pct(50)), mib(r), mib(h), s)
		cur = newWindow()
	}
	line()
loop:
	for {
		select {
		case o, ok := <-outcomes:
			if !ok {
				break loop
			}
			all.add(o)
			cur.add(o)
		case <-report.C:
			line()
		}
	}
	line()

	after, err := total(ctx, t)
	fmt.Fprintf(stdout, "\n%d requests in %s; latency by kind over the whole run:\n", all.n, time.Since(start).Round(time.Second))
	kinds := make([]string, 0, len(all.lat))
	for k := range all.lat {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stdout, "  %-15s %6d ok  %s\n", k, len(all.lat[k]), all.lat[k].summary())
	}
	printErrs(stdout, "errors", all.errs)
	fmt.Fprintf(stdout, "memory: rss %s → %s (max %s); heap in use %s → %s (max %s)\n",
		mib(rss[0]), mib(rss[len(rss)-1]), mib(maxOf(rss)), mib(heap[0]), mib(heap[len(heap)-1]), mib(maxOf(heap)))
	fail := false
	for k := range all.errs {
		if strings.Contains(k, ": http 5") || strings.Contains(k, ": unexpected") || strings.Contains(k, ": no answer") {
			fail = true
		}
	}
	switch {
	case err != nil:
		fmt.Fprintln(stdout, "counting the sessions after:", err)
		fail = true
	case unknown == 0 && after != before+int64(created):
		fmt.Fprintf(stdout, "LOST WRITES: %d sessions in 2024 after, want %d before + %d acknowledged new = %d\n", after, before, created, before+int64(created))
		fail = true
	case unknown > 0:
		fmt.Fprintf(stdout, "%d sessions after, %d before, %d acknowledged new; %d batches unanswered, so the count is not checked\n", after, before, created, unknown)
	default:
		fmt.Fprintf(stdout, "every acknowledged write is counted: %d before + %d new = %d after\n", before, created, after)
	}
	if fail {
		fmt.Fprintln(stdout, "FAIL")
		return exitFailure
	}
	fmt.Fprintln(stdout, "PASS")
	return exitOK
}

func okCount(w *window) int {
	n := 0
	for _, l := range w.lat {
		n += len(l)
	}
	return n
}

func maxOf(v []float64) float64 {
	m := -1.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// total is the number of sessions of 2024 of the account.
func total(ctx context.Context, t *target) (int64, error) {
	body, _ := json.Marshal(map[string]any{"query": totalQuery})
	status, b, err := t.raw(ctx, "/v1/graphql", "application/json", body)
	if err != nil {
		return 0, err
	}
	var out struct {
		Data struct {
			R []struct {
				Open   int64 `json:"open_sessions"`
				Closed int64 `json:"closed_sessions"`
			} `json:"r"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || status != 200 || len(out.Data.R) == 0 {
		return 0, fmt.Errorf("unexpected answer: HTTP %d %s", status, b)
	}
	n := int64(0)
	for _, row := range out.Data.R {
		n += row.Open + row.Closed
	}
	return n, nil
}
