package server_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/web"
)

// The browser pages as HTTP serves them: the built pages with their
// defaults and headers, every asset with its type and caching, nothing
// else of the build, and the answer of a binary built without them.

// requirePages skips a test that needs the built pages when there are
// none, or fails it when TALLY_REQUIRE_PAGES=1 (as CI sets).
func requirePages(t *testing.T) {
	t.Helper()
	if web.Built() {
		return
	}
	if os.Getenv("TALLY_REQUIRE_PAGES") == "1" {
		t.Fatal("the pages are not built (TALLY_REQUIRE_PAGES=1): run go generate ./web")
	}
	t.Skip("the pages are not built; run go generate ./web")
}

const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// injected reads the defaults element of a served page.
func injected(t *testing.T, page []byte) web.Defaults {
	t.Helper()
	m := regexp.MustCompile(`<script id="tally-defaults" type="application/json">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no defaults element in\n%s", page)
	}
	var d web.Defaults
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatalf("defaults %s: %v", m[1], err)
	}
	return d
}

func TestPagesCarryTheirDefaults(t *testing.T) {
	requirePages(t)
	vars := map[string]any{"deskIds": "{9566c74d-1003-4c4d-bbbb-0407d1e2c649}", "startDate": "2024-01-08"}
	for _, secret := range []string{"", "s3cret"} {
		s := servertest.Start(t, servertest.Options{AdminSecret: secret, Console: server.ConsoleConfig{AccountID: acct, Variables: vars}})
		for _, p := range []string{"/console", "/dashboard"} {
			// The pages need no credentials: they hold no data.
			code, h, body := get(t, s, p, nil)
			if code != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", p, code, body)
			}
			for k, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Cache-Control":           "no-cache",
				"Content-Security-Policy": pageCSP,
				"X-Content-Type-Options":  "nosniff",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: %s %q, want %q", p, k, got, want)
				}
			}
			d := injected(t, body)
			if d.AccountID != acct || d.Query != web.SpecQuery || d.Variables["deskIds"] != vars["deskIds"] || d.AdminSecretRequired != (secret != "") {
				t.Errorf("%s (secret %q) carries %+v", p, secret, d)
			}
		}
	}
}

// TestAssetsAreServed fetches every file the pages reference and every
// file under assets/: each with a Content-Type a browser accepts under
// nosniff, cached for good, and byte for byte the embedded file.
func TestAssetsAreServed(t *testing.T) {
	requirePages(t)
	s := servertest.Start(t, servertest.Options{})
	types := map[string]string{
		".js":    "text/javascript; charset=utf-8",
		".css":   "text/css; charset=utf-8",
		".ttf":   "font/ttf",
		".woff2": "font/woff2",
		".svg":   "image/svg+xml",
		".png":   "image/png",
		".json":  "application/json",
		".wasm":  "application/wasm",
	}
	var names []string
	err := fs.WalkDir(web.Pages, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil || len(names) == 0 {
		t.Fatalf("no assets in the build: %v", err)
	}
	for _, p := range []string{"/console", "/dashboard"} {
		_, _, page := get(t, s, p, nil)
		refs := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllSubmatch(page, -1)
		if len(refs) == 0 {
			t.Errorf("%s references no assets", p)
		}
		for _, m := range refs {
			if !strings.Contains(strings.Join(names, " "), string(m[1])) {
				t.Errorf("%s references %s, which is not in the build", p, m[1])
			}
		}
	}
	for _, name := range names {
		want, ok := types[path.Ext(name)]
		if !ok {
			t.Errorf("%s: no Content-Type is known for its extension; add it to the server's table and this test", name)
			continue
		}
		code, h, body := get(t, s, "/"+name, nil)
		file, _ := fs.ReadFile(web.Pages, name)
		if code != http.StatusOK || !bytes.Equal(body, file) {
			t.Errorf("%s: HTTP %d, %d bytes, want the %d embedded", name, code, len(body), len(file))
		}
		if h.Get("Content-Type") != want || h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Type %q, Cache-Control %q, nosniff %q", name, h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
		}
	}
	// A range request, as browsers send for large files.
	code, _, part := get(t, s, "/"+names[0], map[string]string{"Range": "bytes=0-9"})
	if code != http.StatusPartialContent || len(part) != 10 {
		t.Errorf("range: HTTP %d, %d bytes", code, len(part))
	}
}

func TestNoOtherFilesAndNoListings(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, p := range []string{
		"/assets/", "/assets", "/assets/nope.js", "/assets/../build-inputs.sha256", "/assets/%2e%2e/build-inputs.sha256",
		"/assets/..%2fbuild-inputs.sha256", "/assets//x.js", "/build-inputs.sha256", "/README.txt", "/console.html", "/dashboard.html",
		"/web.go", "/console/", "/dashboard/x",
	} {
		code, _, body := get(t, s, p, nil)
		if code != http.StatusNotFound && code != http.StatusMovedPermanently {
			t.Errorf("%s: HTTP %d %.80s", p, code, body)
		}
		if bytes.Contains(body, []byte("<pre>")) || bytes.Contains(body, []byte("sha256")) {
			t.Errorf("%s lists or leaks files: %.200s", p, body)
		}
	}
}

func TestRootSendsBrowsersToTheDashboard(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "dashboard" {
		t.Errorf("GET /: HTTP %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _, _ := get(t, s, "/nope", nil); code != http.StatusNotFound {
		t.Errorf("GET /nope: HTTP %d", code)
	}
}

// TestPagesNotBuilt serves from an empty build, as a binary built without
// go generate has: the pages say how to build them, with 503.
func TestPagesNotBuilt(t *testing.T) {
	built := web.Pages
	web.Pages = fstest.MapFS{"README.txt": {Data: []byte("not built")}}
	t.Cleanup(func() { web.Pages = built })
	s := servertest.Start(t, servertest.Options{})
	for _, p := range []string{"/console", "/dashboard"} {
		code, h, body := get(t, s, p, nil)
		if code != http.StatusServiceUnavailable || string(body) != web.NotBuilt || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: HTTP %d %s %q", p, code, h.Get("Content-Type"), body)
		}
		if !strings.Contains(string(body), "go generate ./web") {
			t.Errorf("%s does not say how to build the pages: %s", p, body)
		}
	}
	if code, _, _ := get(t, s, "/assets/console.js", nil); code != http.StatusNotFound {
		t.Errorf("asset without a build: HTTP %d", code)
	}
	// The API does not depend on the pages.
	if r := s.Query(t, acct, `{ __typename }`, nil); len(r.Errors) > 0 {
		t.Errorf("GraphQL without pages: %+v", r.Errors)
	}
}
