package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/tally-server/tally/internal/pgtext"
)

// DimensionFunction is the name of the function that lists the values of
// the interval function's filters present in an account's sessions, for
// the dashboard's pickers (SPEC section 11).
const DimensionFunction = "session_dimension_counts"

// Columns of DimensionTable, by index: what ColumnSet and Result.Cols use.
const (
	ColDimension = iota
	ColValue
	ColSessions
)

// DimensionTable is the table session_dimension_counts returns.
func DimensionTable() Table {
	return Table{Name: "session_dimension_counts", Columns: []Column{
		ColDimension: {Name: "dimension", Type: Text},
		ColValue:     {Name: "value", Type: Text, Nullable: true},
		ColSessions:  {Name: "sessions", Type: Int, Nullable: true},
	}}
}

// The dimensions, as the column dimension names them: the session column a
// filter of the interval function reads, and agent_id for the elements of
// agent_ids. Dimensions lists them in the order of the function's rows.
const (
	DimAgentID       = "agent_id"
	DimBrainParentID = "brain_parent_id"
	DimBrainVersion  = "brain_version"
	DimChannel       = "channel"
	DimDeskID        = "desk_id"
	DimIntegrationID = "integration_id"
	DimIsTest        = "is_test"
)

// Dimensions are the values of the column dimension, in byte order.
var Dimensions = []string{DimAgentID, DimBrainParentID, DimBrainVersion, DimChannel, DimDeskID, DimIntegrationID, DimIsTest}

func dimensionCounts() *Function {
	return &Function{
		Name: DimensionFunction,
		Args: []Arg{
			{Name: "start_time", Type: Timestamp},
			{Name: "end_time", Type: Timestamp},
			{Name: "time_zone", Type: Text},
		},
		Table:   DimensionTable(),
		prepare: func(args Args, _ Limits) (Call, error) { return ParseDimensionQuery(args) },
	}
}

// DimensionQuery is one call of session_dimension_counts for one account:
// the sessions it counts are those whose start_time s (an instant, in
// microseconds since 1970-01-01 UTC) has StartMicros <= s < EndMicros.
// An omitted bound is math.MinInt64 or math.MaxInt64, which no stored
// start_time equals.
type DimensionQuery struct {
	StartMicros int64
	EndMicros   int64
}

// Bounded reports whether the query has a lower and an upper bound: a
// Source may skip the conditions of the bounds that are not.
func (q *DimensionQuery) Bounded() (start, end bool) {
	return q.StartMicros != math.MinInt64, q.EndMicros != math.MaxInt64
}

// DimensionCount is one row of session_dimension_counts: Sessions sessions
// in range have Value in Dimension (one of Dimensions). Value is
// PostgreSQL's text form of the value: a uuid in lower case with hyphens,
// an int in decimal, a boolean as "true" or "false", text as stored.
type DimensionCount struct {
	Dimension string
	Value     string
	Sessions  int64
}

// SortDimensionCounts puts rows in the function's order: by dimension,
// then by sessions descending, then by value, comparing text by byte
// value (PostgreSQL's "C" collation).
func SortDimensionCounts(rows []DimensionCount) {
	slices.SortFunc(rows, func(a, b DimensionCount) int {
		if c := cmp.Compare(a.Dimension, b.Dimension); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Sessions, a.Sessions); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
}

// ParseDimensionQuery reads the arguments of session_dimension_counts:
// start_time and end_time are optional timestamps, wall-clock times in
// time_zone (an IANA name, UTC when null or omitted) unless the literal
// carries its own offset; end_time before start_time is an error. Errors
// are *ArgError, in the order of the arguments' declaration.
func ParseDimensionQuery(args Args) (*DimensionQuery, error) {
	start, startSet, err := dimensionTimestamp(args, "start_time")
	if err != nil {
		return nil, err
	}
	end, endSet, err := dimensionTimestamp(args, "end_time")
	if err != nil {
		return nil, err
	}
	zone, err := dimensionZone(args, "time_zone")
	if err != nil {
		return nil, err
	}
	q := &DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}
	if startSet {
		if q.StartMicros, err = start.at(zone, "start_time"); err != nil {
			return nil, err
		}
	}
	if endSet {
		if q.EndMicros, err = end.at(zone, "end_time"); err != nil {
			return nil, err
		}
	}
	if startSet && endSet && q.EndMicros < q.StartMicros {
		return nil, &ArgError{Arg: "end_time", Kind: KindData, Reason: fmt.Sprintf("end_time (%s) is before start_time (%s); end_time must be on or after start_time",
			end.wall(zone, q.EndMicros), start.wall(zone, q.StartMicros))}
	}
	return q, nil
}

// zonedLiteral is a timestamp literal read before the zone is known: the
// wall-clock time it shows, or the instant it names when it has "Z" or an
// offset.
type zonedLiteral struct {
	ts      int64
	hasZone bool
}

func (l zonedLiteral) at(z *pgtext.Zone, arg string) (int64, error) {
	if l.hasZone {
		return l.ts, nil
	}
	t, err := z.Instant(l.ts)
	if err != nil {
		return 0, literalError(arg, err)
	}
	return t, nil
}

// wall is the literal's instant on z's clocks, as error messages show it.
func (l zonedLiteral) wall(z *pgtext.Zone, instant int64) string {
	if !l.hasZone {
		return pgtext.FormatTimestamp(l.ts)
	}
	if w, err := z.Wall(instant); err == nil {
		return pgtext.FormatTimestamp(w)
	}
	return pgtext.FormatTimestamp(instant) + "Z"
}

// dimensionTimestamp reads an optional timestamp argument; set is false
// when it is null or absent. (The interval function reads its required
// ones in the zone the same way.)
func dimensionTimestamp(args Args, arg string) (l zonedLiteral, set bool, err error) {
	v := args.Get(arg)
	if v == nil {
		return l, false, nil
	}
	s, ok := v.(string)
	if !ok {
		return l, false, stringExpected(arg, Timestamp, v)
	}
	if l.ts, l.hasZone, err = pgtext.ParseTimestampZone(s); err != nil {
		return l, false, literalError(arg, err)
	}
	return l, true, nil
}

// dimensionZone reads an optional time zone name; UTC when null or
// absent. An unknown name is a KindData error quoting pgtext's message,
// which gives an example.
func dimensionZone(args Args, arg string) (*pgtext.Zone, error) {
	v := args.Get(arg)
	if v == nil {
		return pgtext.UTC(), nil
	}
	return zoneArgument(arg, v)
}

// dimensionResult is a Result with room for DimensionTable's columns.
type dimensionResult struct {
	Result
	cols [3]Cells
}

// Run asks src for the query's counts and returns them as rows of
// DimensionTable in the function's order (SortDimensionCounts). An
// account with no sessions in range gets no rows. Every column is filled
// whatever used says: they come from the same counts.
func (q *DimensionQuery) Run(ctx context.Context, src Source, account pgtext.UUID, used ColumnSet) (*Result, error) {
	counts, err := src.DimensionCounts(ctx, account, q)
	if err != nil {
		return nil, err
	}
	SortDimensionCounts(counts)
	n := len(counts)
	texts := make([]string, 2*n)
	r := &dimensionResult{}
	r.cols[ColDimension].Texts = texts[:n:n]
	r.cols[ColValue].Texts = texts[n:]
	r.cols[ColSessions].Ints = make([]int64, n)
	for i, c := range counts {
		r.cols[ColDimension].Texts[i] = c.Dimension
		r.cols[ColValue].Texts[i] = c.Value
		r.cols[ColSessions].Ints[i] = c.Sessions
	}
	r.Result = Result{Len: n, Cols: r.cols[:]}
	return &r.Result, nil
}
