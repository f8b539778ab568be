package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tally-server/tally/internal/servertest"
)

// FuzzRESTQuery: any query string on the REST endpoint gets 200 with JSON
// or CSV, or a 4xx with a GraphQL-shaped error; never a 5xx, and the
// server goes on.
func FuzzRESTQuery(f *testing.F) {
	for _, s := range []string{
		"start_time=2024-01-08&end_time=2024-01-09",
		"start_time=2024-01-08&end_time=2024-01-09&format=csv&channels=web&channels=whatsapp",
		"start_time=2024-01-08&end_time=2024-01-09&desk_ids={d2be0283-9b53-4d7b-b77d-2650f3a1a99c}&is_test=false&time_zone=Europe/Athens",
		"start_time=%zz", "start_time=2024-01-08&start_time=2024-01-09", "interval_span=1+second&start_time=2000-01-01&end_time=2024-01-01",
		"brain_versions={1,x}", "format=xml", ";;;&&&=",
	} {
		f.Add(s)
	}
	s := servertest.Start(f, servertest.Options{})
	s.Ingest(f, rec("a", `,"channel":"web"`))
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) >= 0 {
			return // not a request target: refused by HTTP itself, before Tally
		}
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/rest/open-closed-sessions", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = raw
		req.Header.Set("X-Moveo-Account-Id", servertest.Account)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") && !json.Valid(body) {
				t.Fatalf("%q: 200 with a body that is not JSON: %.200s", raw, body)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			var e struct {
				Errors []struct {
					Message    string `json:"message"`
					Extensions struct {
						Code string `json:"code"`
					} `json:"extensions"`
				} `json:"errors"`
			}
			if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 || e.Errors[0].Message == "" || e.Errors[0].Extensions.Code == "" {
				t.Fatalf("%q: %d without a GraphQL error: %.200s", raw, resp.StatusCode, body)
			}
		default:
			t.Fatalf("%q: %d %.200s", raw, resp.StatusCode, body)
		}
	})
}

// FuzzWebSocketMessage: after connection_init, any text message gets an
// answer of the protocol (a result, an error, a connection_error or a
// close with a 44xx code); the server goes on answering others.
func FuzzWebSocketMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"1","payload":{"query":"{ __typename }"}}`,
		`{"type":"start","id":"1","payload":{"query":"subscription { open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}) { open_sessions } }"}}`,
		`{"type":"ping"}`, `{"type":"complete","id":"1"}`, `{"type":"connection_init"}`, `{"type":"subscribe","id":"1"}`,
		`{"type":"subscribe","id":"1","payload":{"query":"query ($c: _text) { open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\", channels: $c}) { open_sessions } }","variables":{"c":["w\ud800"]}}}`,
		`[]`, `{}`, `"x"`, `{"type":null}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	s := servertest.Start(f, servertest.Options{})
	f.Fuzz(func(t *testing.T, msg string, legacy bool) {
		proto := "graphql-transport-ws"
		if legacy {
			proto = "graphql-ws"
		}
		w := s.DialWS(t, proto)
		w.Init(t, map[string]string{"X-Moveo-Account-Id": servertest.Account})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return // closed already by an earlier answer
		}
		// Whatever came, the server still answers a new connection.
		w.Next(50 * time.Millisecond)
		w.Conn.CloseNow()
		s.CheckAlive(t)
	})
}
