// Command tally-load drives a running Tally over HTTP, as its clients do,
// for the measurements and the soak of the reliability campaign
// (docs/testing.md, docs/performance.md). It is a client: it reads
// nothing but HTTP answers and /metrics, and starts no server except in
// scale, which times a tally binary's start.
//
//	tally-load seed       POST a year of synthetic sessions for one account
//	tally-load admission  cheap-query latency alone, then beside heavy queries
//	tally-load soak       mixed queries and writes for a while, reported over time
//	tally-load ingest     durable ingestion rate over HTTP with N clients
//	tally-load scale      cold start, memory and query latency at growing sizes
//	tally-load latency    the four reference queries beside an empty HTTP server
//
// Every subcommand takes --url (default http://127.0.0.1:8080) and, when
// the server has one, --admin-secret.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the run found a problem: errors, a failed check
	exitUsage   = 2
)

const usage = `usage: tally-load <command> [flags]

commands:
  seed       POST a year of synthetic sessions for one account (--sessions)
  admission  the ten-day dashboard query's latency idle, then beside
             --heavy concurrent year-long hourly queries
  soak       --duration of mixed queries and writes; errors, latency
             percentiles and server memory every --every
  ingest     --sessions new sessions in batches from --clients clients;
             durable sessions/s and batch latency
  scale      runs --tally at each of --sizes sessions: cold start from
             the snapshot and from the store, memory, year-weekly latency
  latency    issue 15's four reference queries, one client then --clients,
             each beside an empty HTTP server giving the same answer bytes

Run "tally-load <command> -h" for the command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "seed":
		return runSeed(ctx, args[1:], stdout, stderr)
	case "admission":
		return runAdmission(ctx, args[1:], stdout, stderr)
	case "soak":
		return runSoak(ctx, args[1:], stdout, stderr)
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr)
	case "scale":
		return runScale(ctx, args[1:], stdout, stderr)
	case "latency":
		return runLatency(ctx, args[1:], stdout, stderr)
	case "empty-server": // started by latency
		return runEmptyServer(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "tally-load: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
