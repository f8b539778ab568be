package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

// runBinary runs the built tally with args and returns its exit code and
// combined output.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(tallyBinary(t), args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("tally %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// TestOneProcessOwnsTheDataDirectory: issue 9, finding 9 — two servers on
// one data directory both started, and tally import wrote under a running
// server; their counts then went wrong. Real processes: the lock is the
// operating system's.
func TestOneProcessOwnsTheDataDirectory(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	holder := fmt.Sprintf("pid %d", p.cmd.Process.Pid)

	for _, cmd := range []string{"serve", "demo"} {
		code, out := runBinary(t, cmd, "--listen", "127.0.0.1:0", "--data-dir", dir)
		if code != exitFailure || !strings.Contains(out, "in use by another process ("+holder+")") || !strings.Contains(out, dir) {
			t.Errorf("a second tally %s on a held directory: exit %d\n%s", cmd, code, out)
		}
	}
	file := filepath.Join(t.TempDir(), "sessions.ndjson")
	if err := os.WriteFile(file, batchFor(0, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runBinary(t, "import", "--data-dir", dir, file)
	if code != exitFailure || !strings.Contains(out, holder) || !strings.Contains(out, "stop that process first") {
		t.Errorf("tally import into a running server's directory: exit %d\n%s", code, out)
	}
	if got := dayCounts(t, p.URL, 1); len(got) != 1 || got[0] != 0 {
		t.Errorf("the refused import reached the server's store: %v", got)
	}
	(&servertest.Server{URL: p.URL}).CheckAlive(t)

	// kill -9 leaves the lock file but not the lock: the next owner takes
	// it without ceremony.
	p.kill()
	if code, out := runBinary(t, "import", "--data-dir", dir, file); code != exitOK {
		t.Fatalf("import once the server is gone: exit %d\n%s", code, out)
	}
	p = startProc(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	if got := dayCounts(t, p.URL, 1); len(got) != 1 || got[0] != 5 {
		t.Errorf("after the import, day 1 holds %v open sessions, want 5", got)
	}
}
