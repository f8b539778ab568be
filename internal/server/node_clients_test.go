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

// The GraphQL clients people point at Hasura, run by Node against a
// running Tally (clients/node, installed by npm ci from its lock file):
// graphql-request, Apollo Client through HttpLink, BatchHttpLink and
// PersistedQueryLink, and urql. Each runs the SPEC query, a query with a
// fragment and one with an error.

// nodeScripts finds node and the installed clients.
func nodeScripts(t *testing.T) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs("../../clients/node")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@apollo", "client"))
	if err != nil || modErr != nil {
		if os.Getenv("TALLY_REQUIRE_NODE") == "1" {
			t.Fatalf("node and clients/node/node_modules are required (TALLY_REQUIRE_NODE=1): %v %v", err, modErr)
		}
		t.Skip("node or the clients are not installed (npm ci --prefix clients/node)")
	}
	return node, dir
}

// clientAnswer is one operation's outcome as the scripts report it.
type clientAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message, Code, Path string
	} `json:"errors"`
}

// clientRequest is one HTTP exchange a client made.
type clientRequest struct {
	Method, Path    string
	Batch           int
	WithQuery       bool
	HashOnly        bool
	Status          int
	ContentEncoding string
	RequestID       string
}

const (
	wantSpec     = `{"rows":[{"closed_sessions":1,"open_sessions":0,"date":"2024-01-08T00:00:00"},{"closed_sessions":0,"open_sessions":0,"date":"2024-01-09T00:00:00"}]}`
	wantFragment = `{"totals":{"aggregate":{"count":2,"sum":{"open_sessions":2,"closed_sessions":1}}},"rows":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1},{"per_interval":"2024-01-09T00:00:00","open_sessions":1}]}`
)

func clientDocs() map[string]any {
	return map[string]any{
		"spec": map[string]any{"query": web.SpecQuery, "variables": map[string]any{
			"deskIds": "{9566c74d-1003-4c4d-bbbb-0407d1e2c649}", "startDate": "2024-01-08", "endDate": "2024-01-09", "intervalInDays": "1 day"}},
		"fragment": map[string]any{"query": `query F($s: timestamp!, $e: timestamp!) {
  totals: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: $s, end_time: $e}) { ...Totals }
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $e}) { ...Row }
}
fragment Totals on open_closed_sessions_interval_counts_aggregate { aggregate { count sum { open_sessions closed_sessions } } }
fragment Row on open_closed_sessions_interval_counts { per_interval open_sessions }`, "variables": map[string]any{"s": "2024-01-08", "e": "2024-01-09"}},
		"error": map[string]any{"query": `query E($i: interval) { rows: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-09", interval_span: $i}) { per_interval } }`,
			"variables": map[string]any{"i": "1 dya"}},
	}
}

// runClient runs one script against s and decodes what it prints into v.
func runClient(t *testing.T, script string, s *servertest.Server, v any) {
	t.Helper()
	node, dir := nodeScripts(t)
	path := filepath.Join(t.TempDir(), "docs.json")
	if err := os.WriteFile(path, mustJSON(clientDocs()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script), s.URL, acct, path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", script, err, out, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s printed %s: %v", script, out, err)
	}
}

// checkThree checks the SPEC query, the fragment and the error case.
func checkThree(t *testing.T, client string, results map[string]clientAnswer) {
	t.Helper()
	if got := string(servertest.Compact(results["spec"].Data)); got != wantSpec || len(results["spec"].Errors) > 0 {
		t.Errorf("%s, SPEC query: %s %+v\nwant %s", client, got, results["spec"].Errors, wantSpec)
	}
	if got := string(servertest.Compact(results["fragment"].Data)); got != wantFragment || len(results["fragment"].Errors) > 0 {
		t.Errorf("%s, fragments: %s %+v\nwant %s", client, got, results["fragment"].Errors, wantFragment)
	}
	e := results["error"].Errors
	if len(e) != 1 || e[0].Code != "data-exception" || e[0].Path != "$.selectionSet.open_closed_sessions_interval_counts_v2.args.args.interval_span" ||
		!strings.Contains(e[0].Message, `invalid input syntax for type interval: "1 dya"`) {
		t.Errorf("%s, error case: %+v", client, results["error"])
	}
}

func TestGraphQLRequestClient(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.LoadFew(t)
	var out struct {
		Results  map[string]clientAnswer
		Batch    []clientAnswer
		Requests []clientRequest
	}
	runClient(t, "graphql-request.mjs", s, &out)
	checkThree(t, "graphql-request", out.Results)
	batched := false
	for _, r := range out.Requests {
		batched = batched || r.Batch == 3
		if r.Status != 200 || r.RequestID == "" {
			t.Errorf("request %+v", r)
		}
	}
	if !batched || len(out.Batch) != 3 {
		t.Fatalf("batchRequests: %d answers, requests %+v", len(out.Batch), out.Requests)
	}
	checkThree(t, "graphql-request, batched", map[string]clientAnswer{"spec": out.Batch[0], "fragment": out.Batch[1], "error": out.Batch[2]})
}

func TestApolloClient(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.LoadFew(t)
	var out struct {
		Links map[string]struct {
			Results  map[string]clientAnswer
			Requests []clientRequest
		}
	}
	runClient(t, "apollo.mjs", s, &out)
	for _, name := range []string{"http", "batch", "persisted", "persistedGet"} {
		link := out.Links[name]
		checkThree(t, "Apollo "+name, link.Results)
		reqs := link.Requests
		switch name {
		case "batch":
			if len(reqs) != 1 || reqs[0].Batch != 3 {
				t.Errorf("BatchHttpLink sent %+v, want one batch of 3", reqs)
			}
		case "persisted", "persistedGet":
			// The first operation goes by hash, is answered
			// PersistedQueryNotSupported, and the link falls back to
			// full queries for it and every later one.
			hashed, full := 0, 0
			for _, r := range reqs {
				if r.HashOnly && !r.WithQuery {
					hashed++
				}
				if r.WithQuery && r.Method == "POST" {
					full++
				}
			}
			if hashed == 0 || full != 3 {
				t.Errorf("PersistedQueryLink (%s): %d hash-only and %d full requests, want the fallback to full queries: %+v", name, hashed, full, reqs)
			}
			if name == "persistedGet" && reqs[0].Method != "GET" {
				t.Errorf("useGETForHashedQueries sent %+v first", reqs[0])
			}
		}
	}
}

func TestURQLClient(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.LoadFew(t)
	var out struct {
		Results  map[string]clientAnswer
		ByGet    clientAnswer
		Requests []clientRequest
	}
	runClient(t, "urql.mjs", s, &out)
	checkThree(t, "urql", out.Results)
	// urql's default sends queries by GET, which Hasura answers
	// PersistedQueryNotSupported; Hasura's users set preferGetMethod: false.
	if e := out.ByGet.Errors; len(e) != 1 || e[0].Code != "not-supported" || e[0].Message != "PersistedQueryNotSupported" {
		t.Errorf("urql by GET: %+v", out.ByGet)
	}
}
