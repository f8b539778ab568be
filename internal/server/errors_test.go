package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/servertest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const acct = servertest.Account

var mustJSON = servertest.MustJSON

// q builds a /v1/graphql body for the function with the given args
// literal and variables.
func q(args string, vars map[string]any) []byte {
	return mustJSON(map[string]any{"query": "query Q($a: _uuid, $s: timestamp, $i: interval, $b: Boolean, $n: Int, $t: String) { rows: open_closed_sessions_interval_counts_v2(args: {" + args + "}) { per_interval open_sessions } }", "variables": vars})
}

type errorCase struct {
	name     string
	headers  map[string]string
	body     []byte
	wantCode string
}

var graphqlErrorCases = []errorCase{
	{"malformed array", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", desk_ids: $a`, map[string]any{"a": "d2be0283-9b53-4d7b-b77d-2650f3a1a99c"}), graphql.CodeDataException},
	{"array junk after brace", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", desk_ids: "{}x"`, nil), graphql.CodeDataException},
	{"malformed uuid", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", desk_ids: "{a2wv9283-9b53-4d7b-b77d-2650f3a1a99c}"`, nil), graphql.CodeDataException},
	{"malformed int array", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", brain_versions: "{1,x}"`, nil), graphql.CodeDataException},
	{"malformed interval", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", interval_span: $i`, map[string]any{"i": "1 dya"}), graphql.CodeDataException},
	{"zero interval", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", interval_span: "0 days"`, nil), graphql.CodeDataException},
	{"negative interval", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", interval_span: "-1 day"`, nil), graphql.CodeDataException},
	{"interval that does not advance", nil, q(`start_time: "2023-02-01", end_time: "2023-06-02", interval_span: "1 mon -29 days"`, nil), graphql.CodeDataException},
	{"malformed timestamp", nil, q(`start_time: $s, end_time: "2024-01-02"`, map[string]any{"s": "yesterday"}), graphql.CodeDataException},
	{"impossible date", nil, q(`start_time: "2024-02-30", end_time: "2024-03-02"`, nil), graphql.CodeDataException},
	{"end before start", nil, q(`start_time: "2024-01-10", end_time: "2024-01-02"`, nil), graphql.CodeDataException},
	{"too many buckets", nil, q(`start_time: "2024-01-01", end_time: "2024-12-31", interval_span: "1 minute"`, nil), graphql.CodeDataException},
	{"too many month buckets", nil, q(`start_time: "0001-01-01", end_time: "9999-01-01", interval_span: "1 mon"`, nil), graphql.CodeDataException},
	{"missing start", nil, q(`end_time: "2024-01-02"`, nil), graphql.CodeValidationFailed},
	{"null start", nil, q(`start_time: null, end_time: "2024-01-02"`, nil), graphql.CodeValidationFailed},
	{"number for timestamp", nil, q(`start_time: 20240101, end_time: "2024-01-02"`, nil), graphql.CodeParseFailed},
	{"number for uuid array", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", desk_ids: $a`, map[string]any{"a": 5}), graphql.CodeParseFailed},
	{"object for interval", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", interval_span: $i`, map[string]any{"i": map[string]any{"days": 1}}), graphql.CodeParseFailed},
	{"string for Boolean variable", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", is_test: $b`, map[string]any{"b": "false"}), graphql.CodeValidationFailed},
	{"string for Boolean literal", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", is_test: "false"`, nil), graphql.CodeValidationFailed},
	{"unknown field in args", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02", desk_id: "{}"`, nil), graphql.CodeValidationFailed},
	{"unknown root field", nil, mustJSON(map[string]any{"query": "{ sessions { id } }"}), graphql.CodeValidationFailed},
	{"unknown selected field", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-01-02"}) { per_interval total } }`}), graphql.CodeValidationFailed},
	{"unknown argument", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-01-02"}, account_id: "x") { per_interval } }`}), graphql.CodeValidationFailed},
	{"missing args", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2 { per_interval } }`}), graphql.CodeValidationFailed},
	{"missing selection set", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-01-02"}) }`}), graphql.CodeValidationFailed},
	{"variable type mismatch", nil, q(`start_time: $t, end_time: "2024-01-02"`, map[string]any{"t": "2024-01-01"}), graphql.CodeValidationFailed},
	{"Int variable where timestamp expected", nil, q(`start_time: $n, end_time: "2024-01-02"`, map[string]any{"n": 1}), graphql.CodeValidationFailed},
	{"unexpected variables", nil, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, map[string]any{"zzz": 1, "yyy": 2}), graphql.CodeValidationFailed},
	{"undefined variable", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2(args: {start_time: $x, end_time: "2024-01-02"}) { per_interval } }`}), graphql.CodeValidationFailed},
	{"syntax error", nil, mustJSON(map[string]any{"query": `{ open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01" { per_interval } }`}), graphql.CodeValidationFailed},
	{"mutation", nil, mustJSON(map[string]any{"query": `mutation { delete_sessions }`}), graphql.CodeValidationFailed},
	{"unknown operationName", nil, mustJSON(map[string]any{"query": `query A { __typename }`, "operationName": "B"}), graphql.CodeValidationFailed},
	{"two operations without operationName", nil, mustJSON(map[string]any{"query": `query A { __typename } query B { __typename }`}), graphql.CodeValidationFailed},
	{"body not JSON", nil, []byte(`{"query": "{ __typename }"`), graphql.CodeInvalidJSON},
	{"query not a string", nil, []byte(`{"query": 5}`), graphql.CodeParseFailed},
	{"no query", nil, []byte(`{"variables": {}}`), graphql.CodeParseFailed},
	{"variables not an object", nil, []byte(`{"query": "{ __typename }", "variables": [1]}`), graphql.CodeParseFailed},
	{"empty body", nil, []byte(``), graphql.CodeInvalidJSON},
	{"oversized body", nil, mustJSON(map[string]any{"query": "{ __typename }", "variables": map[string]any{"pad": strings.Repeat("x", 2<<20)}}), graphql.CodeBadRequest},
	{"no account", map[string]string{"X-Moveo-Account-Id": ""}, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, nil), graphql.CodeAccessDenied},
	{"malformed account", map[string]string{"X-Moveo-Account-Id": "42"}, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, nil), graphql.CodeAccessDenied},
	{"no credentials", map[string]string{"X-Admin-Secret": ""}, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, nil), graphql.CodeAccessDenied},
	{"wrong admin secret", map[string]string{"X-Admin-Secret": "guess"}, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, nil), graphql.CodeAccessDenied},
	{"unknown api key", map[string]string{"X-Admin-Secret": "", "Authorization": "apikey tly_nope"}, q(`start_time: "2024-01-01", end_time: "2024-01-02"`, nil), graphql.CodeAccessDenied},
}

// TestGraphQLErrors sends each bad request to a real server with an admin
// secret: every answer is HTTP 200 with exactly one Hasura-shaped error of
// the expected code, the text is pinned in testdata/graphql_errors.golden,
// and the server still answers a good query afterwards.
func TestGraphQLErrors(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	golden := map[string]json.RawMessage{}
	for _, c := range graphqlErrorCases {
		t.Run(c.name, func(t *testing.T) {
			h := servertest.WithHeaders(map[string]string{"Content-Type": "application/json", "X-Admin-Secret": "s3cret", "X-Moveo-Account-Id": acct}, c.headers)
			code, body := s.Post(t, "/v1/graphql", h, c.body)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d, Hasura answers 200: %s", code, body)
			}
			var resp struct {
				Data   json.RawMessage    `json:"data"`
				Errors []servertest.Error `json:"errors"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("not JSON: %s", body)
			}
			if resp.Data != nil || len(resp.Errors) != 1 {
				t.Fatalf("want exactly one error and no data: %s", body)
			}
			e := resp.Errors[0]
			if e.Extensions.Code != c.wantCode {
				t.Errorf("code %q, want %q: %s", e.Extensions.Code, c.wantCode, body)
			}
			if !strings.HasPrefix(e.Extensions.Path, "$") || e.Message == "" {
				t.Errorf("path %q, message %q", e.Extensions.Path, e.Message)
			}
			if !bytes.HasPrefix(body, []byte(`{"errors":[{"message":`)) || !bytes.Contains(body, []byte(`"extensions":{"path":`)) {
				t.Errorf("keys out of Hasura's order: %s", body)
			}
			golden[c.name] = body
		})
	}
	checkGolden(t, "testdata/graphql_errors.golden", golden)
	if r := s.Query(t, acct, `{ __typename }`, nil); len(r.Errors) > 0 {
		t.Fatalf("server stopped answering: %+v", r.Errors)
	}
}

func checkGolden(t *testing.T, path string, got map[string]json.RawMessage) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		var w map[string]json.RawMessage
		json.Unmarshal(want, &w)
		for k, v := range got {
			if !bytes.Equal(normJSON(w[k]), normJSON(v)) {
				t.Errorf("%s: message text changed (it is API; run go test -update if intended)\n got %s\nwant %s", k, v, w[k])
			}
		}
		for k := range w {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: case removed (run go test -update if intended)", k)
			}
		}
	}
}

// normJSON normalises JSON text for comparison: encoding/json's escaping
// and key order, no insignificant blanks.
func normJSON(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	out, _ := json.Marshal(v)
	return out
}
