package servertest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LiveClientResult is one result a Node subscription client received.
type LiveClientResult struct {
	Client string          `json:"client"`
	N      int             `json:"n"`
	Result json.RawMessage `json:"result"`
}

// LiveClients are the clients clients/live/check.mjs runs.
var LiveClients = []string{"graphql-ws", "apollo-graphql-ws", "apollo-legacy"}

// RunLiveClients subscribes to url with the real Node clients of
// clients/live (graphql-ws, and Apollo Client over graphql-ws and over
// subscriptions-transport-ws) to the SPEC query's counts of account for
// 2024-01-08 and 2024-01-09, and returns every client's results, in
// order. Once every client has its k-th result, step(k) runs (to write
// sessions); the clients stop after `results` each. Without node or the
// installed packages the test is skipped, or fails with
// TALLY_REQUIRE_NODE=1.
func RunLiveClients(t testing.TB, url, account, secret string, results int, step func(k int)) map[string][]json.RawMessage {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "live")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws"))
	if err != nil || modErr != nil {
		if os.Getenv("TALLY_REQUIRE_NODE") == "1" {
			t.Fatalf("node and clients/live/node_modules are required (TALLY_REQUIRE_NODE=1): %v %v", err, modErr)
		}
		t.Skip("node or clients/live not installed (npm ci --prefix clients/live)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "check.mjs"), url, account, secret, strconv.Itoa(results))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]json.RawMessage{}
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, 1<<20)
	for k := 0; lines.Scan(); {
		var r LiveClientResult
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("node client printed %q: %v", lines.Text(), err)
		}
		if r.N != len(got[r.Client]) {
			t.Fatalf("%s: result %d out of order", r.Client, r.N)
		}
		got[r.Client] = append(got[r.Client], r.Result)
		all := true
		for _, c := range LiveClients {
			all = all && len(got[c]) > k
		}
		if all {
			k++
			if k < results && step != nil {
				step(k)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node clients: %v\n%s", err, stderr.String())
	}
	return got
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
