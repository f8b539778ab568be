// Package session holds the values every other part of Tally shares: a
// stored session Record, the Query of open_closed_sessions_interval_counts_v2
// with its bucket plan, and the errors a query can fail with. It is a leaf:
// it imports only pgtext, and the engine, the stores, GraphQL and HTTP all
// import it, as Prometheus keeps model/labels apart from tsdb and promql.
package session

import (
	"errors"
	"fmt"

	"github.com/tally-server/tally/internal/pgtext"
)

// Record is one conversation session as stored. Times are microseconds
// since 1970-01-01 UTC.
type Record struct {
	AccountID     pgtext.UUID
	SessionID     string
	DeskID        pgtext.NullUUID
	BrainParentID pgtext.NullUUID
	IntegrationID pgtext.NullUUID
	BrainVersion  pgtext.NullInt4
	Channel       NullString
	AgentIDs      []string // never nil once validated; may be empty
	IsTest        bool
	StartMicros   int64
	EndMicros     int64 // meaningful only when HasEnd
	HasEnd        bool
	UpdatedMicros int64 // meaningful only when HasUpdated
	HasUpdated    bool
}

// NullString is a text value that may be SQL NULL.
type NullString struct {
	String string
	Valid  bool
}

// Change is the effect of one accepted record on the stored data: Old is
// the row it replaced (nil for a new session) and New the row now stored.
// The engine applies changes to stay equal to the store.
type Change struct {
	Old *Record
	New *Record
}

// Supersedes reports whether an incoming record replaces the stored one
// under the updated_at rule of SPEC section 6: it does unless both carry
// updated_at and the incoming one is older.
func Supersedes(incoming, stored *Record) bool {
	if incoming.HasUpdated && stored.HasUpdated {
		return incoming.UpdatedMicros >= stored.UpdatedMicros
	}
	return true
}

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

// Query is one call of open_closed_sessions_interval_counts_v2 for one
// account.
type Query struct {
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

// ArgError is a query argument that cannot be used: it names the argument
// of open_closed_sessions_interval_counts_v2_args and says why.
type ArgError struct {
	Arg    string
	Reason string
}

func (e *ArgError) Error() string { return fmt.Sprintf("argument %s: %s", e.Arg, e.Reason) }

// LimitError is a query that would produce more buckets than allowed.
type LimitError struct {
	Max    int
	Reason string
}

func (e *LimitError) Error() string { return e.Reason }

// DefaultSpan is the interval_span used when the argument is null or
// omitted.
var DefaultSpan = pgtext.Interval{Days: 1}

// Plan checks the time arguments and computes Bounds as
// generate_series(start_time, end_time, interval_span) does: b0 =
// start_time, b(k+1) = b(k) + interval_span with PostgreSQL's timestamp +
// interval, every b(k) <= end_time, plus the end of the last bucket. At
// most maxBuckets buckets are allowed.
func (q *Query) Plan(maxBuckets int) error {
	if q.EndMicros < q.StartMicros {
		return &ArgError{Arg: "end_time", Reason: fmt.Sprintf("end_time (%s) is before start_time (%s); end_time must be on or after start_time",
			pgtext.FormatTimestamp(q.EndMicros), pgtext.FormatTimestamp(q.StartMicros))}
	}
	if q.Span.Sign() <= 0 {
		return &ArgError{Arg: "interval_span", Reason: fmt.Sprintf("interval_span must be a positive interval such as \"1 day\" or \"1 hour\", got %q", q.Span.String())}
	}
	tooMany := func() error {
		return &LimitError{Max: maxBuckets, Reason: fmt.Sprintf(
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
			return &ArgError{Arg: "interval_span", Reason: err.Error()}
		}
		if next <= cur {
			// PostgreSQL's generate_series would never finish here.
			return &ArgError{Arg: "interval_span", Reason: fmt.Sprintf("interval_span %q does not move forward from %s; use an interval whose parts are all positive", q.Span.String(), pgtext.FormatTimestamp(cur))}
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

// ErrUnavailable is wrapped by backends when their database cannot be
// reached, so that GraphQL and HTTP can say so without knowing the
// backend.
var ErrUnavailable = errors.New("the database is unreachable")
