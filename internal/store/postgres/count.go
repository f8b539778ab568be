package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Count answers q (Bounds planned) for one account in PostgreSQL. Unlike
// reference.sql, which joins every bucket to the sessions, it reads the
// account's rows in the time range once through the (account_id,
// start_time) or (account_id, desk_id, start_time) index, pushes every
// filter into the WHERE clause, and groups by bucket: date_bin() computes
// a fixed-length bucket arithmetically; width_bucket() finds a month
// bucket in the boundaries Tally computed. Empty buckets are filled in
// here, from the plan, instead of with generate_series.
func (s *Store) Count(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	n := len(q.Bounds) - 1
	if n <= 0 {
		return dst, nil
	}
	for _, empty := range []bool{
		q.DeskIDs.Active && len(q.DeskIDs.Values) == 0,
		q.BrainParentIDs.Active && len(q.BrainParentIDs.Values) == 0,
		q.IntegrationIDs.Active && len(q.IntegrationIDs.Values) == 0,
		q.BrainVersions.Active && len(q.BrainVersions.Values) == 0,
		q.Channels.Active && len(q.Channels.Values) == 0,
		q.AgentIDs.Active && len(q.AgentIDs.Values) == 0,
	} {
		if empty {
			return dst, nil // = ANY('{}') and && '{}' match nothing
		}
	}
	// Long ranges are split into chunks of whole buckets counted on
	// separate connections at once: PostgreSQL will not parallelise this
	// aggregate well by itself (it misjudges the number of groups).
	chunks := 1
	if n >= 8 && q.Bounds[n]-q.Bounds[0] >= 28*pgtext.MicrosPerDay {
		chunks = min(s.parallel, n)
	}
	if chunks > 1 {
		return s.countChunks(ctx, account, q, dst, chunks)
	}
	return s.countRange(ctx, account, q, dst, 0, n)
}

// countChunks runs countRange on chunks of buckets concurrently; each
// writes only its own buckets of dst.
func (s *Store) countChunks(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts, chunks int) ([]analytics.Counts, error) {
	n := len(q.Bounds) - 1
	errs := make(chan error, chunks)
	for c := 0; c < chunks; c++ {
		lo, hi := n*c/chunks, n*(c+1)/chunks
		go func() {
			_, err := s.countRange(ctx, account, q, dst, lo, hi)
			errs <- err
		}()
	}
	var first error
	for c := 0; c < chunks; c++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return dst, nil
}

// countRange counts buckets lo..hi-1 into dst.
func (s *Store) countRange(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts, lo, hi int) ([]analytics.Counts, error) {
	n := len(q.Bounds) - 1
	args := []any{pgtype.UUID{Bytes: account, Valid: true}, ts(q.Bounds[lo]), ts(q.Bounds[hi])}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where strings.Builder
	where.WriteString("account_id = $1 AND start_time >= $2 AND start_time < $3")
	uuidFilter := func(col string, set analytics.UUIDSet) {
		if !set.Active {
			return
		}
		vals := make([]pgtype.UUID, len(set.Values))
		for i, u := range set.Values {
			vals[i] = pgtype.UUID{Bytes: u, Valid: true}
		}
		fmt.Fprintf(&where, " AND %s = ANY(%s::uuid[])", col, param(vals))
	}
	uuidFilter("desk_id", q.DeskIDs)
	uuidFilter("brain_parent_id", q.BrainParentIDs)
	uuidFilter("integration_id", q.IntegrationIDs)
	if q.BrainVersions.Active {
		fmt.Fprintf(&where, " AND brain_version = ANY(%s::int[])", param(q.BrainVersions.Values))
	}
	if q.Channels.Active {
		fmt.Fprintf(&where, " AND channel = ANY(%s::text[])", param(q.Channels.Values))
	}
	if q.AgentIDs.Active {
		fmt.Fprintf(&where, " AND agent_ids && %s::text[]", param(q.AgentIDs.Values))
	}
	if q.IsTest.Active {
		fmt.Fprintf(&where, " AND is_test = %s", param(q.IsTest.Value))
	}
	var bucket string
	fixed := q.Span.Fixed()
	if fixed {
		// Bins are anchored at the first bucket, whatever chunk this is.
		bucket = fmt.Sprintf("date_bin(%s::interval, start_time, %s::timestamp)", param(pgtype.Interval{Microseconds: q.Span.FixedMicros(), Valid: true}), param(ts(q.Bounds[0])))
	} else {
		bounds := make([]pgtype.Timestamp, len(q.Bounds))
		for i, b := range q.Bounds {
			bounds[i] = ts(b)
		}
		bucket = fmt.Sprintf("width_bucket(start_time, %s::timestamp[])", param(bounds))
	}
	// count(end_time) and count(*) cost less per row than two FILTERed
	// counts (measured: 162 ms against 184 ms for 900k rows).
	sql := "SELECT " + bucket + " AS b, count(end_time), count(*) FROM tally.sessions WHERE " + where.String() + " GROUP BY 1"
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable("count", err)
	}
	defer rows.Close()
	width := q.Span.FixedMicros()
	for rows.Next() {
		var closed, total int64
		var k int
		if fixed {
			var b time.Time
			if err := rows.Scan(&b, &closed, &total); err != nil {
				return nil, unavailable("count", err)
			}
			k = int((b.UnixMicro() - q.Bounds[0]) / width)
		} else {
			if err := rows.Scan(&k, &closed, &total); err != nil {
				return nil, unavailable("count", err)
			}
			k-- // width_bucket is 1-based
		}
		if k < lo || k >= hi {
			return nil, fmt.Errorf("count: bucket %d outside %d..%d of %d: the plan and the SQL disagree", k, lo, hi-1, n)
		}
		dst[k].Closed += closed
		dst[k].Open += total - closed
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("count", err)
	}
	return dst, nil
}
