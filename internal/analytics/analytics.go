// Package analytics is what Tally answers, independent of how it is asked
// and where the data lives, as Prometheus keeps its storage package apart
// from promql and web/api. It owns:
//
//   - the catalogue: every SQL function Tally serves as Hasura would, with
//     its arguments, its result table and a call entry (Catalogue,
//     Function);
//   - the query each function runs (IntervalQuery for
//     open_closed_sessions_interval_counts_v2, DimensionQuery for
//     session_dimension_counts), its planning and its errors, typed by
//     argument and kind (ArgError);
//   - Source, the interface a backend satisfies to answer those queries:
//     the in-memory engine, the PostgreSQL store and the embedded backend.
//
// Arguments arrive transport-neutral (Args: JSON-like values by name), so
// GraphQL and REST share the parsing, the planning and the error facts and
// only word the answer their own way.
//
// analytics imports session and pgtext only. It never imports a backend,
// GraphQL or HTTP; the engine and the stores import it for the query types.
package analytics

import (
	"context"

	"github.com/tally-server/tally/internal/pgtext"
)

// Source answers the queries of the catalogue's functions for one account.
// Implementations must be safe for concurrent use. One method per kind of
// query: a new function whose query the existing methods cannot answer
// adds a method here, implemented by the engine and the PostgreSQL store.
type Source interface {
	// Count answers q, whose Bounds are planned, for one account: dst
	// (len(q.Bounds)-1 zeroed elements) gets the counts of each bucket
	// and is returned. It computes at least the columns q.Columns names.
	// A backend that cannot reach its data returns an error wrapping
	// session.ErrUnavailable.
	Count(ctx context.Context, account pgtext.UUID, q *IntervalQuery, dst []Counts) ([]Counts, error)

	// DimensionCounts answers q for one account: one element per
	// (dimension, value) with at least one session in q's range, value
	// not NULL, in any order (Run sorts them). The caller owns the slice.
	// A backend that cannot reach its data returns an error wrapping
	// session.ErrUnavailable.
	DimensionCounts(ctx context.Context, account pgtext.UUID, q *DimensionQuery) ([]DimensionCount, error)
}

// DefaultMaxBuckets is Limits.MaxBuckets when it is not set.
const DefaultMaxBuckets = 10000

// Limits bound what one call may ask for. The zero value uses the defaults.
type Limits struct {
	// MaxBuckets is the most buckets one interval query may have
	// (default DefaultMaxBuckets); more is a KindLimit error.
	MaxBuckets int
}

// WithDefaults returns l with every unset field at its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBuckets <= 0 {
		l.MaxBuckets = DefaultMaxBuckets
	}
	return l
}
