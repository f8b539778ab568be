package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
)

var caller = Caller{Account: pgtext.NullUUID{UUID: pgtext.UUID{1}, Valid: true}}

func newExec(t testing.TB) *Executor {
	t.Helper()
	e, err := New(Config{Limits: analytics.Limits{MaxBuckets: 100}}, analytics.NewCatalogue(), engine.New(engine.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSchemaLoads(t *testing.T) {
	e := newExec(t)
	for _, name := range []string{QueryRootName, "open_closed_sessions_interval_counts", "open_closed_sessions_interval_counts_v2_args", "_uuid", "_int4", "_text", "interval", "timestamp"} {
		if e.schema.Types[name] == nil {
			t.Errorf("schema lacks %s", name)
		}
	}
	if e.schema.Directives["cached"] == nil {
		t.Error("schema lacks @cached")
	}
}

// TestDocumentCache: documents are kept by query text, bounded by bytes,
// the least recently used going first.
func TestDocumentCache(t *testing.T) {
	e := newExec(t)
	r := &run{ctx: context.Background()}
	q := func(c byte) string { return "{ " + string(c) + ": __typename }" }
	a := e.prepare(r, q('a'))
	if e.prepare(r, q('a')) != a {
		t.Error("the same query text was prepared twice")
	}
	e.cache = newDocCache(4 * a.cost)
	for _, c := range []byte("abcd") {
		e.prepare(r, q(c))
	}
	e.prepare(r, q('a')) // a is now the most recent
	e.prepare(r, q('e')) // b goes
	if got, max := e.cache.bytes(), 4*a.cost; got > max {
		t.Errorf("cache holds %d bytes, limit %d", got, max)
	}
	if e.cache.get(q('b')) != nil || e.cache.get(q('a')) == nil || e.cache.len() != 4 {
		t.Errorf("cache holds %d entries; want 4 with b, the least recently used, gone", e.cache.len())
	}
	big := "{ __typename } # " + strings.Repeat("x", int(a.cost))
	e.prepare(r, big)
	if e.cache.get(big) != nil {
		t.Error("a document costing more than a quarter of the cache was kept")
	}
}

func TestEmptyAccountGivesZeros(t *testing.T) {
	e := newExec(t)
	out := e.ExecuteBody(context.Background(), caller, []byte(`{"query":"{ r: open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-31\", end_time: \"2024-04-30\", interval_span: \"1 mon\"}) { per_interval open_sessions } }"}`)).AppendJSON(nil)
	want := `{"data":{"r":[{"per_interval":"2024-01-31T00:00:00","open_sessions":0},{"per_interval":"2024-02-29T00:00:00","open_sessions":0},{"per_interval":"2024-03-29T00:00:00","open_sessions":0},{"per_interval":"2024-04-29T00:00:00","open_sessions":0}]}}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// FuzzExecuteBody: whatever the body, the answer is valid JSON: data, or
// exactly one error with a code and a path. It never panics.
func FuzzExecuteBody(f *testing.F) {
	for _, s := range []string{
		`{"query":"{ __typename }"}`,
		`[{"query":"{ __typename }"},{"query":"{ x }"}]`,
		`{"query":"query($d: _uuid){ open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-01\", end_time: \"2024-01-03\", desk_ids: $d}) { per_interval open_sessions } }","variables":{"d":"{}"}}`,
		`{"query":"{ __schema { types { name fields { name args { name defaultValue } } } } }"}`,
		`{"query":"fragment F on query_root { ...F } { ...F }"}`,
		`{"query":"{ __type(name: \"query_root\") { fields { name } } }"}`,
		`{"query": 1}`, `nope`, `[]`, `{"query":"{","variables":[]}`,
	} {
		f.Add(s)
	}
	e := newExec(f)
	f.Fuzz(func(t *testing.T, body string) {
		start := time.Now()
		out := e.ExecuteBody(context.Background(), caller, []byte(body)).AppendJSON(nil)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %s", d)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("answer is not JSON: %s", out)
		}
		check := func(o any) {
			m, ok := o.(map[string]any)
			if !ok {
				t.Fatalf("answer is not an object: %s", out)
			}
			if errs, ok := m["errors"].([]any); ok {
				if len(errs) != 1 || m["data"] != nil {
					t.Fatalf("want one error and no data: %s", out)
				}
				ext := errs[0].(map[string]any)["extensions"].(map[string]any)
				if ext["code"] == "" || !strings.HasPrefix(ext["path"].(string), "$") {
					t.Fatalf("bad error: %s", out)
				}
				if ext["code"] == CodeUnexpected {
					t.Fatalf("input caused an unexpected error: %s", out)
				}
			} else if _, ok := m["data"]; !ok {
				t.Fatalf("neither data nor errors: %s", out)
			}
		}
		if arr, ok := v.([]any); ok {
			for _, o := range arr {
				check(o)
			}
		} else {
			check(v)
		}
	})
}

// TestBatch: an array of requests gets an array of answers in order, one
// failing request not failing the others (Hasura's batching), and the
// response value tells which failed.
func TestBatch(t *testing.T) {
	e := loadedExecutor(t)
	body := `[{"query":"{ r: open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}) { open_sessions } }"},
	          {"query":"{ nope }"},
	          {"query":"query($s: timestamp!) { r: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $s}) { closed_sessions } }","variables":{"s":"2024-01-09"}}]`
	resp := e.ExecuteBody(context.Background(), fewAccount, []byte(body))
	want := `[{"data":{"r":[{"open_sessions":1}]}},{"errors":[{"message":"field 'nope' not found in type: 'query_root'","extensions":{"path":"$.selectionSet.nope","code":"validation-failed"}}]},{"data":{"r":[{"closed_sessions":0}]}}]`
	if got := string(resp.AppendJSON(nil)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if errs := resp.Errors(); resp.Len() != 3 || len(errs) != 1 || errs[0].Code != CodeValidationFailed || resp.Result(1).Err != errs[0] {
		t.Errorf("the response value: %d results, errors %v", resp.Len(), errs)
	}
}

// TestIntrospection: introspection needs no account, lists the custom
// scalars, the table and the args input type, with args in the
// function's order.
func TestIntrospection(t *testing.T) {
	e := newExec(t)
	body := `{"query":"{ __schema { queryType { name } types { name kind } directives { name } } __type(name: \"open_closed_sessions_interval_counts_v2_args\") { inputFields { name type { name kind } } } }"}`
	resp := e.ExecuteBody(context.Background(), Caller{}, []byte(body))
	if errs := resp.Errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	var r struct {
		Data struct {
			Schema struct {
				QueryType  struct{ Name string }
				Types      []struct{ Name, Kind string }
				Directives []struct{ Name string }
			} `json:"__schema"`
			Type struct {
				InputFields []struct{ Name string } `json:"inputFields"`
			} `json:"__type"`
		}
	}
	if err := json.Unmarshal(resp.AppendJSON(nil), &r); err != nil {
		t.Fatal(err)
	}
	if r.Data.Schema.QueryType.Name != QueryRootName {
		t.Errorf("queryType %q", r.Data.Schema.QueryType.Name)
	}
	kinds := map[string]string{}
	for _, ty := range r.Data.Schema.Types {
		kinds[ty.Name] = ty.Kind
	}
	for name, kind := range map[string]string{"_uuid": "SCALAR", "_int4": "SCALAR", "_text": "SCALAR", "interval": "SCALAR", "timestamp": "SCALAR",
		"open_closed_sessions_interval_counts": "OBJECT", "open_closed_sessions_interval_counts_v2_args": "INPUT_OBJECT", "query_root": "OBJECT", "order_by": "ENUM"} {
		if kinds[name] != kind {
			t.Errorf("type %s is %q, want %s", name, kinds[name], kind)
		}
	}
	var names, directives []string
	for _, f := range r.Data.Type.InputFields {
		names = append(names, f.Name)
	}
	for _, d := range r.Data.Schema.Directives {
		directives = append(directives, d.Name)
	}
	// Hasura sorts input fields by name (Definition.hs:413-420) and has
	// exactly these directives (Directives.hs:80-94).
	if got := strings.Join(names, ","); got != "agent_ids,brain_parent_ids,brain_versions,channels,desk_ids,end_time,integration_ids,interval_span,is_test,start_time" {
		t.Errorf("args fields %s", got)
	}
	if got := strings.Join(directives, ","); got != "include,skip,cached" {
		t.Errorf("directives %s", got)
	}
}

// TestNoAccountNoData: a query of the function without an account is
// access-denied, not an empty answer.
func TestNoAccountNoData(t *testing.T) {
	got := string(newExec(t).ExecuteBody(context.Background(), Caller{}, []byte(`{"query":"{ r: open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}) { open_sessions } }"}`)).AppendJSON(nil))
	want := `{"errors":[{"message":"no account selected: send the X-Moveo-Account-Id header with the account's UUID (and Authorization: apikey <key>, or X-Admin-Secret)","extensions":{"path":"$","code":"access-denied"}}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestCacheCostEstimate: the cost the cache charges a document covers
// the memory of its syntax tree, measured, for the shapes an attacker
// would send (many variables, fields, values, introspection aliases).
func TestCacheCostEstimate(t *testing.T) {
	e := newExec(t)
	var vars strings.Builder
	vars.WriteString("query(")
	for i := range 20000 {
		fmt.Fprintf(&vars, "$v%d: Int ", i)
	}
	vars.WriteString(") { __typename }")
	for name, q := range map[string]string{
		"variables": vars.String(),
		"fields":    "{" + strings.Repeat(" a: __typename", 20000) + " }",
		"values":    `{ r: f(where: {_or: [` + strings.Repeat("{open_sessions: {_eq: 1}}, ", 5000) + `]}) { x } }`,
		"aliases":   "{" + strings.Repeat(" a: __schema { types { name fields { name } } }", 2000) + " }",
	} {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		p := e.parse(&run{ctx: context.Background()}, q)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		tree := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
		if p.err != nil || tree > p.cost-int64(len(q)) {
			t.Errorf("%s: the tree takes %d bytes, the cache charges %d for it (%v)", name, tree, p.cost-int64(len(q)), p.err)
		}
		runtime.KeepAlive(p)
	}
}
