package postgres

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// EstimateCount returns the cost of Count for a planned q without
// counting, from PostgreSQL's planner statistics of tally.sessions, read
// at most once a minute: the rows of the account (its frequency among the
// most common account_ids, else the table's rows over the number of
// distinct accounts) times the share of start_time's histogram that falls
// in the query's range. Before the table is first analysed, or on Citus
// (whose coordinator holds no statistics of a distributed table), Rows is
// -1 and the cost is the buckets' alone. It satisfies
// analytics.CountEstimator; a failure to read the statistics is not the
// query's: the estimate then has no rows.
func (s *Store) EstimateCount(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery) (analytics.Cost, error) {
	c := analytics.Cost{Buckets: max(len(q.Bounds)-1, 0), Rows: -1}
	if c.Buckets == 0 {
		return c, nil
	}
	st := s.stats.get(ctx, s)
	if st.rows < 0 || len(st.bounds) < 2 {
		return c, nil
	}
	rows := st.rows / max(st.accounts, 1)
	for i, a := range st.common {
		if a == account {
			rows = st.rows * st.freqs[i]
		}
	}
	from := q.Bounds[0]
	if q.Flow() {
		from = math.MinInt64 // the backlog reads every session started before the range
	}
	c.Rows = int64(rows*histogramShare(st.bounds, from, q.Bounds[len(q.Bounds)-1]) + 0.5)
	return c, nil
}

// histogramShare is the share of rows in [from, to) by an equal-frequency
// histogram's bounds: each of its len(bounds)-1 buckets holds as many
// rows, spread evenly within it.
func histogramShare(bounds []int64, from, to int64) float64 {
	share := 0.0
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		a, b := max(lo, from), min(hi, to)
		switch {
		case b <= a:
		case hi == lo:
			share++
		default:
			share += float64(b-a) / float64(hi-lo)
		}
	}
	return share / float64(len(bounds)-1)
}

// tableStats caches what EstimateCount reads of the planner's statistics.
type tableStats struct {
	mu    sync.Mutex // guards every field
	at    time.Time  // when read; zero: never
	value statsValue
}

type statsValue struct {
	rows     float64 // reltuples; -1 when never analysed
	bounds   []int64 // start_time's histogram, microseconds
	accounts float64 // distinct account_ids
	common   []pgtext.UUID
	freqs    []float64 // of common
}

// statsEvery is how long the statistics are reused.
const statsEvery = time.Minute

func (t *tableStats) get(ctx context.Context, s *Store) statsValue {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.at.IsZero() && time.Since(t.at) < statsEvery {
		return t.value
	}
	v, err := readStats(ctx, s)
	if err != nil {
		s.log.DebugContext(ctx, "planner statistics unavailable for cost estimates", "err", err)
		v = statsValue{rows: -1}
	}
	t.at, t.value = time.Now(), v
	return v
}

func readStats(ctx context.Context, s *Store) (statsValue, error) {
	v := statsValue{rows: -1}
	var (
		rows         float32
		hist, common *string
		nDistinct    *float32
		freqs        []float32
	)
	err := s.pool.QueryRow(ctx, `SELECT c.reltuples,
		(SELECT histogram_bounds::text FROM pg_stats WHERE schemaname = 'tally' AND tablename = 'sessions' AND attname = 'start_time'),
		(SELECT n_distinct FROM pg_stats WHERE schemaname = 'tally' AND tablename = 'sessions' AND attname = 'account_id'),
		(SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'tally' AND tablename = 'sessions' AND attname = 'account_id'),
		(SELECT most_common_freqs FROM pg_stats WHERE schemaname = 'tally' AND tablename = 'sessions' AND attname = 'account_id')
		FROM pg_class c WHERE c.oid = 'tally.sessions'::regclass`).Scan(&rows, &hist, &nDistinct, &common, &freqs)
	if err != nil {
		return v, err
	}
	if rows < 0 || hist == nil {
		return v, nil // not analysed yet
	}
	els, err := pgtext.ParseArray(*hist)
	if err != nil {
		return v, err
	}
	for _, e := range els {
		if e == nil {
			continue
		}
		ts, err := pgtext.ParseTimestamp(*e)
		if err != nil {
			return v, err
		}
		v.bounds = append(v.bounds, ts)
	}
	v.rows = float64(rows)
	// n_distinct: a count, or minus a share of the rows (PostgreSQL's
	// pg_stats documentation).
	v.accounts = 1
	if nDistinct != nil {
		if *nDistinct > 0 {
			v.accounts = float64(*nDistinct)
		} else if *nDistinct < 0 {
			v.accounts = -float64(*nDistinct) * v.rows
		}
	}
	if common != nil {
		els, err := pgtext.ParseArray(*common)
		if err != nil {
			return v, err
		}
		for i, e := range els {
			if e == nil || i >= len(freqs) {
				continue
			}
			u, err := pgtext.ParseUUID(*e)
			if err != nil {
				return v, err
			}
			v.common = append(v.common, u)
			v.freqs = append(v.freqs, float64(freqs[i]))
		}
	}
	return v, nil
}
