package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The measurement of issue 15's scale goals: one data directory grown to
// each of --sizes sessions over --accounts accounts (the first holding
// --big-percent of them), and at each size the cold start of a tally
// binary (until the first year-weekly query answers) from the engine's
// snapshot and from the store alone, its memory, and the year-weekly
// query's latency over the big account. Unlike the other commands, scale
// runs the server itself (--tally), since it times the start.

// yearWeekly is the year-weekly query: 53 weekly buckets of 2024.
const yearWeekly = `{ rows: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-12-31T23:59:59", interval_span: "7 days"}) { closed_sessions open_sessions date: per_interval } }`

// server is one tally serve process of a scale run.
type server struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan error
}

// scaleRun holds what every step of a scale run shares.
type scaleRun struct {
	tally, dir, listen string
	t                  *target
	log                io.Writer // the servers' output
	stderr             io.Writer
}

func (s *scaleRun) start(ctx context.Context) (*server, error) {
	cmd := exec.CommandContext(ctx, s.tally, "serve", "--data-dir", s.dir, "--listen", s.listen)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	sv := &server{cmd: cmd, started: time.Now(), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.tally, err)
	}
	go func() { sv.done <- cmd.Wait() }()
	return sv, nil
}

// firstAnswer waits for the year-weekly query to answer and returns the
// time since the process started.
func (s *scaleRun) firstAnswer(ctx context.Context, sv *server) (time.Duration, error) {
	for {
		r := s.t.query(ctx, yearWeekly, nil, true)
		if r.ok() {
			return time.Since(sv.started), nil
		}
		select {
		case err := <-sv.done:
			return 0, fmt.Errorf("the server exited before answering: %v", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM (the server writes its snapshot as it closes) and
// returns how long it took to exit.
func (s *scaleRun) stop(sv *server) (time.Duration, error) {
	start := time.Now()
	if err := sv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case err := <-sv.done:
		return time.Since(start), err
	case <-time.After(5 * time.Minute):
		sv.cmd.Process.Kill()
		return 0, errors.New("the server did not exit within 5 minutes of SIGTERM")
	}
}

// startReport is one cold start's figures.
type startReport struct {
	took        time.Duration
	heap, rss   float64 // bytes, from /metrics
	weekly      latencies
	stopTook    time.Duration
	snapshotMiB float64
}

// coldStart starts the server, times its first answer, reads its memory,
// runs the year-weekly query queries times and stops it.
func (s *scaleRun) coldStart(ctx context.Context, queries int) (startReport, error) {
	var rep startReport
	sv, err := s.start(ctx)
	if err != nil {
		return rep, err
	}
	if rep.took, err = s.firstAnswer(ctx, sv); err != nil {
		return rep, err
	}
	rep.heap = s.t.metric(ctx, "go_memstats_heap_inuse_bytes")
	rep.rss = s.t.metric(ctx, "process_resident_memory_bytes")
	for range queries {
		r := s.t.query(ctx, yearWeekly, nil, true)
		if !r.ok() {
			s.stop(sv)
			return rep, fmt.Errorf("year-weekly query: %s %s", r.what(), r.message)
		}
		rep.weekly = append(rep.weekly, r.took)
	}
	if rep.stopTook, err = s.stop(sv); err != nil {
		return rep, err
	}
	if fi, err := os.Stat(filepath.Join(s.dir, "tally.snapshot")); err == nil {
		rep.snapshotMiB = float64(fi.Size()) / (1 << 20)
	}
	return rep, nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("--sizes %q: want rising positive session counts separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs)
	tally := fs.String("tally", "", "the tally binary to run (required)")
	sizesFlag := fs.String("sizes", "1000000,5000000,10000000", "session counts to measure at, rising")
	accounts := fs.Int("accounts", 10, "accounts the sessions belong to")
	bigPercent := fs.Int("big-percent", 20, "percent of the sessions in the first account (--account), the one queried")
	dir := fs.String("dir", "", "data directory to grow (default: a new one under the system's temporary directory, removed at the end)")
	listen := fs.String("listen", "127.0.0.1:8097", "address the server listens on")
	clients := fs.Int("clients", 2, "clients writing the sessions")
	queries := fs.Int("queries", 30, "year-weekly queries timed at each start")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	sizes, err := parseSizes(*sizesFlag)
	if err == nil && (*tally == "" || *accounts < 2 || *bigPercent < 1 || *bigPercent > 99) {
		err = errors.New("--tally is required, --accounts must be at least 2 and --big-percent 1 to 99")
	}
	if err != nil {
		fmt.Fprintln(stderr, "tally-load scale:", err)
		return exitUsage
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "tally-scale-")
		if err != nil {
			fmt.Fprintln(stderr, "tally-load scale:", err)
			return exitFailure
		}
		defer os.RemoveAll(d)
		*dir = d + "/data"
	}
	logFile, err := os.Create(*dir + ".log")
	if err != nil {
		fmt.Fprintln(stderr, "tally-load scale:", err)
		return exitFailure
	}
	defer logFile.Close()
	t.url = "http://" + *listen
	s := &scaleRun{tally: *tally, dir: *dir, listen: *listen, t: t, log: logFile, stderr: stderr}
	t.http = &http.Client{} // t.start would wait for a server: none runs yet
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tally-load scale: %v (server log: %s)\n", err, logFile.Name())
		return exitFailure
	}

	base, err := s.coldStart(ctx, 0)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "empty server: heap in use %s, RSS %s (subtracted below as the fixed part)\n", mib(base.heap), mib(base.rss))
	fmt.Fprintln(stdout, "sessions   | written at  | stop+snapshot | start: snapshot | start: store | heap B/session | RSS B/session | year-weekly p50 / p90 (big account)")
	have := 0
	for _, size := range sizes {
		sv, err := s.start(ctx)
		if err != nil {
			return fail(err)
		}
		if _, err := s.firstAnswer(ctx, sv); err != nil {
			return fail(err)
		}
		const batch = 10_000
		fmt.Fprintf(stderr, "writing sessions %d to %d...\n", have, size)
		first := have / batch
		r := ingestRun{t: t, clients: *clients, batch: batch, batches: (size - have + batch - 1) / batch, run: fmt.Sprintf("scale-%d", size),
			accountOf: func(j int) string {
				j += first
				if j%100 < *bigPercent {
					return t.account
				}
				return accountID(t.account, 1+j%(*accounts-1))
			}}
		res := r.do(ctx)
		if res.err != nil {
			s.stop(sv)
			return fail(res.err)
		}
		have += res.sessions
		if _, err := s.stop(sv); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "cold starts at %d sessions...\n", have)
		// From the snapshot the stop above wrote.
		snap, err := s.coldStart(ctx, *queries)
		if err != nil {
			return fail(err)
		}
		// From the store alone: the snapshot removed first (a Tally
		// without snapshots has none: then both starts load the store).
		if err := os.Remove(filepath.Join(*dir, "tally.snapshot")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
		full, err := s.coldStart(ctx, *queries)
		if err != nil {
			return fail(err)
		}
		per := func(v, b float64) string { return fmt.Sprintf("%.0f", (v-b)/float64(have)) }
		fmt.Fprintf(stdout, "%10d | %7.0f k/s | %13s | %15s | %12s | %6s / %-5s | %6s / %-5s | %s / %s\n",
			have, float64(res.sessions)/res.took.Seconds()/1000, snap.stopTook.Round(time.Millisecond),
			snap.took.Round(time.Millisecond), full.took.Round(time.Millisecond),
			per(snap.heap, base.heap), per(full.heap, base.heap), per(snap.rss, base.rss), per(full.rss, base.rss),
			ms(snap.weekly.pct(50)), ms(snap.weekly.pct(90)))
		fmt.Fprintf(stdout, "           | snapshot %.0f MiB; memory from the snapshot / from the store; fixed part not included\n", snap.snapshotMiB)
	}
	return exitOK
}
