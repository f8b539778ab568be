package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The measurement of issue 15: the four reference queries over HTTP, each
// beside an empty HTTP server that answers the same request bytes with the
// same response bytes, so the ratio is what Tally adds to a round trip.
// The empty server runs in a child process (this binary, command
// "empty-server"), as Tally runs in its own: both are reached over
// loopback by the same client, in the same run, alternately.

// referenceQuery is one of the four queries of issue 15.
type referenceQuery struct {
	name, query string
	vars        map[string]any
}

// referenceQueries are issue 15's queries over the data of "tally-load
// seed": the dashboard (one desk, ten days, daily), a year weekly, a year
// daily on two channels in production, a quarter hourly for two agents.
func referenceQueries() []referenceQuery {
	const fn = `query Q($start: timestamp, $end: timestamp, $span: interval, $desks: _uuid, $channels: _text, $isTest: Boolean, $agents: _text) {
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: $start, end_time: $end, interval_span: $span, desk_ids: $desks, channels: $channels, is_test: $isTest, agent_ids: $agents}) { closed_sessions open_sessions date: per_interval }
}`
	return []referenceQuery{
		{"dashboard", specQuery, dashboardVars},
		{"year_weekly", fn, map[string]any{"start": "2024-01-01", "end": "2024-12-30", "span": "7 days"}},
		{"year_daily_2ch_prod", fn, map[string]any{"start": "2024-01-01", "end": "2024-12-31", "span": "1 day",
			"channels": "{" + channels[0] + "," + channels[1] + "}", "isTest": false}},
		{"quarter_hourly_2agents", fn, map[string]any{"start": "2024-04-01", "end": "2024-06-30T23:00:00", "span": "1 hour",
			"agents": "{" + agents[0] + "," + agents[1] + "}"}},
	}
}

// exchange is one request body and the answer Tally gave it.
type exchange struct {
	Request  []byte `json:"request"`
	Response []byte `json:"response"`
}

func runLatency(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	samples := fs.Int("samples", 2000, "requests timed one at a time per query and server")
	clients := fs.Int("clients", 16, "concurrent clients of the throughput phase")
	dur := fs.Duration("duration", 3*time.Second, "length of each throughput phase")
	rounds := fs.Int("rounds", 6, "throughput phases alternate between the servers in this many rounds of duration/rounds each, so that a change in the machine's speed (other tenants) falls on both")
	only := fs.String("queries", "", "comma-separated query names to run (default all: dashboard, year_weekly, year_daily_2ch_prod, quarter_hourly_2agents)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *rounds < 1 || *clients < 1 || *dur <= 0 {
		fmt.Fprintln(stderr, "tally-load latency: --rounds, --clients and --duration must be positive")
		return exitUsage
	}
	if err := t.start(ctx); err != nil {
		fmt.Fprintln(stderr, "tally-load:", err)
		return exitFailure
	}
	// Plain answers: Go's client would otherwise ask for gzip, which Tally
	// gives and the empty server would not.
	t.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}

	var qs []referenceQuery
	var exs []exchange
	for _, q := range referenceQueries() {
		if *only != "" && !strings.Contains(","+*only+",", ","+q.name+",") {
			continue
		}
		body, _ := json.Marshal(map[string]any{"query": q.query, "variables": q.vars})
		status, answer, err := t.raw(ctx, "/v1/graphql", "application/json", body)
		if err != nil || status != http.StatusOK {
			fmt.Fprintf(stderr, "tally-load latency: %s: %v %d %s\n", q.name, err, status, answer)
			return exitFailure
		}
		if code, msg := graphqlError(answer); code != "" {
			fmt.Fprintf(stderr, "tally-load latency: %s: %s %s\n", q.name, code, msg)
			return exitFailure
		}
		qs = append(qs, q)
		exs = append(exs, exchange{Request: body, Response: answer})
	}
	if len(qs) == 0 {
		fmt.Fprintf(stderr, "tally-load latency: no query named in --queries %q\n", *only)
		return exitUsage
	}
	empty, stop, err := startEmptyServer(ctx, exs)
	if err != nil {
		fmt.Fprintln(stderr, "tally-load latency:", err)
		return exitFailure
	}
	defer stop()
	et := &target{url: empty, account: t.account, http: t.http}

	fmt.Fprintf(stdout, "%d samples one at a time (alternating), then %d clients for %s each; latency p50 / p90\n", *samples, *clients, *dur)
	failed := false
	for i, q := range qs {
		ex := exs[i]
		// Warm both: connections, Tally's parsed-query cache.
		for range 50 {
			t.post(ctx, "/v1/graphql", "application/json", ex.Request, false)
			et.post(ctx, "/v1/graphql", "application/json", ex.Request, false)
		}
		var lt, le latencies
		errs := map[string]int{}
		for range *samples {
			for _, s := range []struct {
				t *target
				l *latencies
			}{{t, &lt}, {et, &le}} {
				r := s.t.post(ctx, "/v1/graphql", "application/json", ex.Request, false)
				if !r.ok() || r.bytes != int64(len(ex.Response)) {
					errs[r.what()]++
					continue
				}
				*s.l = append(*s.l, r.took)
			}
		}
		var tt, te phase
		var shares []float64
		for range *rounds {
			rt := concurrent(ctx, t, ex, *clients, *dur/time.Duration(*rounds), errs)
			re := concurrent(ctx, et, ex, *clients, *dur/time.Duration(*rounds), errs)
			tt.add(rt)
			te.add(re)
			shares = append(shares, 100*rt.rate()/max(re.rate(), 1e-9))
		}
		sort.Float64s(shares)
		fmt.Fprintf(stdout, "%s (request %d B, response %d B)\n", q.name, len(ex.Request), len(ex.Response))
		fmt.Fprintf(stdout, "  1 client:    tally %s / %s   empty %s / %s   p50 ratio %.2f×\n",
			ms(lt.pct(50)), ms(lt.pct(90)), ms(le.pct(50)), ms(le.pct(90)), float64(lt.pct(50))/float64(max(le.pct(50), 1)))
		fmt.Fprintf(stdout, "  %d clients:  tally %.0f/s (%s / %s)   empty %.0f/s (%s / %s)   throughput %.0f%% of empty\n",
			*clients, tt.rate(), ms(tt.lat.pct(50)), ms(tt.lat.pct(90)), te.rate(), ms(te.lat.pct(50)), ms(te.lat.pct(90)), 100*tt.rate()/max(te.rate(), 1e-9))
		if *rounds > 1 {
			fmt.Fprintf(stdout, "  share by round: %.0f–%.0f %%, median %.0f %%\n", shares[0], shares[len(shares)-1], shares[len(shares)/2])
		}
		if len(errs) > 0 {
			failed = true
			printErrs(stdout, "  errors", errs)
		}
	}
	if failed {
		fmt.Fprintln(stdout, "FAIL")
		return exitFailure
	}
	return exitOK
}

// phase is the outcome of throughput phases.
type phase struct {
	done int64         // answers
	took time.Duration // over this time
	lat  latencies
}

// rate is the answers a second.
func (p phase) rate() float64 { return float64(p.done) / max(p.took.Seconds(), 1e-9) }

func (p *phase) add(q phase) {
	p.done += q.done
	p.took += q.took
	p.lat = append(p.lat, q.lat...)
}

// concurrent keeps n clients sending ex's request to t for d.
func concurrent(ctx context.Context, t *target, ex exchange, n int, d time.Duration, errs map[string]int) phase {
	var (
		mu   sync.Mutex
		all  latencies
		done atomic.Int64
		wg   sync.WaitGroup
	)
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l latencies
			bad := map[string]int{}
			for pctx.Err() == nil {
				r := t.post(pctx, "/v1/graphql", "application/json", ex.Request, false)
				if pctx.Err() != nil {
					break
				}
				if !r.ok() || r.bytes != int64(len(ex.Response)) {
					bad[r.what()]++
					continue
				}
				l = append(l, r.took)
				done.Add(1)
			}
			mu.Lock()
			all = append(all, l...)
			for k, v := range bad {
				errs[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return phase{done: done.Load(), took: time.Since(start), lat: all}
}

// startEmptyServer runs this binary's empty-server command with the
// exchanges and returns its URL and how to stop it.
func startEmptyServer(ctx context.Context, exs []exchange) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp("", "tally-load-exchanges-*.json")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(exs); err != nil {
		f.Close()
		return "", nil, err
	}
	f.Close()
	cmd := exec.CommandContext(ctx, self, "empty-server", "--exchanges", f.Name())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("the empty server did not start: %v", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// runEmptyServer is the empty server: it reads each request's body and
// writes the answer recorded for it, with Tally's Content-Type, and does
// nothing else. It prints its URL on stdout and serves until killed.
func runEmptyServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("empty-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("exchanges", "", "JSON file of request and response bodies")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	b, err := os.ReadFile(*file)
	var exs []exchange
	if err == nil {
		err = json.Unmarshal(b, &exs)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tally-load empty-server:", err)
		return exitFailure
	}
	answers := map[string][]byte{}
	for _, ex := range exs {
		answers[string(ex.Request)] = ex.Response
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "tally-load empty-server:", err)
		return exitFailure
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		answer, ok := answers[buf.String()]
		if !ok {
			http.Error(w, "no recorded answer for this request", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(answer)
	})
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "tally-load empty-server:", err)
		return exitFailure
	}
	return exitOK
}
