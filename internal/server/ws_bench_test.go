package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
)

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkLiveWriteToPush is the live queries' load test (docs/
// performance.md): TALLY_LIVE_QUERIES distinct live queries (default
// 10 000: 1 000 accounts, each with one WebSocket connection holding 10
// subscriptions, half graphql-transport-ws and half legacy, on the
// embedded backend) while sessions are written TALLY_LIVE_BATCH per POST
// /v1/sessions (default 1, each a durable SQLite commit) at
// TALLY_LIVE_WRITES sessions per second (default 1 000) for
// TALLY_LIVE_SECONDS (default 10), round-robin over the accounts. Every write adds an open
// session inside every range its account's queries cover, so each of them
// changes and owes a push. It reports the write-to-push latency (from the
// write's acknowledgement as its client sees it to the arrival of the
// first push that reflects it; 0 when the push came first, as the hub
// hears of a write before its answer is sent) and the same from the
// moment the write was sent, the writes per second achieved, pushes
// missed, and the heap per subscription and per connection (server and
// client share this process; the client keeps little per subscription).
// Run it alone, on a quiet machine:
//
//	go test ./internal/server -run '^$' -bench BenchmarkLiveWriteToPush -benchtime 1x
func BenchmarkLiveWriteToPush(b *testing.B) {
	queries := envInt("TALLY_LIVE_QUERIES", 10000)
	rate := envInt("TALLY_LIVE_WRITES", 1000)
	seconds := envInt("TALLY_LIVE_SECONDS", 10)
	batch := envInt("TALLY_LIVE_BATCH", 1)
	const perAccount = 10
	accounts := max(1, queries/perAccount)
	for b.Loop() {
		runLiveLoad(b, accounts, perAccount, rate, batch, seconds)
	}
}

// received is a push as the load client saw it.
type received struct {
	sum int
	at  time.Time
}

func runLiveLoad(b *testing.B, accounts, perAccount, rate, batch, seconds int) {
	s := servertest.Start(b, servertest.Options{Live: live.Config{MaxConnections: accounts + 10, MaxSubscriptions: 1 << 30}})
	acct := make([]string, accounts)
	for i := range acct {
		var u pgtext.UUID
		u[0], u[1], u[2], u[6], u[8] = byte(i>>16), byte(i>>8), byte(i), 0x40, 0x80
		acct[i] = u.String()
	}
	spans := []string{"1 day", "12 hours", "2 days", "1 week", "6 hours"}
	queries := accounts * perAccount
	pushes := make([][]received, queries) // by subscription: account k/perAccount
	var (
		mu     sync.Mutex
		firsts atomic.Int64
	)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	heap0 := heap()
	conns := make([]*servertest.WS, accounts)
	for a := range accounts {
		w := s.DialWS(b, []string{"graphql-transport-ws", "graphql-ws"}[a%2])
		w.Init(b, map[string]string{"X-Moveo-Account-Id": acct[a]})
		conns[a] = w
	}
	heap1 := heap()
	for a, w := range conns {
		for i := range perAccount {
			k := a*perAccount + i
			w.Subscribe(b, strconv.Itoa(k), fmt.Sprintf(`subscription { a: open_closed_sessions_interval_counts_v2_aggregate(args: {start_time: "2024-01-%02d", end_time: "2024-01-31", interval_span: %q}) { aggregate { sum { open_sessions } } } }`,
				1+i, spans[i%len(spans)]), nil)
		}
		go func() {
			for {
				m, ok := w.Next(time.Hour)
				if !ok {
					return
				}
				k, err := strconv.Atoi(m.ID)
				if err != nil || k < 0 || k >= queries {
					continue
				}
				r := received{sumOf(m.Payload), time.Now()}
				mu.Lock()
				if len(pushes[k]) == 0 {
					firsts.Add(1)
				}
				pushes[k] = append(pushes[k], r)
				mu.Unlock()
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Minute); firsts.Load() < int64(queries); {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d first results came", firsts.Load(), queries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	heap2 := heap()
	if st := s.Hub.Stats(); st.Queries != queries {
		b.Fatalf("%d live queries, want %d", st.Queries, queries)
	}

	// Writes: write n (from 1) to account a adds session n; acked[a][n-1]
	// is when its client got the answer.
	acked := make([][]time.Time, accounts)
	sent := make([][]time.Time, accounts)
	batches := rate * seconds / batch
	var wg sync.WaitGroup
	jobs := make(chan int, 64)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// Batch j writes sessions j*batch... of the round-robin:
				// session g is the (g/accounts+1)-th of account g%accounts.
				var body strings.Builder
				for g := j * batch; g < (j+1)*batch; g++ {
					fmt.Fprintf(&body, `{"account_id":%q,"session_id":"w%d","start_time":"2024-01-15T12:00:00"}`+"\n", acct[g%accounts], g/accounts+1)
				}
				t0 := time.Now()
				resp, err := client.Post(s.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(body.String()))
				if err != nil {
					b.Error(err)
					continue
				}
				resp.Body.Close()
				now := time.Now()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("write: %d", resp.StatusCode)
				}
				mu.Lock()
				for g := j * batch; g < (j+1)*batch; g++ {
					a, n := g%accounts, g/accounts+1
					for len(acked[a]) < n {
						acked[a] = append(acked[a], time.Time{})
						sent[a] = append(sent[a], time.Time{})
					}
					acked[a][n-1], sent[a][n-1] = now, t0
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(time.Second * time.Duration(batch) / time.Duration(rate))
	for j := range batches {
		<-tick.C
		jobs <- j
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(2 * time.Second) // the last pushes

	mu.Lock()
	defer mu.Unlock()
	var lat, fromSend []time.Duration
	missed := 0
	for k, ps := range pushes {
		a := k / perAccount
		j := 0
		for n, at := range acked[a] {
			for j < len(ps) && ps[j].sum < n+1 {
				j++
			}
			if j == len(ps) {
				missed++
				continue
			}
			lat = append(lat, max(0, ps[j].at.Sub(at)))
			fromSend = append(fromSend, ps[j].at.Sub(sent[a][n]))
		}
	}
	if len(lat) == 0 {
		b.Fatal("no push measured")
	}
	slices.Sort(lat)
	slices.Sort(fromSend)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(lat, 1), "max-ms")
	b.ReportMetric(pct(fromSend, 0.5), "p50-from-send-ms")
	b.ReportMetric(pct(fromSend, 0.99), "p99-from-send-ms")
	b.ReportMetric(float64(batches*batch)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(float64(len(lat)), "pushes-measured")
	b.ReportMetric(float64(missed), "pushes-missed")
	b.ReportMetric(float64(heap2-heap1)/float64(queries), "heap-B/subscription")
	b.ReportMetric(float64(heap1-heap0)/float64(accounts), "heap-B/connection")
	if missed > 0 {
		b.Errorf("%d pushes never came", missed)
	}
}

// sumOf reads the number after "open_sessions": in a payload.
func sumOf(p []byte) int {
	i := bytes.Index(p, []byte(`"open_sessions":`))
	if i < 0 {
		return -1
	}
	n := 0
	for _, c := range p[i+len(`"open_sessions":`):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
