package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/servertest"
)

// Tally's intended differences from Hasura, one case per row of the table
// "Intended differences" in docs/hasura.md (as gqlparser keeps its
// deviations from graphql-js in one file). TestDifferencesAreDocumented
// keeps the table and the cases in step.

type difference struct {
	id   string
	body string
	opts servertest.Options
	// check inspects the decoded answer.
	check func(t *testing.T, r servertest.Response)
}

func wantError(code, path, contains string) func(*testing.T, servertest.Response) {
	return func(t *testing.T, r servertest.Response) {
		t.Helper()
		if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != code || r.Errors[0].Extensions.Path != path || !strings.Contains(r.Errors[0].Message, contains) {
			t.Errorf("got %+v, want %s at %s containing %q", r.Errors, code, path, contains)
		}
	}
}

func wantData(field, want string) func(*testing.T, servertest.Response) {
	return func(t *testing.T, r servertest.Response) {
		t.Helper()
		if len(r.Errors) > 0 || string(servertest.Compact(r.Data[field])) != want {
			t.Errorf("got %s %+v, want %s", r.Data[field], r.Errors, want)
		}
	}
}

var differences = []difference{
	{id: "literal-errors",
		body:  gql(`{ `+fn+`(args: {start_time: "2024-01-08", end_time: "2024-01-09", interval_span: "1 dya"}) { per_interval } }`, nil),
		check: wantError("data-exception", sel+".args.args.interval_span", `argument interval_span: invalid input syntax for type interval: "1 dya": accepted forms are`)},
	{id: "timestamp-zones",
		body:  gql(`{ r: `+fn+`(args: {start_time: "2024-01-08T10:00:00+02:00", end_time: "2024-01-08T10:00:00+02:00", interval_span: "1 hour"}) { per_interval } }`, nil),
		check: wantData("r", `[{"per_interval":"2024-01-08T08:00:00"}]`)},
	{id: "json-arrays",
		body:  gql(`{ r: `+fn+`(args: {start_time: "2024-01-08", end_time: "2024-01-08", channels: ["web"]}) { closed_sessions } }`, nil),
		check: wantData("r", `[{"closed_sessions":1}]`)},
	{id: "body-errors",
		body:  `"x"`,
		check: wantError("parse-failed", "$", `expected an object {"query": "...", "variables": {...}}, but found a JSON string`)},
	{id: "time-limit",
		// The node limit is raised out of the way: on a fast machine the
		// 60 000 fields are counted within the millisecond, and only the
		// time limit should decide.
		opts:  servertest.Options{QueryTimeout: time.Millisecond, GraphQL: graphql.Config{MaxNodes: 1 << 30}},
		body:  gql("{"+strings.Repeat(" a: __typename", 60000)+" }", nil),
		check: wantError("timeout", "$", "(--query-timeout)")},
	{id: "limits",
		body:  gql(aliasQuery(4000, "__schema { types { name } }"), nil),
		check: wantError("validation-failed", "$", "node_limit exceeded: the operation selects 12000 fields once its fragments are expanded; the limit is 10000 (--max-nodes)")},
	{id: "excluded-fields-checked",
		body:  gql(`{ __typename nope @skip(if: true) }`, nil),
		check: wantError("validation-failed", "$.selectionSet.nope", "field 'nope' not found in type: 'query_root'")},
	{id: "introspection-options",
		body: gql(`{ __schema { description } __type(name: "`+fn+`_args") { isOneOf inputFields(includeDeprecated: true) { name isDeprecated } } }`, nil),
		check: func(t *testing.T, r servertest.Response) {
			if len(r.Errors) > 0 || !strings.Contains(string(r.Data["__type"]), `"isOneOf":false`) {
				t.Errorf("got %s %+v", r.Data["__type"], r.Errors)
			}
		}},
	{id: "non-null-default",
		body:  gql(`query($l: Int! = 1) { r: `+fn+`(`+argsOK+`, limit: $l) { per_interval } }`, nil),
		check: wantData("r", `[{"per_interval":"2024-01-08T00:00:00"}]`)},
	{id: "sorted-variable-names",
		body:  gql(`{ __typename }`, map[string]any{"b": 1, "a": 2}),
		check: wantError("validation-failed", "$", "unexpected variables in variableValues: a, b")},
}

func TestIntendedDifferences(t *testing.T) {
	for _, d := range differences {
		t.Run(d.id, func(t *testing.T) {
			s := servertest.Start(t, d.opts)
			s.LoadFew(t)
			code, b := s.Post(t, "/v1/graphql", map[string]string{"Content-Type": "application/json", "X-Moveo-Account-Id": acct}, []byte(d.body))
			var r servertest.Response
			if code != http.StatusOK || json.Unmarshal(b, &r) != nil {
				t.Fatalf("HTTP %d %.300s", code, b)
			}
			d.check(t, r)
		})
	}
}

// TestDifferencesAreDocumented: every row of docs/hasura.md's table of
// intended differences has a case above, and every case a row.
func TestDifferencesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/hasura.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Intended differences")
	if !ok {
		t.Fatal(`docs/hasura.md has no "## Intended differences" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented, tested []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	for _, d := range differences {
		tested = append(tested, d.id)
	}
	slices.Sort(documented)
	slices.Sort(tested)
	if !slices.Equal(documented, tested) {
		t.Errorf("docs/hasura.md lists %v; the tests pin %v", documented, tested)
	}
}
