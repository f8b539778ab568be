package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
)

// Issue 9, finding 7: each connection could hold about a MB of body while
// it trickled in, and nothing capped the total.

// openBody starts a request on a raw connection: headers announcing a
// body of declared bytes, then the first sent bytes of it (one JSON
// string that never ends, the worst case for both routes), and no more.
func openBody(t *testing.T, addr, path string, declared, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: tally\r\nContent-Type: application/json\r\nX-Moveo-Account-Id: %s\r\nContent-Length: %d\r\n\r\n", path, servertest.Account, declared)
	// A refused request's connection is closed under the writer; that
	// is one of the outcomes the test counts, not a failure.
	io.WriteString(c, `{"query":"`)
	for sent -= 10; sent > 0; sent -= len(filler) {
		if _, err := io.WriteString(c, filler[:min(sent, len(filler))]); err != nil {
			break
		}
	}
	return c
}

// filler is what openBody sends, shared so that the test itself does not
// allocate what it measures.
var filler = strings.Repeat("a", 64<<10)

// answer reads a response from c if one comes within wait.
func answer(c net.Conn, wait time.Duration) (*http.Response, string) {
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// liveHeap is the bytes the process holds after a collection: what the
// server keeps, not the garbage it has yet to collect.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestBodiesHeldOpenAreBounded(t *testing.T) {
	const budget = 4 << 20
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.MaxBodyBytesInFlight = budget
		c.BodyIdleTimeout = time.Minute // the connections hold still on purpose
	}})
	addr := strings.TrimPrefix(s.URL, "http://")
	before := liveHeap()

	// 120 connections each send 600 KiB of a 1 MB body and stop: 70 MiB
	// held without a budget.
	const conns, sent = 120, 600 << 10
	var (
		mu    sync.Mutex
		held  []net.Conn
		wg    sync.WaitGroup
		peaks uint64
	)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/v1/sessions"
			if i%2 == 1 {
				path = "/v1/graphql"
			}
			c := openBody(t, addr, path, 1_000_000, sent)
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for range 10 {
		if h := liveHeap(); h > peaks {
			peaks = h
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.CheckAlive(t)

	refused, holding := 0, 0
	for _, c := range held {
		resp, body := answer(c, 200*time.Millisecond)
		switch {
		case resp == nil:
			holding++
		case resp.StatusCode == http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "--max-body-bytes-in-flight") || !strings.Contains(body, fmt.Sprint(budget)) {
				t.Errorf("a refused body: %d %v %s", resp.StatusCode, resp.Header, body)
			}
			refused++
		case resp.StatusCode == http.StatusOK && strings.Contains(body, "--max-body-bytes-in-flight"):
			refused++ // GraphQL answers 200 with the error, as Hasura does
		default:
			t.Errorf("a held body was answered %d %s", resp.StatusCode, body)
		}
	}
	growth := int64(peaks) - int64(before)
	t.Logf("%d connections: %d refused, %d holding; heap grew by %d bytes at most (budget %d)", conns, refused, holding, growth, budget)
	if refused == 0 {
		t.Errorf("no body was refused: the budget of %d bytes did not bind %d bodies of %d bytes", budget, conns, sent)
	}
	// The budget, what each request may hold uncounted (16 KiB, and the
	// buffers of its connection and of the decoder), and slack; far below
	// the 70 MiB held otherwise.
	if limit := int64(budget + conns*128<<10 + 8<<20); growth > limit {
		t.Errorf("heap grew by %d bytes while bodies were held; want at most %d", growth, limit)
	}

	// Once the connections go, their bytes are given back: a large batch
	// fits again.
	for _, c := range held {
		c.Close()
	}
	var batch strings.Builder
	for i := 0; i < 30000; i++ {
		batch.WriteString(servertest.Record(fmt.Sprint("s", i), `,"channel":"web"`) + "\n")
	}
	if batch.Len() < budget/2 {
		t.Fatalf("the batch is too small to show the budget given back: %d bytes", batch.Len())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := s.Post(t, "/v1/sessions", nil, []byte(batch.String()))
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a batch after the connections closed: %d %s", code, b)
		}
		time.Sleep(20 * time.Millisecond) // handlers of closed connections still finishing
	}
	s.CheckAlive(t)
}

func TestBodyThatStopsArrivingTimesOut(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.BodyIdleTimeout = 300 * time.Millisecond
	}})
	addr := strings.TrimPrefix(s.URL, "http://")
	c := openBody(t, addr, "/v1/sessions", 100_000, 20_000)
	resp, body := answer(c, 30*time.Second)
	if resp == nil || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, "--body-idle-timeout") || !strings.Contains(body, "300ms") {
		t.Fatalf("a body that stopped: %v %s", resp, body)
	}
	// The whole body's limit holds however the bytes trickle.
	s = servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.BodyTimeout = 500 * time.Millisecond
	}})
	addr = strings.TrimPrefix(s.URL, "http://")
	c = openBody(t, addr, "/v1/sessions", 100_000, 20_000)
	go func() {
		for range 100 {
			if _, err := io.WriteString(c, "a"); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	resp, body = answer(c, 30*time.Second)
	if resp == nil || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, "--body-timeout") {
		t.Fatalf("a body that trickled: %v %s", resp, body)
	}
	s.CheckAlive(t)
}

// TestGzipBodiesCountInflatedBytes: a gzip batch is counted against the
// budget by what it inflates to, not by its compressed size. Before, a
// body of tens of KB could decompress to the route's whole limit, and
// dozens of them held gigabytes under a budget they never touched.
func TestGzipBodiesCountInflatedBytes(t *testing.T) {
	const budget = 1 << 20
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.MaxBodyBytesInFlight = budget
	}})
	gz := func(n int) []byte {
		var plain strings.Builder
		for i := range n {
			plain.WriteString(rec(fmt.Sprintf("gz-%d-%d", n, i), `,"channel":"web"`) + "\n")
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, plain.String())
		zw.Close()
		return b.Bytes()
	}
	h := map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
	big := gz(20000) // about 3 MB inflated
	if len(big) >= budget {
		t.Fatalf("the test's body is %d bytes compressed; it must fit the budget to prove the point", len(big))
	}
	code, hdr, body := s.Send(t, "POST", "/v1/sessions", h, big)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "--max-body-bytes-in-flight") || !strings.Contains(string(body), fmt.Sprint(budget)) {
		t.Fatalf("a gzip body inflating past the budget: %d %s", code, body)
	}
	// The budget is given back: a batch that fits goes through, and
	// nothing of the refused one was written.
	if code, body := s.Do(t, "POST", "/v1/sessions", h, gz(100)); code != http.StatusOK || !strings.Contains(string(body), `"accepted":100`) {
		t.Fatalf("a small gzip batch after the refusal: %d %s", code, body)
	}
	s.CheckAlive(t)
}
