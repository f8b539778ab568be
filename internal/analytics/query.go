package analytics

import (
	"errors"
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
	// StartMicros and EndMicros are instants (microseconds since 1970 UTC):
	// in UTC, the arguments as written; in a Zone, the instants its clocks
	// show then (or the instants a literal with an offset names).
	StartMicros int64
	EndMicros   int64
	Span        pgtext.Interval
	// Zone is the time_zone of SPEC 9.1 whose calendar the buckets follow;
	// nil is UTC, exactly SPEC section 2 (ParseIntervalQuery never sets
	// the zone "UTC", so nil is the only spelling of it).
	Zone           *pgtext.Zone
	BrainParentIDs UUIDSet
	DeskIDs        UUIDSet
	IntegrationIDs UUIDSet
	BrainVersions  IntSet
	Channels       TextSet
	IsTest         BoolFilter
	AgentIDs       TextSet

	// Columns are the columns of IntervalTable the caller reads (set by
	// Run from what the request uses). A Source must compute these and
	// may skip the others: the flow columns cost a pass over the
	// account's earlier sessions, so Sources compute them only when Flow
	// reports that they are used.
	Columns ColumnSet

	// Bounds are the bucket boundaries b0 < b1 < ... < bn set by Plan, as
	// instants: bucket k covers [Bounds[k], Bounds[k+1]); there are
	// len(Bounds)-1 buckets. Sources count by these.
	Bounds []int64
	// Walls are the buckets' starts on the Zone's clocks (per_interval),
	// one per bucket, set by Plan when Zone is not nil; in UTC they are
	// Bounds[:n] and Walls is nil.
	Walls []int64
}

// Flow reports whether the caller uses a flow column (open_at_end or
// closed_in_interval), which a Source must then compute.
func (q *IntervalQuery) Flow() bool {
	return q.Columns.Has(ColOpenAtEnd) || q.Columns.Has(ColClosedInInterval)
}

// FixedWidth reports whether every bucket of q is width microseconds long
// whatever its start, so that a Source may find a bucket by arithmetic:
// in UTC when the span has a fixed length (no months), in a zone only
// when it has neither months nor days (a day there is 23, 24 or 25
// hours). The buckets of a fixed width are Bounds[0] + k*width.
func (q *IntervalQuery) FixedWidth() (width int64, ok bool) {
	if q.Zone == nil {
		return q.Span.FixedMicros(), q.Span.Fixed() && q.Span.FixedMicros() > 0
	}
	return q.Span.Micros, q.Span.Months == 0 && q.Span.Days == 0 && q.Span.Micros > 0
}

// Counts are the counts of one bucket: open_sessions and closed_sessions
// (sessions started in it), and the flow columns of SPEC 9.2, filled in
// only when the query uses them (IntervalQuery.Flow).
type Counts struct {
	Open   int64
	Closed int64
	// OpenAtEnd is open_at_end: sessions started before the bucket's end
	// and not closed before it (the backlog at its end).
	OpenAtEnd int64
	// ClosedInInterval is closed_in_interval: sessions whose end_time is
	// in the bucket, whenever they started.
	ClosedInInterval int64
}

// AccumulateBacklog fills in the OpenAtEnd of every bucket of dst, whose
// Open, Closed and ClosedInInterval are counted, given the backlog at the
// start of the first bucket: the sessions started before Bounds[0] and
// not closed before it. Each bucket's backlog is the previous one's plus
// the sessions started in it minus those closed in it, because a session
// never ends before it starts (ingestion enforces end_time >= start_time),
// so a session closed before a bound also started before it.
func AccumulateBacklog(dst []Counts, backlog int64) {
	for k := range dst {
		backlog += dst[k].Open + dst[k].Closed - dst[k].ClosedInInterval
		dst[k].OpenAtEnd = backlog
	}
}

// DefaultSpan is the interval_span used when the argument is null or
// omitted.
var DefaultSpan = pgtext.Interval{Days: 1}

// Plan checks the time arguments and computes Bounds as
// generate_series(start_time, end_time, interval_span) does: b0 =
// start_time, b(k+1) = b(k) + interval_span with PostgreSQL's timestamp +
// interval, every b(k) <= end_time, plus the end of the last bucket. At
// most maxBuckets buckets are allowed. Its errors are *ArgError.
//
// With a Zone, Plan computes the zone's series instead (see planZone).
func (q *IntervalQuery) Plan(maxBuckets int) error {
	if q.Zone != nil {
		return q.planZone(maxBuckets)
	}
	if q.EndMicros < q.StartMicros {
		return &ArgError{Arg: "end_time", Kind: KindData, Reason: fmt.Sprintf("end_time (%s) is before start_time (%s); end_time must be on or after start_time",
			pgtext.FormatTimestamp(q.EndMicros), pgtext.FormatTimestamp(q.StartMicros))}
	}
	if q.Span.Sign() <= 0 {
		return q.notPositive()
	}
	tooMany := func() error {
		return q.tooMany(maxBuckets, pgtext.FormatTimestamp(q.StartMicros), pgtext.FormatTimestamp(q.EndMicros))
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
			return q.noProgress(pgtext.FormatTimestamp(cur))
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

// planZone is Plan in q.Zone (SPEC 9.1): the buckets of
//
//	SET TimeZone = zone;
//	generate_series(start_time AT TIME ZONE zone, end_time AT TIME ZONE zone, interval_span)
//
// as pgtext.Zone.AppendSeries computes them, each next bucket the previous
// plus interval_span on the zone's calendar. Bounds are their instants and
// Walls their starts on the zone's clocks. end_time before start_time is
// decided on the instants: wall-clock times are not ordered like their
// instants where the clocks jump (on a spring-forward day in New York,
// 02:30 is read as 07:30 UTC and 03:00 as 07:00 UTC).
func (q *IntervalQuery) planZone(maxBuckets int) error {
	z := q.Zone
	start, end := q.wallText(q.StartMicros), q.wallText(q.EndMicros)
	if q.EndMicros < q.StartMicros {
		return &ArgError{Arg: "end_time", Kind: KindData, Reason: fmt.Sprintf("end_time (%s, %sZ) is before start_time (%s, %sZ); end_time must be on or after start_time",
			end, pgtext.FormatTimestamp(q.EndMicros), start, pgtext.FormatTimestamp(q.StartMicros))}
	}
	if q.Span.Sign() <= 0 {
		return q.notPositive()
	}
	bounds, walls, err := z.AppendSeries(q.Bounds[:0], q.Walls[:0], q.StartMicros, q.EndMicros, q.Span, maxBuckets)
	var limit *pgtext.SeriesLimitError
	var step *pgtext.StepError
	switch {
	case err == nil:
		q.Bounds, q.Walls = bounds, walls
		return nil
	case errors.As(err, &limit):
		return q.tooMany(maxBuckets, start, end)
	case errors.As(err, &step):
		return q.noProgress(pgtext.FormatTimestamp(step.Wall) + " in " + z.Name())
	}
	return &ArgError{Arg: "interval_span", Kind: KindData, Reason: "interval_span " + q.Span.String() + " from " + start + " to " + end + ": " + err.Error(), Err: err}
}

// wallText writes an instant as wall-clock time in q.Zone, naming the
// zone: "2024-03-10T03:30:00 in America/New_York".
func (q *IntervalQuery) wallText(instant int64) string {
	w, err := q.Zone.Wall(instant)
	if err != nil {
		return pgtext.FormatTimestamp(instant) + "Z"
	}
	return pgtext.FormatTimestamp(w) + " in " + q.Zone.Name()
}

func (q *IntervalQuery) notPositive() error {
	return &ArgError{Arg: "interval_span", Kind: KindData, Reason: fmt.Sprintf("interval_span must be a positive interval such as \"1 day\" or \"1 hour\", got %q", q.Span.String())}
}

func (q *IntervalQuery) noProgress(from string) error {
	return &ArgError{Arg: "interval_span", Kind: KindData, Reason: fmt.Sprintf("interval_span %q does not move forward from %s; use an interval whose parts are all positive", q.Span.String(), from)}
}

func (q *IntervalQuery) tooMany(maxBuckets int, from, to string) error {
	return &ArgError{Arg: "interval_span", Kind: KindLimit, Limit: maxBuckets, Reason: fmt.Sprintf(
		"interval_span %q from %s to %s gives %s buckets, more than the server's limit of %d; use a longer interval_span or a shorter range, or raise the limit with --max-buckets (TALLY_MAX_BUCKETS)",
		q.Span.String(), from, to, q.bucketCount(), maxBuckets)}
}

// bucketCount is how many buckets q's range and span give, for the error
// that refuses them: exact when every bucket has one width (in UTC, or
// spans of hours and less in a zone), else "about" the count at a
// month's and a day's average lengths.
func (q *IntervalQuery) bucketCount() string {
	if w, ok := q.FixedWidth(); ok {
		return fmt.Sprint((q.EndMicros-q.StartMicros)/w + 1)
	}
	const avgMonth = 30.436875 * float64(pgtext.MicrosPerDay)
	w := float64(q.Span.Months)*avgMonth + float64(q.Span.Days)*float64(pgtext.MicrosPerDay) + float64(q.Span.Micros)
	if w <= 0 {
		return "too many"
	}
	return fmt.Sprintf("about %.0f", float64(q.EndMicros-q.StartMicros)/w+1)
}
