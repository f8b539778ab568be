package engine

import (
	"context"
	"runtime"
	"sort"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Count answers q (whose Bounds are planned) for one account: dst[k] gets
// the counts of bucket k, the flow columns only when q uses them
// (flow.go). dst must have len(q.Bounds)-1 elements, zeroed; it is
// returned. An account with no sessions gives all zeros.
func (ix *Index) Count(ctx context.Context, accountID pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := ix.account(accountID, false)
	if a == nil || len(q.Bounds) < 2 {
		return dst, nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	f := a.plan(q)
	if f.none {
		return dst, nil
	}
	if q.Flow() {
		return a.countFlow(ctx, q, &f, dst)
	}
	if err := scanColumns(ctx, &a.main, a.summaryOf(), q.Bounds, &f, dst); err != nil {
		return nil, err
	}
	scanRows(a.added, q.Bounds, &f, dst, 1)
	scanRows(a.removed, q.Bounds, &f, dst, -1)
	return dst, nil
}

// checkEvery is how many rows the scan covers between context checks.
const checkEvery = 1 << 16

// scanColumns adds the open/closed counts of c's rows within the bounds to
// dst. Rows are sorted by start, so the bucket is found by walking the
// boundaries, which works for month spans as well as fixed ones and costs
// one comparison per row. With s, c's summary, a query with at most one
// dimension filter adds whole blocks from it (summary.go).
//
// A range of parallelRows rows or more is split at the bucket bound
// nearest its middle row and the two halves are counted at once, on two
// cores when there are: they add to disjoint buckets of dst.
func scanColumns(ctx context.Context, c *columns, s *summary, bounds []int64, f *filter, dst []analytics.Counts) error {
	var lo, hi int
	if s != nil {
		lo, hi = s.search(c, bounds[0]), s.search(c, bounds[len(bounds)-1])
	} else {
		lo = sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[0] })
		hi = sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[len(bounds)-1] })
	}
	if hi-lo < parallelRows || runtime.GOMAXPROCS(0) < 2 {
		return scanRange(ctx, c, s, lo, hi, bounds, f, dst)
	}
	mid := (lo + hi) / 2
	k := firstBucket(bounds, c.start[mid]) + 1 // the first bound after the middle row
	if k >= len(bounds)-1 {
		return scanRange(ctx, c, s, lo, hi, bounds, f, dst)
	}
	split := mid + sort.Search(hi-mid, func(i int) bool { return c.start[mid+i] >= bounds[k] })
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		// A panic is handed to the caller's goroutine, where it would
		// have happened without the split (net/http recovers it there).
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		done <- result{err: scanRange(ctx, c, s, split, hi, bounds, f, dst)}
	}()
	err := scanRange(ctx, c, s, lo, split, bounds, f, dst)
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	if err == nil {
		err = r.err
	}
	return err
}

// parallelRows is the smallest range of rows scanColumns splits in two
// (about 100 µs of counting without a summary).
const parallelRows = 1 << 16

// scanRange is scanColumns for c's rows lo to hi.
func scanRange(ctx context.Context, c *columns, s *summary, lo, hi int, bounds []int64, f *filter, dst []analytics.Counts) error {
	cols, tabs, n := f.active(c)
	if s != nil && n <= 1 {
		d := -1
		for i, t := range f.tabs {
			if t != nil {
				d = i
			}
		}
		return scanSummarized(ctx, c, s, d, lo, hi, bounds, f, dst)
	}
	for from := lo; from < hi; from += checkEvery {
		to := min(from+checkEvery, hi)
		switch n {
		case 0:
			scanNoFilter(c.start[from:to], c.flags[from:to], bounds, &f.test, dst)
		case 1:
			scanOneFilter(c.start[from:to], c.flags[from:to], cols[0][from:to], tabs[0], bounds, &f.test, dst)
		default:
			var sub [numDims][]uint32
			for j := 0; j < n; j++ {
				sub[j] = cols[j][from:to]
			}
			scanFilters(c.start[from:to], c.flags[from:to], sub[:n], tabs[:n], bounds, &f.test, dst)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// The scan loops keep the current bucket's counts in registers and write
// them out when the bucket changes: incrementing a counter in memory for
// every row would chain each row's store to the next row's load. Filters
// are table look-ups ANDed into a 0/1 mask, so no branch depends on the
// data except the bucket walk, which is predictable.

func firstBucket(bounds []int64, s int64) int {
	return sort.Search(len(bounds), func(i int) bool { return bounds[i] > s }) - 1
}

func scanNoFilter(start []int64, flags []uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
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
		fl := flags[i] & 3
		m := int64(test[fl])
		total += m
		closed += m & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

func scanOneFilter(start []int64, flags []uint8, col []uint32, tab []uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
	col = col[:len(start)]
	flags = flags[:len(start)]
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
		fl := flags[i] & 3
		m := int64(test[fl] & tab[col[i]])
		total += m
		closed += m & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

func scanFilters(start []int64, flags []uint8, cols [][]uint32, tabs [][]uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
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
		fl := flags[i] & 3
		m := test[fl]
		for j, col := range cols {
			m &= tabs[j][col[i]]
		}
		total += int64(m)
		closed += int64(m) & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

// scanRows is scanColumns for a delta segment, adding sign per row.
func scanRows(rows []row, bounds []int64, f *filter, dst []analytics.Counts, sign int64) {
	if len(rows) == 0 {
		return
	}
	lo := sort.Search(len(rows), func(i int) bool { return rows[i].start >= bounds[0] })
	hi := sort.Search(len(rows), func(i int) bool { return rows[i].start >= bounds[len(bounds)-1] })
	k := 0
	for i := lo; i < hi; i++ {
		r := &rows[i]
		for r.start >= bounds[k+1] {
			k++
		}
		if !f.pass(r) {
			continue
		}
		if r.flags&flagClosed != 0 {
			dst[k].Closed += sign
		} else {
			dst[k].Open += sign
		}
	}
}
