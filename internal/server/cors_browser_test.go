package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/servertest"
)

// browserPath finds Debian's chromium; the test needs a real browser.
func browserPath(t *testing.T) string {
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

// corsPage posts the SPEC query to tally from wherever it is served, with
// the account header (so the browser sends a preflight first), and shows
// the answer or the failure in #out.
const corsPage = `<!doctype html><meta charset="utf-8"><title>CORS</title>
<pre id="out" data-state="running"></pre>
<script>
const out = document.getElementById("out");
fetch(%q + "/v1/graphql", {
  method: "POST",
  headers: {"Content-Type": "application/json", "X-Moveo-Account-Id": %q},
  body: JSON.stringify({query: %q, variables: {s: "2024-01-08", e: "2024-01-09"}}),
}).then(r => r.text()).then(t => { out.textContent = t; out.dataset.state = "answered"; })
  .catch(e => { out.textContent = String(e); out.dataset.state = "failed"; });
</script>`

// TestBrowserOnAnotherOrigin: a page served from another origin can call
// Tally from headless Chromium (the preflight and the POST pass CORS), and
// cannot when --cors-origins leaves its origin out.
func TestBrowserOnAnotherOrigin(t *testing.T) {
	browser := browserPath(t)
	query := `query($s: timestamp!, $e: timestamp!) { rows: ` + fn + `(args: {start_time: $s, end_time: $e}) { per_interval open_sessions } }`
	for _, c := range []struct {
		name    string
		origins []string
		want    string
	}{
		{"every origin by default", nil, `data-state="answered">{"data":{"rows":[{"per_interval":"2024-01-08T00:00:00","open_sessions":1},{"per_interval":"2024-01-09T00:00:00","open_sessions":1}]}}`},
		{"origin left out by --cors-origins", []string{"https://only.example.com"}, `data-state="failed">TypeError: Failed to fetch`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs syncBuffer
			s := servertest.Start(t, servertest.Options{CORSOrigins: c.origins, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			s.LoadFew(t)
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, corsPage, s.URL, acct, query)
			}))
			t.Cleanup(page.Close)
			if page.URL == s.URL {
				t.Fatal("the page must be on another origin")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
				"--virtual-time-budget=10000", "--dump-dom", page.URL)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("the page shows\n%s\nwant %s", out, c.want)
			}
			if c.origins == nil && !strings.Contains(logs.String(), "method=OPTIONS path=/v1/graphql status=204") {
				t.Errorf("no preflight reached Tally:\n%s", logs.String())
			}
		})
	}
}
