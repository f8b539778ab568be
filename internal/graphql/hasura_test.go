package graphql

import (
	"context"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// fewAccount holds three sessions (loadedExecutor): a (web, closed) and
// b (whatsapp, agent ann, open) on 2024-01-08 at 10:00, and c (a test
// session, open) on 2024-01-09 at 00:00.
var fewAccount = Caller{Account: pgtext.NullUUID{UUID: pgtext.UUID{0xd2, 0xbe}, Valid: true}}

// loadedExecutor is an executor over an engine holding fewAccount's
// sessions.
func loadedExecutor(t testing.TB) *Executor {
	t.Helper()
	recs, err := ingest.Decode(strings.NewReader(`{"session_id":"a","start_time":"2024-01-08T10:00:00","channel":"web","desk_id":"9566c74d-1003-4c4d-bbbb-0407d1e2c649","end_time":"2024-01-08T11:00:00"}
{"session_id":"b","start_time":"2024-01-08T10:00:00","channel":"whatsapp","agent_ids":["ann"]}
{"session_id":"c","start_time":"2024-01-09T00:00:00","is_test":true}`), fewAccount.Account, ingest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	changes, _, _ := session.Fold(map[session.Key]*session.Record{}, recs)
	ix := engine.New(engine.Config{})
	ix.Apply(changes)
	e, err := New(Config{}, analytics.NewCatalogue(), ix)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Behaviours that Hasura's own test suite (server/tests-py) checks for SQL
// functions, re-expressed against Tally's schema. Each case names the
// Hasura test it mirrors; the expected bodies are Hasura's shapes with
// Tally's function.
func TestHasuraFunctionBehaviours(t *testing.T) {
	e := loadedExecutor(t)
	const fn = "open_closed_sessions_interval_counts_v2"
	cases := []struct {
		name, mirrors string
		body          string
		want          string
	}{
		{"function with arguments", "graphql_query/functions/query_search_posts.yaml",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}) { per_interval open_sessions closed_sessions } }"}`,
			`{"data":{"` + fn + `":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1,"closed_sessions":1},{"per_interval":"2024-01-09T00:00:00","open_sessions":1,"closed_sessions":0}]}}`},
		{"aggregate over the function", "graphql_query/functions/query_search_posts_aggregate.yaml",
			`{"query":"query { ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}) { aggregate { count } } }"}`,
			`{"data":{"` + fn + `_aggregate":{"aggregate":{"count":2}}}}`},
		{"aggregate with where and nodes", "graphql_query/functions/query_search_posts_aggregate.yaml",
			`{"query":"query { ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-11\"}, where: {open_sessions: {_eq: 0}}) { aggregate { count sum { open_sessions } avg { closed_sessions } } nodes { per_interval } } }"}`,
			`{"data":{"` + fn + `_aggregate":{"aggregate":{"count":2,"sum":{"open_sessions":0},"avg":{"closed_sessions":0}},"nodes":[{"per_interval":"2024-01-10T00:00:00"},{"per_interval":"2024-01-11T00:00:00"}]}}}`},
		{"sum and avg of no rows are null, count is 0", "graphql_query/functions/query_search_posts_aggregate.yaml",
			`{"query":"query { ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}, where: {open_sessions: {_gt: 100}}) { aggregate { count sum { open_sessions } avg { open_sessions } max { per_interval } } } }"}`,
			`{"data":{"` + fn + `_aggregate":{"aggregate":{"count":0,"sum":{"open_sessions":null},"avg":{"open_sessions":null},"max":{"per_interval":null}}}}}`},
		{"default argument left out", "graphql_query/functions/query_my_add.yaml (interval_span defaults to 1 day)",
			`{"query":"query { r: ` + fn + `(args: {start_time: \"2024-01-09\", end_time: \"2024-01-09\"}) { open_sessions } }"}`,
			`{"data":{"r":[{"open_sessions":1}]}}`},
		{"args missing", "graphql_query/functions/query_get_users_default_arguments_error.yaml (Tally's args are required as newer Hasura makes them)",
			`{"query":"query { ` + fn + ` { per_interval } }"}`,
			`{"errors":[{"message":"missing required field 'args'","extensions":{"path":"$.selectionSet.` + fn + `.args.args","code":"validation-failed"}}]}`},
		{"unknown key inside args", "graphql_query/functions (field not found in the _args type)",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\", account_id: \"x\"}) { per_interval } }"}`,
			`{"errors":[{"message":"field 'account_id' not found in type: '` + fn + `_args'","extensions":{"path":"$.selectionSet.` + fn + `.args.args.account_id","code":"validation-failed"}}]}`},
		{"variable type mismatch", "graphql_validation/variable_type_mismatch.yaml",
			`{"query":"query($d: String) { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\", desk_ids: $d}) { per_interval } }","variables":{"d":"{}"}}`,
			`{"errors":[{"message":"variable 'd' is declared as 'String', but used where '_uuid' is expected","extensions":{"path":"$.selectionSet.` + fn + `.args.args.desk_ids","code":"validation-failed"}}]}`},
		{"variable type mismatch in a table argument", "graphql_validation/variable_type_mismatch.yaml",
			`{"query":"query($l: String) { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, limit: $l) { per_interval } }","variables":{"l":"1"}}`,
			`{"errors":[{"message":"variable 'l' is declared as 'String', but used where 'Int' is expected","extensions":{"path":"$.selectionSet.` + fn + `.args.limit","code":"validation-failed"}}]}`},
		{"null for a non-null variable", "graphql_validation/null_variable_value_err.yaml",
			`{"query":"query($l: Int!) { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, limit: $l) { per_interval } }","variables":{"l":null}}`,
			`{"errors":[{"message":"null value found for non-nullable type: \"Int!\"","extensions":{"path":"$","code":"validation-failed"}}]}`},
		{"null in a comparison is an error (v2)", "Hasura v2 boolean null semantics",
			`{"query":"query($v: Int) { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, where: {open_sessions: {_eq: $v}}) { per_interval } }","variables":{"v":null}}`,
			`{"errors":[{"message":"unexpected null value for type 'Int'","extensions":{"path":"$.selectionSet.` + fn + `.args.where.open_sessions._eq","code":"validation-failed"}}]}`},
		{"unexpected variables", "graphql_query/basic (unexpected variables in variableValues)",
			`{"query":"query { __typename }","variables":{"a":1}}`,
			`{"errors":[{"message":"unexpected variables in variableValues: a","extensions":{"path":"$","code":"validation-failed"}}]}`},
		{"distinct_on must lead order_by", "graphql_query/basic (distinct_on columns must match initial order_by columns)",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, distinct_on: [open_sessions], order_by: [{per_interval: asc}]) { per_interval } }"}`,
			`{"errors":[{"message":"\"distinct_on\" columns must match initial \"order_by\" columns","extensions":{"path":"$.selectionSet.` + fn + `.args","code":"validation-failed"}}]}`},
		{"unknown column in order_by", "graphql_query/basic (field not found)",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, order_by: {total: asc}) { per_interval } }"}`,
			`{"errors":[{"message":"field 'total' not found in type: '` + "open_closed_sessions_interval_counts" + `_order_by'","extensions":{"path":"$.selectionSet.` + fn + `.args.order_by[0].total","code":"validation-failed"}}]}`},
		{"bad order_by direction", "graphql_query/basic (enum values)",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, order_by: {per_interval: up}) { per_interval } }"}`,
			`{"errors":[{"message":"expected one of the values ['asc', 'asc_nulls_first', 'asc_nulls_last', 'desc', 'desc_nulls_first', 'desc_nulls_last'] for type 'order_by', but found 'up'","extensions":{"path":"$.selectionSet.` + fn + `.args.order_by[0].per_interval","code":"validation-failed"}}]}`},
		{"negative limit", "graphql_query/basic (limit must be non-negative)",
			`{"query":"query { ` + fn + `(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}, limit: -1) { per_interval } }"}`,
			`{"errors":[{"message":"expected a non-negative 32-bit integer for type 'Int', but found an integer","extensions":{"path":"$.selectionSet.` + fn + `.args.limit","code":"validation-failed"}}]}`},
		{"errors on the aggregate field name its path", "Hasura paths use the field name",
			`{"query":"query { a: ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\", interval_span: \"soon\"}) { aggregate { count } } }"}`,
			`{"errors":[{"message":"argument interval_span: invalid input syntax for type interval: \"soon\": accepted forms are quantities with units such as \"1 day\", \"2 weeks\", \"3 hours\", \"15 minutes\", \"1 mon\", \"1 year 2 months\", \"1.5 hours\" (optionally \"@ ... ago\"), a time such as \"02:30:00\", \"1 day 02:00:00\", or ISO 8601 such as \"P1D\", \"PT15M\", \"P1Y2M3DT4H5M6S\"","extensions":{"path":"$.selectionSet.` + fn + `_aggregate.args.args.interval_span","code":"data-exception"}}]}`},
		{"batching", "graphql_query/basic/select_query_batching.yaml",
			`[{"query":"query { a: ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}) { aggregate { count } } }"},{"query":"query { __typename }"}]`,
			`[{"data":{"a":{"aggregate":{"count":1}}}},{"data":{"__typename":"query_root"}}]`},
		{"batching with one error", "graphql_query/basic/select_query_batching_with_one_error.yaml",
			`[{"query":"query { __typename }"},{"query":"query { nope }"}]`,
			`[{"data":{"__typename":"query_root"}},{"errors":[{"message":"field 'nope' not found in type: 'query_root'","extensions":{"path":"$.selectionSet.nope","code":"validation-failed"}}]}]`},
		{"typename on aggregate types", "graphql_query/basic (typename)",
			`{"query":"query { a: ` + fn + `_aggregate(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}) { __typename aggregate { __typename sum { __typename } } } }"}`,
			`{"data":{"a":{"__typename":"open_closed_sessions_interval_counts_aggregate","aggregate":{"__typename":"open_closed_sessions_interval_counts_aggregate_fields","sum":{"__typename":"open_closed_sessions_interval_counts_sum_fields"}}}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.ExecuteBody(context.Background(), fewAccount, []byte(c.body)).AppendJSON(nil)
			if string(b) != c.want {
				t.Errorf("mirrors %s\n got %s\nwant %s", c.mirrors, b, c.want)
			}
		})
	}
}
