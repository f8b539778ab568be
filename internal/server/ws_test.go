package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/servertest"
)

const liveSub = `subscription { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-09"}) { per_interval open_sessions closed_sessions } }`

// payload is a result message's payload compacted.
func payload(m servertest.Message) string { return string(servertest.Compact(m.Payload)) }

func openCounts(open8, closed8, open9 int) string {
	return fmt.Sprintf(`{"data":{"r":[{"per_interval":"2024-01-08T00:00:00","open_sessions":%d,"closed_sessions":%d},{"per_interval":"2024-01-09T00:00:00","open_sessions":%d,"closed_sessions":0}]}}`, open8, closed8, open9)
}

// TestLiveBothProtocols: over each protocol a subscription gets its first
// result at once and a new one after a write that changes it; a write to
// another account, and one after the query's range, send nothing; stop
// ends it.
func TestLiveBothProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		protocols []string
		echoed    string
	}{
		{"graphql-transport-ws", []string{"graphql-transport-ws"}, "graphql-transport-ws"},
		{"legacy graphql-ws", []string{"graphql-ws"}, "graphql-ws"},
		{"legacy without subprotocol", nil, ""},
		{"both offered: graphql-transport-ws wins", []string{"graphql-ws", "graphql-transport-ws"}, "graphql-transport-ws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", Live: live.Config{Delay: 20 * time.Millisecond}})
			w := s.DialWS(t, tc.protocols...)
			if w.Protocol != tc.echoed {
				t.Fatalf("subprotocol %q, want %q", w.Protocol, tc.echoed)
			}
			w.Init(t, map[string]string{"X-Admin-Secret": "s3cret", "X-Moveo-Account-Id": acct})
			w.Subscribe(t, "1", liveSub, nil)
			if got := payload(w.Expect(t, w.DataType(), "1")); got != openCounts(0, 0, 0) {
				t.Fatalf("first result %s", got)
			}
			s.Ingest(t, rec("a", ""))
			if got := payload(w.Expect(t, w.DataType(), "1")); got != openCounts(1, 0, 0) {
				t.Fatalf("after a write: %s", got)
			}
			// Another account's write, and a write after the range: nothing.
			s.Ingest(t, strings.Replace(rec("x", ""), acct, "11111111-1111-1111-1111-111111111111", 1))
			s.Ingest(t, strings.Replace(rec("late", ""), "2024-01-08T10", "2024-03-08T10", 1))
			// Closing session a changes it again.
			s.Ingest(t, rec("a", `,"end_time":"2024-01-08T11:00:00"`))
			if got := payload(w.Expect(t, w.DataType(), "1")); got != openCounts(0, 1, 0) {
				t.Fatalf("after closing a: %s", got)
			}
			// The same row again changes nothing: no message.
			s.Ingest(t, rec("a", `,"end_time":"2024-01-08T11:00:00"`))
			if m, ok := w.Next(300 * time.Millisecond); ok {
				t.Fatalf("an unchanged result was sent: %s", m)
			}
			if w.Protocol == "graphql-transport-ws" {
				w.Send(t, map[string]any{"type": "ping"})
				if m, ok := w.Raw(5 * time.Second); !ok || m.Type != "pong" {
					t.Fatalf("ping answered %v", m)
				}
				w.Send(t, map[string]any{"type": "complete", "id": "1"})
			} else {
				w.Send(t, map[string]any{"type": "stop", "id": "1"})
				w.Expect(t, "complete", "1")
			}
			s.Ingest(t, rec("b", ""))
			if m, ok := w.Next(300 * time.Millisecond); ok {
				t.Fatalf("a stopped subscription got %s", m)
			}
			if st := s.Hub.Stats(); st.Subscriptions != 0 || st.Queries != 0 {
				t.Fatalf("after stop the hub holds %+v", st)
			}
		})
	}
}

// TestLiveQueriesAndErrors: queries run once over the socket; bad
// operations get the HTTP error in an error message; each protocol's
// violations get its close code.
func TestLiveQueriesAndErrors(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	s.LoadFew(t)
	creds := map[string]string{"X-Admin-Secret": "s3cret", "X-Moveo-Account-Id": acct}

	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		w := s.DialWS(t, proto)
		w.Init(t, creds)
		w.Subscribe(t, "q", countQuery, nil)
		if got := payload(w.Expect(t, w.DataType(), "q")); got != `{"data":{"r":[{"open_sessions":1}]}}` {
			t.Fatalf("%s query: %s", proto, got)
		}
		w.Expect(t, "complete", "q")
		w.Subscribe(t, "bad", `subscription { nope { x } }`, nil)
		m := w.Expect(t, "error", "bad")
		want := `[{"message":"field 'nope' not found in type: 'subscription_root'","extensions":{"path":"$.selectionSet.nope","code":"validation-failed"}}]`
		if proto == "graphql-ws" {
			want = `{"errors":` + want + `}`
		}
		if got := payload(m); got != want {
			t.Fatalf("%s error payload %s", proto, got)
		}
		// An argument error shows on the first run: error, not next.
		w.Subscribe(t, "arg", `subscription { open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-09", end_time: "2024-01-08"}) { open_sessions } }`, nil)
		if got := payload(w.Expect(t, "error", "arg")); !strings.Contains(got, "end_time") || !strings.Contains(got, "data-exception") {
			t.Fatalf("%s argument error %s", proto, got)
		}
		// The hub dropped it.
		deadline := time.Now().Add(5 * time.Second)
		for s.Hub.Stats().Subscriptions != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if st := s.Hub.Stats(); st.Subscriptions != 0 {
			t.Fatalf("a failed subscription stays: %+v", st)
		}
	}

	// graphql-transport-ws close codes.
	closes := []struct {
		name string
		do   func(w *servertest.WS)
		code websocket.StatusCode
	}{
		{"subscribe before init", func(w *servertest.WS) { w.Subscribe(t, "1", liveSub, nil) }, 4401},
		{"bad credentials", func(w *servertest.WS) {
			w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": map[string]string{"X-Admin-Secret": "wrong"}}})
		}, 4403},
		{"init twice", func(w *servertest.WS) {
			w.Init(t, creds)
			w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": creds}})
		}, 4429},
		{"duplicate id", func(w *servertest.WS) {
			w.Init(t, creds)
			w.Subscribe(t, "1", liveSub, nil)
			w.Subscribe(t, "1", liveSub, nil)
		}, 4409},
		{"unknown type", func(w *servertest.WS) { w.Send(t, map[string]any{"type": "start", "id": "1"}) }, 4400},
		{"message over --max-query-bytes", func(w *servertest.WS) {
			w.Conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","payload":"`+strings.Repeat("x", 1<<20)+`"}`))
		}, websocket.StatusMessageTooBig},
		{"not JSON", func(w *servertest.WS) {
			w.Conn.Write(context.Background(), websocket.MessageText, []byte("hello"))
		}, 4400},
	}
	for _, c := range closes {
		w := s.DialWS(t, "graphql-transport-ws")
		c.do(w)
		w.ExpectClose(t, c.code)
	}

	// Legacy: a refused connection_init gets connection_error, then 4403.
	w := s.DialWS(t, "graphql-ws")
	w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": map[string]string{"X-Moveo-Account-Id": acct}}})
	if m := w.Expect(t, "connection_error", ""); !strings.Contains(string(m.Payload), "X-Admin-Secret") {
		t.Fatalf("connection_error %s", m)
	}
	w.ExpectClose(t, 4403)
	// connection_terminate closes normally.
	w = s.DialWS(t, "graphql-ws")
	w.Init(t, creds)
	w.Send(t, map[string]any{"type": "connection_terminate"})
	w.ExpectClose(t, websocket.StatusNormalClosure)

	// Plain GET and HTTP subscriptions keep their answers.
	code, body := s.Do(t, "GET", "/v1/graphql", nil, nil)
	if code != 200 || !strings.Contains(string(body), "not-supported") {
		t.Fatalf("plain GET: %d %s", code, body)
	}
	r := s.Query(t, acct, liveSub, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "unexpected-payload" {
		t.Fatalf("subscription over HTTP: %+v", r)
	}
}

// TestLiveInitTimeout: no connection_init in time closes with 4408.
func TestLiveInitTimeout(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Live: live.Config{InitTimeout: 100 * time.Millisecond}})
	w := s.DialWS(t, "graphql-transport-ws")
	w.ExpectClose(t, 4408)
}

// TestLiveKeepAlive: the legacy protocol sends ka after the ack and then
// every --live-keepalive; graphql-transport-ws pings.
func TestLiveKeepAlive(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Live: live.Config{KeepAlive: 50 * time.Millisecond}})
	for proto, want := range map[string]string{"graphql-ws": "ka", "graphql-transport-ws": "ping"} {
		w := s.DialWS(t, proto)
		w.Send(t, map[string]any{"type": "connection_init"})
		if m, _ := w.Raw(5 * time.Second); m.Type != "connection_ack" {
			t.Fatalf("%s: %s", proto, m)
		}
		for range 3 {
			if m, ok := w.Raw(5 * time.Second); !ok || m.Type != want {
				t.Fatalf("%s keep-alive: %v %v", proto, m, ok)
			}
		}
	}
}

// TestLiveKeysAndLimits: an API key reads its own account over the
// socket, is refused for another, loses its subscriptions when revoked;
// the limits per connection, per key and per server refuse with errors
// that name their flags.
func TestLiveKeysAndLimits(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", Live: live.Config{MaxPerConnection: 2, MaxPerKey: 3, MaxConnections: 4}})
	k := s.CreateKey(t, acct, "read")
	keyed := map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": acct}

	w := s.DialWS(t, "graphql-transport-ws")
	w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": "11111111-1111-1111-1111-111111111111"}}})
	if reason := w.ExpectClose(t, 4403); !strings.Contains(reason, "does not belong") {
		t.Fatalf("another account's id: %q", reason)
	}
	w = s.DialWS(t, "graphql-transport-ws")
	w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": map[string]string{"Authorization": "apikey " + k.Key}}})
	if reason := w.ExpectClose(t, 4403); !strings.Contains(reason, "X-Moveo-Account-Id header required") {
		t.Fatalf("a key without the account header: %q", reason)
	}

	a := s.DialWS(t, "graphql-transport-ws")
	a.Init(t, keyed)
	for i := range 3 {
		a.Subscribe(t, fmt.Sprint(i), fmt.Sprintf(`subscription { open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-0%d", end_time: "2024-01-09"}) { open_sessions } }`, i+1), nil)
	}
	got := map[string]servertest.Message{}
	for range 3 {
		m, _ := a.Next(10 * time.Second)
		got[m.ID] = m
	}
	if got["0"].Type != "next" || got["1"].Type != "next" || got["2"].Type != "error" || !strings.Contains(string(got["2"].Payload), "--live-max-per-connection") {
		t.Fatalf("per connection: %v", got)
	}
	b := s.DialWS(t, "graphql-ws")
	b.Init(t, keyed)
	b.Subscribe(t, "x", liveSub, nil)
	b.Expect(t, "data", "x")
	b.Subscribe(t, "y", liveSub, nil)
	if m := payload(b.Expect(t, "error", "y")); !strings.Contains(m, "--live-max-per-key") {
		t.Fatalf("per key: %s", m)
	}
	// Two connections are open (plus the refused ones, gone): two more
	// fit, the fifth is refused with 1013 and the flag's name.
	for deadline := time.Now().Add(10 * time.Second); s.Hub.Stats().Connections != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("refused connections still count: %+v", s.Hub.Stats())
		}
	}
	s.DialWS(t, "graphql-transport-ws").Init(t, keyed)
	s.DialWS(t, "graphql-transport-ws").Init(t, keyed)
	w = s.DialWS(t, "graphql-transport-ws")
	if reason := w.ExpectClose(t, websocket.StatusTryAgainLater); !strings.Contains(reason, "--live-max-connections") {
		t.Fatalf("max connections: %q", reason)
	}

	// Revoking the key ends both connections' subscriptions within the
	// key cache's lifetime.
	if code, body := s.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	for w, n := range map[*servertest.WS]int{a: 2, b: 1} {
		for range n {
			if m := w.Expect(t, "error", ""); !strings.Contains(string(m.Payload), "access-denied") || !strings.Contains(string(m.Payload), "revoked") {
				t.Fatalf("revoked: %s", m)
			}
		}
		w.ExpectClose(t, 4403)
	}
}

// TestLiveSharedAndShutdown: identical subscriptions share one live query
// across connections; different variables do not. Shutting the hub down
// closes every connection with 1001.
func TestLiveSharedAndShutdown(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	sub := `subscription S($s: timestamp!) { open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: "2024-01-09"}) { open_sessions } }`
	var conns []*servertest.WS
	for i := range 4 {
		w := s.DialWS(t, []string{"graphql-transport-ws", "graphql-ws"}[i%2])
		w.Init(t, map[string]string{"X-Moveo-Account-Id": acct})
		w.Subscribe(t, "1", sub, map[string]any{"s": "2024-01-08"})
		w.Expect(t, w.DataType(), "1")
		conns = append(conns, w)
	}
	conns[0].Subscribe(t, "2", sub, map[string]any{"s": "2024-01-07"})
	conns[0].Expect(t, "next", "2")
	if st := s.Hub.Stats(); st.Subscriptions != 5 || st.Queries != 2 || st.Connections != 4 {
		t.Fatalf("stats %+v, want 5 subscriptions on 2 live queries", st)
	}
	s.Ingest(t, rec("a", ""))
	for i, w := range conns {
		// conns[0] also holds subscription 2, which changes too; the two
		// pushes may come in either order.
		want := map[string]string{"1": `{"data":{"open_closed_sessions_interval_counts_v2":[{"open_sessions":1},{"open_sessions":0}]}}`}
		if i == 0 {
			want["2"] = `{"data":{"open_closed_sessions_interval_counts_v2":[{"open_sessions":0},{"open_sessions":1},{"open_sessions":0}]}}`
		}
		for len(want) > 0 {
			m := w.Expect(t, w.DataType(), "")
			if got := payload(m); got != want[m.ID] {
				t.Fatalf("push for %q: %s, want %s", m.ID, got, want[m.ID])
			}
			delete(want, m.ID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range conns {
		w.ExpectClose(t, websocket.StatusGoingAway)
	}
	late, err := s.TryDialWS("graphql-transport-ws")
	if err != nil {
		t.Fatal(err)
	}
	defer late.Conn.CloseNow()
	late.ExpectClose(t, websocket.StatusGoingAway)
}

// TestLiveOutlivesHTTPTimeouts: the HTTP server's read and write
// timeouts do not end a WebSocket.
func TestLiveOutlivesHTTPTimeouts(t *testing.T) {
	s := servertest.Start(t, servertest.Options{HTTPTimeout: 200 * time.Millisecond})
	w := s.DialWS(t, "graphql-transport-ws")
	w.Init(t, map[string]string{"X-Moveo-Account-Id": acct})
	w.Subscribe(t, "1", liveSub, nil)
	w.Expect(t, "next", "1")
	time.Sleep(700 * time.Millisecond)
	s.Ingest(t, rec("a", ""))
	if got := payload(w.Expect(t, "next", "1")); got != openCounts(1, 0, 0) {
		t.Fatalf("after the HTTP timeouts: %s", got)
	}
}

// TestLiveDimensionCounts: the second catalogue function is live too
// (its query has no bound Until knows, so every write to the account
// re-runs it); where and order_by apply as on HTTP.
func TestLiveDimensionCounts(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	w := s.DialWS(t, "graphql-transport-ws")
	w.Init(t, map[string]string{"X-Moveo-Account-Id": acct})
	const sub = `subscription { session_dimension_counts(args: {}, where: {dimension: {_eq: "channel"}}, order_by: {value: asc}) { value sessions } }`
	w.Subscribe(t, "1", sub, nil)
	if got := payload(w.Expect(t, "next", "1")); got != `{"data":{"session_dimension_counts":[]}}` {
		t.Fatalf("first result %s", got)
	}
	s.Ingest(t, rec("a", `,"channel":"web"`)+"\n"+rec("b", `,"channel":"email"`))
	want := `{"data":{"session_dimension_counts":[{"value":"email","sessions":1},{"value":"web","sessions":1}]}}`
	if got := payload(w.Expect(t, "next", "1")); got != want {
		t.Fatalf("after a write %s", got)
	}
	code, body := s.Post(t, "/v1/graphql", map[string]string{"X-Moveo-Account-Id": acct}, servertest.MustJSON(map[string]any{"query": "query" + strings.TrimPrefix(sub, "subscription")}))
	if code != 200 || string(body) != want {
		t.Fatalf("HTTP answers %d %s", code, body)
	}
}
