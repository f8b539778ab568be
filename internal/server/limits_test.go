package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/servertest"
)

// Issue 9's findings 1-6, each reproduced against the real handler with
// the default limits: while the attack runs, the server keeps answering
// { __typename } within 2 s, never answers 5xx, and its heap grows by
// less than 512 MiB; the attack gets an error naming the limit, the value
// found and the flag.

// siege watches a server while it is attacked.
type siege struct {
	t        *testing.T
	url      string
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	slowest  time.Duration
	probes   int
	failures []string
	base     uint64
	peak     uint64
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// besiege starts probing s with { __typename } and sampling the heap.
func besiege(t *testing.T, url string) *siege {
	runtime.GC()
	g := &siege{t: t, url: url, stop: make(chan struct{}), base: heapNow()}
	g.peak = g.base
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		client := &http.Client{Timeout: 30 * time.Second}
		for first := true; ; first = false {
			if !first {
				select {
				case <-g.stop:
					g.probe(client) // one more once the attack is over
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
			g.probe(client)
		}
	}()
	go func() {
		defer g.wg.Done()
		for {
			select {
			case <-g.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			h := heapNow()
			g.mu.Lock()
			g.peak = max(g.peak, h)
			g.mu.Unlock()
		}
	}()
	return g
}

// probe asks for { __typename } once.
func (g *siege) probe(client *http.Client) {
	start := time.Now()
	resp, err := client.Post(g.url+"/v1/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	d := time.Since(start)
	var body []byte
	if err == nil {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probes++
	g.slowest = max(g.slowest, d)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != `{"data":{"__typename":"query_root"}}` {
		g.failures = append(g.failures, fmt.Sprintf("%v %s", err, body))
	}
}

// end stops watching and checks what the server did meanwhile.
func (g *siege) end() {
	t := g.t
	t.Helper()
	close(g.stop)
	g.wg.Wait()
	growth := int64(g.peak) - int64(g.base)
	t.Logf("probes %d, slowest %s, heap growth %d MiB", g.probes, g.slowest.Round(time.Millisecond), growth>>20)
	if len(g.failures) > 0 {
		t.Errorf("{ __typename } failed during the attack: %v", g.failures[0])
	}
	if g.slowest > 2*time.Second {
		t.Errorf("{ __typename } took %s during the attack, more than 2 s", g.slowest)
	}
	if growth > 512<<20 {
		t.Errorf("the heap grew by %d MiB during the attack, more than 512", growth>>20)
	}
}

// attack sends body n times at once and checks that each answer is HTTP
// 200 with one error of code whose message holds each of want.
func attack(t *testing.T, url string, n int, body []byte, code string, want ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Moveo-Account-Id", acct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var r servertest.Response
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != code {
				errs <- fmt.Sprintf("HTTP %d %.300s", resp.StatusCode, b)
				return
			}
			for _, w := range want {
				if !strings.Contains(r.Errors[0].Message, w) {
					errs <- fmt.Sprintf("message %q lacks %q", r.Errors[0].Message, w)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// devServer is a server in development mode with an account of three
// sessions; Start's options may raise or lower limits.
func devServer(t *testing.T, o servertest.Options) *servertest.Server {
	s := servertest.Start(t, o)
	s.LoadFew(t)
	return s
}

func body(query string, vars map[string]any) []byte {
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	return mustJSON(m)
}

// aliasQuery is n aliases of field.
func aliasQuery(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// Finding 1: thousands of aliases of the root field, each with thousands
// of buckets.
func TestAttackAliasesTimesBuckets(t *testing.T) {
	s := devServer(t, servertest.Options{})
	q := aliasQuery(2000, fn+`(args: {start_time: "2023-01-01", end_time: "2023-12-31", interval_span: "1 hour"}) { per_interval open_sessions closed_sessions }`)
	g := besiege(t, s.URL)
	attack(t, s.URL, 4, body(q, nil), "data-exception", "more than 100000 buckets", "--max-request-buckets")
	g.end()
}

// Finding 1, the other way: one field of 10 000 buckets whose rows repeat
// a column 2 000 times would answer 350 MB.
func TestAttackResponseBytes(t *testing.T) {
	s := devServer(t, servertest.Options{})
	q := wideRows(2000)
	g := besiege(t, s.URL)
	attack(t, s.URL, 2, body(q, nil), "data-exception", "the answer reached", "the limit is 33554432", "--max-response-bytes")
	g.end()
}

// wideRows is one field of 9 889 hourly buckets whose rows repeat a
// column n times: about n * 18 bytes a row.
func wideRows(n int) string {
	return `{ r: ` + fn + `(args: {start_time: "2024-01-01", end_time: "2025-02-15", interval_span: "1 hour"}) ` + aliasQuery(n, "open_sessions") + ` }`
}

// nestedWhere is a where nested depth _and levels deep.
func nestedWhere(depth int) any {
	var w any = map[string]any{"open_sessions": map[string]any{"_gte": 0}}
	for range depth {
		w = map[string]any{"_and": []any{w}}
	}
	return w
}

// Finding 2: a where nested ten thousand _and levels deep, in a variable,
// a few at once; and the same in the document.
func TestAttackDeepWhere(t *testing.T) {
	s := devServer(t, servertest.Options{})
	g := besiege(t, s.URL)
	inVariable := body(`query($w: open_closed_sessions_interval_counts_bool_exp) { `+fn+`(`+argsOK+`, where: $w) { per_interval } }`, map[string]any{"w": nestedWhere(10000)})
	attack(t, s.URL, 4, inVariable, "validation-failed", "depth_limit exceeded", "the request body nests 20004 levels deep", "the limit is 32", "--max-depth")
	literal := `{ ` + fn + `(` + argsOK + `, where: ` + strings.Repeat("{_and: [", 10000) + "{open_sessions: {_gte: 0}}" + strings.Repeat("]}", 10000) + `) { per_interval } }`
	attack(t, s.URL, 4, body(literal, nil), "validation-failed", "depth_limit exceeded", "the query nests its brackets 20004 levels deep", "--max-depth")
	g.end()
	// A where as deep as the limit allows still runs.
	r := s.Query(t, acct, `query($w: open_closed_sessions_interval_counts_bool_exp) { `+fn+`(`+argsOK+`, where: $w) { per_interval } }`, map[string]any{"w": nestedWhere(14)})
	if len(r.Errors) > 0 {
		t.Errorf("a where 14 levels deep: %v", r.Errors)
	}
}

// Finding 3: large distinct documents (70 000 variable definitions each,
// or 1 MB of comments) must not fill memory through the parsed-query
// cache.
func TestAttackQueryCache(t *testing.T) {
	s := devServer(t, servertest.Options{})
	g := besiege(t, s.URL)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				var b strings.Builder
				fmt.Fprintf(&b, "query Q%d_%d(", w, i)
				for v := range 70000 {
					fmt.Fprintf(&b, "$v%d:Int,", v)
				}
				b.WriteString(") { __typename }")
				comments := fmt.Sprintf("# %d %d\n", w, i) + strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", 1000) + "{ __typename }"
				for _, q := range []string{b.String(), comments} {
					code, resp := s.Post(t, "/v1/graphql", map[string]string{"Content-Type": "application/json"}, body(q, nil))
					if code != http.StatusOK || !bytes.Equal(resp, []byte(`{"data":{"__typename":"query_root"}}`)) {
						t.Errorf("a large document: HTTP %d %.200s", code, resp)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	g.end()
}

// fanOut is n fragments each spreading the next twice: 2^n fields once
// expanded, in 2 KB.
func fanOut(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on query_root { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on query_root { __typename }", n)
	return b.String()
}

// Finding 4: 30 fragments each spreading the next twice.
func TestAttackFragmentFanOut(t *testing.T) {
	s := devServer(t, servertest.Options{})
	g := besiege(t, s.URL)
	attack(t, s.URL, 4, body(fanOut(30), nil), "validation-failed", "node_limit exceeded", "selects 1073741824 fields", "the limit is 10000", "--max-nodes")
	g.end()
	// A fragment spread within the limit is expanded once per selection.
	if r := s.Query(t, "", fanOut(10), nil); len(r.Errors) > 0 || string(r.Data["__typename"]) != `"query_root"` {
		t.Errorf("1 024 fields of one fragment: %+v", r)
	}
}

// Finding 5: the same field repeated tens of thousands of times.
func TestAttackRepeatedFields(t *testing.T) {
	q := "{" + strings.Repeat(" __typename", 90000) + " }"
	t.Run("default limits", func(t *testing.T) {
		s := devServer(t, servertest.Options{})
		g := besiege(t, s.URL)
		attack(t, s.URL, 4, body(q, nil), "validation-failed", "node_limit exceeded", "selects 90000 fields", "--max-nodes")
		g.end()
	})
	t.Run("merged in linear time", func(t *testing.T) {
		// With the node limit raised past them, the 90 000 fields merge
		// into one key, as fast as the probe is answered.
		s := devServer(t, servertest.Options{GraphQL: graphql.Config{MaxNodes: 1 << 20}})
		g := besiege(t, s.URL)
		for range 4 {
			if r := s.Query(t, "", q, nil); len(r.Errors) > 0 || len(r.Data) != 1 {
				t.Fatalf("%+v", r.Errors)
			}
		}
		aliases := "{" + strings.Repeat(" a: "+fn+"("+argsOK+") { per_interval }", 5000) + " }"
		if r := s.Query(t, acct, aliases, nil); len(r.Errors) > 0 || len(r.Data) != 1 {
			t.Fatalf("5 000 copies of a root field with its arguments: %+v", r.Errors)
		}
		g.end()
	})
}

// Finding 6: 15 000 aliases of __schema { types }, with no account.
func TestAttackIntrospectionAliases(t *testing.T) {
	s := devServer(t, servertest.Options{})
	g := besiege(t, s.URL)
	attack(t, s.URL, 4, body(aliasQuery(15000, "__schema { types { name } }"), nil), "validation-failed", "node_limit exceeded", "selects 45000 fields", "--max-nodes")
	// The largest introspection the node limit lets through is answered.
	big := aliasQuery(450, "__schema { types { name description kind fields { name description args { name description type { name kind } } type { name kind } } } }")
	code, resp := s.Post(t, "/v1/graphql", map[string]string{"Content-Type": "application/json"}, body(big, nil))
	if code != http.StatusOK || !bytes.HasPrefix(resp, []byte(`{"data":{"a0":{"types":[`)) {
		t.Errorf("HTTP %d %.200s", code, resp)
	}
	t.Logf("the largest introspection answer within the node limit: %d MiB", len(resp)>>20)
	g.end()
	// The response limit stops it when it is lower.
	low := devServer(t, servertest.Options{GraphQL: graphql.Config{MaxResponseBytes: 1 << 20}})
	attack(t, low.URL, 1, body(big, nil), "data-exception", "the limit is 1048576 (--max-response-bytes)")
}

// Batches beyond the batch limit are refused whole.
func TestBatchLimit(t *testing.T) {
	s := devServer(t, servertest.Options{})
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ __typename }"},`, 101), ",") + "]"
	attack(t, s.URL, 1, []byte(batch), "validation-failed", "batch_limit exceeded", "holds 101 operations", "the limit is 100", "--max-batch")
	ok := "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ __typename }"},`, 100), ",") + "]"
	code, resp := s.Post(t, "/v1/graphql", nil, []byte(ok))
	if code != http.StatusOK || bytes.Count(resp, []byte(`"query_root"`)) != 100 {
		t.Errorf("a batch of 100: HTTP %d %.200s", code, resp)
	}
}

// TestTimeLimitEveryStage: --query-timeout stops a request in validation,
// execution and rendering, with an error naming the limit and the stage.
func TestTimeLimitEveryStage(t *testing.T) {
	cases := []struct {
		name  string
		o     servertest.Options
		body  []byte
		stage string
	}{
		{"validating", servertest.Options{QueryTimeout: time.Millisecond, GraphQL: graphql.Config{MaxNodes: 1 << 20}},
			body("{"+strings.Repeat(" a: __typename", 70000)+" }", nil), "while parsing|while validating"},
		{"counting", servertest.Options{QueryTimeout: 100 * time.Millisecond},
			body(`query($w: open_closed_sessions_interval_counts_bool_exp) `+aliasQuery(10, fn+`(args: {start_time: "2024-01-01", end_time: "2025-02-15", interval_span: "1 hour"}, where: $w) { per_interval }`),
				map[string]any{"w": map[string]any{"_or": wideOr(2500)}}), "while counting"},
		{"writing the answer", servertest.Options{QueryTimeout: 300 * time.Millisecond, GraphQL: graphql.Config{MaxResponseBytes: 1 << 30}},
			body(wideRows(2000), nil), "while writing the answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := devServer(t, c.o)
			code, resp := s.Post(t, "/v1/graphql", map[string]string{"Content-Type": "application/json", "X-Moveo-Account-Id": acct}, c.body)
			var r servertest.Response
			json.Unmarshal(resp, &r)
			if code != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "timeout" {
				t.Fatalf("HTTP %d %.300s", code, resp)
			}
			msg := r.Errors[0].Message
			stageOK := false
			for st := range strings.SplitSeq(c.stage, "|") {
				stageOK = stageOK || strings.Contains(msg, st)
			}
			if !stageOK || !strings.Contains(msg, "time_limit exceeded") || !strings.Contains(msg, "(--query-timeout)") {
				t.Errorf("message %q: want the limit, the flag and %s", msg, c.stage)
			}
		})
	}
}

// wideOr is n comparisons, each true of no row.
func wideOr(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"open_sessions": map[string]any{"_eq": -1 - i}}
	}
	return out
}

// TestClientLeavingStopsTheWork: a client that hangs up cancels its
// request, which stops long before the time limit (an hour here) would.
func TestClientLeavingStopsTheWork(t *testing.T) {
	var logs syncBuffer
	s := devServer(t, servertest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), GraphQL: graphql.Config{MaxResponseBytes: 1 << 30}, QueryTimeout: time.Hour})
	heavy := body(wideRows(2000), nil)
	for i := range 3 {
		// The client gives up after 30 ms; the answer would take seconds.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/graphql", bytes.NewReader(heavy))
		id := fmt.Sprintf("leaving-%d", i)
		req.Header.Set("X-Request-Id", id)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		// The access log line is written when the handler returns.
		if !logs.waitFor("request_id="+id, 20*time.Second) {
			t.Fatalf("the request %s still runs 20 s after its client left", id)
		}
	}
}
