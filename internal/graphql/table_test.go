package graphql

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
)

// A catalogue function that is not Tally's, with a table of every column
// type and NULLs: the generated schema and the table arguments must serve
// it with no code of its own, as the next functions of the catalogue will
// be served.

const testFn = "test_values_fn"

// testTable's rows, in the function's order:
//
//	value     sessions first_seen  rank
//	web       5        2024-01-01  1
//	whatsapp  3        NULL        2
//	NULL      7        2024-01-03  NULL
//	voice     3        2024-01-02  3
func testResult() *analytics.Result {
	day := func(d int64) int64 { return 1704067200000000 + (d-1)*pgtext.MicrosPerDay }
	return &analytics.Result{Len: 4, Cols: []analytics.Cells{
		{Texts: []string{"web", "whatsapp", "", "voice"}, Null: []bool{false, false, true, false}},
		{Ints: []int64{5, 3, 7, 3}},
		{Ints: []int64{day(1), 0, day(3), day(2)}, Null: []bool{false, true, false, false}},
		{Ints: []int64{1, 2, 0, 3}, Null: []bool{false, false, true, false}},
	}}
}

type fixedCall struct {
	res  *analytics.Result
	used *analytics.ColumnSet
}

func (c fixedCall) Run(ctx context.Context, src analytics.Source, account pgtext.UUID, used analytics.ColumnSet) (*analytics.Result, error) {
	*c.used = used
	return c.res, nil
}

func testCatalogue(res *analytics.Result, used *analytics.ColumnSet) *analytics.Catalogue {
	table := analytics.Table{Name: "test_values", Columns: []analytics.Column{
		{Name: "value", Type: analytics.Text, Nullable: true},
		{Name: "sessions", Type: analytics.BigInt},
		{Name: "first_seen", Type: analytics.Timestamp, Nullable: true},
		{Name: "rank", Type: analytics.Int, Nullable: true},
	}}
	fn := analytics.NewFunction(testFn, []analytics.Arg{{Name: "dimension", Type: analytics.Text, Required: true}}, table,
		func(args analytics.Args, lim analytics.Limits) (analytics.Call, error) {
			if _, ok := args.Get("dimension").(string); !ok {
				return nil, &analytics.ArgError{Arg: "dimension", Kind: analytics.KindValidation, Reason: "dimension must be a string"}
			}
			return fixedCall{res: res, used: used}, nil
		})
	return &analytics.Catalogue{Functions: []*analytics.Function{analytics.NewCatalogue().Function(analytics.IntervalFunction), fn}}
}

func TestAnyCatalogueTableSchema(t *testing.T) {
	var used analytics.ColumnSet
	sdl := generateSDL(testCatalogue(testResult(), &used))
	for _, want := range []string{
		"scalar bigint\n",
		"input String_comparison_exp {\n  _eq: String\n",
		"input bigint_comparison_exp {\n",
		"type test_values {\n  first_seen: timestamp\n  rank: Int\n  sessions: bigint!\n  value: String\n}",
		"type test_values_avg_fields {\n  rank: Float\n  sessions: Float\n}",
		"type test_values_max_fields {\n  first_seen: timestamp\n  rank: Int\n  sessions: bigint\n  value: String\n}",
		"type test_values_sum_fields {\n  rank: Int\n  sessions: bigint\n}",
		"input test_values_fn_args {\n  dimension: String\n}",
		"  test_values_fn_aggregate(\n",
	} {
		if !strings.Contains(sdl, want) {
			t.Errorf("generated schema lacks %q", want)
		}
	}
	if _, err := New(Config{}, testCatalogue(testResult(), &used), engine.New(engine.Config{})); err != nil {
		t.Fatal(err)
	}
}

func TestAnyCatalogueTableArguments(t *testing.T) {
	var used analytics.ColumnSet
	e, err := New(Config{}, testCatalogue(testResult(), &used), engine.New(engine.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	const args = `args: {dimension: "channel"}`
	cases := []struct {
		name, query string
		vars        string
		want        string
		used        string // columns the call was asked for
	}{
		{"rows in the function's order", `{ r: test_values_fn(` + args + `) { value sessions first_seen rank } }`, ``,
			`{"r":[{"value":"web","sessions":5,"first_seen":"2024-01-01T00:00:00","rank":1},{"value":"whatsapp","sessions":3,"first_seen":null,"rank":2},{"value":null,"sessions":7,"first_seen":"2024-01-03T00:00:00","rank":null},{"value":"voice","sessions":3,"first_seen":"2024-01-02T00:00:00","rank":3}]}`,
			"value sessions first_seen rank"},
		{"only the columns used are asked for", `{ r: test_values_fn(` + args + `, where: {rank: {_gt: 1}}) { value } }`, ``,
			`{"r":[{"value":"whatsapp"},{"value":"voice"}]}`, "value rank"},
		{"is_null", `{ r: test_values_fn(` + args + `, where: {value: {_is_null: true}}) { sessions } }`, ``,
			`{"r":[{"sessions":7}]}`, "value sessions"},
		{"a comparison with NULL is not true", `{ r: test_values_fn(` + args + `, where: {value: {_neq: "web"}}) { value } }`, ``,
			`{"r":[{"value":"whatsapp"},{"value":"voice"}]}`, "value"},
		{"NOT of unknown is unknown", `{ r: test_values_fn(` + args + `, where: {_not: {value: {_eq: "web"}}}) { value } }`, ``,
			`{"r":[{"value":"whatsapp"},{"value":"voice"}]}`, "value"},
		{"OR with unknown", `{ r: test_values_fn(` + args + `, where: {_or: [{value: {_eq: "web"}}, {rank: {_is_null: true}}]}) { sessions } }`, ``,
			`{"r":[{"sessions":5},{"sessions":7}]}`, "value sessions rank"},
		{"_in and _nin on text", `{ r: test_values_fn(` + args + `, where: {value: {_in: ["voice", "web"]}}) { value } s: test_values_fn(` + args + `, where: {value: {_nin: ["voice"]}}) { value } }`, ``,
			`{"r":[{"value":"web"},{"value":"voice"}],"s":[{"value":"web"},{"value":"whatsapp"}]}`, "value"},
		{"bigint comparison", `{ r: test_values_fn(` + args + `, where: {sessions: {_gt: 4}}) { value } }`, ``,
			`{"r":[{"value":"web"},{"value":null}]}`, "value sessions"},
		{"text sorts by bytes, NULLs last ascending", `{ r: test_values_fn(` + args + `, order_by: {value: asc}) { value } }`, ``,
			`{"r":[{"value":"voice"},{"value":"web"},{"value":"whatsapp"},{"value":null}]}`, "value"},
		{"NULLs first descending", `{ r: test_values_fn(` + args + `, order_by: {value: desc}) { value } }`, ``,
			`{"r":[{"value":null},{"value":"whatsapp"},{"value":"web"},{"value":"voice"}]}`, "value"},
		{"explicit nulls placement", `{ r: test_values_fn(` + args + `, order_by: [{first_seen: asc_nulls_first}]) { rank } s: test_values_fn(` + args + `, order_by: [{first_seen: desc_nulls_last}]) { rank } }`, ``,
			`{"r":[{"rank":2},{"rank":1},{"rank":3},{"rank":null}],"s":[{"rank":null},{"rank":3},{"rank":1},{"rank":2}]}`, "first_seen rank"},
		{"distinct_on keeps the first of each", `{ r: test_values_fn(` + args + `, distinct_on: [sessions], order_by: [{sessions: asc}]) { value sessions } }`, ``,
			`{"r":[{"value":"whatsapp","sessions":3},{"value":"web","sessions":5},{"value":null,"sessions":7}]}`, "value sessions"},
		{"aggregates skip NULLs", `{ a: test_values_fn_aggregate(` + args + `) { aggregate { count cv: count(columns: [value]) cd: count(columns: [sessions], distinct: true) all: count(distinct: true)
			sum { sessions rank } avg { rank } max { value first_seen sessions } min { value first_seen } stddev_samp { rank } } } }`, ``,
			`{"a":{"aggregate":{"count":4,"cv":3,"cd":3,"all":4,"sum":{"sessions":18,"rank":6},"avg":{"rank":2},"max":{"value":"whatsapp","first_seen":"2024-01-03T00:00:00","sessions":7},"min":{"value":"voice","first_seen":"2024-01-01T00:00:00"},"stddev_samp":{"rank":1}}}}`,
			"value sessions first_seen rank"},
		{"aggregates of no row are NULL", `{ a: test_values_fn_aggregate(` + args + `, where: {sessions: {_gt: 100}}) { aggregate { count max { value } sum { sessions } } nodes { value } } }`, ``,
			`{"a":{"aggregate":{"count":0,"max":{"value":null},"sum":{"sessions":null}},"nodes":[]}}`, "value sessions"},
		{"wrong kind of value for a text column", `query($w: test_values_bool_exp) { r: test_values_fn(` + args + `, where: $w) { value } }`, `{"w": {"value": {"_eq": 5}}}`,
			`{"errors":[{"message":"expected a string for type 'String', but found a number","extensions":{"path":"$.selectionSet.test_values_fn.args.where.value._eq","code":"validation-failed"}}]}`, ""},
		{"argument errors of any function", `query($d: String) { r: test_values_fn(args: {dimension: $d}) { value } }`, ``,
			`{"errors":[{"message":"dimension must be a string","extensions":{"path":"$.selectionSet.test_values_fn.args.args.dimension","code":"validation-failed"}}]}`, ""},
	}
	names := []string{"value", "sessions", "first_seen", "rank"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			used = 0
			body, _ := json.Marshal(map[string]any{"query": c.query, "variables": json.RawMessage(orNull(c.vars))})
			got := string(e.ExecuteBody(context.Background(), caller, body).AppendJSON(nil))
			if !strings.HasPrefix(c.want, `{"errors"`) {
				c.want = `{"data":` + c.want + `}`
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if c.used != "" {
				var want analytics.ColumnSet
				for _, n := range strings.Fields(c.used) {
					for i, name := range names {
						if name == n {
							want = want.With(i)
						}
					}
				}
				if used != want {
					t.Errorf("the call was asked for columns %b, want %b (%s)", used, want, c.used)
				}
			}
		})
	}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// TestBrokenResultIsUnexpected: a function whose result lacks a column it
// was asked for answers "unexpected", never a crash or a torn body.
func TestBrokenResultIsUnexpected(t *testing.T) {
	var used analytics.ColumnSet
	res := testResult()
	res.Cols[1].Ints = res.Cols[1].Ints[:2] // two sessions values for four rows
	e, err := New(Config{}, testCatalogue(res, &used), engine.New(engine.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"query":"{ r: test_values_fn(args: {dimension: \"x\"}) { sessions } }"}`
	got := string(e.ExecuteBody(context.Background(), caller, []byte(body)).AppendJSON(nil))
	want := `{"errors":[{"message":"unexpected error while executing the query; the server log has details","extensions":{"path":"$","code":"unexpected"}}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
