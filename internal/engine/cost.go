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
// whatever the filters). It satisfies analytics.CountEstimator.
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
	c.Rows = int64(sort.Search(len(start), func(i int) bool { return start[i] >= to }) - sort.Search(len(start), func(i int) bool { return start[i] >= from }))
	for _, rows := range [][]row{a.added, a.removed} {
		c.Rows += int64(sort.Search(len(rows), func(i int) bool { return rows[i].start >= to }) - sort.Search(len(rows), func(i int) bool { return rows[i].start >= from }))
	}
	return c, nil
}
