package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/store/postgres"
)

// Every backend answers the catalogue's queries.
var (
	_ analytics.Source = (*engine.Index)(nil)
	_ analytics.Source = (*postgres.Store)(nil)
	_ analytics.Source = (*embedded.Backend)(nil)
)

func TestCatalogueIsValid(t *testing.T) {
	c := analytics.NewCatalogue()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	f := c.Function(analytics.IntervalFunction)
	if f == nil {
		t.Fatalf("catalogue lacks %s", analytics.IntervalFunction)
	}
	var args []string
	for _, a := range f.Args {
		args = append(args, fmt.Sprintf("%s %s", a.Name, a.Type.PostgreSQL()))
	}
	want := "start_time timestamp, end_time timestamp, interval_span interval, brain_parent_ids uuid[], desk_ids uuid[], integration_ids uuid[], brain_versions int4[], channels text[], is_test boolean, agent_ids text[], time_zone text"
	if got := strings.Join(args, ", "); got != want {
		t.Errorf("arguments\n got %s\nwant %s", got, want)
	}
	for i, name := range []string{"per_interval", "open_sessions", "closed_sessions", "open_at_end", "closed_in_interval"} {
		if f.Table.Column(name) != i {
			t.Errorf("column %s at %d, want %d", name, f.Table.Column(name), i)
		}
	}
}

func TestValidateRejectsBrokenCatalogues(t *testing.T) {
	prep := func(analytics.Args, analytics.Limits) (analytics.Call, error) { return nil, nil }
	table := analytics.Table{Name: "t", Columns: []analytics.Column{{Name: "a", Type: analytics.Int}}}
	cases := map[string]*analytics.Catalogue{
		"twice":          {Functions: []*analytics.Function{analytics.NewFunction("f", nil, table, prep), analytics.NewFunction("f", nil, table, prep)}},
		"no columns":     {Functions: []*analytics.Function{analytics.NewFunction("f", nil, analytics.Table{Name: "t"}, prep)}},
		"array column":   {Functions: []*analytics.Function{analytics.NewFunction("f", nil, analytics.Table{Name: "t", Columns: []analytics.Column{{Name: "a", Type: analytics.UUIDArray}}}, prep)}},
		"repeated arg":   {Functions: []*analytics.Function{analytics.NewFunction("f", []analytics.Arg{{Name: "x", Type: analytics.Int}, {Name: "x", Type: analytics.Int}}, table, prep)}},
		"no call at all": {Functions: []*analytics.Function{analytics.NewFunction("f", nil, table, nil)}},
	}
	for name, c := range cases {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func args(kv ...any) analytics.Args {
	var a analytics.Args
	for i := 0; i < len(kv); i += 2 {
		a.Names = append(a.Names, kv[i].(string))
		a.Values = append(a.Values, kv[i+1])
	}
	return a
}

// TestPrepareErrors: each bad argument gives an *ArgError naming it, of
// the kind transports map to their codes, with the client's message.
func TestPrepareErrors(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	day := []any{"start_time", "2024-01-01", "end_time", "2024-01-02"}
	with := func(kv ...any) analytics.Args { return args(append(append([]any{}, day...), kv...)...) }
	cases := []struct {
		name   string
		args   analytics.Args
		arg    string
		kind   analytics.ErrorKind
		reason string // a prefix of the message
	}{
		{"missing start", args("end_time", "2024-01-02"), "start_time", analytics.KindValidation, `argument start_time is required and must not be null; send a timestamp such as "2024-01-08"`},
		{"null end", args("start_time", "2024-01-02", "end_time", nil), "end_time", analytics.KindValidation, "argument end_time is required"},
		{"number for timestamp", args("start_time", json.Number("1"), "end_time", "x"), "start_time", analytics.KindParse, "A string is expected for type: timestamp; argument start_time takes a string such as"},
		{"bad timestamp", args("start_time", "yesterday", "end_time", "x"), "start_time", analytics.KindData, `argument start_time: invalid input syntax for type timestamp: "yesterday"`},
		{"object for interval", with("interval_span", map[string]any{}), "interval_span", analytics.KindParse, "A string is expected for type: interval; argument interval_span takes a string such as \"1 day\", \"1 week\", \"1 hour\" or \"1 mon\", but found an object"},
		{"bad interval", with("interval_span", "1 dya"), "interval_span", analytics.KindData, `argument interval_span: invalid input syntax for type interval: "1 dya"`},
		{"zero interval", with("interval_span", "0 days"), "interval_span", analytics.KindData, `interval_span must be a positive interval such as "1 day" or "1 hour", got "00:00:00"`},
		{"end before start", args("start_time", "2024-01-10", "end_time", "2024-01-02"), "end_time", analytics.KindData, "end_time (2024-01-02T00:00:00) is before start_time (2024-01-10T00:00:00)"},
		{"too many buckets", with("interval_span", "1 second"), "interval_span", analytics.KindLimit, `interval_span "00:00:01" from 2024-01-01T00:00:00 to 2024-01-02T00:00:00 gives 86401 buckets, more than the server's limit of 100; use a longer interval_span or a shorter range, or raise the limit with --max-buckets`},
		{"too many monthly buckets", args("start_time", "2000-01-01", "end_time", "2024-01-01", "interval_span", "1 mon"), "interval_span", analytics.KindLimit, `interval_span "1 mon" from 2000-01-01T00:00:00 to 2024-01-01T00:00:00 gives about 289 buckets, more than the server's limit of 100`},
		{"bad uuid", with("desk_ids", "{nope}"), "desk_ids", analytics.KindData, `argument desk_ids: invalid input syntax for type uuid: "nope"`},
		{"number in uuid list", with("desk_ids", []any{json.Number("5")}), "desk_ids", analytics.KindParse, "A string is expected for type: _uuid"},
		{"bad int4", with("brain_versions", "{1,x}"), "brain_versions", analytics.KindData, `argument brain_versions: invalid input syntax for type integer: "x"`},
		{"bool for text list", with("channels", true), "channels", analytics.KindParse, "A string is expected for type: _text; argument channels takes a PostgreSQL array literal string such as \"{web,whatsapp}\", or a JSON array of strings, but found a boolean"},
		{"string for Boolean", with("is_test", "false"), "is_test", analytics.KindValidation, "expected a boolean for type 'Boolean', but found a string; argument is_test takes true"},
		{"number for time_zone", with("time_zone", json.Number("2")), "time_zone", analytics.KindParse, `A string is expected for type: String; argument time_zone takes an IANA time zone name such as "Europe/Athens", or "UTC", but found a number`},
		{"abbreviation", with("time_zone", "CEST"), "time_zone", analytics.KindData, `argument time_zone: time zone "CEST" not recognized: time zone abbreviations are not accepted`},
		{"offset", with("time_zone", "+02:00"), "time_zone", analytics.KindData, `argument time_zone: time zone "+02:00" not recognized: numeric offsets and POSIX TZ strings are not accepted`},
		{"unknown zone", with("time_zone", "Mars/Olympus_Mons"), "time_zone", analytics.KindData, `argument time_zone: time zone "Mars/Olympus_Mons" not recognized: not in the IANA time zone database`},
		{"bad zone after bad filter", with("desk_ids", "{nope}", "time_zone", "CEST"), "desk_ids", analytics.KindData, `argument desk_ids: invalid input syntax for type uuid`},
		{"bad start in a zone", args("start_time", "2024-13-01", "end_time", "2024-01-02", "time_zone", "Europe/Athens"), "start_time", analytics.KindData, `argument start_time: `},
		// 02:30 does not exist on New York's spring-forward day: it is
		// read as 07:30 UTC, after 03:00 (07:00 UTC).
		{"end before start as instants", args("start_time", "2024-03-10 02:30", "end_time", "2024-03-10 03:00", "time_zone", "America/New_York"), "end_time", analytics.KindData,
			"end_time (2024-03-10T03:00:00 in America/New_York, 2024-03-10T07:00:00Z) is before start_time (2024-03-10T03:30:00 in America/New_York, 2024-03-10T07:30:00Z)"},
		{"too many buckets in a zone", with("interval_span", "1 minute", "time_zone", "Asia/Kolkata"), "interval_span", analytics.KindLimit,
			`interval_span "00:01:00" from 2024-01-01T00:00:00 in Asia/Kolkata to 2024-01-02T00:00:00 in Asia/Kolkata gives 1441 buckets, more than the server's limit of 100`},
		{"no progress in a zone", args("start_time", "2024-01-31", "end_time", "2024-03-31", "interval_span", "1 mon -29 days", "time_zone", "Europe/Athens"), "interval_span", analytics.KindData,
			`interval_span "1 mon -29 days" does not move forward from 2024-01-31T00:00:00 in Europe/Athens`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Prepare(c.args, analytics.Limits{MaxBuckets: 100})
			var ae *analytics.ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *ArgError", err, err)
			}
			if ae.Arg != c.arg || ae.Kind != c.kind || !strings.HasPrefix(ae.Reason, c.reason) || ae.Error() != ae.Reason {
				t.Errorf("got %s %s %q\nwant %s %s %q...", ae.Arg, ae.Kind, ae.Reason, c.arg, c.kind, c.reason)
			}
			if c.kind == analytics.KindLimit && ae.Limit != 100 {
				t.Errorf("limit %d, want 100", ae.Limit)
			}
		})
	}
}

func TestPlanBuckets(t *testing.T) {
	ts := func(s string) int64 {
		v, err := pgtext.ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		start, end string
		span       pgtext.Interval
		want       []string
	}{
		// Month arithmetic is iterated and clamped: Jan 31, Feb 29, Mar 29.
		{"2024-01-31", "2024-03-30", pgtext.Interval{Months: 1}, []string{"2024-01-31T00:00:00", "2024-02-29T00:00:00", "2024-03-29T00:00:00", "2024-04-29T00:00:00"}},
		// Fixed spans: the last bucket starts on or before end_time.
		{"2024-01-01", "2024-01-02T12:00", pgtext.Interval{Days: 1}, []string{"2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00"}},
		{"2024-01-01", "2024-01-01", pgtext.Interval{Micros: pgtext.MicrosPerHour}, []string{"2024-01-01T00:00:00", "2024-01-01T01:00:00"}},
	}
	for _, c := range cases {
		q := &analytics.IntervalQuery{StartMicros: ts(c.start), EndMicros: ts(c.end), Span: c.span}
		if err := q.Plan(100); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range q.Bounds {
			got = append(got, pgtext.FormatTimestamp(b))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s..%s by %s: bounds %v, want %v", c.start, c.end, c.span, got, c.want)
		}
	}
}

// countsSource answers every bucket k with k open and 2k closed sessions,
// and records the query it was asked.
type countsSource struct{ asked *analytics.IntervalQuery }

func (s *countsSource) Count(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	s.asked = q
	for k := range dst {
		dst[k] = analytics.Counts{Open: int64(k), Closed: 2 * int64(k)}
	}
	return dst, nil
}

func TestRunGivesOneRowPerBucket(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	call, err := f.Prepare(args("start_time", "2024-01-01", "end_time", "2024-01-03", "channels", []any{"web", nil}), analytics.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	src := &countsSource{}
	used := analytics.ColumnSet(0).With(analytics.ColOpenSessions)
	res, err := call.Run(context.Background(), src, pgtext.UUID{1}, used)
	if err != nil {
		t.Fatal(err)
	}
	if src.asked.Columns != used || !src.asked.Channels.Active || len(src.asked.Channels.Values) != 1 {
		t.Errorf("the source was asked %+v", src.asked)
	}
	if res.Len != 3 || len(res.Cols) != 5 || len(res.Cols[analytics.ColOpenAtEnd].Ints) != 0 {
		t.Fatalf("result %+v", res)
	}
	for k := 0; k < 3; k++ {
		day := pgtext.FormatTimestamp(res.Cols[analytics.ColPerInterval].Ints[k])
		if day != fmt.Sprintf("2024-01-0%dT00:00:00", k+1) || res.Cols[analytics.ColOpenSessions].Ints[k] != int64(k) || res.Cols[analytics.ColClosedSessions].Ints[k] != 2*int64(k) {
			t.Errorf("row %d: %s %d %d", k, day, res.Cols[1].Ints[k], res.Cols[2].Ints[k])
		}
	}
}

func TestJSONKind(t *testing.T) {
	for v, want := range map[any]string{nil: "null", "x": "a string", true: "a boolean", json.Number("1"): "a number"} {
		if got := analytics.JSONKind(v); got != want {
			t.Errorf("JSONKind(%v) = %q, want %q", v, got, want)
		}
	}
	if got := analytics.JSONKind([]any{}); got != "a list" {
		t.Errorf("list: %q", got)
	}
	if got := analytics.JSONKind(struct{}{}); got != "an object" {
		t.Errorf("object: %q", got)
	}
}

// flowSource answers like countsSource, with open_at_end 10k and
// closed_in_interval 3k, and records the query; it answers no dimension.
type flowSource struct {
	countsSource
	asked *analytics.IntervalQuery
}

func (s *flowSource) Count(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	s.asked = q
	for k := range dst {
		dst[k] = analytics.Counts{Open: int64(k), Closed: 2 * int64(k), OpenAtEnd: 10 * int64(k), ClosedInInterval: 3 * int64(k)}
	}
	return dst, nil
}

// TestRunInAZoneWithFlowColumns: per_interval is the buckets' wall-clock
// start in the zone (New York's 23-hour day included), the Source gets
// the buckets' instants, and the flow columns are filled when used.
func TestRunInAZoneWithFlowColumns(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	call, err := f.Prepare(args("start_time", "2024-03-09", "end_time", "2024-03-11", "time_zone", "america/new_york"), analytics.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	src := &flowSource{}
	used := analytics.ColumnSet(0).With(analytics.ColPerInterval).With(analytics.ColClosedInInterval)
	res, err := call.Run(context.Background(), src, pgtext.UUID{1}, used)
	if err != nil {
		t.Fatal(err)
	}
	if !src.asked.Flow() || src.asked.Zone.Name() != "America/New_York" {
		t.Errorf("the source was asked %+v", src.asked)
	}
	var bounds, walls []string
	for _, b := range src.asked.Bounds {
		bounds = append(bounds, pgtext.FormatTimestamp(b))
	}
	for _, w := range res.Cols[analytics.ColPerInterval].Ints {
		walls = append(walls, pgtext.FormatTimestamp(w))
	}
	if got, want := strings.Join(bounds, " "), "2024-03-09T05:00:00 2024-03-10T05:00:00 2024-03-11T04:00:00 2024-03-12T04:00:00"; got != want {
		t.Errorf("bounds %s, want %s", got, want)
	}
	if got, want := strings.Join(walls, " "), "2024-03-09T00:00:00 2024-03-10T00:00:00 2024-03-11T00:00:00"; got != want {
		t.Errorf("per_interval %s, want %s", got, want)
	}
	if res.Len != 3 || fmt.Sprint(res.Cols[analytics.ColOpenAtEnd].Ints, res.Cols[analytics.ColClosedInInterval].Ints) != "[0 10 20] [0 3 6]" {
		t.Errorf("flow columns %v", res.Cols)
	}
}

// TestUTCIsNoZone: time_zone "UTC", null and omitted give the same query:
// no zone, the buckets of SPEC section 2, per_interval from the bounds.
// An explicit offset names an instant in any zone.
func TestUTCIsNoZone(t *testing.T) {
	f := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	base := []any{"start_time", "2024-03-09T10:00:00+02:00", "end_time", "2024-03-11", "interval_span", "1 day"}
	var plans []string
	for _, tz := range []any{"UTC", nil, "absent", "utc"} {
		kv := append([]any{}, base...)
		if tz != "absent" {
			kv = append(kv, "time_zone", tz)
		}
		call, err := f.Prepare(args(kv...), analytics.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		q := call.(*analytics.IntervalQuery)
		if q.Zone != nil || q.Walls != nil {
			t.Errorf("time_zone %v: zone %v, walls %v", tz, q.Zone, q.Walls)
		}
		plans = append(plans, fmt.Sprint(q.StartMicros, q.EndMicros, q.Bounds))
	}
	for i := range plans {
		if plans[i] != plans[0] {
			t.Errorf("plans differ: %v", plans)
		}
	}
	call, err := f.Prepare(args(append(base, "time_zone", "Asia/Kolkata")...), analytics.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	q := call.(*analytics.IntervalQuery)
	// 10:00+02:00 is 08:00 UTC whatever the zone; 2024-03-11 is midnight
	// in Kolkata, 18:30 UTC the day before.
	if got := pgtext.FormatTimestamp(q.StartMicros) + " " + pgtext.FormatTimestamp(q.EndMicros); got != "2024-03-09T08:00:00 2024-03-10T18:30:00" {
		t.Errorf("instants %s", got)
	}
	if got := pgtext.FormatTimestamp(q.Walls[0]); got != "2024-03-09T13:30:00" {
		t.Errorf("first per_interval %s", got)
	}
}
