package server_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/disktest"
	"github.com/tally-server/tally/internal/servertest"
)

// A real store on a real file system that fills: a tmpfs filled to the
// last block. Issue 9, finding 11: a full disk answered 503 on writes
// while /healthz kept saying OK. (A file system cannot be remounted
// read-only under a server that has files open for writing, so the
// read-only store is checked in internal/store/sqlite, and a read-only
// data directory at start in cmd/tally.)

func batchOf(n int, prefix string) []byte {
	var b strings.Builder
	for i := range n {
		b.WriteString(servertest.Record(fmt.Sprint(prefix, i), `,"channel":"web","agent_ids":["ann","bob"]`) + "\n")
	}
	return []byte(b.String())
}

// healthz returns /healthz's status and body.
func healthz(t *testing.T, s *servertest.Server) (int, string) {
	t.Helper()
	code, b := s.Do(t, http.MethodGet, "/healthz", nil, nil)
	return code, string(b)
}

// waitHealth polls /healthz until it answers code (the write check
// trusts a result for a few seconds) and returns the body.
func waitHealth(t *testing.T, s *servertest.Server, code int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, body := healthz(t, s)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still answers %d %q, want %d", got, body, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDiskFull(t *testing.T) {
	dir := disktest.Tmpfs(t, 8<<20)
	s := servertest.Start(t, servertest.Options{Dir: dir})
	if code, b := s.Post(t, "/v1/sessions", nil, batchOf(100, "before")); code != 200 {
		t.Fatalf("a batch on an empty disk: %d %s", code, b)
	}
	if code, body := healthz(t, s); code != 200 || body != "OK" {
		t.Fatalf("/healthz on an empty disk: %d %s", code, body)
	}

	filler := disktest.Fill(t, dir)
	code, b := s.Post(t, "/v1/sessions", nil, batchOf(20000, "full"))
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "full") || !strings.Contains(string(b), dir) {
		t.Errorf("a batch on a full disk: %d %s", code, b)
	}
	if body := waitHealth(t, s, http.StatusServiceUnavailable); !strings.Contains(body, "full") || !strings.Contains(body, dir) {
		t.Errorf("/healthz on a full disk: %s", body)
	}
	s.CheckAlive(t)
	if n := s.Embedded.Sessions(); n != 100 {
		t.Errorf("%d sessions held after the failed batch, want 100", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, http.StatusOK)
	if code, b := s.Post(t, "/v1/sessions", nil, batchOf(2000, "after")); code != 200 {
		t.Fatalf("a batch once space is freed: %d %s", code, b)
	}

	if n := s.Embedded.Sessions(); n != 2100 {
		t.Errorf("%d sessions held, want 2100", n)
	}
}
