package analytics

import (
	"fmt"

	"github.com/tally-server/tally/internal/pgtext"
)

// UUIDSet is a filter on a uuid column. Inactive means the argument was
// null or omitted and does not filter. Active with no Values matches
// nothing, as "= ANY('{}')" does; NULL elements are dropped at parse time
// because "x = NULL" is never true.
type UUIDSet struct {
	Active bool
	Values []pgtext.UUID
}

// IntSet is a filter on brain_version, with UUIDSet's rules.
type IntSet struct {
	Active bool
	Values []int32
}

// TextSet is a filter on channel or agent_ids, with UUIDSet's rules.
type TextSet struct {
	Active bool
	Values []string
}

// BoolFilter is the is_test filter.
type BoolFilter struct {
	Active bool
	Value  bool
}

// IntervalQuery is one call of open_closed_sessions_interval_counts_v2
// for one account.
type IntervalQuery struct {
	StartMicros    int64
	EndMicros      int64
	Span           pgtext.Interval
	BrainParentIDs UUIDSet
	DeskIDs        UUIDSet
	IntegrationIDs UUIDSet
	BrainVersions  IntSet
	Channels       TextSet
	IsTest         BoolFilter
	AgentIDs       TextSet

	// Columns are the columns of IntervalTable the caller reads (set by
	// Run from what the request uses). A Source must compute these and
	// may skip the others; today every Source computes all of them.
	Columns ColumnSet

	// Bounds are the bucket boundaries b0 < b1 < ... < bn set by Plan:
	// bucket k covers [Bounds[k], Bounds[k+1]); there are len(Bounds)-1
	// buckets.
	Bounds []int64
}

// Counts are the open and closed sessions of one bucket.
type Counts struct {
	Open   int64
	Closed int64
}

// DefaultSpan is the interval_span used when the argument is null or
// omitted.
var DefaultSpan = pgtext.Interval{Days: 1}

// Plan checks the time arguments and computes Bounds as
// generate_series(start_time, end_time, interval_span) does: b0 =
// start_time, b(k+1) = b(k) + interval_span with PostgreSQL's timestamp +
// interval, every b(k) <= end_time, plus the end of the last bucket. At
// most maxBuckets buckets are allowed. Its errors are *ArgError.
func (q *IntervalQuery) Plan(maxBuckets int) error {
	if q.EndMicros < q.StartMicros {
		return &ArgError{Arg: "end_time", Kind: KindData, Reason: fmt.Sprintf("end_time (%s) is before start_time (%s); end_time must be on or after start_time",
			pgtext.FormatTimestamp(q.EndMicros), pgtext.FormatTimestamp(q.StartMicros))}
	}
	if q.Span.Sign() <= 0 {
		return &ArgError{Arg: "interval_span", Kind: KindData, Reason: fmt.Sprintf("interval_span must be a positive interval such as \"1 day\" or \"1 hour\", got %q", q.Span.String())}
	}
	tooMany := func() error {
		return &ArgError{Arg: "interval_span", Kind: KindLimit, Limit: maxBuckets, Reason: fmt.Sprintf(
			"interval_span %q from %s to %s gives more than %d buckets, the server's limit; use a longer interval_span or a shorter range, or raise the limit with --max-buckets (TALLY_MAX_BUCKETS)",
			q.Span.String(), pgtext.FormatTimestamp(q.StartMicros), pgtext.FormatTimestamp(q.EndMicros), maxBuckets)}
	}
	if q.Span.Fixed() && q.Span.FixedMicros() > 0 {
		w := q.Span.FixedMicros()
		n := (q.EndMicros-q.StartMicros)/w + 1
		if n > int64(maxBuckets) {
			return tooMany()
		}
		b := q.Bounds[:0]
		for k := int64(0); k <= n; k++ {
			b = append(b, q.StartMicros+k*w)
		}
		q.Bounds = b
		return nil
	}
	b := append(q.Bounds[:0], q.StartMicros)
	cur := q.StartMicros
	for {
		next, err := pgtext.AddInterval(cur, q.Span)
		if err != nil {
			return &ArgError{Arg: "interval_span", Kind: KindData, Reason: err.Error(), Err: err}
		}
		if next <= cur {
			// PostgreSQL's generate_series would never finish here.
			return &ArgError{Arg: "interval_span", Kind: KindData, Reason: fmt.Sprintf("interval_span %q does not move forward from %s; use an interval whose parts are all positive", q.Span.String(), pgtext.FormatTimestamp(cur))}
		}
		b = append(b, next)
		if next > q.EndMicros {
			break
		}
		if len(b)-1 >= maxBuckets {
			return tooMany()
		}
		cur = next
	}
	q.Bounds = b
	return nil
}
