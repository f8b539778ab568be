package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// countsSource answers no dimension: it is the interval function's fake.
func (s *countsSource) DimensionCounts(ctx context.Context, account pgtext.UUID, q *analytics.DimensionQuery) ([]analytics.DimensionCount, error) {
	return nil, nil
}

// dimsSource answers dimension counts with rows, out of order, and
// records the query it was asked.
type dimsSource struct {
	countsSource
	rows  []analytics.DimensionCount
	asked *analytics.DimensionQuery
}

func (s *dimsSource) DimensionCounts(ctx context.Context, account pgtext.UUID, q *analytics.DimensionQuery) ([]analytics.DimensionCount, error) {
	s.asked = q
	return append([]analytics.DimensionCount(nil), s.rows...), nil
}

func TestDimensionFunctionInCatalogue(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.DimensionFunction)
	if f == nil {
		t.Fatalf("catalogue lacks %s", analytics.DimensionFunction)
	}
	var sig []string
	for _, a := range f.Args {
		sig = append(sig, fmt.Sprintf("%s %s required=%v", a.Name, a.Type.PostgreSQL(), a.Required))
	}
	if got, want := strings.Join(sig, ", "), "start_time timestamp required=false, end_time timestamp required=false, time_zone text required=false"; got != want {
		t.Errorf("arguments\n got %s\nwant %s", got, want)
	}
	var cols []string
	for _, c := range f.Table.Columns {
		cols = append(cols, fmt.Sprintf("%s %s null=%v", c.Name, c.Type.PostgreSQL(), c.Nullable))
	}
	if got, want := f.Table.Name+": "+strings.Join(cols, ", "), "session_dimension_counts: dimension text null=false, value text null=true, sessions int4 null=true"; got != want {
		t.Errorf("table\n got %s\nwant %s", got, want)
	}
}

// TestParseDimensionQuery: bounds are optional; wall-clock times are read
// in time_zone, literals with an offset are instants.
func TestParseDimensionQuery(t *testing.T) {
	inst := func(s string) int64 {
		v, err := pgtext.ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name       string
		args       analytics.Args
		start, end int64
	}{
		{"no arguments", args(), math.MinInt64, math.MaxInt64},
		{"explicit nulls", args("start_time", nil, "end_time", nil, "time_zone", nil), math.MinInt64, math.MaxInt64},
		{"start only", args("start_time", "2024-03-01"), inst("2024-03-01"), math.MaxInt64},
		{"end only, UTC", args("end_time", "2024-03-01 10:00", "time_zone", "UTC"), math.MinInt64, inst("2024-03-01 10:00")},
		{"both in Athens", args("start_time", "2024-03-01", "end_time", "2024-04-01", "time_zone", "Europe/Athens"), inst("2024-02-29 22:00"), inst("2024-03-31 21:00")},
		{"offset names the instant", args("start_time", "2024-03-01T00:00:00Z", "time_zone", "America/New_York"), inst("2024-03-01"), math.MaxInt64},
		// 02:30 does not exist in New York on 2024-03-10: read with the
		// offset before the change, as PostgreSQL does.
		{"skipped wall time", args("start_time", "2024-03-10 02:30", "time_zone", "america/new_york"), inst("2024-03-10 07:30"), math.MaxInt64},
		{"empty range", args("start_time", "2024-03-01", "end_time", "2024-03-01"), inst("2024-03-01"), inst("2024-03-01")},
	}
	for _, c := range cases {
		q, err := analytics.ParseDimensionQuery(c.args)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if q.StartMicros != c.start || q.EndMicros != c.end {
			t.Errorf("%s: range [%d, %d), want [%d, %d)", c.name, q.StartMicros, q.EndMicros, c.start, c.end)
		}
		hasStart, hasEnd := q.Bounded()
		if hasStart != (c.start != math.MinInt64) || hasEnd != (c.end != math.MaxInt64) {
			t.Errorf("%s: Bounded() = %v, %v", c.name, hasStart, hasEnd)
		}
	}
}

// TestDimensionPrepareErrors: each bad argument gives an *ArgError naming
// it, of the kind transports map to their codes.
func TestDimensionPrepareErrors(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.DimensionFunction)
	cases := []struct {
		name   string
		args   analytics.Args
		arg    string
		kind   analytics.ErrorKind
		reason string // a prefix of the message
	}{
		{"number for timestamp", args("start_time", json.Number("1")), "start_time", analytics.KindParse, "A string is expected for type: timestamp; argument start_time takes a string such as"},
		{"bad timestamp", args("end_time", "tomorrow"), "end_time", analytics.KindData, `argument end_time: invalid input syntax for type timestamp: "tomorrow"`},
		{"start first", args("start_time", "x", "end_time", "y", "time_zone", "Nowhere/Land"), "start_time", analytics.KindData, `argument start_time: invalid input syntax`},
		{"unknown zone", args("start_time", "2024-01-01", "time_zone", "Mars/Olympus"), "time_zone", analytics.KindData, `argument time_zone: time zone "Mars/Olympus" not recognized`},
		{"abbreviation", args("time_zone", "CEST"), "time_zone", analytics.KindData, `argument time_zone: time zone "CEST" not recognized: time zone abbreviations are not accepted`},
		{"list for zone", args("time_zone", []any{"UTC"}), "time_zone", analytics.KindParse, `A string is expected for type: String; argument time_zone takes an IANA time zone name such as "Europe/Athens", or "UTC", but found a list`},
		{"end before start", args("start_time", "2024-01-10", "end_time", "2024-01-02"), "end_time", analytics.KindData, "end_time (2024-01-02T00:00:00) is before start_time (2024-01-10T00:00:00); end_time must be on or after start_time"},
		// Compared as instants, shown on the zone's clocks.
		{"end before start in a zone", args("start_time", "2024-01-10T12:00:00Z", "end_time", "2024-01-10 13:00", "time_zone", "Europe/Athens"), "end_time", analytics.KindData, "end_time (2024-01-10T13:00:00) is before start_time (2024-01-10T14:00:00)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Prepare(c.args, analytics.Limits{})
			var ae *analytics.ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *ArgError", err, err)
			}
			if ae.Arg != c.arg || ae.Kind != c.kind || !strings.HasPrefix(ae.Reason, c.reason) {
				t.Errorf("got %s %s %q\nwant %s %s %q...", ae.Arg, ae.Kind, ae.Reason, c.arg, c.kind, c.reason)
			}
		})
	}
}

// TestDimensionRunSortsRows: whatever order the Source answers in, rows
// come by dimension, sessions descending, then value in byte order.
func TestDimensionRunSortsRows(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.DimensionFunction)
	call, err := f.Prepare(args("start_time", "2024-01-01"), analytics.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	src := &dimsSource{rows: []analytics.DimensionCount{
		{analytics.DimIsTest, "true", 1}, {analytics.DimChannel, "web", 5}, {analytics.DimAgentID, "b", 2},
		{analytics.DimChannel, "Web", 5}, {analytics.DimIsTest, "false", 9}, {analytics.DimAgentID, "a", 2},
		{analytics.DimChannel, "voice", 7}, {analytics.DimAgentID, "c", 3},
	}}
	res, err := call.Run(context.Background(), src, pgtext.UUID{1}, analytics.AllColumns(3))
	if err != nil {
		t.Fatal(err)
	}
	if src.asked == nil || src.asked.StartMicros != 1704067200000000 || src.asked.EndMicros != math.MaxInt64 {
		t.Errorf("the source was asked %+v", src.asked)
	}
	var got []string
	for i := 0; i < res.Len; i++ {
		got = append(got, fmt.Sprintf("%s=%s:%d", res.Cols[analytics.ColDimension].Texts[i], res.Cols[analytics.ColValue].Texts[i], res.Cols[analytics.ColSessions].Ints[i]))
	}
	want := "agent_id=c:3 agent_id=a:2 agent_id=b:2 channel=voice:7 channel=Web:5 channel=web:5 is_test=false:9 is_test=true:1"
	if strings.Join(got, " ") != want {
		t.Errorf("rows\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}
