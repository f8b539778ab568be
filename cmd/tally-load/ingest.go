package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The measurements of issue 15's ingestion goal: POST /v1/sessions in
// batches from N clients, each batch acknowledged only once durable.

// accountID is the k-th synthetic account of a run (k = 0 is --account).
func accountID(base string, k int) string {
	if k == 0 {
		return base
	}
	return fmt.Sprintf("5ca1e000-0000-4000-8000-%012d", k)
}

// batchBody is batch number j of a run: n new sessions of account, ids
// prefixed by run and j so that every batch inserts.
func batchBody(rng *rand.Rand, account, run string, j, n int) []byte {
	var b strings.Builder
	b.Grow(n * 260)
	for i := range n {
		sessionJSON(&b, rng, account, fmt.Sprintf("%s-%d", run, j), i)
	}
	return []byte(b.String())
}

// ingestRun is one ingestion: batches of batch sessions, batch j for
// account accountOf(j), posted by clients goroutines.
type ingestRun struct {
	t         *target
	clients   int
	batch     int
	batches   int
	run       string // session id prefix: distinct per run
	accountOf func(j int) string
	// pregen makes every body before the clock starts (the measurement);
	// otherwise each client makes its next body itself (seeding).
	pregen bool
}

// ingestResult is what an ingestRun saw.
type ingestResult struct {
	sessions int
	took     time.Duration
	batches  latencies
	err      error
}

func (r ingestRun) do(ctx context.Context) ingestResult {
	var bodies [][]byte
	if r.pregen {
		rng := rand.New(rand.NewSource(1))
		for j := range r.batches {
			bodies = append(bodies, batchBody(rng, r.accountOf(j), r.run, j, r.batch))
		}
	}
	var (
		next atomic.Int64
		mu   sync.Mutex // guards res
		res  ingestResult
		wg   sync.WaitGroup
	)
	start := time.Now()
	for c := range r.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(c) + 2))
			for {
				j := int(next.Add(1) - 1)
				if j >= r.batches || ctx.Err() != nil {
					return
				}
				var body []byte
				if r.pregen {
					body = bodies[j]
				} else {
					body = batchBody(rng, r.accountOf(j), r.run, j, r.batch)
				}
				t := *r.t // the request names the batch's account
				t.account = r.accountOf(j)
				res1 := t.post(ctx, "/v1/sessions", "application/x-ndjson", body, true)
				if res1.status != 200 {
					mu.Lock()
					if res.err == nil {
						res.err = fmt.Errorf("batch %d: %s %s", j, res1.what(), res1.message)
					}
					mu.Unlock()
					next.Store(int64(r.batches)) // stop every client
					return
				}
				mu.Lock()
				res.sessions += r.batch
				res.batches = append(res.batches, res1.took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	n := fs.Int("sessions", 500_000, "new sessions to write (made before the clock starts)")
	batch := fs.Int("batch", 10_000, "sessions per POST /v1/sessions")
	clients := fs.Int("clients", 1, "concurrent clients, each with one batch in flight")
	accounts := fs.Int("accounts", 1, "accounts the batches go to, in turn (the first is --account)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *n < 1 || *batch < 1 || *clients < 1 || *accounts < 1 {
		fmt.Fprintln(stderr, "tally-load ingest: --sessions, --batch, --clients and --accounts must be at least 1")
		return exitUsage
	}
	if err := t.start(ctx); err != nil {
		fmt.Fprintln(stderr, "tally-load:", err)
		return exitFailure
	}
	r := ingestRun{
		t: t, clients: *clients, batch: *batch, batches: (*n + *batch - 1) / *batch, pregen: true,
		run:       fmt.Sprintf("ingest-%d", time.Now().UnixNano()),
		accountOf: func(j int) string { return accountID(t.account, j%*accounts) },
	}
	fmt.Fprintf(stderr, "making %d batches of %d sessions...\n", r.batches, r.batch)
	res := r.do(ctx)
	if res.err != nil {
		fmt.Fprintln(stderr, "tally-load ingest:", res.err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "ingested %d sessions in %s with %d clients, batches of %d: %.0f sessions/s durable; batch latency %s\n",
		res.sessions, res.took.Round(time.Millisecond), r.clients, r.batch, float64(res.sessions)/res.took.Seconds(), res.batches.summary())
	return exitOK
}
