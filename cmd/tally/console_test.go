package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds Debian's chromium; the test needs a real browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TALLY_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is required (TALLY_REQUIRE_BROWSER=1) but not installed")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestConsoleInBrowser opens /console?run=1 in headless Chromium against
// a real demo server: the page must run the SPEC query with its
// prefilled variables and headers, show the answer and draw the chart.
func TestConsoleInBrowser(t *testing.T) {
	browser := chromiumPath(t)
	p := startProc(t, "demo", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--demo-days", "12", "--demo-per-day", "200", "--log-level", "warn")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=10000", "--dump-dom", p.URL+"/console?run=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{`data-state="done"`, `"rows": [`, `"closed_sessions":`, `data-kind="open"`, `data-kind="closed"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(dom, `data-kind="closed"`); n != 10 {
		t.Errorf("chart has %d closed bars, want one per bucket of the 10-day query", n)
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
