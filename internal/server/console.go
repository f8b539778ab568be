package server

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/tally-server/tally/web"
)

// The browser pages (SPEC section 11): GET /console (GraphiQL) and GET
// /dashboard, built by Vite into package web and embedded in the binary,
// their files under GET /assets/, and GET / sending browsers to the
// dashboard. The pages talk only to the public API; the server gives them
// start-up defaults and nothing else.

// ConsoleConfig is what the pages start with, injected into each page as
// web.Defaults. Zero values leave the pages' own defaults in place.
type ConsoleConfig struct {
	// AccountID is the account the pages start with (tally demo's).
	AccountID string
	// Variables are the variables of the SPEC query the console opens
	// with (tally demo: a real desk and the last ten days).
	Variables map[string]any
}

// pageCSP is the Content-Security-Policy the pages are built to run
// under: nothing from another origin, no inline script (the defaults
// element is data). 'unsafe-inline' styles and data: fonts and images are
// for Monaco, GraphiQL's editor, and ECharts, which set styles from script;
// blob: workers for Monaco's.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// assetTypes are the Content-Types of the files Vite writes under
// assets/, fixed here rather than read from the host's MIME database: with
// nosniff a browser refuses a module script or worker with any other type.
var assetTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".ttf":   "font/ttf",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".wasm":  "application/wasm",
	".txt":   "text/plain; charset=utf-8",
}

func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console", s.instrument("console", s.page("console.html")))
	mux.Handle("GET /dashboard", s.instrument("dashboard", s.page("dashboard.html")))
	mux.Handle("GET /assets/{file...}", s.instrument("assets", s.asset))
	mux.Handle("GET /{$}", http.HandlerFunc(toDashboard))
}

// toDashboard sends a browser from / to the dashboard. The Location is
// relative, as the pages' own links are, so it works behind a proxy that
// mounts Tally under a path.
func toDashboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", "dashboard")
	w.WriteHeader(http.StatusFound)
}

// page answers a built page with the start-up defaults injected, or 503
// with how to build the pages when the binary has none.
func (s *Server) page(name string) http.HandlerFunc {
	// The defaults are fixed when the server starts, so each page is made
	// once, on first use.
	built := sync.OnceValues(func() ([]byte, error) { return web.Page(name, s.pageDefaults()) })
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if !web.Built() {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(web.NotBuilt))
			return
		}
		body, err := built()
		if err != nil {
			s.log.ErrorContext(r.Context(), "console: cannot serve a page", "page", name, "err", err)
			http.Error(w, "the page "+name+" in this binary is broken; the server log has details", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Referrer-Policy", "no-referrer")
		w.Write(body)
	}
}

// pageDefaults are the defaults every page gets.
func (s *Server) pageDefaults() web.Defaults {
	return web.Defaults{
		AccountID:           s.cfg.Console.AccountID,
		AdminSecretRequired: !s.authn.Open(),
		Query:               web.SpecQuery,
		Variables:           s.cfg.Console.Variables,
	}
}

// asset answers a file under web.Pages' assets/. Names carry a hash of
// their content, so a file may be cached for good. Directories and
// anything outside assets/ are 404: there are no listings.
func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// ValidPath refuses "..", "." and empty elements, so the name stays
	// inside assets/.
	file := r.PathValue("file")
	if !fs.ValidPath(file) || strings.Contains(file, "\\") {
		http.NotFound(w, r)
		return
	}
	name := "assets/" + file
	f, err := web.Pages.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.ErrorContext(r.Context(), "console: cannot open an asset", "asset", name, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	rs, seekable := f.(io.ReadSeeker)
	if err != nil || st.IsDir() || !seekable {
		http.NotFound(w, r)
		return
	}
	ctype, ok := assetTypes[path.Ext(name)]
	if !ok {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	// ServeContent answers Range and conditional requests; embedded files
	// have no modification time, so it sends no Last-Modified.
	http.ServeContent(w, r, name, st.ModTime(), rs)
}
