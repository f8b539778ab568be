package graphql

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
)

func request(query string, vars string, op string) *Request {
	r := &Request{Query: &query, Variables: json.RawMessage(vars)}
	if op != "" {
		r.OperationName = &op
	}
	return r
}

func TestPrepareOperation(t *testing.T) {
	e := newExec(t)
	const sub = `subscription S($s: timestamp!) { __typename r: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: "2024-01-09"}) { open_sessions } a: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: $s, end_time: "2024-01-09"}) { aggregate { count } nodes { open_sessions } } }`
	op, err := e.PrepareOperation(context.Background(), caller, request(sub, `{"s": "2024-01-08"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !op.Subscription() {
		t.Fatal("a subscription is not one")
	}
	got := string(op.Run(context.Background()).AppendJSON(nil))
	want := `{"data":{"__typename":"subscription_root","r":[{"open_sessions":0},{"open_sessions":0}],"a":{"aggregate":{"count":2},"nodes":[{"open_sessions":0},{"open_sessions":0}]}}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Over HTTP the same document is still refused.
	if errs := e.ExecuteBody(context.Background(), caller, []byte(`{"query": "subscription { open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}) { open_sessions } }"}`)).Errors(); len(errs) != 1 || errs[0].Code != CodeUnexpectedPayload {
		t.Fatalf("HTTP: %v", errs)
	}
	// Queries run too, and operationName picks one of several.
	op, err = e.PrepareOperation(context.Background(), caller, request(`query Q { __typename } subscription S { open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-09"}) { open_sessions } }`, "", "Q"))
	if err != nil || op.Subscription() {
		t.Fatalf("query Q: %v", err)
	}
	if got := string(op.Run(context.Background()).AppendJSON(nil)); got != `{"data":{"__typename":"query_root"}}` {
		t.Fatal(got)
	}

	for _, c := range []struct{ name, query, vars, op, code, path string }{
		{"unknown field", `subscription { nope }`, "", "", CodeValidationFailed, "$.selectionSet.nope"},
		{"introspection is on query_root only", `subscription { __schema { queryType { name } } }`, "", "", CodeValidationFailed, "$.selectionSet.__schema"},
		{"missing variable", sub, "", "", CodeValidationFailed, "$"},
		{"variables not an object", sub, `[1]`, "", CodeParseFailed, "$.variables"},
		{"unknown operation", sub, `{"s": "2024-01-08"}`, "T", CodeValidationFailed, "$"},
		{"mutation", `mutation { x }`, "", "", CodeValidationFailed, "$"},
		{"not GraphQL", `subscription {`, "", "", CodeValidationFailed, "$.query"},
	} {
		_, err := e.PrepareOperation(context.Background(), caller, request(c.query, c.vars, c.op))
		if err == nil || err.Code != c.code || err.Path.String() != c.path {
			t.Errorf("%s: %v, want %s at %s", c.name, err, c.code, c.path)
		}
	}
	if _, err := e.PrepareOperation(context.Background(), caller, &Request{}); err == nil || err.Code != CodeParseFailed {
		t.Errorf("no query: %v", err)
	}
}

func TestOperationUntil(t *testing.T) {
	e := newExec(t)
	jan10, _ := pgtext.ParseTimestamp("2024-01-10")
	for _, c := range []struct {
		name, query string
		want        int64
	}{
		// Buckets of Jan 8 and 9: the last ends on Jan 10.
		{"rows", `subscription { open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-09"}) { open_sessions } }`, jan10},
		{"latest of two fields", `subscription { a: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-01-02"}) { open_sessions } b: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: "2024-01-08", end_time: "2024-01-09"}) { aggregate { count } } }`, jan10},
		{"arguments that do not plan", `subscription { open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-09", end_time: "2024-01-08"}) { open_sessions } }`, Unbounded},
		{"no function", `subscription { __typename }`, -1 << 63},
	} {
		op, err := e.PrepareOperation(context.Background(), caller, request(c.query, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		if got := op.Until(); got != c.want {
			t.Errorf("%s: Until %d, want %d", c.name, got, c.want)
		}
	}
}
