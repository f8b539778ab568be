package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"time"
)

// The synthetic data set: one account's sessions spread over 2024, on four
// desks, three channels and a handful of agents; nine in ten closed.
var (
	desks    = []string{"6b0d2f43-1c8e-4a57-9e2b-0f3a7c5d1e01", "6b0d2f43-1c8e-4a57-9e2b-0f3a7c5d1e02", "6b0d2f43-1c8e-4a57-9e2b-0f3a7c5d1e03", "6b0d2f43-1c8e-4a57-9e2b-0f3a7c5d1e04"}
	channels = []string{"web", "whatsapp", "messenger"}
	agents   = []string{"ann", "bob", "cem", "dua", "eli"}
	year     = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

// sessionJSON is session i of the data set (rng picks its fields), with
// id prefix p; start is within 2024.
func sessionJSON(b *strings.Builder, rng *rand.Rand, account, p string, i int) {
	start := year.Add(time.Duration(rng.Int63n(int64(366 * 24 * time.Hour))))
	fmt.Fprintf(b, `{"account_id":%q,"session_id":"%s-%d","desk_id":%q,"channel":%q,"agent_ids":[%q],"start_time":%q`,
		account, p, i, desks[rng.Intn(len(desks))], channels[rng.Intn(len(channels))], agents[rng.Intn(len(agents))], start.Format("2006-01-02T15:04:05"))
	if rng.Intn(10) != 0 {
		end := start.Add(time.Duration(rng.Int63n(int64(2 * time.Hour))))
		fmt.Fprintf(b, `,"end_time":%q`, end.Format("2006-01-02T15:04:05"))
	} else {
		b.WriteString(`,"end_time":null`)
	}
	b.WriteString("}\n")
}

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	n := fs.Int("sessions", 1_000_000, "sessions to write, spread over 2024")
	batch := fs.Int("batch", 10_000, "sessions per POST /v1/sessions")
	seed := fs.Int64("seed", 1, "random seed of the data set")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := t.start(ctx); err != nil {
		fmt.Fprintln(stderr, "tally-load:", err)
		return exitFailure
	}
	rng := rand.New(rand.NewSource(*seed))
	start := time.Now()
	for done := 0; done < *n; {
		k := min(*batch, *n-done)
		var b strings.Builder
		for i := done; i < done+k; i++ {
			sessionJSON(&b, rng, t.account, "seed", i)
		}
		r := t.post(ctx, "/v1/sessions", "application/x-ndjson", []byte(b.String()), true)
		if r.status != 200 {
			fmt.Fprintf(stderr, "tally-load seed: batch at %d: %s %s\n", done, r.what(), r.message)
			return exitFailure
		}
		done += k
	}
	fmt.Fprintf(stdout, "seeded %d sessions of account %s in %s\n", *n, t.account, time.Since(start).Round(time.Millisecond))
	return exitOK
}
