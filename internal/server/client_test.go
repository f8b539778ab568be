package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/web"
)

// nodeClient finds node and the installed graphql package.
func nodeClient(t *testing.T) (string, string) {
	t.Helper()
	dir, _ := filepath.Abs("../../clients/graphql-js")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "graphql"))
	if err != nil || modErr != nil {
		if os.Getenv("TALLY_REQUIRE_NODE") == "1" {
			t.Fatalf("node and clients/graphql-js/node_modules are required (TALLY_REQUIRE_NODE=1): %v %v", err, modErr)
		}
		t.Skip("node or graphql-js not installed (npm ci --prefix clients/graphql-js)")
	}
	return node, filepath.Join(dir, "check.mjs")
}

// TestGraphQLJSClient introspects a running Tally with the standard
// introspection query, rebuilds the schema with graphql-js, and validates
// and runs the SPEC query and one using every table argument and the
// aggregate field through it.
func TestGraphQLJSClient(t *testing.T) {
	node, script := nodeClient(t)
	s := servertest.Start(t, servertest.Options{})
	s.LoadFew(t)
	docs := map[string]any{
		"spec": map[string]any{"query": web.SpecQuery, "variables": map[string]any{
			"deskIds": "{9566c74d-1003-4c4d-bbbb-0407d1e2c649}", "startDate": "2024-01-08", "endDate": "2024-01-09", "intervalInDays": "1 day"}},
		"table": map[string]any{"query": `query T($w: open_closed_sessions_interval_counts_bool_exp) {
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-07", end_time: "2024-01-10"}, where: $w,
    order_by: [{open_sessions: desc}, {per_interval: asc}], distinct_on: [open_sessions], limit: 3, offset: 0) {
    per_interval open_sessions closed_sessions }
  agg: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: "2024-01-07", end_time: "2024-01-10"}, where: {per_interval: {_gte: "2024-01-08"}}) {
    aggregate { count sum { open_sessions closed_sessions } avg { open_sessions } max { per_interval } }
    nodes { per_interval }
  }
}`, "variables": map[string]any{"w": map[string]any{"_or": []any{map[string]any{"open_sessions": map[string]any{"_gt": 0}}, map[string]any{"closed_sessions": map[string]any{"_gt": 0}}}}}},
	}
	path := filepath.Join(t.TempDir(), "docs.json")
	os.WriteFile(path, mustJSON(docs), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, script, s.URL, acct, path).Output()
	if err != nil {
		t.Fatalf("graphql-js: %v: %s", err, out)
	}
	var res struct {
		SDL   string
		Roots map[string][]struct {
			Name, Type, Description string
			Args                    []struct{ Name, Type, Description string }
		}
		Validation map[string][]string
		Results    map[string]json.RawMessage
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, errs := range res.Validation {
		if len(errs) > 0 {
			t.Errorf("graphql-js rejects %s: %v", name, errs)
		}
	}
	for _, root := range []string{"query_root", "subscription_root"} {
		fields := res.Roots[root]
		if len(fields) != 2 || fields[0].Name != "open_closed_sessions_interval_counts_v2" || fields[1].Name != "open_closed_sessions_interval_counts_v2_aggregate" {
			t.Fatalf("%s fields: %+v", root, fields)
		}
		for _, f := range fields {
			var args []string
			for _, a := range f.Args {
				args = append(args, a.Name+": "+a.Type)
			}
			want := "args: open_closed_sessions_interval_counts_v2_args!, distinct_on: [open_closed_sessions_interval_counts_select_column!], limit: Int, offset: Int, order_by: [open_closed_sessions_interval_counts_order_by!], where: open_closed_sessions_interval_counts_bool_exp"
			if got := strings.Join(args, ", "); got != want {
				t.Errorf("%s.%s arguments:\n got %s\nwant %s", root, f.Name, got, want)
			}
		}
		if fields[0].Type != "[open_closed_sessions_interval_counts!]!" || fields[1].Type != "open_closed_sessions_interval_counts_aggregate!" {
			t.Errorf("root field types %s, %s", fields[0].Type, fields[1].Type)
		}
		if fields[0].Description != `execute function "open_closed_sessions_interval_counts_v2" which returns "open_closed_sessions_interval_counts"` {
			t.Errorf("description %q", fields[0].Description)
		}
	}
	for _, want := range []string{"scalar _uuid", "input Int_comparison_exp", "enum order_by", "asc_nulls_first", "type open_closed_sessions_interval_counts_aggregate_fields",
		"count(columns: [open_closed_sessions_interval_counts_select_column!], distinct: Boolean): Int!", "directive @cached(", "type open_closed_sessions_interval_counts_variance_fields"} {
		if !strings.Contains(res.SDL, want) {
			t.Errorf("rebuilt schema lacks %q", want)
		}
	}
	if got := string(servertest.Compact(res.Results["spec"])); got != `{"data":{"rows":[{"closed_sessions":1,"open_sessions":0,"date":"2024-01-08T00:00:00"},{"closed_sessions":0,"open_sessions":0,"date":"2024-01-09T00:00:00"}]}}` {
		t.Errorf("SPEC query through graphql-js: %s", got)
	}
	if got := string(servertest.Compact(res.Results["table"])); got != `{"data":{"rows":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1,"closed_sessions":1}],"agg":{"aggregate":{"count":3,"sum":{"open_sessions":2,"closed_sessions":1},"avg":{"open_sessions":0.6666666666666666},"max":{"per_interval":"2024-01-10T00:00:00"}},"nodes":[{"per_interval":"2024-01-08T00:00:00"},{"per_interval":"2024-01-09T00:00:00"},{"per_interval":"2024-01-10T00:00:00"}]}}}` {
		t.Errorf("table arguments through graphql-js: %s", got)
	}
	if t.Failed() {
		os.WriteFile(filepath.Join(os.TempDir(), "tally-client-sdl.graphql"), []byte(res.SDL), 0o644)
	}
}
