package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/servertest"
)

// TestLiveQueueIsBounded: answers to queries over the socket queue for
// the writer, and a client that keeps asking without reading used to grow
// that queue without end. Past the fixed bound the connection is closed
// with 1008 and the queue dropped; the server goes on.
func TestLiveQueueIsBounded(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Admission: analytics.AdmissionConfig{HeavyCost: 1 << 62}})
	// Ten aliases of a year hourly: about 7 MB an answer.
	var q strings.Builder
	q.WriteString("query {")
	for i := range 10 {
		fmt.Fprintf(&q, ` a%d: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-12-31", interval_span: "1 hour"}) { per_interval open_sessions closed_sessions }`, i)
	}
	q.WriteString(" }")
	w := s.DialWS(t, "graphql-transport-ws")
	w.Init(t, map[string]string{"X-Moveo-Account-Id": acct})
	// The test's client buffers 64 messages and then stops reading, so
	// the server's writer blocks and the answers queue up.
	for i := range 40 {
		w.Subscribe(t, fmt.Sprint(i), q.String(), nil)
	}
	for {
		if _, ok := w.Next(30 * time.Second); !ok {
			break
		}
	}
	if reason := w.ExpectClose(t, websocket.StatusPolicyViolation); !strings.Contains(reason, "bytes of answers wait") {
		t.Fatalf("close reason %q", reason)
	}
	s.CheckAlive(t)
}
