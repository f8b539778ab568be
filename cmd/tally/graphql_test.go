package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// loadFew stores a handful of sessions on 2024-01-08/09 for acct.
func loadFew(t *testing.T, s *tallyServer) {
	t.Helper()
	body := rec("a", `,"channel":"web","desk_id":"9566c74d-1003-4c4d-bbbb-0407d1e2c649","end_time":"2024-01-08T11:00:00"`) + "\n" +
		rec("b", `,"channel":"whatsapp","agent_ids":["ann"]`) + "\n" +
		strings.Replace(rec("c", `,"is_test":true`), "2024-01-08T10", "2024-01-09T00", 1) + "\n"
	h := map[string]string{}
	if s.secret != "" {
		h["X-Admin-Secret"] = s.secret
	}
	if code, b := post(t, s.URL+"/v1/sessions", h, []byte(body)); code != 200 {
		t.Fatalf("load: %d %s", code, b)
	}
}

func TestGraphQLFeatures(t *testing.T) {
	s := startTally(t, harnessOpts{})
	loadFew(t, s)
	const args = `args: {start_time: "2024-01-08", end_time: "2024-01-09"}`
	cases := []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"aliases and selection order", `{ x: open_closed_sessions_interval_counts_v2(` + args + `) { o: open_sessions d: per_interval closed_sessions } }`, nil,
			`{"x":[{"o":1,"d":"2024-01-08T00:00:00","closed_sessions":1},{"o":1,"d":"2024-01-09T00:00:00","closed_sessions":0}]}`},
		{"typename at both levels", `{ __typename r: open_closed_sessions_interval_counts_v2(` + args + `) { __typename open_sessions } }`, nil,
			`{"__typename":"query_root","r":[{"__typename":"open_closed_sessions_interval_counts","open_sessions":1},{"__typename":"open_closed_sessions_interval_counts","open_sessions":1}]}`},
		{"fragments and inline fragments", `query { r: open_closed_sessions_interval_counts_v2(` + args + `) { ...F ... on open_closed_sessions_interval_counts { closed_sessions } } } fragment F on open_closed_sessions_interval_counts { per_interval open_sessions }`, nil,
			`{"r":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1,"closed_sessions":1},{"per_interval":"2024-01-09T00:00:00","open_sessions":1,"closed_sessions":0}]}`},
		{"skip and include with variables", `query($yes: Boolean!, $no: Boolean = false) { r: open_closed_sessions_interval_counts_v2(` + args + `) { open_sessions @skip(if: $yes) closed_sessions @include(if: $no) per_interval @include(if: $yes) } }`, map[string]any{"yes": true},
			`{"r":[{"per_interval":"2024-01-08T00:00:00"},{"per_interval":"2024-01-09T00:00:00"}]}`},
		{"variable defaults", `query($s: timestamp = "2024-01-09", $i: interval = "1 week") { r: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $s, interval_span: $i}) { open_sessions } }`, nil,
			`{"r":[{"open_sessions":1}]}`},
		{"whole args object as a variable", `query($a: open_closed_sessions_interval_counts_v2_args!) { r: open_closed_sessions_interval_counts_v2(args: $a) { open_sessions } }`, map[string]any{"a": map[string]any{"start_time": "2024-01-08", "end_time": "2024-01-08", "channels": []any{"whatsapp"}}},
			`{"r":[{"open_sessions":1}]}`},
		{"two aliases of the root field", `{ all: open_closed_sessions_interval_counts_v2(` + args + `) { open_sessions } prod: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-09", is_test: false}) { open_sessions } }`, nil,
			`{"all":[{"open_sessions":1},{"open_sessions":1}],"prod":[{"open_sessions":1},{"open_sessions":0}]}`},
		{"order_by, where and distinct_on as variables, key order kept", `query($o: [open_closed_sessions_interval_counts_order_by!], $w: open_closed_sessions_interval_counts_bool_exp, $d: [open_closed_sessions_interval_counts_select_column!]) { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-07", end_time: "2024-01-10"}, order_by: $o, where: $w, distinct_on: $d) { per_interval open_sessions } }`,
			map[string]any{"o": json.RawMessage(`[{"open_sessions": "desc", "per_interval": "desc"}]`), "w": map[string]any{"per_interval": map[string]any{"_lte": "2024-01-09"}}, "d": []any{"open_sessions"}},
			`{"r":[{"per_interval":"2024-01-09T00:00:00","open_sessions":1},{"per_interval":"2024-01-07T00:00:00","open_sessions":0}]}`},
		{"JSON key order of an order_by object is kept", `query($o: [open_closed_sessions_interval_counts_order_by!]) { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-07", end_time: "2024-01-09"}, order_by: $o) { per_interval } }`,
			map[string]any{"o": json.RawMessage(`[{"per_interval": "asc", "open_sessions": "desc"}]`)},
			`{"r":[{"per_interval":"2024-01-07T00:00:00"},{"per_interval":"2024-01-08T00:00:00"},{"per_interval":"2024-01-09T00:00:00"}]}`},
		{"cached directive accepted", `query Q @cached(ttl: 120) { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08", agent_ids: "{ann}"}) { open_sessions } }`, nil,
			`{"r":[{"open_sessions":1}]}`},
		{"empty array matches nothing", `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08", desk_ids: "{}"}) { open_sessions closed_sessions } }`, nil,
			`{"r":[{"open_sessions":0,"closed_sessions":0}]}`},
		{"GraphQL list literal for _uuid", `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08", desk_ids: ["9566C74D-1003-4C4D-BBBB-0407D1E2C649", null]}) { closed_sessions } }`, nil,
			`{"r":[{"closed_sessions":1}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.query(t, acct, c.query, c.vars)
			if len(r.Errors) > 0 {
				t.Fatalf("error: %+v", r.Errors[0])
			}
			got, _ := json.Marshal(r.Data)
			if string(compact(got)) != c.want {
				// Data is a map; re-marshal the raw body to keep key order.
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestGraphQLKeyOrder checks the raw body: keys in selection order, not
// sorted.
func TestGraphQLKeyOrder(t *testing.T) {
	s := startTally(t, harnessOpts{})
	loadFew(t, s)
	body := mustJSON(map[string]any{"query": `{ z: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08"}) { open_sessions closed_sessions a: per_interval } a: __typename }`})
	_, b := post(t, s.URL+"/v1/graphql", map[string]string{"X-Moveo-Account-Id": acct}, body)
	want := `{"data":{"z":[{"open_sessions":1,"closed_sessions":1,"a":"2024-01-08T00:00:00"}],"a":"query_root"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// TestBatch: an array of requests gets an array of answers in order, one
// failing request not failing the others (Hasura's batching).
func TestBatch(t *testing.T) {
	s := startTally(t, harnessOpts{})
	loadFew(t, s)
	body := `[{"query":"{ r: open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-08\"}) { open_sessions } }"},
	          {"query":"{ nope }"},
	          {"query":"query($s: timestamp!) { r: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $s}) { closed_sessions } }","variables":{"s":"2024-01-09"}}]`
	_, b := post(t, s.URL+"/v1/graphql", map[string]string{"X-Moveo-Account-Id": acct}, []byte(body))
	want := `[{"data":{"r":[{"open_sessions":1}]}},{"errors":[{"message":"field 'nope' not found in type: 'query_root'","extensions":{"path":"$.selectionSet.nope","code":"validation-failed"}}]},{"data":{"r":[{"closed_sessions":0}]}}]`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestIntrospection(t *testing.T) {
	s := startTally(t, harnessOpts{adminSecret: "s3cret"})
	// No account needed to introspect, but credentials are.
	r := s.query(t, "", `{ __schema { queryType { name } types { name kind } directives { name } }
	  __type(name: "open_closed_sessions_interval_counts_v2_args") { inputFields { name type { name kind } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("%+v", r.Errors)
	}
	var schema struct {
		Schema struct {
			QueryType struct{ Name string }
			Types     []struct{ Name, Kind string }
		} `json:"__schema"`
		Type struct {
			InputFields []struct{ Name string } `json:"inputFields"`
		} `json:"__type"`
	}
	raw, _ := json.Marshal(r.Data)
	json.Unmarshal(raw, &schema)
	if schema.Schema.QueryType.Name != "query_root" {
		t.Errorf("queryType %q", schema.Schema.QueryType.Name)
	}
	kinds := map[string]string{}
	for _, ty := range schema.Schema.Types {
		kinds[ty.Name] = ty.Kind
	}
	for name, kind := range map[string]string{"_uuid": "SCALAR", "_int4": "SCALAR", "_text": "SCALAR", "interval": "SCALAR", "timestamp": "SCALAR",
		"open_closed_sessions_interval_counts": "OBJECT", "open_closed_sessions_interval_counts_v2_args": "INPUT_OBJECT", "query_root": "OBJECT"} {
		if kinds[name] != kind {
			t.Errorf("type %s is %q, want %s", name, kinds[name], kind)
		}
	}
	var names []string
	for _, f := range schema.Type.InputFields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "start_time,end_time,interval_span,brain_parent_ids,desk_ids,integration_ids,brain_versions,channels,is_test,agent_ids" {
		t.Errorf("args fields %s", got)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	p := startProc(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "warn")
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, b)
	}
	http.Post(p.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(rec("m", "")))
	http.Post(p.URL+"/v1/graphql", "application/json", strings.NewReader(`{"query":"{ nope }"}`))
	resp, err = http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tally_http_requests_total{code="200",route="sessions"} 1`, `tally_graphql_errors_total{code="validation-failed"} 1`, "tally_ingested_sessions_total 1", "tally_sessions 1", "tally_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
