package graphql

import (
	"context"
	"encoding/json"
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

func TestDocumentCache(t *testing.T) {
	e := newExec(t)
	q := `{ __typename }`
	a := e.prepare(q)
	b := e.prepare(q)
	if a != b {
		t.Error("the same query text was prepared twice")
	}
	e.cache.max = 2
	e.prepare("{ a: __typename }")
	e.prepare("{ b: __typename }")
	if n := len(e.cache.entries); n > 2 {
		t.Errorf("cache holds %d entries, limit 2", n)
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
