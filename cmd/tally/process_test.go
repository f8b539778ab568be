package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tallyBinary builds cmd/tally once per test run.
func tallyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tally-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tally")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running tally process.
type proc struct {
	cmd  *exec.Cmd
	URL  string
	logs *strings.Builder
}

// startProc runs the binary with args and waits for its listening line.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(tallyBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs}
	t.Cleanup(func() { p.kill() })
	lines := bufio.NewScanner(stdout)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if _, after, ok := strings.Cut(lines.Text(), "listening on "); ok {
				urlc <- after
			}
		}
		close(urlc)
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			cmd.Wait()
			t.Fatalf("tally exited before listening: %s", logs.String())
		}
		p.URL = u
	case <-time.After(60 * time.Second):
		t.Fatalf("tally did not start: %s", logs.String())
	}
	go io.Copy(io.Discard, stdout)
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// day0 is the first day of the batches of the process tests.
var day0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// batchFor makes n sessions starting on day k (from 0) of 2024.
func batchFor(k, n int) []byte {
	var b strings.Builder
	day := day0.AddDate(0, 0, k).Format("2006-01-02")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"account_id":%q,"session_id":"b%d-%d","start_time":"%sT%02d:%02d:00","end_time":null}`+"\n", acct, k, i, day, i%24, i%60)
	}
	return []byte(b.String())
}

// dayCounts returns the open sessions of each of the first days of 2024.
func dayCounts(t *testing.T, url string, days int) []int64 {
	t.Helper()
	body := mustJSON(map[string]any{"query": fmt.Sprintf(`{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: %q}) { open_sessions } }`, day0.AddDate(0, 0, days-1).Format("2006-01-02"))})
	req, _ := http.NewRequest("POST", url+"/v1/graphql", strings.NewReader(string(body)))
	req.Header.Set("X-Moveo-Account-Id", acct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			R []struct {
				Open int64 `json:"open_sessions"`
			} `json:"r"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(r.Data.R))
	for i, row := range r.Data.R {
		out[i] = row.Open
	}
	return out
}

// crashRounds is how many times TestKill9KeepsAcknowledgedBatches kills
// the server: TALLY_CRASH_ROUNDS, default 3. The reliability campaign
// runs it with 20 (docs/testing.md).
func crashRounds(t *testing.T) int {
	t.Helper()
	v := os.Getenv("TALLY_CRASH_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("TALLY_CRASH_ROUNDS=%q: want a positive number of rounds", v)
	}
	return n
}

// TestKill9KeepsAcknowledgedBatches sends batches to a real process and
// kills it with SIGKILL while it is still taking writes, crashRounds
// times, restarting it on the same data directory each time. After the
// last restart every acknowledged batch is there in full, and every other
// batch is either there in full or absent: acknowledged means durable,
// and a batch is atomic.
func TestKill9KeepsAcknowledgedBatches(t *testing.T) {
	dir := t.TempDir()
	const perBatch = 3000
	rounds := crashRounds(t)
	batches := rounds*9 + 1
	acked := map[int]bool{}
	for round := 0; round < rounds; round++ {
		p := startProc(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for k := round * 9; k < batches; k++ {
				resp, err := http.Post(p.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(string(batchFor(k, perBatch))))
				if err != nil {
					return // the process is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
			}
		}()
		// Kill while batches are in flight: after the round's third
		// acknowledgement.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := 0
			for k := range acked {
				if k >= round*9 {
					n++
				}
			}
			mu.Unlock()
			if n >= 3 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		p.kill()
		<-done
	}
	p := startProc(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	counts := dayCounts(t, p.URL, batches)
	for k := 0; k < batches; k++ {
		got := counts[k]
		if acked[k] && got != perBatch {
			t.Errorf("batch %d was acknowledged but %d of %d sessions survived the kill", k, got, perBatch)
		}
		if got != 0 && got != perBatch {
			t.Errorf("batch %d is torn: %d of %d sessions stored", k, got, perBatch)
		}
	}
	if len(acked) < 3*rounds {
		t.Errorf("only %d batches were acknowledged in %d rounds; the test did not exercise the kill", len(acked), rounds)
	}
	t.Logf("%d kills: %d of %d batches acknowledged, every one of them intact; no batch torn", rounds, len(acked), batches)
}

// TestServeFlagsReportAllProblems runs the CLI in-process with several bad
// settings and expects every one named at once, flags winning over env.
func TestServeFlagsReportAllProblems(t *testing.T) {
	var out, errb strings.Builder
	env := map[string]string{"TALLY_MAX_BUCKETS": "many", "TALLY_LISTEN": "127.0.0.1:1"}
	code := run(t.Context(), []string{"serve", "--listen", "nowhere", "--query-timeout", "-1s", "--log-level", "loud"}, &out, &errb, func(k string) string { return env[k] })
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, errb.String())
	}
	for _, want := range []string{`TALLY_MAX_BUCKETS="many" is not an integer`, `--listen "nowhere" is not host:port`, "--query-timeout must be positive", `--log-level "loud"`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}
