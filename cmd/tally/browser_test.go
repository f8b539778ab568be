package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/web"
)

// The browser pages in Debian's chromium, against a real tally demo
// process with data. The tests themselves are Node scripts in web/e2e
// (playwright-core driving /usr/bin/chromium; it downloads no browser),
// one subtest each; every one fails when the page asks for anything off
// this machine. TALLY_REQUIRE_BROWSER=1 turns a missing chromium, Node or
// playwright-core into a failure; TALLY_SCREENSHOTS=1 rewrites
// docs/img/console.png and docs/img/dashboard.png.

// chromiumPath finds Debian's chromium; the tests need a real browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	requireOrSkip(t, "chromium is not installed (./scripts/test.sh installs it)")
	return ""
}

// browserDriver finds node and web/'s playwright-core, which go generate
// ./web installs (npm ci).
func browserDriver(t *testing.T) (node, webDir string) {
	t.Helper()
	webDir, _ = filepath.Abs("../../web")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core", "package.json"))
	if err != nil || modErr != nil {
		requireOrSkip(t, "node and web/node_modules/playwright-core are needed (go generate ./web installs them)")
	}
	if !web.Built() {
		requireOrSkip(t, "the pages are not built into this binary; run go generate ./web")
	}
	return node, webDir
}

func requireOrSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("TALLY_REQUIRE_BROWSER") == "1" {
		t.Fatal(why + " (TALLY_REQUIRE_BROWSER=1)")
	}
	t.Skip(why)
}

// api is what the server under test offers beyond SPEC sections 1-8, found
// by introspection and a WebSocket handshake: the dashboard needs some of
// it, which other branches add.
type api struct {
	flow bool // args.time_zone, columns open_at_end and closed_in_interval (SPEC 9.1, 9.2)
	dims bool // session_dimension_counts (the filter pickers' values)
	live bool // subscriptions over WebSocket (SPEC 9.3)
}

// need names an API part a test cannot run without, for its skip message.
type need struct {
	has  func(api) bool
	what string
}

var (
	needFlow = need{func(a api) bool { return a.flow }, "args.time_zone and the columns open_at_end and closed_in_interval (SPEC 9.1-9.2, branch flow)"}
	needDims = need{func(a api) bool { return a.dims }, "the function session_dimension_counts (api-contract.md section 2, branch dims)"}
	needLive = need{func(a api) bool { return a.live }, "live queries over WebSocket on /v1/graphql (SPEC 9.3, branch live)"}
)

func probeAPI(t *testing.T, base, account string) api {
	t.Helper()
	body := mustJSON(map[string]any{"query": `{
		t: __type(name: "open_closed_sessions_interval_counts") { fields { name } }
		a: __type(name: "open_closed_sessions_interval_counts_v2_args") { inputFields { name } }
		s: __schema { queryType { fields { name } } }
	}`})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Moveo-Account-Id", account)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type named struct{ Name string }
	var r struct {
		Data struct {
			T struct{ Fields []named }
			A struct{ InputFields []named }
			S struct{ QueryType struct{ Fields []named } }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("introspection: %v", err)
	}
	has := func(list []named, names ...string) bool {
		n := 0
		for _, f := range list {
			for _, want := range names {
				if f.Name == want {
					n++
				}
			}
		}
		return n == len(names)
	}
	a := api{
		flow: has(r.Data.T.Fields, "open_at_end", "closed_in_interval") && has(r.Data.A.InputFields, "time_zone"),
		dims: has(r.Data.S.QueryType.Fields, "session_dimension_counts"),
		live: acceptsWebSocket(t, base),
	}
	t.Logf("server API: flow columns and time_zone %v, session_dimension_counts %v, WebSocket subscriptions %v", a.flow, a.dims, a.live)
	return a
}

// acceptsWebSocket opens the handshake graphql-ws makes on /v1/graphql.
func acceptsWebSocket(t *testing.T, base string) bool {
	t.Helper()
	key := make([]byte, 16)
	rand.Read(key)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/graphql", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	req.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusSwitchingProtocols
}

// TestBrowser runs web/e2e's tests against a demo server. Each names the
// API it needs; a server without it fails the test with the missing part.
func TestBrowser(t *testing.T) {
	browser := chromiumPath(t)
	node, webDir := browserDriver(t)
	p := startProc(t, "demo", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--demo-days", "30", "--demo-per-day", "300", "--log-level", "warn")

	// The account the pages start with, as the server injects it.
	code, page := httpGet(t, p.URL+"/dashboard")
	m := regexp.MustCompile(`"accountId":"([0-9a-f-]{36})"`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("/dashboard: HTTP %d without a default account: %.300s", code, page)
	}
	account := m[1]
	a := probeAPI(t, p.URL, account)

	env := append(os.Environ(), "TALLY_URL="+p.URL, "TALLY_ACCOUNT="+account, "CHROMIUM="+browser, "TALLY_SCREENSHOTS=")
	if a.live {
		env = append(env, "TALLY_LIVE=1")
	}
	if os.Getenv("TALLY_SCREENSHOTS") == "1" {
		dir, _ := filepath.Abs("../../docs/img")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		env = append(env, "TALLY_SCREENSHOTS="+dir)
	}
	tests := []struct {
		name  string
		needs []need
	}{
		{"guard", nil},                                    // a request off the machine fails a test
		{"console", nil},                                  // GraphiQL runs the SPEC query and shows its rows; docs explorer
		{"console-live", []need{needLive}},                // a subscription typed into GraphiQL shows new sessions as they arrive
		{"dashboard-chart", []need{needFlow}},             // the default view equals REST; the chart has ink of each series
		{"dashboard-filter", []need{needFlow}},            // "test sessions only" changes the numbers and the bars
		{"dashboard-pickers", []need{needFlow, needDims}}, // the desk picker lists the data's desks; choosing one filters
		{"dashboard-url", []need{needFlow}},               // a link restores every control and the view, after reload and back
		{"dashboard-csv", []need{needFlow}},               // the download equals the table, the GraphQL answer and REST's CSV
		{"dashboard-live", []need{needFlow, needLive}},    // a batch shows without a reload, pushed over the WebSocket
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var missing []string
			for _, n := range tc.needs {
				if !n.has(a) {
					missing = append(missing, n.what)
				}
			}
			if len(missing) > 0 {
				// Every feature these pages use has landed: one missing
				// is a regression, never a reason to skip.
				t.Fatalf("the server lacks %s", strings.Join(missing, "; and "))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "run.mjs"), tc.name)
			cmd.Dir = webDir
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
