package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// timed runs fn per iteration and reports, besides the mean, the median
// batch and the CPU time a batch costs Tally and PostgreSQL (every
// process of the clusters in dirs): on a shared machine wall time follows
// the neighbours' load, CPU time much less.
func timed(b *testing.B, dirs []string, size int, fn func(n int)) {
	var took []time.Duration
	n := 0
	pg0, self0 := clustersCPU(dirs), selfCPU()
	for b.Loop() {
		t0 := time.Now()
		fn(n)
		took = append(took, time.Since(t0))
		n++
	}
	pg, self := clustersCPU(dirs)-pg0, selfCPU()-self0
	slices.Sort(took)
	b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "sessions/s")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/batch-median")
	b.ReportMetric(float64(pg.Microseconds())/1000/float64(n), "pg-cpu-ms/batch")
	b.ReportMetric(float64(self.Microseconds())/1000/float64(n), "go-cpu-ms/batch")
}

func clustersCPU(dirs []string) time.Duration {
	var sum time.Duration
	for _, d := range dirs {
		sum += clusterCPU(d)
	}
	return sum
}

// clusterCPU is the CPU time used so far by the postmaster of the
// cluster in dir and its children, living or reaped (Linux /proc; 0
// elsewhere).
func clusterCPU(dir string) time.Duration {
	pidText, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	postmaster := strings.SplitN(string(pidText), "\n", 2)[0]
	var ticks int64
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces): state ppid ...
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		pid := strings.TrimSuffix(strings.TrimPrefix(p, "/proc/"), "/stat")
		if len(f) < 15 || (pid != postmaster && f[1] != postmaster) {
			continue
		}
		for _, i := range []int{11, 12} { // utime, stime
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
		if pid == postmaster {
			for _, i := range []int{13, 14} { // cutime, cstime: reaped children
				v, _ := strconv.ParseInt(f[i], 10, 64)
				ticks += v
			}
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngest measures Store.Ingest alone on a cluster with fsync and
// synchronous commit on, batches of 10 k sessions: new ones, and the same
// ones again with a newer updated_at (every row updated); over one
// account and over 100 (a batch spanning accounts, as the admin secret
// may send). Each iteration writes new sessions or a new version.
func BenchmarkIngest(b *testing.B) {
	srv := pgtest.StartDurable(b)
	accounts := make([]pgtext.UUID, 100)
	for i := range accounts {
		accounts[i] = pgtext.UUID{0xac, byte(i)}
	}
	benchmarkIngest(b, srv.URL, []string{srv.Dir}, accounts, []int{1, 100})
}

// BenchmarkIngestCitus is BenchmarkIngest on a Citus cluster (a
// coordinator and two workers, fsync off like every pgtest cluster but
// StartDurable's): what a batch costs when it spans 1, 2, 10 or 100
// accounts, that is one shard, or a distributed transaction over both
// workers (the accounts alternate between them). The CPU is that of the
// three nodes.
func BenchmarkIngestCitus(b *testing.B) {
	c := pgtest.StartCitus(b)
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: c.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c.Distribute(b)
	byWorker := map[int][]pgtext.UUID{}
	for i := 0; i < 256; i++ {
		a := pgtext.UUID{0xac, byte(i)}
		var port int
		if err := s.pool.QueryRow(ctx, `SELECT nodeport FROM citus_shards WHERE shardid = get_shard_id_for_distribution_column('tally.sessions', $1::uuid)`, a.String()).Scan(&port); err != nil {
			b.Fatal(err)
		}
		byWorker[port] = append(byWorker[port], a)
	}
	var accounts []pgtext.UUID
	for i := 0; len(accounts) < 100; i++ {
		for _, w := range c.Workers {
			accounts = append(accounts, byWorker[w.Port][i])
		}
	}
	benchmarkIngest(b, c.URL, []string{c.Coordinator.Dir, c.Workers[0].Dir, c.Workers[1].Dir}, accounts, []int{1, 2, 10, 100})
}

// benchmarkIngest runs the sub-benchmarks for batches over the first n
// of accounts, for each n of counts.
func benchmarkIngest(b *testing.B, url string, dirs []string, accountList []pgtext.UUID, accountCounts []int) {
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const size = 10000
	batch := func(accounts, round, version int) []session.Record {
		recs := make([]session.Record, size)
		for i := range recs {
			r := &recs[i]
			*r = session.Record{AccountID: accountList[i%accounts], SessionID: fmt.Sprintf("a%d-r%d-s%d", accounts, round, i),
				DeskID: pgtext.NullUUID{UUID: pgtext.UUID{0xde, byte(i % 8)}, Valid: true}, BrainVersion: pgtext.NullInt4{Int32: int32(i % 5), Valid: true},
				Channel: session.NullString{String: "web", Valid: true}, AgentIDs: []string{fmt.Sprintf("a%d", i%20)},
				StartMicros: 1_704_067_200_000_000 + int64(i)*60_000_000, UpdatedMicros: int64(version), HasUpdated: true}
		}
		return recs
	}
	for _, accounts := range accountCounts {
		b.Run(fmt.Sprintf("new/accounts=%d", accounts), func(b *testing.B) {
			timed(b, dirs, size, func(n int) {
				if _, _, err := s.Ingest(ctx, batch(accounts, n, 1)); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("update/accounts=%d", accounts), func(b *testing.B) {
			round := 1000 + accounts
			if _, _, err := s.Ingest(ctx, batch(accounts, round, 1)); err != nil {
				b.Fatal(err)
			}
			timed(b, dirs, size, func(n int) {
				if a, _, err := s.Ingest(ctx, batch(accounts, round, 2+n)); err != nil || a != size {
					b.Fatal(a, err)
				}
			})
		})
	}
}
