package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

var rec = servertest.Record

// rawRec is a record line whose session_id is written as given, bytes and
// escapes alike.
func rawRec(id string) string {
	return `{"account_id":"` + servertest.Account + `","session_id":"` + id + `","start_time":"2024-01-08T10:00:00"}` + "\n"
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
		{"oversized after gunzip", map[string]string{"Content-Encoding": "gzip"}, servertest.Gzip([]byte(big)), 413},
		{"too many records", nil, []byte(strings.Repeat(rec("r", "")+"\n", 101)), 413},
		// Issue 9, finding 10: five ids that differ only in invalid bytes
		// were accepted and merged into one stored session.
		{"invalid UTF-8 in session ids", nil, []byte(rawRec("s\xff") + rawRec("s\xfe") + rawRec("s\xc3") + rawRec("s\xed\xa0\x80") + rawRec("s\xc0\xaf")), 400},
		{"NUL and a lone surrogate", nil, []byte(rec("a", `,"channel":"w\u0000b"`) + "\n" + rawRec(`b\udc80`)), 400},
		{"no credentials", map[string]string{"X-Admin-Secret": ""}, []byte(rec("a", "")), 401},
		{"wrong secret", map[string]string{"X-Admin-Secret": "nope"}, []byte(rec("a", "")), 401},
	}
}

// TestIngestErrors: each bad batch gets its status and a JSON body naming
// what is wrong (pinned in testdata/ingest_errors.golden), and nothing of
// it is written.
func TestIngestErrors(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", MaxIngest: 256 << 10, MaxRecords: 100})
	golden := map[string]json.RawMessage{}
	for _, c := range ingestCases(t) {
		t.Run(c.name, func(t *testing.T) {
			h := servertest.WithHeaders(map[string]string{"Content-Type": "application/x-ndjson", "X-Admin-Secret": "s3cret"}, c.headers)
			code, body := s.Post(t, "/v1/sessions", h, c.body)
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
			if n := s.Embedded.Sessions(); n != 0 {
				t.Fatalf("a rejected batch wrote %d sessions", n)
			}
		})
	}
	checkGolden(t, "testdata/ingest_errors.golden", golden)
	if count, err := s.Embedded.Store().Count(t.Context()); err != nil || count != 0 {
		t.Fatalf("store holds %d sessions after rejected batches (%v)", count, err)
	}
	// And the server still takes a good batch.
	code, body := s.Post(t, "/v1/sessions", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(rec("a", "")+"\n"+rec("b", `,"end_time":"2024-01-08T11:00:00"`)))
	if code != 200 || string(body) != `{"accepted":2,"ignored":0}` {
		t.Fatalf("good batch: %d %s", code, body)
	}
}
