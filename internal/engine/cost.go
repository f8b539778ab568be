package engine

import (
	"context"
	"math"
	"sort"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// EstimateCount returns the cost of Count for a planned q without
// counting: the buckets of the answer and the rows of the account whose
// start falls in the query's range (or before its end, when q uses a flow
// column) (main segment and deltas, found by
// binary search; filters are not applied, since the scan reads those rows
// whatever the filters). When the main segment's rows will be counted
// from its summary (summary.go), they cost what summarizedRows says
// instead, if that is less. It satisfies analytics.CountEstimator.
func (ix *Index) EstimateCount(ctx context.Context, accountID pgtext.UUID, q *analytics.IntervalQuery) (analytics.Cost, error) {
	c := analytics.Cost{Buckets: max(len(q.Bounds)-1, 0)}
	a := ix.account(accountID, false)
	if a == nil || len(q.Bounds) < 2 {
		return c, nil
	}
	from, to := q.Bounds[0], q.Bounds[len(q.Bounds)-1]
	if q.Flow() {
		// The flow columns read every row that started before the
		// range as well: the backlog it carries into the first bucket.
		from = math.MinInt64
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	start := a.main.start
	if s := a.sum.Load(); s.describes(&a.main) {
		lo, hi := s.search(&a.main, from), s.search(&a.main, to)
		c.Rows = int64(hi - lo)
		if d, ok := summarized(q); ok {
			// Blocks the summary skips for d are read row by row.
			c.Rows = min(c.Rows, summarizedRows(hi-lo, c.Buckets)+s.skippedRows(d, lo, hi))
		}
	} else {
		c.Rows = int64(sort.Search(len(start), func(i int) bool { return start[i] >= to }) - sort.Search(len(start), func(i int) bool { return start[i] >= from }))
	}
	for _, rows := range [][]row{a.added, a.removed} {
		c.Rows += int64(sort.Search(len(rows), func(i int) bool { return rows[i].start >= to }) - sort.Search(len(rows), func(i int) bool { return rows[i].start >= from }))
	}
	return c, nil
}

// summarized reports whether Count reads q's rows through the summary,
// when there is one: no flow column and at most one dimension filter,
// whose dimension it returns (-1 for none). A query without a span is not
// one Count is asked (Plan refuses it): admission asks so for the rows of
// a range however they are read (the estimate of
// session_dimension_counts, which reads them all), and gets them.
func summarized(q *analytics.IntervalQuery) (d int, ok bool) {
	if q.Span.Sign() <= 0 || q.Flow() {
		return -1, false
	}
	active := 0
	d = -1
	for i, on := range [numDims]bool{
		dimDesk: q.DeskIDs.Active, dimBrain: q.BrainParentIDs.Active, dimIntegration: q.IntegrationIDs.Active,
		dimVersion: q.BrainVersions.Active, dimChannel: q.Channels.Active, dimAgents: q.AgentIDs.Active,
	} {
		if on {
			active++
			d = i
		}
	}
	return d, active <= 1
}

// summarizedRows bounds the work of counting rows main-segment rows into
// buckets through the summary, in rows read: about half a block at each
// bound and a block at each end of the range, and each summarized block
// about as much as reading blockRows/16 rows.
func summarizedRows(rows, buckets int) int64 {
	return int64((buckets+1)*blockRows/2 + 2*blockRows + rows/blockRows*(blockRows/16))
}
