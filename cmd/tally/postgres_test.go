package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/servertest"
)

// TestTwoReplicasOneDatabase: two real tally processes on one PostgreSQL
// database; a write acknowledged by one is visible in the very next query
// to the other, and keys made through one work on the other.
func TestTwoReplicasOneDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := startProc(t, "serve", "--listen", "127.0.0.1:0", "--database-url", url, "--admin-secret", "s3cret", "--log-level", "warn")
	b := startProc(t, "serve", "--listen", "127.0.0.1:0", "--database-url", url, "--admin-secret", "s3cret", "--log-level", "warn")
	ta := &servertest.Server{URL: a.URL, Secret: "s3cret"}
	tb := &servertest.Server{URL: b.URL, Secret: "s3cret"}
	for i := 1; i <= 20; i++ {
		writer, reader := ta, tb
		if i%2 == 0 {
			writer, reader = tb, ta
		}
		code, body := writer.Post(t, "/v1/sessions", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(rec(fmt.Sprintf("r%d", i), "")))
		if code != 200 {
			t.Fatalf("write %d: %d %s", i, code, body)
		}
		got := reader.Query(t, acct, countQuery, nil)
		if want := fmt.Sprintf(`[{"open_sessions":%d}]`, i); string(got.Data["r"]) != want {
			t.Fatalf("after write %d through one replica the other answers %s, want %s", i, got.Data["r"], want)
		}
	}
	k := ta.CreateKey(t, acct, "read")
	code, body := tb.Do(t, "POST", "/v1/graphql", map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": acct}, mustJSON(map[string]any{"query": countQuery}))
	if code != 200 || !strings.Contains(string(body), `"open_sessions":20`) {
		t.Fatalf("a key created on one replica, used on the other: %s", body)
	}
	if code, _ := tb.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != 200 {
		t.Fatalf("revoke on the other replica: %d", code)
	}
	// A replica trusts a cached key for up to a second (docs/auth.md).
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, body = ta.Do(t, "POST", "/v1/graphql", map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": acct}, mustJSON(map[string]any{"query": countQuery}))
		if strings.Contains(string(body), "access-denied") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a key revoked on one replica still works on the other after 3 s: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresStopAndRestart stops a real PostgreSQL under load and starts
// it again: while it is away /healthz is not 200, queries get a
// Hasura-shaped error naming the problem, writes are refused (never
// acknowledged), and service resumes by itself when it returns; every
// acknowledged write is then there.
func TestPostgresStopAndRestart(t *testing.T) {
	pg := pgtest.Start(t) // its own cluster: this test stops it
	p := startProc(t, "serve", "--listen", "127.0.0.1:0", "--database-url", pg.URL, "--log-level", "error")
	s := &servertest.Server{URL: p.URL}

	var (
		acked   atomic.Int64
		refused atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		seq     atomic.Int64
		mu      sync.Mutex
		ackedID = map[string]bool{}
	)
	wg.Add(1)
	go func() { // steady writes while the database goes away and comes back
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("load-%d", seq.Add(1))
			resp, err := http.Post(s.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(strings.Replace(rec(id, ""), "2024-01-08T10", "2024-01-09T10", 1)))
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				acked.Add(1)
				mu.Lock()
				ackedID[id] = true
				mu.Unlock()
			} else {
				refused.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	health := func() int {
		resp, err := http.Get(s.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("some acknowledged writes", func() bool { return acked.Load() > 20 })
	if err := pg.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor("/healthz to report the outage", func() bool { return health() != 200 })
	r := s.Query(t, acct, countQuery, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "database is unreachable") || r.Data != nil {
		t.Fatalf("query during the outage: %+v", r)
	}
	before := refused.Load()
	waitFor("writes to be refused during the outage", func() bool { return refused.Load() > before+3 })
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor("/healthz to recover", func() bool { return health() == 200 })
	after := acked.Load()
	waitFor("writes to be acknowledged again", func() bool { return acked.Load() > after+10 })
	close(stop)
	wg.Wait()
	// Every acknowledged write is stored.
	r = s.Query(t, acct, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-09", end_time: "2024-01-09"}) { open_sessions } }`, nil)
	var rows []struct {
		Open int64 `json:"open_sessions"`
	}
	if err := json.Unmarshal(r.Data["r"], &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v %s", err, r.Data["r"])
	}
	if rows[0].Open < acked.Load() {
		t.Fatalf("%d writes were acknowledged but only %d are stored", acked.Load(), rows[0].Open)
	}
	t.Logf("%d writes acknowledged, %d refused during the outage, %d stored", acked.Load(), refused.Load(), rows[0].Open)
}
