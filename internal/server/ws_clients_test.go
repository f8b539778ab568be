package server_test

import (
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

// TestLiveNodeClients: graphql-ws, Apollo Client over graphql-ws and
// Apollo Client's legacy WebSocketLink (subscriptions-transport-ws) get
// the first result and then the update an ingestion batch makes.
func TestLiveNodeClients(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	s.LoadFew(t)
	got := servertest.RunLiveClients(t, s.URL, acct, "s3cret", 2, func(k int) {
		s.Ingest(t, rec("new", "")+"\n"+rec("b", `,"end_time":"2024-01-08T12:00:00"`))
	})
	want := []string{
		`{"data":{"rows":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1,"closed_sessions":1},{"per_interval":"2024-01-09T00:00:00","open_sessions":1,"closed_sessions":0}]}}`,
		`{"data":{"rows":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1,"closed_sessions":2},{"per_interval":"2024-01-09T00:00:00","open_sessions":1,"closed_sessions":0}]}}`,
	}
	for _, c := range servertest.LiveClients {
		if len(got[c]) != len(want) {
			t.Fatalf("%s received %d results, want %d", c, len(got[c]), len(want))
		}
		for i, w := range want {
			if g := string(servertest.Compact(got[c][i])); g != w {
				t.Errorf("%s result %d:\n got %s\nwant %s", c, i, g, w)
			}
		}
	}
}
