// Package web holds Tally's browser pages, built from web/src by Vite and
// embedded in the binary, so that the server needs no other process and
// nothing is loaded from another host at run time:
//
//   - console.html: GraphiQL (npm graphiql) with the SPEC query, its
//     variables and credential fields ready, the docs explorer fed by
//     introspection, and subscriptions over graphql-ws.
//   - dashboard.html: open and closed sessions per interval as stacked bars
//     with the backlog as a line, a table, a CSV download, filters listing
//     the values in the account's data, live updates, all state in the URL.
//
// Both use only the public API (POST and WebSocket /v1/graphql, relative to
// the page). Their scripts, styles, fonts and editor workers are files under
// assets/, referenced by relative URLs (./assets/…): serve Pages' assets/
// beside the pages.
//
// The build output (dist/) is not committed. `go generate ./web` runs
// `npm ci` and `npm run build` here (Node.js 20 or later); `go build
// ./cmd/tally` then embeds it. On a fresh clone dist/ holds only README.txt:
// the package compiles, Built reports false and the server should answer
// the pages with NotBuilt. TestBuildIsCurrent fails when web/'s sources
// changed after the last build.
//
// This package imports nothing of Tally's.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
)

//go:generate npm ci --no-audit --no-fund --loglevel=error
//go:generate npm run build

//go:embed all:dist
var dist embed.FS

// Pages is the built output, rooted at dist/: console.html,
// dashboard.html, assets/… (file names carry a content hash, so they may be
// cached for good) and build-inputs.sha256. Without a build it holds only
// README.txt.
var Pages fs.FS = mustSub(dist, "dist")

//go:embed src/console/spec.graphql
var specQuery string

// SpecQuery is the query of SPEC section 1, verbatim: the console opens
// with it (src/console/spec.graphql, also read by the page itself).
var SpecQuery = strings.TrimSuffix(specQuery, "\n")

// NotBuilt is what the server answers for a page when Built is false.
const NotBuilt = "The browser pages are not built into this binary.\n" +
	"Build them with `go generate ./web` (needs Node.js 20 or later and npm), then rebuild tally with `go build ./cmd/tally`.\n"

// Built reports whether the binary holds the built pages.
func Built() bool {
	_, err := fs.Stat(Pages, "console.html")
	return err == nil
}

// Defaults are the start-up values the server gives the pages; the pages
// read them as JSON (src/shared/defaults.ts, same field names). Zero values
// are left out, and the pages use their own defaults instead.
type Defaults struct {
	// AccountID is the account the pages start with (the demo's account).
	AccountID string `json:"accountId,omitempty"`
	// AdminSecretRequired tells the pages that requests need an API key or
	// the admin secret.
	AdminSecretRequired bool `json:"adminSecretRequired,omitempty"`
	// Query is the console's first query; the pages default to the SPEC query.
	Query string `json:"query,omitempty"`
	// Variables are the variables of that query.
	Variables map[string]any `json:"variables,omitempty"`
}

// defaultsOpen starts the element whose content Page replaces; both
// src/*.html files carry it with "{}" inside.
const defaultsOpen = `<script id="tally-defaults" type="application/json">`

// PageError says why Page could not give a page.
type PageError struct {
	Name   string
	Reason string
	Err    error // the underlying error, if any
}

func (e *PageError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("web page %s: %s: %v", e.Name, e.Reason, e.Err)
	}
	return fmt.Sprintf("web page %s: %s", e.Name, e.Reason)
}

func (e *PageError) Unwrap() error { return e.Err }

// Page returns the built page name ("console.html" or "dashboard.html")
// with d in its defaults element. The result is a new slice the caller
// owns. It fails with a *PageError when the page is not built (wrapping
// fs.ErrNotExist) or has no defaults element.
func Page(name string, d Defaults) ([]byte, error) {
	page, err := fs.ReadFile(Pages, name)
	if err != nil {
		return nil, &PageError{Name: name, Reason: "not in the binary", Err: err}
	}
	return injectDefaults(name, page, d)
}

// injectDefaults replaces the content of the page's defaults element with
// d as JSON. encoding/json escapes <, > and & inside strings, so no value
// can end the script element early.
func injectDefaults(name string, page []byte, d Defaults) ([]byte, error) {
	start := bytes.Index(page, []byte(defaultsOpen))
	if start < 0 {
		return nil, &PageError{Name: name, Reason: "no " + defaultsOpen + " element"}
	}
	start += len(defaultsOpen)
	n := bytes.Index(page[start:], []byte("</script>"))
	if n < 0 {
		return nil, &PageError{Name: name, Reason: "the defaults element is not closed"}
	}
	js, err := json.Marshal(d)
	if err != nil {
		return nil, &PageError{Name: name, Reason: "defaults do not encode as JSON", Err: err}
	}
	out := make([]byte, 0, len(page)+len(js))
	out = append(out, page[:start]...)
	out = append(out, js...)
	return append(out, page[start+n:]...), nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("web: embedded " + dir + " missing: " + err.Error()) // the go:embed line guarantees it
	}
	return sub
}
