package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/session"
)

// GET /api/rest/open-closed-sessions (SPEC 9.4) through the real server:
// answers equal to GraphQL's for the same arguments, CSV that reads back
// as the same rows, and errors in GraphQL's shape with HTTP statuses.

const restPath = "/api/rest/open-closed-sessions"

// intervalColumns are the function's columns, in the table's order: what
// REST answers, and what the GraphQL queries these tests compare with
// select.
func intervalColumns() []string {
	var cols []string
	for _, c := range analytics.IntervalTable().Columns {
		cols = append(cols, c.Name)
	}
	return cols
}

// graphqlRows runs the function with args (a GraphQL object literal's
// fields) selecting every column, and returns the answer's data: the
// body REST must answer, byte for byte.
func graphqlRows(t *testing.T, s *servertest.Server, headers map[string]string, args string) []byte {
	t.Helper()
	query := fmt.Sprintf(`{ %s(args: {%s}) { %s } }`, analytics.IntervalFunction, args, strings.Join(intervalColumns(), " "))
	code, body := s.Post(t, "/v1/graphql", servertest.WithHeaders(map[string]string{"Content-Type": "application/json"}, headers), mustJSON(map[string]any{"query": query}))
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); code != http.StatusOK || err != nil || r.Data == nil {
		t.Fatalf("GraphQL with args {%s}: HTTP %d %s", args, code, body)
	}
	return r.Data
}

// graphqlErrorBody runs the function with args and returns the error body.
func graphqlErrorBody(t *testing.T, s *servertest.Server, headers map[string]string, args string) []byte {
	t.Helper()
	query := fmt.Sprintf(`{ %s(args: {%s}) { %s } }`, analytics.IntervalFunction, args, strings.Join(intervalColumns(), " "))
	_, body := s.Post(t, "/v1/graphql", servertest.WithHeaders(map[string]string{"Content-Type": "application/json"}, headers), mustJSON(map[string]any{"query": query}))
	if !bytes.HasPrefix(body, []byte(`{"errors":`)) {
		t.Fatalf("GraphQL with args {%s} did not fail: %s", args, body)
	}
	return body
}

// get sends a GET and returns the status, the headers and the body.
func get(t *testing.T, s *servertest.Server, path string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	return s.Send(t, http.MethodGet, path, headers, nil)
}

// csvAsJSON reads a CSV answer back into the JSON REST answers for the
// same call: the header must name every column in order; numbers and
// timestamps take their JSON forms, an empty field is null.
func csvAsJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	cols := intervalColumns()
	if len(records) == 0 || strings.Join(records[0], ",") != strings.Join(cols, ",") {
		t.Fatalf("CSV header %v, want %v", records, cols)
	}
	table := analytics.IntervalTable()
	rows := []string{}
	for _, rec := range records[1:] {
		var fields []string
		for i, v := range rec {
			var js string
			switch {
			case v == "":
				js = "null"
			case table.Columns[i].Type.Numeric():
				js = v
			default:
				js = string(mustJSON(v))
			}
			fields = append(fields, fmt.Sprintf("%q:%s", cols[i], js))
		}
		rows = append(rows, "{"+strings.Join(fields, ",")+"}")
	}
	return []byte(fmt.Sprintf(`{%q:[%s]}`, analytics.IntervalFunction, strings.Join(rows, ",")))
}

// TestRESTAnswersAsGraphQL: each call's JSON is the data GraphQL answers
// for the same arguments, byte for byte, and its CSV (by format=csv and by
// Accept: text/csv) reads back as the same rows.
func TestRESTAnswersAsGraphQL(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.LoadFew(t)
	s.Ingest(t, servertest.Record("d", `,"channel":"a,b \"quoted\"","brain_version":2,"integration_id":"6694d2c4-22ac-4208-a007-2939487f6999","brain_parent_id":"eb9d18a4-4784-445d-87f3-c67cf22746e9","agent_ids":["bob","ann"],"end_time":"2024-01-09T03:00:00"`)+"\n")
	own := map[string]string{"X-Moveo-Account-Id": acct}
	const desk = "9566c74d-1003-4c4d-bbbb-0407d1e2c649"
	cases := []struct {
		name    string
		query   string // the query string
		graphql string // the same arguments as a GraphQL literal
		headers map[string]string
	}{
		{"range only", "start_time=2024-01-08&end_time=2024-01-10", `start_time: "2024-01-08", end_time: "2024-01-10"`, own},
		{"hours", "start_time=2024-01-08T06:00:00&end_time=2024-01-09T06:00&interval_span=6+hours", `start_time: "2024-01-08T06:00:00", end_time: "2024-01-09T06:00", interval_span: "6 hours"`, own},
		{"desk as literal", "start_time=2024-01-08&end_time=2024-01-10&desk_ids=%7B" + desk + "%7D", `start_time: "2024-01-08", end_time: "2024-01-10", desk_ids: "{` + desk + `}"`, own},
		{"desks repeated", "start_time=2024-01-08&end_time=2024-01-10&desk_ids=" + desk + "&desk_ids=81855ad8-681d-4d86-91e9-1e00167939cb", `start_time: "2024-01-08", end_time: "2024-01-10", desk_ids: "{` + desk + `,81855ad8-681d-4d86-91e9-1e00167939cb}"`, own},
		{"one desk, not a literal", "start_time=2024-01-08&end_time=2024-01-10&desk_ids=" + desk, `start_time: "2024-01-08", end_time: "2024-01-10", desk_ids: "{` + desk + `}"`, own},
		{"channel with a comma and quotes, repeated", "start_time=2024-01-08&end_time=2024-01-10&channels=" + url.QueryEscape(`a,b "quoted"`) + "&channels=web", `start_time: "2024-01-08", end_time: "2024-01-10", channels: "{\"a,b \\\"quoted\\\"\",web}"`, own},
		{"channels as literal", "start_time=2024-01-08&end_time=2024-01-10&channels=" + url.QueryEscape(`{whatsapp,"a,b \"quoted\""}`), `start_time: "2024-01-08", end_time: "2024-01-10", channels: "{whatsapp,\"a,b \\\"quoted\\\"\"}"`, own},
		{"empty array literal", "start_time=2024-01-08&end_time=2024-01-10&agent_ids=%7B%7D", `start_time: "2024-01-08", end_time: "2024-01-10", agent_ids: "{}"`, own},
		{"agents repeated", "start_time=2024-01-08&end_time=2024-01-10&agent_ids=ann&agent_ids=carl", `start_time: "2024-01-08", end_time: "2024-01-10", agent_ids: "{ann,carl}"`, own},
		{"versions, integrations, AI agents", "start_time=2024-01-08&end_time=2024-01-10&brain_versions=2&brain_versions=7&integration_ids=6694d2c4-22ac-4208-a007-2939487f6999&brain_parent_ids=%7Beb9d18a4-4784-445d-87f3-c67cf22746e9%7D", `start_time: "2024-01-08", end_time: "2024-01-10", brain_versions: "{2,7}", integration_ids: "{6694d2c4-22ac-4208-a007-2939487f6999}", brain_parent_ids: "{eb9d18a4-4784-445d-87f3-c67cf22746e9}"`, own},
		{"test sessions only", "start_time=2024-01-08&end_time=2024-01-10&is_test=true", `start_time: "2024-01-08", end_time: "2024-01-10", is_test: true`, own},
		{"production only", "is_test=false&end_time=2024-01-10&start_time=2024-01-08", `start_time: "2024-01-08", end_time: "2024-01-10", is_test: false`, own},
		{"months", "start_time=2023-11-15&end_time=2024-03-01&interval_span=1+mon", `start_time: "2023-11-15", end_time: "2024-03-01", interval_span: "1 mon"`, own},
		{"another account", "start_time=2024-01-08&end_time=2024-01-10", `start_time: "2024-01-08", end_time: "2024-01-10"`, map[string]string{"X-Moveo-Account-Id": "81855ad8-681d-4d86-91e9-1e00167939cb"}},
	}
	if analytics.NewCatalogue().Function(analytics.IntervalFunction).Arg("time_zone") != nil {
		cases = append(cases, struct {
			name, query, graphql string
			headers              map[string]string
		}{"time zone", "start_time=2024-01-08&end_time=2024-01-10&time_zone=Asia%2FKolkata", `start_time: "2024-01-08", end_time: "2024-01-10", time_zone: "Asia/Kolkata"`, own})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := graphqlRows(t, s, c.headers, c.graphql)
			code, h, body := get(t, s, restPath+"?"+c.query, c.headers)
			if code != http.StatusOK || h.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("HTTP %d %s: %s", code, h.Get("Content-Type"), body)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("REST answered\n%s\nGraphQL\n%s", body, want)
			}
			if !bytes.Contains(want, []byte(`"per_interval"`)) {
				t.Errorf("no rows to compare: %s", want)
			}
			for _, how := range []struct {
				query   string
				headers map[string]string
			}{
				{c.query + "&format=csv", c.headers},
				{c.query, servertest.WithHeaders(c.headers, map[string]string{"Accept": "text/csv"})},
			} {
				code, h, csvBody := get(t, s, restPath+"?"+how.query, how.headers)
				if code != http.StatusOK || h.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
					t.Fatalf("CSV: HTTP %d %s: %s", code, h.Get("Content-Type"), csvBody)
				}
				if got := csvAsJSON(t, csvBody); !bytes.Equal(got, want) {
					t.Errorf("CSV reads back as\n%s\nGraphQL answered\n%s\nCSV:\n%s", got, want, csvBody)
				}
			}
		})
	}
}

// TestRESTChoosesCSV: format wins over Accept; Accept chooses CSV only
// when it prefers text/csv to JSON.
func TestRESTChoosesCSV(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	own := map[string]string{"X-Moveo-Account-Id": acct}
	const args = "?start_time=2024-01-08&end_time=2024-01-09"
	cases := []struct {
		query, accept string
		csv           bool
	}{
		{"", "", false},
		{"", "*/*", false},
		{"", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"", "text/csv", true},
		{"", "text/csv;q=0.5, application/json", false},
		{"", "application/json;q=0.5, text/csv", true},
		{"", "application/json, text/csv", false},
		{"", "text/csv, application/json", true},
		{"", "text/csv;q=0", false},
		{"&format=csv", "application/json", true},
		{"&format=json", "text/csv", false},
	}
	for _, c := range cases {
		code, h, body := get(t, s, restPath+args+c.query, servertest.WithHeaders(own, map[string]string{"Accept": c.accept}))
		isCSV := strings.HasPrefix(h.Get("Content-Type"), "text/csv")
		if code != http.StatusOK || isCSV != c.csv || h.Get("Vary") != "Accept" {
			t.Errorf("%q with Accept %q: HTTP %d %s (Vary %q), want CSV %v: %s", c.query, c.accept, code, h.Get("Content-Type"), h.Get("Vary"), c.csv, body)
		}
	}
}

// TestRESTErrors: each bad request gets its status and one error in
// GraphQL's shape, the text pinned in testdata/rest_errors.golden; an
// argument's error is the very body GraphQL answers for the same argument.
func TestRESTErrors(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	admin := map[string]string{"X-Admin-Secret": "s3cret", "X-Moveo-Account-Id": acct}
	reader := s.CreateKey(t, acct, "read")
	writer := s.CreateKey(t, acct, "write")
	const other = "81855ad8-681d-4d86-91e9-1e00167939cb"
	const ok = "start_time=2024-01-08&end_time=2024-01-10"
	cases := []struct {
		name    string
		query   string
		headers map[string]string // over admin's; "" removes one
		status  int
		code    string
		graphql string // when set, GraphQL must answer the same body for these args
	}{
		{"missing start_time", "end_time=2024-01-02", nil, 400, graphql.CodeValidationFailed, `end_time: "2024-01-02"`},
		{"malformed timestamp", "start_time=yesterday&end_time=2024-01-02", nil, 400, graphql.CodeDataException, `start_time: "yesterday", end_time: "2024-01-02"`},
		{"empty timestamp", "start_time=&end_time=2024-01-02", nil, 400, graphql.CodeDataException, `start_time: "", end_time: "2024-01-02"`},
		{"impossible date", "start_time=2024-02-30&end_time=2024-03-02", nil, 400, graphql.CodeDataException, `start_time: "2024-02-30", end_time: "2024-03-02"`},
		{"end before start", "start_time=2024-01-10&end_time=2024-01-02", nil, 400, graphql.CodeDataException, `start_time: "2024-01-10", end_time: "2024-01-02"`},
		{"malformed interval", ok + "&interval_span=1+dya", nil, 400, graphql.CodeDataException, `start_time: "2024-01-08", end_time: "2024-01-10", interval_span: "1 dya"`},
		{"too many buckets", "start_time=2024-01-01&end_time=2024-12-31&interval_span=1+minute", nil, 400, graphql.CodeDataException, `start_time: "2024-01-01", end_time: "2024-12-31", interval_span: "1 minute"`},
		{"malformed array literal", ok + "&desk_ids=%7Bnot-a-uuid%7D", nil, 400, graphql.CodeDataException, `start_time: "2024-01-08", end_time: "2024-01-10", desk_ids: "{not-a-uuid}"`},
		{"array literal with junk", ok + "&channels=%7Bweb%7Dx", nil, 400, graphql.CodeDataException, `start_time: "2024-01-08", end_time: "2024-01-10", channels: "{web}x"`},
		{"bad uuid among repeated", ok + "&desk_ids=9566c74d-1003-4c4d-bbbb-0407d1e2c649&desk_ids=nope", nil, 400, graphql.CodeDataException, `start_time: "2024-01-08", end_time: "2024-01-10", desk_ids: "{9566c74d-1003-4c4d-bbbb-0407d1e2c649,nope}"`},
		{"bad version", ok + "&brain_versions=1&brain_versions=x", nil, 400, graphql.CodeDataException, `start_time: "2024-01-08", end_time: "2024-01-10", brain_versions: "{1,x}"`},
		{"is_test neither true nor false", ok + "&is_test=yes", nil, 400, graphql.CodeValidationFailed, ""},
		{"start_time twice", ok + "&start_time=2024-01-09", nil, 400, graphql.CodeValidationFailed, ""},
		{"an unknown parameter", ok + "&desk_id=x", nil, 400, graphql.CodeValidationFailed, ""},
		{"unknown parameters", ok + "&limit=1&where=x&format=csv", nil, 400, graphql.CodeValidationFailed, ""},
		{"unknown format", ok + "&format=xml", nil, 400, graphql.CodeValidationFailed, ""},
		{"format twice", ok + "&format=csv&format=json", nil, 400, graphql.CodeValidationFailed, ""},
		{"unreadable query string", ok + "&desk_ids=%zz", nil, 400, graphql.CodeBadRequest, ""},
		{"no account", ok, map[string]string{"X-Moveo-Account-Id": ""}, 400, graphql.CodeAccessDenied, ""},
		{"malformed account", ok, map[string]string{"X-Moveo-Account-Id": "42"}, 401, graphql.CodeAccessDenied, ""},
		{"no credentials", ok, map[string]string{"X-Admin-Secret": ""}, 401, graphql.CodeAccessDenied, ""},
		{"wrong admin secret", ok, map[string]string{"X-Admin-Secret": "guess"}, 401, graphql.CodeAccessDenied, ""},
		{"unknown api key", ok, map[string]string{"X-Admin-Secret": "", "Authorization": "apikey tly_nope"}, 401, graphql.CodeAccessDenied, ""},
		{"key of another account", ok, map[string]string{"X-Admin-Secret": "", "Authorization": "apikey " + reader.Key, "X-Moveo-Account-Id": other}, 403, graphql.CodeAccessDenied, ""},
		{"key without the read scope", ok, map[string]string{"X-Admin-Secret": "", "Authorization": "apikey " + writer.Key}, 403, graphql.CodeAccessDenied, ""},
		{"key without an account header", ok, map[string]string{"X-Admin-Secret": "", "Authorization": "apikey " + reader.Key, "X-Moveo-Account-Id": ""}, 403, graphql.CodeAccessDenied, ""},
	}
	golden := map[string]json.RawMessage{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := servertest.WithHeaders(admin, c.headers)
			for _, accept := range []string{"application/json", "text/csv"} {
				code, hdr, body := get(t, s, restPath+"?"+c.query, servertest.WithHeaders(h, map[string]string{"Accept": accept}))
				if code != c.status || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Fatalf("Accept %s: HTTP %d %s, want %d JSON: %s", accept, code, hdr.Get("Content-Type"), c.status, body)
				}
				var resp struct {
					Data   json.RawMessage    `json:"data"`
					Errors []servertest.Error `json:"errors"`
				}
				if err := json.Unmarshal(body, &resp); err != nil || resp.Data != nil || len(resp.Errors) != 1 {
					t.Fatalf("want one error and no data: %s", body)
				}
				if e := resp.Errors[0]; e.Extensions.Code != c.code || e.Message == "" {
					t.Errorf("code %q, want %q: %s", e.Extensions.Code, c.code, body)
				}
				if c.graphql != "" {
					if want := graphqlErrorBody(t, s, h, c.graphql); !bytes.Equal(body, want) {
						t.Errorf("REST answered\n%s\nGraphQL\n%s", body, want)
					}
				}
				golden[c.name] = body
			}
		})
	}
	checkGolden(t, "testdata/rest_errors.golden", golden)

	// What each error names, beyond the golden file's exact text.
	_, _, body := get(t, s, restPath+"?"+ok+"&limit=1&where=x", admin)
	if !strings.Contains(string(body), "limit, where") || !strings.Contains(string(body), "start_time, end_time") {
		t.Errorf("unknown parameters not named, or the known ones not listed: %s", body)
	}
	_, _, body = get(t, s, restPath+"?"+ok+"&is_test=yes", admin)
	if !strings.Contains(string(body), "is_test") || !strings.Contains(string(body), "args.is_test") {
		t.Errorf("is_test not named: %s", body)
	}
	// Good credentials of every kind still read.
	for _, h := range []map[string]string{admin, {"Authorization": "apikey " + reader.Key, "X-Moveo-Account-Id": acct}} {
		if code, _, body := get(t, s, restPath+"?"+ok, h); code != http.StatusOK {
			t.Errorf("good credentials refused: HTTP %d %s", code, body)
		}
	}
	if code, _, _ := get(t, s, restPath+"?"+ok, nil); code != http.StatusUnauthorized {
		t.Errorf("no headers: HTTP %d", code)
	}
	code, _ := s.Do(t, http.MethodPost, restPath+"?"+ok, admin, nil)
	if code != http.StatusMethodNotAllowed {
		t.Errorf("POST: HTTP %d, want 405", code)
	}
}

// TestRESTFaults: failures below the arguments, injected at the Source
// and the call, checked at HTTP: 503 with Retry-After for a failure that
// may pass, 503 for the time limit, 500 otherwise, no internal detail.
func TestRESTFaults(t *testing.T) {
	fn := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	broken := analytics.NewFunction(fn.Name, fn.Args, fn.Table,
		func(analytics.Args, analytics.Limits) (analytics.Call, error) { return brokenCall{}, nil })
	cases := []struct {
		name       string
		src        analytics.Source
		cat        *analytics.Catalogue
		status     int
		retryAfter bool
		code       string
	}{
		{"database unreachable", failingSource{fmt.Errorf("count: %w: dial tcp: connection refused", session.ErrUnavailable)}, nil, 503, true, graphql.CodeUnexpected},
		{"temporary failure", failingSource{fmt.Errorf("count: %w: lock timeout", session.ErrTemporary)}, nil, 503, true, graphql.CodeUnexpected},
		{"too many heavy queries", failingSource{&analytics.BusyError{Cost: analytics.Cost{Buckets: 8784, Rows: -1}, Running: 1, MaxQueued: 64}}, nil, 503, true, graphql.CodeDataException},
		{"engine error", failingSource{errors.New("index corrupt: row 7 out of order")}, nil, 500, false, graphql.CodeUnexpected},
		{"query timeout", failingSource{}, nil, 503, false, graphql.CodeTimeout},
		{"a result without its rows", failingSource{}, &analytics.Catalogue{Functions: []*analytics.Function{broken}}, 500, false, graphql.CodeUnexpected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cat := c.cat
			if cat == nil {
				cat = analytics.NewCatalogue()
			}
			exec, err := graphql.New(graphql.Config{}, cat, c.src)
			if err != nil {
				t.Fatal(err)
			}
			authn := auth.New(auth.Config{})
			t.Cleanup(authn.Close)
			srv := server.New(server.Config{QueryTimeout: 50 * time.Millisecond, REST: server.RESTConfig{Catalogue: cat, Source: c.src}}, exec, authn, failingStore{})
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			code, h, body := get(t, &servertest.Server{URL: hs.URL}, restPath+"?start_time=2024-01-08&end_time=2024-01-10", map[string]string{"X-Moveo-Account-Id": acct})
			var resp struct{ Errors []servertest.Error }
			json.Unmarshal(body, &resp)
			if code != c.status || len(resp.Errors) != 1 || resp.Errors[0].Extensions.Code != c.code {
				t.Errorf("HTTP %d %s, want %d with code %s", code, body, c.status, c.code)
			}
			if (h.Get("Retry-After") != "") != c.retryAfter {
				t.Errorf("Retry-After %q, want one: %v", h.Get("Retry-After"), c.retryAfter)
			}
			if strings.Contains(string(body), "corrupt") || strings.Contains(string(body), "dial tcp") || strings.Contains(string(body), "lock timeout") {
				t.Errorf("internal details reached the client: %s", body)
			}
		})
	}
}

// TestRESTOnlyWithASource: a server given no Source has no REST routes.
func TestRESTOnlyWithASource(t *testing.T) {
	exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), failingSource{})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Config{})
	t.Cleanup(authn.Close)
	hs := httptest.NewServer(server.New(server.Config{}, exec, authn, failingStore{}).Handler())
	t.Cleanup(hs.Close)
	code, _, _ := get(t, &servertest.Server{URL: hs.URL}, restPath+"?start_time=2024-01-08&end_time=2024-01-10", map[string]string{"X-Moveo-Account-Id": acct})
	if code != http.StatusNotFound {
		t.Errorf("HTTP %d, want 404", code)
	}
}

// fixedCall answers a fixed result, whatever it is asked.
type fixedCall struct{ res *analytics.Result }

func (c fixedCall) Run(ctx context.Context, src analytics.Source, account pgtext.UUID, used analytics.ColumnSet) (*analytics.Result, error) {
	return c.res, nil
}

// TestRESTAnyTable: REST writes any catalogue table as GraphQL does —
// text that needs escaping or CSV quoting, NULLs, bigints — so that a
// second function needs only its route.
func TestRESTAnyTable(t *testing.T) {
	table := analytics.Table{Name: "things", Columns: []analytics.Column{
		{Name: "at", Type: analytics.Timestamp, Nullable: true},
		{Name: "label", Type: analytics.Text, Nullable: true},
		{Name: "big", Type: analytics.BigInt, Nullable: true},
	}}
	texts := []string{`a,b "quoted"`, "<tag> & ümlaut\nline", "", "=1+2"}
	res := &analytics.Result{Len: 4, Cols: []analytics.Cells{
		{Ints: []int64{0, 1704672000000000, 1704672000500000, 0}, Null: []bool{true, false, false, false}},
		{Texts: texts, Null: []bool{false, false, true, false}},
		{Ints: []int64{1 << 40, -7, 0, 3}, Null: []bool{false, false, false, true}},
	}}
	fn := analytics.NewFunction(analytics.IntervalFunction, []analytics.Arg{{Name: "n", Type: analytics.Int}, {Name: "flag", Type: analytics.Boolean}}, table,
		func(args analytics.Args, lim analytics.Limits) (analytics.Call, error) {
			if v := args.Get("n"); v != nil && v != json.Number("5") {
				return nil, &analytics.ArgError{Arg: "n", Kind: analytics.KindData, Reason: fmt.Sprintf("n must be 5, not %v", v)}
			}
			return fixedCall{res}, nil
		})
	cat := &analytics.Catalogue{Functions: []*analytics.Function{fn}}
	exec, err := graphql.New(graphql.Config{}, cat, failingSource{})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Config{})
	t.Cleanup(authn.Close)
	hs := httptest.NewServer(server.New(server.Config{REST: server.RESTConfig{Catalogue: cat, Source: failingSource{}}}, exec, authn, failingStore{}).Handler())
	t.Cleanup(hs.Close)
	s := &servertest.Server{URL: hs.URL}
	own := map[string]string{"X-Moveo-Account-Id": acct, "Content-Type": "application/json"}

	_, gql := s.Post(t, "/v1/graphql", own, mustJSON(map[string]any{"query": fmt.Sprintf(`{ %s(args: {n: 5}) { at label big } }`, analytics.IntervalFunction)}))
	var want struct{ Data json.RawMessage }
	if err := json.Unmarshal(gql, &want); err != nil || want.Data == nil {
		t.Fatalf("GraphQL: %s", gql)
	}
	code, _, body := get(t, s, restPath+"?n=5&flag=true", own)
	if code != http.StatusOK || !bytes.Equal(body, want.Data) {
		t.Errorf("REST HTTP %d\n%s\nGraphQL\n%s", code, body, want.Data)
	}

	code, _, body = get(t, s, restPath+"?n=5&format=csv", own)
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != http.StatusOK || err != nil {
		t.Fatalf("CSV HTTP %d %v\n%s", code, err, body)
	}
	wantCSV := [][]string{
		{"at", "label", "big"},
		{"", texts[0], "1099511627776"},
		{"2024-01-08T00:00:00", texts[1], "-7"},
		{"2024-01-08T00:00:00.5", "", "0"},
		{"1970-01-01T00:00:00", texts[3], ""},
	}
	if fmt.Sprint(records) != fmt.Sprint(wantCSV) {
		t.Errorf("CSV reads back as\n%q\nwant\n%q\n%s", records, wantCSV, body)
	}

	// An Int parameter is a JSON number to the function; its error names it.
	code, _, body = get(t, s, restPath+"?n=6", own)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"message":"n must be 5, not 6"`) || !strings.Contains(string(body), "args.args.n") {
		t.Errorf("n=6: HTTP %d %s", code, body)
	}
}
