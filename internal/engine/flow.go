package engine

import (
	"context"
	"sort"

	"github.com/tally-server/tally/internal/analytics"
)

// The flow columns of SPEC 9.2, open_at_end and closed_in_interval,
// counted only for queries that use them (IntervalQuery.Flow); the others
// run scan.go's loops, which never read the end column.
//
// With the query's bounds b0 < b1 < ... < bn and its filters,
//
//	closed_in_interval(k) = sessions with b(k) <= end < b(k+1)
//	open_at_end(k)        = sessions with start < b(k+1), not ended before b(k+1)
//	                      = backlog(b0) + Σ_{i<=k} (started_i − closed_in_interval_i)
//
// where started_i is bucket i's open_sessions + closed_sessions and
// backlog(b0) the sessions started before b0 and not ended before it. The
// sum holds because a session never ends before it starts (ingestion
// enforces end_time >= start_time): one that ended before a bound also
// started before it. analytics.AccumulateBacklog does the sum.
//
// The engine counts in one pass over the rows that start before bn, in
// start order (rows that start at or after bn cannot end before bn and are
// not read):
//
//   - A row that starts before b0 is in backlog(b0) if it passes the
//     filter and has not ended before b0 (end >= b0: open sessions have
//     end noEnd), and adds to the closed_in_interval of its end's bucket
//     if that is in the range. Most of history ended before b0: the loop
//     over it reads the end column only, and checks the filter for the
//     rest one row at a time (flowBefore).
//   - Rows that start in the range are counted as scan.go counts them,
//     and most closed ones end in the bucket they start in:
//     closed_in_interval(k) starts as closed_sessions(k), and a row whose
//     end is in a later bucket (next <= end < noEnd, one unsigned
//     comparison) moves from bucket k to its end's bucket, found by
//     binary search, or out of the range (flowIn and cross).
//
// flowIn reads the filter as a 0/1 mask computed for a chunk of maskRows
// rows first (a short loop per active filter), so one loop serves every
// number of filters; with several filters that is faster than scan.go's
// loop that looks the tables up per row (docs/performance.md).
//
// Nothing is rescanned per bucket: the cost is one pass over the account's
// sessions up to bn, whatever the number of buckets, plus a search per row
// that crosses a boundary.

// countFlow is Count for a query that uses a flow column: every field of
// dst is counted.
func (a *account) countFlow(ctx context.Context, q *analytics.IntervalQuery, f *filter, dst []analytics.Counts) ([]analytics.Counts, error) {
	backlog, err := flowColumns(ctx, &a.main, q.Bounds, f, dst)
	if err != nil {
		return nil, err
	}
	scanRows(a.added, q.Bounds, f, dst, 1)
	scanRows(a.removed, q.Bounds, f, dst, -1)
	backlog += flowRows(a.added, q.Bounds, f, dst, 1)
	backlog += flowRows(a.removed, q.Bounds, f, dst, -1)
	for k := range dst {
		dst[k].ClosedInInterval += dst[k].Closed
	}
	analytics.AccumulateBacklog(dst, backlog)
	return dst, nil
}

// maskRows is the chunk of flowIn: its mask stays in the L1 cache.
const maskRows = 4096

// flowColumns adds c's rows to dst and returns their backlog at
// bounds[0]: Open and Closed as scan.go counts them, and in
// ClosedInInterval only the rows that end in another bucket than they
// start in (-1 at the start's bucket, +1 at the end's, each when in the
// range); countFlow then adds Closed, the rows that end where they start.
func flowColumns(ctx context.Context, c *columns, bounds []int64, f *filter, dst []analytics.Counts) (backlog int64, err error) {
	lo := sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[0] })
	hi := sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[len(bounds)-1] })
	cols, tabs, n := f.active(c)
	var buf [maskRows]uint8
	for from := 0; from < hi; {
		var to int
		if from < lo {
			to = min(from+checkEvery, lo)
			backlog += flowBefore(c, from, to, bounds, f, dst)
		} else {
			to = min(from+maskRows, hi)
			mask := buf[:to-from]
			fillMask(mask, c.flags[from:to], &f.test)
			for j := 0; j < n; j++ {
				andMask(mask, cols[j][from:to], tabs[j])
			}
			flowIn(c.start[from:to], c.end[from:to], c.flags[from:to], mask, bounds, dst)
		}
		if from/checkEvery != to/checkEvery || to == lo {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		from = to
	}
	return backlog, nil
}

// fillMask sets mask[i] to 1 where flags[i] passes the is_test filter.
func fillMask(mask, flags []uint8, test *[4]uint8) {
	flags = flags[:len(mask)]
	for i, fl := range flags {
		mask[i] = test[fl&3]
	}
}

// andMask clears mask[i] where col[i]'s code fails the filter tab.
func andMask(mask []uint8, col []uint32, tab []uint8) {
	col = col[:len(mask)]
	for i, c := range col {
		mask[i] &= tab[c]
	}
}

// flowBefore counts rows from..to-1 of c, which start before bounds[0]:
// it returns how many pass the filter and have not ended before bounds[0],
// and adds those that end within the bounds to their bucket's
// closed_in_interval.
func flowBefore(c *columns, from, to int, bounds []int64, f *filter, dst []analytics.Counts) (backlog int64) {
	b0, bn := bounds[0], bounds[len(bounds)-1]
	for i, e := range c.end[from:to] {
		if e < b0 || !f.passAt(c, from+i) {
			continue // ended before the range (most of history), or filtered out
		}
		backlog++
		if e < bn {
			dst[endBucket(bounds, 0, e)].ClosedInInterval++
		}
	}
	return backlog
}

// flowIn is scan.go's loop over rows that start within the bounds, with
// the filter as a mask (mask[i] is 1 where row i passes), and with the
// rows that end in a later bucket than they start in handed to cross.
func flowIn(start, end []int64, flags, mask []uint8, bounds []int64, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
	end = end[:len(start)]
	flags = flags[:len(start)]
	mask = mask[:len(start)]
	k := firstBucket(bounds, start[0])
	next := bounds[k+1]
	var total, closed int64
	for i, s := range start {
		if s >= next {
			dst[k].Closed += closed
			dst[k].Open += total - closed
			total, closed = 0, 0
			for s >= next {
				k++
				next = bounds[k+1]
			}
		}
		m := int64(mask[i])
		total += m
		closed += m & int64(flags[i])
		// next <= e < noEnd: closed, in a later bucket. Rare for most
		// spans, so the branch predicts well.
		if e := end[i]; uint64(e)-uint64(next) < uint64(noEnd)-uint64(next) && m != 0 {
			cross(bounds, dst, k, e)
		}
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

// cross moves a closed row that starts in bucket k and ends at e, in a
// later bucket, from k's closed_in_interval to its end's, if that is in the
// range. It is not inlined: flowIn's loop keeps its registers for the
// common path.
//
//go:noinline
func cross(bounds []int64, dst []analytics.Counts, k int, e int64) {
	dst[k].ClosedInInterval--
	if e < bounds[len(bounds)-1] {
		dst[endBucket(bounds, k+1, e)].ClosedInInterval++
	}
}

// endBucket returns the bucket k >= from that holds e: bounds[k] <= e <
// bounds[k+1]. It requires bounds[from] <= e < bounds[len(bounds)-1].
func endBucket(bounds []int64, from int, e int64) int {
	if e < bounds[from+1] {
		return from
	}
	// The first bound after e is in (from+1, n].
	lo, hi := from+2, len(bounds)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bounds[m] > e {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// flowRows is flowColumns' flow part for a delta segment, adding sign per
// row (scanRows counts its starts); it returns the rows' backlog at
// bounds[0] times sign.
func flowRows(rows []row, bounds []int64, f *filter, dst []analytics.Counts, sign int64) (backlog int64) {
	b0, bn := bounds[0], bounds[len(bounds)-1]
	k, next := -1, b0 // the bucket of the row's start, -1 before b0
	for i := range rows {
		r := &rows[i]
		if r.start >= bn {
			break
		}
		for r.start >= next {
			k++
			next = bounds[k+1]
		}
		if r.end < next || !f.pass(r) {
			continue // ended before b0, or in its start's bucket
		}
		switch {
		case k < 0: // started before b0, not ended before it
			backlog += sign
		case r.end == noEnd: // open
			continue
		default: // closed in a later bucket than its start's
			dst[k].ClosedInInterval -= sign
		}
		if r.end < bn {
			dst[endBucket(bounds, 0, r.end)].ClosedInInterval += sign
		}
	}
	return backlog
}
