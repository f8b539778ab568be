package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/servertest"
)

// TestHeavyQueriesAreAdmitted: issue 9, finding 8, over HTTP on the real
// engine — 32 clients each keep a year-long hourly query in flight. At
// most --max-heavy-queries of them hold a turn at any time, none fails,
// the server answers { __typename } and the ten-day dashboard query all
// along, and its memory stays bounded. (The latency this buys is measured
// by tally-load admission: docs/performance.md.)
func TestHeavyQueriesAreAdmitted(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Admission: analytics.AdmissionConfig{MaxHeavy: 1}})
	// 50 000 sessions over 2024.
	for b := range 5 {
		var batch strings.Builder
		for i := range 10000 {
			n := b*10000 + i
			fmt.Fprintf(&batch, `{"account_id":%q,"session_id":"s%d","desk_id":"9566c74d-1003-4c4d-bbbb-0407d1e2c649","start_time":"2024-%02d-%02dT%02d:00:00"}`+"\n", servertest.Account, n, 1+n%12, 1+n%28, n%24)
		}
		if code, body := s.Post(t, "/v1/sessions", nil, []byte(batch.String())); code != 200 {
			t.Fatalf("seed: %d %s", code, body)
		}
	}
	heavy := servertest.MustJSON(map[string]any{"query": `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-12-31T23:00:00", interval_span: "1 hour"}) { open_sessions closed_sessions per_interval } }`})
	before := liveHeap()
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		answered atomic.Int64
		mu       sync.Mutex
		failures []string
		most     int
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/graphql", strings.NewReader(string(heavy)))
				req.Header.Set("X-Moveo-Account-Id", servertest.Account)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				var head [16]byte
				n, _ := io.ReadFull(resp.Body, head[:])
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(string(head[:n]), `{"data"`) {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("HTTP %d %s…", resp.StatusCode, head[:n]))
					mu.Unlock()
				}
				answered.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		most = max(most, s.Admission.Running())
		s.CheckAlive(t)
		r := s.Query(t, servertest.Account, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-06-01", end_time: "2024-06-10", desk_ids: "{9566c74d-1003-4c4d-bbbb-0407d1e2c649}"}) { open_sessions } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("the dashboard query beside heavy ones: %+v", r.Errors)
		}
	}
	peak := liveHeap()
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d heavy queries failed, the first: %s", len(failures), failures[0])
	}
	if most > 1 || answered.Load() < 32 {
		t.Errorf("%d heavy queries held a turn at once (limit 1); %d answered", most, answered.Load())
	}
	if growth := int64(peak) - int64(before); growth > 512<<20 {
		t.Errorf("the heap grew by %d bytes", growth)
	}
	t.Logf("%d heavy queries answered, at most %d holding a turn", answered.Load(), most)
}
