package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func rec(id string, extra string) string {
	return fmt.Sprintf(`{"account_id":%q,"session_id":%q,"start_time":"2024-01-08T10:00:00"%s}`, acct, id, extra)
}

type ingestCase struct {
	name       string
	headers    map[string]string
	body       []byte
	wantStatus int
}

func ingestCases(t *testing.T) []ingestCase {
	big := strings.Repeat(rec("x", "")+"\n", 1) + `{"session_id":"` + strings.Repeat("y", 300<<10) + `"}`
	return []ingestCase{
		{"bad uuid", nil, []byte(rec("a", `,"desk_id":"not-a-uuid"`)), 400},
		{"unknown field", nil, []byte(rec("a", `,"desk":"x"`)), 400},
		{"end before start", nil, []byte(rec("a", `,"end_time":"2024-01-08T09:00:00"`)), 400},
		{"wrong JSON types", nil, []byte(rec("a", `,"is_test":"yes","brain_version":1.5,"agent_ids":"a","channel":5`)), 400},
		{"over-long session id", nil, []byte(rec(strings.Repeat("s", 300), "")), 400},
		{"missing start and account", nil, []byte(`{"session_id":"a"}`), 400},
		{"bad timestamp", nil, []byte(rec("a", `,"end_time":"tomorrow"`)), 400},
		{"one bad record among good", nil, []byte(rec("a", "") + "\n" + rec("b", `,"channel":null,"agent_ids":[null]`) + "\n" + rec("c", "")), 400},
		{"not JSON", nil, []byte("{\"session_id\": \n"), 400},
		{"array of non-objects", nil, []byte(`[1, "x"]`), 400},
		{"record naming another account", map[string]string{"X-Moveo-Account-Id": "11111111-1111-1111-1111-111111111111"}, []byte(rec("a", "")), 400},
		{"bad gzip", map[string]string{"Content-Encoding": "gzip"}, []byte("not gzip"), 400},
		{"unsupported encoding", map[string]string{"Content-Encoding": "br"}, []byte(rec("a", "")), 415},
		{"oversized body", nil, []byte(big), 413},
		{"oversized after gunzip", map[string]string{"Content-Encoding": "gzip"}, gz(t, []byte(big)), 413},
		{"too many records", nil, []byte(strings.Repeat(rec("r", "")+"\n", 101)), 413},
		{"no credentials", map[string]string{"X-Admin-Secret": ""}, []byte(rec("a", "")), 401},
		{"wrong secret", map[string]string{"X-Admin-Secret": "nope"}, []byte(rec("a", "")), 401},
	}
}

// TestIngestErrors: each bad batch gets its status and a JSON body naming
// what is wrong (pinned in testdata/ingest_errors.golden), and nothing of
// it is written.
func TestIngestErrors(t *testing.T) {
	s := startTallyIngest(t)
	golden := map[string]json.RawMessage{}
	for _, c := range ingestCases(t) {
		t.Run(c.name, func(t *testing.T) {
			h := withHeaders(map[string]string{"Content-Type": "application/x-ndjson", "X-Admin-Secret": "s3cret"}, c.headers)
			code, body := post(t, s.URL+"/v1/sessions", h, c.body)
			if code != c.wantStatus {
				t.Errorf("status %d, want %d: %s", code, c.wantStatus, body)
			}
			var e struct {
				Error    string
				Problems []struct {
					Index  int
					Field  string
					Reason string
				}
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("want a JSON error body: %s", body)
			}
			if code == 400 && strings.Contains(c.name, "among good") && (len(e.Problems) != 1 || e.Problems[0].Index != 1 || e.Problems[0].Field != "agent_ids") {
				t.Errorf("want the one problem of record 1: %s", body)
			}
			golden[c.name] = body
			if n := s.be.Sessions(); n != 0 {
				t.Fatalf("a rejected batch wrote %d sessions", n)
			}
		})
	}
	checkGolden(t, "testdata/ingest_errors.golden", golden)
	if count, err := s.be.Store().Count(t.Context()); err != nil || count != 0 {
		t.Fatalf("store holds %d sessions after rejected batches (%v)", count, err)
	}
	// And the server still takes a good batch.
	code, body := post(t, s.URL+"/v1/sessions", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(rec("a", "")+"\n"+rec("b", `,"end_time":"2024-01-08T11:00:00"`)))
	if code != 200 || string(body) != `{"accepted":2,"ignored":0}` {
		t.Fatalf("good batch: %d %s", code, body)
	}
}

func startTallyIngest(t *testing.T) *tallyServer {
	return startTally(t, harnessOpts{adminSecret: "s3cret", maxIngest: 256 << 10, maxRecords: 100})
}

// TestIngestUpdatedAtRule checks SPEC section 6's rule through HTTP: older
// updated_at is ignored, equal or missing replaces.
func TestIngestUpdatedAtRule(t *testing.T) {
	s := startTally(t, harnessOpts{})
	send := func(body string) string {
		code, b := post(t, s.URL+"/v1/sessions", nil, []byte(body))
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		return string(b)
	}
	count := func() string {
		r := s.query(t, acct, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08"}) { open_sessions closed_sessions } }`, nil)
		return string(r.Data["r"])
	}
	steps := []struct{ body, answer, counts string }{
		{rec("s", `,"updated_at":"2024-01-08T10:05:00"`), `{"accepted":1,"ignored":0}`, `[{"open_sessions":1,"closed_sessions":0}]`},
		{rec("s", `,"end_time":"2024-01-08T11:00:00","updated_at":"2024-01-08T10:00:00"`), `{"accepted":0,"ignored":1}`, `[{"open_sessions":1,"closed_sessions":0}]`},
		{rec("s", `,"end_time":"2024-01-08T11:00:00","updated_at":"2024-01-08T10:05:00"`), `{"accepted":1,"ignored":0}`, `[{"open_sessions":0,"closed_sessions":1}]`},
		{rec("s", ``), `{"accepted":1,"ignored":0}`, `[{"open_sessions":1,"closed_sessions":0}]`},
		{rec("s", `,"end_time":"2024-01-08T11:00:00","updated_at":"2000-01-01"`), `{"accepted":1,"ignored":0}`, `[{"open_sessions":0,"closed_sessions":1}]`},
		// Within one batch, records apply in order.
		{rec("s", `,"updated_at":"2030-01-01"`) + "\n" + rec("s", `,"end_time":"2024-01-08T12:00:00","updated_at":"2029-01-01"`), `{"accepted":1,"ignored":1}`, `[{"open_sessions":1,"closed_sessions":0}]`},
	}
	for i, st := range steps {
		if got := send(st.body); got != st.answer {
			t.Errorf("step %d answered %s, want %s", i, got, st.answer)
		}
		if got := count(); got != st.counts {
			t.Errorf("step %d counts %s, want %s", i, got, st.counts)
		}
	}
	if code, _ := post(t, s.URL+"/v1/sessions", nil, []byte(rec("t", "")+"\n"+`{"session_id":"u"}`)); code != http.StatusBadRequest {
		t.Fatalf("a batch with an invalid record answered %d", code)
	}
	if got := count(); got != steps[len(steps)-1].counts {
		t.Errorf("a rejected batch changed the counts: %s", got)
	}
}
