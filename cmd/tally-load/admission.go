package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// The measurement of issue 9, finding 8: the ten-day dashboard query's
// latency alone, then while --heavy clients each keep one year-long hourly
// query in flight. Admission by cost keeps the ratio of the medians small.

// specQuery is the query of SPEC section 1.
const specQuery = `query OpenClosedSessionsInterval($deskIds: _uuid, $startDate: timestamp, $endDate: timestamp, $intervalInDays: interval) {
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: $startDate, end_time: $endDate, interval_span: $intervalInDays, desk_ids: $deskIds}) { closed_sessions open_sessions date: per_interval }
}`

// yearHourly is the heavy query: 8 784 buckets of 2024 over every session.
const yearHourly = `{ rows: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-12-31T23:00:00", interval_span: "1 hour"}) { closed_sessions open_sessions date: per_interval } }`

var dashboardVars = map[string]any{"deskIds": "{" + desks[0] + "}", "startDate": "2024-06-01", "endDate": "2024-06-10", "intervalInDays": "1 day"}

func runAdmission(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admission", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	heavy := fs.Int("heavy", 32, "clients each keeping one year-long hourly query in flight")
	samples := fs.Int("samples", 300, "dashboard queries timed in each phase, one at a time")
	maxRatio := fs.Float64("max-ratio", 20, "fail when the loaded median exceeds the idle median this many times")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := t.start(ctx); err != nil {
		fmt.Fprintln(stderr, "tally-load:", err)
		return exitFailure
	}

	cheap := func() (latencies, map[string]int) {
		var l latencies
		errs := map[string]int{}
		for range *samples {
			r := t.query(ctx, specQuery, dashboardVars, true)
			if !r.ok() {
				errs[r.what()+": "+r.message]++
				continue
			}
			l = append(l, r.took)
		}
		return l, errs
	}
	// Warm the connection, the parsed-query cache and the caches.
	for range 20 {
		t.query(ctx, specQuery, dashboardVars, true)
	}
	idle, idleErrs := cheap()

	hctx, stop := context.WithCancel(ctx)
	heavyStart := time.Now()
	var (
		mu         sync.Mutex
		heavyLat   latencies
		heavyErrs  = map[string]int{}
		heavyBytes int64
		wg         sync.WaitGroup
	)
	for range *heavy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hctx.Err() == nil {
				r := t.query(hctx, yearHourly, nil, false)
				if hctx.Err() != nil {
					return
				}
				mu.Lock()
				if r.ok() {
					heavyLat = append(heavyLat, r.took)
					heavyBytes = r.bytes
				} else {
					heavyErrs[r.what()]++
				}
				mu.Unlock()
				if !r.ok() {
					time.Sleep(100 * time.Millisecond) // as a client backs off
				}
			}
		}()
	}
	time.Sleep(2 * time.Second) // every heavy client has a query in flight
	loaded, loadedErrs := cheap()
	stop()
	wg.Wait()
	heavyFor := time.Since(heavyStart)

	fmt.Fprintf(stdout, "dashboard query (1 desk, 10 days, daily), %d samples a phase:\n", *samples)
	fmt.Fprintf(stdout, "  idle:                %s\n", idle.summary())
	fmt.Fprintf(stdout, "  beside %2d heavy:     %s\n", *heavy, loaded.summary())
	ratio := float64(loaded.pct(50)) / float64(max(idle.pct(50), 1))
	fmt.Fprintf(stdout, "  median ratio:        %.1f× (limit %.0f×)\n", ratio, *maxRatio)
	mu.Lock()
	fmt.Fprintf(stdout, "heavy query (8 784 hourly buckets of 2024, %d bytes): %d answered in %s (%.1f/s), %s\n",
		heavyBytes, len(heavyLat), heavyFor.Round(time.Millisecond), float64(len(heavyLat))/heavyFor.Seconds(), heavyLat.summary())
	printErrs(stdout, "heavy query errors", heavyErrs)
	mu.Unlock()
	printErrs(stdout, "dashboard errors (idle)", idleErrs)
	printErrs(stdout, "dashboard errors (loaded)", loadedErrs)
	if ratio > *maxRatio || len(idleErrs) > 0 || len(loadedErrs) > 0 || len(idle) == 0 || len(loaded) == 0 {
		fmt.Fprintln(stdout, "FAIL")
		return exitFailure
	}
	fmt.Fprintln(stdout, "PASS")
	return exitOK
}

func printErrs(w io.Writer, title string, errs map[string]int) {
	if len(errs) == 0 {
		return
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "%s:\n", title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", errs[k], k)
	}
}
