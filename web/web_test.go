package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// buildConfigFiles and buildSourceDir are the build's inputs, as
// vite.config.ts lists them (configFiles, sourceDir). A disagreement shows
// at once: the hashes of a fresh build would not match.
var buildConfigFiles = []string{"package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"}

const buildSourceDir = "src"

// requireBuilt skips a test that needs the built pages when there are none,
// or fails it when TALLY_REQUIRE_PAGES=1 (CI builds the pages first).
func requireBuilt(t *testing.T) {
	t.Helper()
	if Built() {
		return
	}
	if os.Getenv("TALLY_REQUIRE_PAGES") == "1" {
		t.Fatal("the pages are not built (TALLY_REQUIRE_PAGES=1): run go generate ./web")
	}
	t.Skip("the pages are not built; run go generate ./web")
}

// sourceHashes hashes the build inputs in web/ as they are on disk, by
// slash-separated path.
func sourceHashes(t *testing.T) map[string]string {
	t.Helper()
	paths := slices.Clone(buildConfigFiles)
	err := filepath.WalkDir(buildSourceDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		paths = append(paths, filepath.ToSlash(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sums := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(filepath.FromSlash(p))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sums[p] = hex.EncodeToString(sum[:])
	}
	return sums
}

// builtHashes reads build-inputs.sha256 from the embedded build.
func builtHashes(t *testing.T) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(Pages, "build-inputs.sha256")
	if err != nil {
		t.Fatalf("the build has pages but no build-inputs.sha256: %v", err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, p, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("build-inputs.sha256: bad line %q", sc.Text())
		}
		sums[p] = sum
	}
	return sums
}

// TestBuildIsCurrent fails when a source of the pages changed, appeared or
// went away since the build that is embedded: the binary would serve pages
// that do not match the code.
func TestBuildIsCurrent(t *testing.T) {
	requireBuilt(t)
	built, now := builtHashes(t), sourceHashes(t)
	var changes []string
	for p, sum := range now {
		switch old, ok := built[p]; {
		case !ok:
			changes = append(changes, "added "+p)
		case old != sum:
			changes = append(changes, "changed "+p)
		}
	}
	for p := range built {
		if _, ok := now[p]; !ok {
			changes = append(changes, "removed "+p)
		}
	}
	sort.Strings(changes)
	if len(changes) > 0 {
		t.Fatalf("web/ changed since the last build; run go generate ./web\n  %s", strings.Join(changes, "\n  "))
	}
}

// TestBuiltPagesLoadNothingFromOutside checks the built HTML: the defaults
// element is there once, and every script, style and preload is a relative
// ./assets/ URL of a file in the binary (or a data: URL, which is no request).
func TestBuiltPagesLoadNothingFromOutside(t *testing.T) {
	requireBuilt(t)
	ref := regexp.MustCompile(`(?i)\s(?:src|href)="([^"]*)"`)
	for _, name := range []string{"console.html", "dashboard.html"} {
		page, err := fs.ReadFile(Pages, name)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(page, []byte(defaultsOpen)); n != 1 {
			t.Errorf("%s has %d defaults elements, want 1", name, n)
		}
		refs := ref.FindAllSubmatch(page, -1)
		if len(refs) == 0 {
			t.Errorf("%s references no assets", name)
		}
		for _, m := range refs {
			url := string(m[1])
			// Links between the pages are relative names without a dot.
			if url == "console" || url == "dashboard" || strings.HasPrefix(url, "data:") {
				continue
			}
			if !strings.HasPrefix(url, "./assets/") {
				t.Errorf("%s loads %q: want a relative ./assets/ URL", name, url)
				continue
			}
			if _, err := fs.Stat(Pages, path.Clean(url)); err != nil {
				t.Errorf("%s loads %q, which is not in the build: %v", name, url, err)
			}
		}
	}
}

func TestPageInjectsDefaults(t *testing.T) {
	page := []byte(`<head>` + defaultsOpen + `{}</script><script src="./assets/a.js"></script></head>`)
	d := Defaults{
		AccountID: "52fdfc07-2182-454f-963f-5f0f9a621d72",
		Query:     `query { x } # </script><script>alert(1)</script>`,
		Variables: map[string]any{"startDate": "2024-01-08"},
	}
	got, err := injectDefaults("t.html", page, d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(got, []byte("</script>")) != 2 {
		t.Fatalf("a value closed the script element early:\n%s", got)
	}
	start := bytes.Index(got, []byte(defaultsOpen)) + len(defaultsOpen)
	end := start + bytes.Index(got[start:], []byte("</script>"))
	var back Defaults
	if err := json.Unmarshal(got[start:end], &back); err != nil {
		t.Fatalf("injected JSON does not parse: %v\n%s", err, got)
	}
	if back.AccountID != d.AccountID || back.Query != d.Query || back.Variables["startDate"] != "2024-01-08" {
		t.Errorf("round trip gave %+v, want %+v", back, d)
	}
	if !bytes.HasSuffix(got, []byte(`</script><script src="./assets/a.js"></script></head>`)) {
		t.Errorf("the rest of the page changed:\n%s", got)
	}

	// Zero values are left out, so the pages keep their own defaults.
	got, _ = injectDefaults("t.html", page, Defaults{})
	if !bytes.Contains(got, []byte(defaultsOpen+"{}</script>")) {
		t.Errorf("empty defaults gave %s", got)
	}
}

func TestPageErrors(t *testing.T) {
	var pe *PageError
	_, err := injectDefaults("bare.html", []byte("<html></html>"), Defaults{})
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "bare.html") || !strings.Contains(err.Error(), "tally-defaults") {
		t.Errorf("page without the element: %v", err)
	}
	_, err = injectDefaults("open.html", []byte(defaultsOpen+"{}"), Defaults{})
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not closed") {
		t.Errorf("unclosed element: %v", err)
	}
	_, err = Page("nope.html", Defaults{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.html") {
		t.Errorf("missing page: %v", err)
	}
}

// TestBuiltPagesTakeDefaults injects into the real built pages.
func TestBuiltPagesTakeDefaults(t *testing.T) {
	requireBuilt(t)
	for _, name := range []string{"console.html", "dashboard.html"} {
		got, err := Page(name, Defaults{AccountID: "acc-1"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got, []byte(defaultsOpen+`{"accountId":"acc-1"}</script>`)) {
			t.Errorf("%s: defaults not injected", name)
		}
	}
}

// TestDefaultsMatchTheirTypeScript keeps the JSON names of Defaults and the
// fields of the pages' Defaults interface (src/shared/defaults.ts) the same.
func TestDefaultsMatchTheirTypeScript(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("src", "shared", "defaults.ts"))
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)export interface Defaults \{(.*?)\n\}`).FindSubmatch(src)
	if body == nil {
		t.Fatal("src/shared/defaults.ts has no `export interface Defaults { … }`")
	}
	var ts []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\?:`).FindAllSubmatch(body[1], -1) {
		ts = append(ts, string(m[1]))
	}
	js, _ := json.Marshal(Defaults{AccountID: "a", AdminSecretRequired: true, Query: "q", Variables: map[string]any{"v": 1}})
	var fields map[string]any
	if err := json.Unmarshal(js, &fields); err != nil {
		t.Fatal(err)
	}
	var goNames []string
	for k := range fields {
		goNames = append(goNames, k)
	}
	sort.Strings(ts)
	sort.Strings(goNames)
	if fmt.Sprint(ts) != fmt.Sprint(goNames) {
		t.Errorf("defaults.ts fields %v, Go JSON names %v", ts, goNames)
	}
}

// TestUnitTestsInNode runs the pages' own unit tests (vitest: URL state,
// query variables, CSV, ranges, the console's fetcher), so that go test
// runs them too.
func TestUnitTestsInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join("node_modules", "vitest", "vitest.mjs"))
	if err != nil || modErr != nil {
		if os.Getenv("TALLY_REQUIRE_NODE") == "1" {
			t.Fatalf("node and web/node_modules are required (TALLY_REQUIRE_NODE=1; go generate ./web installs them): %v %v", err, modErr)
		}
		t.Skip("node or web/node_modules missing; go generate ./web installs them")
	}
	out, err := exec.Command(node, filepath.Join("node_modules", "vitest", "vitest.mjs"), "run", "--reporter=dot").CombinedOutput()
	if err != nil {
		t.Fatalf("vitest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
