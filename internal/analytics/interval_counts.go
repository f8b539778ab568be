package analytics

import (
	"context"

	"github.com/tally-server/tally/internal/pgtext"
)

// IntervalFunction is the name of Moveo's function, the first entry of
// the catalogue.
const IntervalFunction = "open_closed_sessions_interval_counts_v2"

// Columns of IntervalTable, by index: what ColumnSet and Result.Cols use.
const (
	ColPerInterval = iota
	ColOpenSessions
	ColClosedSessions
	ColOpenAtEnd
	ColClosedInInterval
)

// IntervalTable is the table open_closed_sessions_interval_counts_v2
// returns (SPEC sections 1, 2 and 9.2).
func IntervalTable() Table {
	return Table{Name: "open_closed_sessions_interval_counts", Columns: []Column{
		ColPerInterval:      {Name: "per_interval", Type: Timestamp, Nullable: true},
		ColOpenSessions:     {Name: "open_sessions", Type: Int, Nullable: true},
		ColClosedSessions:   {Name: "closed_sessions", Type: Int, Nullable: true},
		ColOpenAtEnd:        {Name: "open_at_end", Type: Int, Nullable: true},
		ColClosedInInterval: {Name: "closed_in_interval", Type: Int, Nullable: true},
	}}
}

func intervalCounts() *Function {
	return &Function{
		Name: IntervalFunction,
		Args: []Arg{
			{Name: "start_time", Type: Timestamp, Required: true},
			{Name: "end_time", Type: Timestamp, Required: true},
			{Name: "interval_span", Type: Interval},
			{Name: "brain_parent_ids", Type: UUIDArray},
			{Name: "desk_ids", Type: UUIDArray},
			{Name: "integration_ids", Type: UUIDArray},
			{Name: "brain_versions", Type: Int4Array},
			{Name: "channels", Type: TextArray},
			{Name: "is_test", Type: Boolean},
			{Name: "agent_ids", Type: TextArray},
			{Name: "time_zone", Type: Text},
		},
		Table:   IntervalTable(),
		prepare: prepareIntervalQuery,
	}
}

// ParseIntervalQuery reads the arguments of
// open_closed_sessions_interval_counts_v2 into a query, without planning
// it. Errors are *ArgError, in the order of the arguments' declaration
// (time_zone last). Without a time_zone (or with "UTC") the query is
// exactly SPEC section 2's; with one, start_time and end_time are read on
// its clocks (readTimeZone).
func ParseIntervalQuery(args Args) (*IntervalQuery, error) {
	q := &IntervalQuery{}
	var err error
	if q.StartMicros, err = requiredTimestamp(args, "start_time"); err != nil {
		return nil, err
	}
	if q.EndMicros, err = requiredTimestamp(args, "end_time"); err != nil {
		return nil, err
	}
	if q.Span, err = intervalArg(args, "interval_span", DefaultSpan); err != nil {
		return nil, err
	}
	if q.BrainParentIDs, err = uuidSet(args, "brain_parent_ids"); err != nil {
		return nil, err
	}
	if q.DeskIDs, err = uuidSet(args, "desk_ids"); err != nil {
		return nil, err
	}
	if q.IntegrationIDs, err = uuidSet(args, "integration_ids"); err != nil {
		return nil, err
	}
	if q.BrainVersions, err = intSet(args, "brain_versions"); err != nil {
		return nil, err
	}
	if q.Channels, err = textSet(args, "channels"); err != nil {
		return nil, err
	}
	if q.AgentIDs, err = textSet(args, "agent_ids"); err != nil {
		return nil, err
	}
	if q.IsTest, err = boolArg(args, "is_test", "argument is_test takes true (test sessions only), false (production only) or null (all)"); err != nil {
		return nil, err
	}
	if tz := args.Get("time_zone"); tz != nil {
		if err := q.readTimeZone(args, tz); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func prepareIntervalQuery(args Args, lim Limits) (Call, error) {
	q, err := ParseIntervalQuery(args)
	if err != nil {
		return nil, err
	}
	if err := q.Plan(lim.MaxBuckets); err != nil {
		return nil, err
	}
	return q, nil
}

// intervalResult is a Result with room for IntervalTable's columns, so
// that one allocation holds both.
type intervalResult struct {
	Result
	cols [5]Cells
}

// Run asks src for the planned query's counts and returns one row per
// bucket: per_interval (the bucket's start, on the zone's clocks),
// open_sessions, closed_sessions, and open_at_end and closed_in_interval
// when used names either (otherwise their Cells are empty and the Source
// is not asked for them). An account with no sessions gets zeros. The
// result shares q.Bounds and q.Walls; q is not changed (Call): the
// Source is given a copy with Columns set to used.
func (q *IntervalQuery) Run(ctx context.Context, src Source, account pgtext.UUID, used ColumnSet) (*Result, error) {
	qc := *q
	qc.Columns = used
	q = &qc
	n := len(q.Bounds) - 1
	counts, err := src.Count(ctx, account, q, make([]Counts, n))
	if err != nil {
		return nil, err
	}
	cols := 2
	if q.Flow() {
		cols = 4
	}
	ints := make([]int64, cols*n)
	r := &intervalResult{}
	if q.Walls != nil {
		r.cols[ColPerInterval].Ints = q.Walls[:n:n]
	} else {
		r.cols[ColPerInterval].Ints = q.Bounds[:n:n] // the buckets' starts, shared
	}
	r.cols[ColOpenSessions].Ints = ints[:n:n]
	r.cols[ColClosedSessions].Ints = ints[n : 2*n : 2*n]
	for k, c := range counts {
		r.cols[ColOpenSessions].Ints[k] = c.Open
		r.cols[ColClosedSessions].Ints[k] = c.Closed
	}
	if cols == 4 {
		r.cols[ColOpenAtEnd].Ints = ints[2*n : 3*n : 3*n]
		r.cols[ColClosedInInterval].Ints = ints[3*n:]
		for k, c := range counts {
			r.cols[ColOpenAtEnd].Ints[k] = c.OpenAtEnd
			r.cols[ColClosedInInterval].Ints[k] = c.ClosedInInterval
		}
	}
	r.Result = Result{Len: n, Cols: r.cols[:]}
	return &r.Result, nil
}
