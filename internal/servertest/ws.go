package servertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WS is a raw GraphQL-over-WebSocket client for tests: it sends the
// protocols' messages as they are and reads every message the server
// sends, keep-alives included.
type WS struct {
	Conn *websocket.Conn
	// Protocol is the subprotocol the server chose ("" when none).
	Protocol string
	msgs     chan Message
	closed   chan struct{}
	closeErr error
}

// Message is one message of either protocol.
type Message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (m Message) String() string {
	return fmt.Sprintf("%s %s %s", m.Type, m.ID, m.Payload)
}

// DialWS opens a WebSocket to /v1/graphql offering protocols (none when
// empty); it closes when the test ends.
func (s *Server) DialWS(t testing.TB, protocols ...string) *WS {
	t.Helper()
	w, err := s.TryDialWS(protocols...)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	t.Cleanup(func() { w.Conn.CloseNow() })
	return w
}

// TryDialWS is DialWS returning its error; the caller closes the socket.
func (s *Server) TryDialWS(protocols ...string) (*WS, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/v1/graphql", &websocket.DialOptions{Subprotocols: protocols})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(64 << 20)
	w := &WS{Conn: c, Protocol: c.Subprotocol(), msgs: make(chan Message, 64), closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				w.closeErr = err
				return
			}
			var m Message
			if err := json.Unmarshal(data, &m); err != nil {
				w.closeErr = fmt.Errorf("server sent %q: %v", data, err)
				return
			}
			w.msgs <- m
		}
	}()
	return w, nil
}

// Send writes one message.
func (w *WS) Send(t testing.TB, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

// Next returns the next message other than a keep-alive (ka, ping,
// pong), or false when none came within d or the socket closed.
func (w *WS) Next(d time.Duration) (Message, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m := <-w.msgs:
			if m.Type == "ka" || m.Type == "ping" || m.Type == "pong" {
				continue
			}
			return m, true
		case <-w.closed:
			select {
			case m := <-w.msgs:
				if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
					return m, true
				}
			default:
			}
			return Message{}, false
		case <-timer.C:
			return Message{}, false
		}
	}
}

// Raw returns the next message whatever its type, or false.
func (w *WS) Raw(d time.Duration) (Message, bool) {
	select {
	case m := <-w.msgs:
		return m, true
	case <-time.After(d):
		return Message{}, false
	}
}

// Expect returns the next message, which must be of type typ (and id,
// when not empty), within 10 seconds.
func (w *WS) Expect(t testing.TB, typ, id string) Message {
	t.Helper()
	m, ok := w.Next(10 * time.Second)
	if !ok {
		t.Fatalf("waiting for %s %s: nothing came (%v)", typ, id, w.CloseError(0))
	}
	if m.Type != typ || (id != "" && m.ID != id) {
		t.Fatalf("want %s %s, got %s", typ, id, m)
	}
	return m
}

// Init sends connection_init with headers and waits for connection_ack.
func (w *WS) Init(t testing.TB, headers map[string]string) {
	t.Helper()
	w.Send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"headers": headers}})
	w.Expect(t, "connection_ack", "")
}

// Subscribe starts an operation: subscribe on graphql-transport-ws, start
// on the legacy protocol.
func (w *WS) Subscribe(t testing.TB, id, query string, vars map[string]any) {
	t.Helper()
	typ := "start"
	if w.Protocol == "graphql-transport-ws" {
		typ = "subscribe"
	}
	w.Send(t, map[string]any{"type": typ, "id": id, "payload": map[string]any{"query": query, "variables": vars}})
}

// DataType is the type of a result message: next or data.
func (w *WS) DataType() string {
	if w.Protocol == "graphql-transport-ws" {
		return "next"
	}
	return "data"
}

// CloseError waits up to d for the socket to close and returns how: a
// websocket.CloseError when the server closed it with a code.
func (w *WS) CloseError(d time.Duration) error {
	select {
	case <-w.closed:
		return w.closeErr
	case <-time.After(d):
		return errors.New("the socket is still open")
	}
}

// ExpectClose waits for the server to close the socket with code.
func (w *WS) ExpectClose(t testing.TB, code websocket.StatusCode) string {
	t.Helper()
	err := w.CloseError(10 * time.Second)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("want close %d, got %v", code, err)
	}
	return ce.Reason
}
