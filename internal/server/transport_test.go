package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/servertest"
)

// The transport facts of hasura-source-facts.md ("Transport"), checked on
// a real server: gzip (Compression.hs:55-92,144-155; App.hs:450),
// x-request-id (App.hs:466-468), Content-Type, CORS (Middleware.hs:36-76),
// health (App.hs:962-965).

// rawResponse is an answer as the wire carries it: no transparent
// decompression.
type rawResponse struct {
	status int
	header http.Header
	body   []byte // as sent, compressed or not
}

func rawDo(t *testing.T, url, method, path string, headers map[string]string, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	// Setting Accept-Encoding ourselves turns off Go's transparent gzip.
	if _, ok := headers["Accept-Encoding"]; !ok {
		req.Header["Accept-Encoding"] = nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// gunzip decompresses b and reports gzip's XFL byte: 4 for the fastest
// level (1), 0 for the others (Go writes 2 only for level 9).
func gunzip(t *testing.T, b []byte) ([]byte, byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out, b[8]
}

// daysQuery answers about 55 bytes a day of [2024-01-01, end].
func daysQuery(end string) string {
	return gql(`{ r: `+fn+`(args: {start_time: "2024-01-01", end_time: "`+end+`"}) { per_interval open_sessions } }`, nil)
}

func TestGzipAsHasura(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	h := func(ae string) map[string]string {
		m := map[string]string{"Content-Type": "application/json", "X-Moveo-Account-Id": acct}
		if ae != "-" {
			m["Accept-Encoding"] = ae
		}
		return m
	}
	small := daysQuery("2024-01-05")  // < 700 bytes
	medium := daysQuery("2024-02-15") // 700 to 20 000 bytes
	large := daysQuery("2025-06-01")  // > 20 000 bytes
	longInterval := gql(`{ r: `+fn+`(args: {start_time: "2024-01-01", end_time: "2024-01-02", interval_span: "`+strings.Repeat("x", 900)+`"}) { per_interval } }`, nil)
	cases := []struct {
		name, ae, body string
		gzip           bool
		xfl            byte
	}{
		{"medium answer, gzip asked", "gzip", medium, true, 4},
		{"gzip among others", "gzip, deflate, br", medium, true, 4},
		{"gzip with a weight", "deflate, gzip;q=1.0", medium, true, 4},
		{"large answer: level 6", "gzip", large, true, 0},
		{"small answer", "gzip", small, false, 0},
		{"* is not gzip", "*", medium, false, 0},
		{"no Accept-Encoding", "-", medium, false, 0},
		{"deflate only", "deflate", medium, false, 0},
		{"errors are never compressed", "gzip", longInterval, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rawDo(t, s.URL, http.MethodPost, "/v1/graphql", h(c.ae), c.body)
			if r.status != http.StatusOK {
				t.Fatalf("HTTP %d", r.status)
			}
			body := r.body
			if enc := r.header.Get("Content-Encoding"); c.gzip != (enc == "gzip") {
				t.Fatalf("Content-Encoding %q, want gzip %v (%d bytes)", enc, c.gzip, len(r.body))
			}
			if c.gzip {
				var xfl byte
				body, xfl = gunzip(t, r.body)
				if xfl != c.xfl {
					t.Errorf("gzip XFL %d, want %d (level 1 up to 20 000 bytes, 6 above)", xfl, c.xfl)
				}
			}
			if c.body == longInterval {
				if len(body) < 700 || !bytes.Contains(body, []byte(`"errors"`)) {
					t.Fatalf("want an error of 700 bytes or more: %d bytes", len(body))
				}
			} else if !bytes.HasPrefix(body, []byte(`{"data":{"r":[{`)) {
				t.Fatalf("answer %.200s", body)
			}
			switch {
			case c.body == small && len(body) >= 700, c.body == medium && (len(body) < 700 || len(body) > 20000), c.body == large && len(body) <= 20000:
				t.Fatalf("the case's answer has %d bytes", len(body))
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and renewed on each write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// waitFor reports whether the log holds sub within d.
func (s *syncBuffer) waitFor(sub string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), sub) {
			s.mu.Unlock()
			return true
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		ch := s.written
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			return false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	var logs syncBuffer
	s := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	json := map[string]string{"Content-Type": "application/json", "X-Moveo-Account-Id": acct}
	mine := servertest.WithHeaders(json, map[string]string{"X-Request-Id": "client-trace-42"})
	for _, c := range []struct {
		name, method, path, body string
		headers                  map[string]string
		want                     string // "" : a new UUID
	}{
		{"echoed", http.MethodPost, "/v1/graphql", gql(`{ __typename }`, nil), mine, "client-trace-42"},
		{"echoed on an error", http.MethodPost, "/v1/graphql", gql(`{ nope }`, nil), mine, "client-trace-42"},
		{"generated", http.MethodPost, "/v1/graphql", gql(`{ __typename }`, nil), json, ""},
		{"on health", http.MethodGet, "/healthz", "", nil, ""},
		{"on a 404", http.MethodGet, "/nowhere", "", nil, ""},
		{"on a preflight", http.MethodOptions, "/v1/graphql", "", map[string]string{"Origin": "https://app.example.com"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rawDo(t, s.URL, c.method, c.path, c.headers, c.body)
			got := r.header.Get("X-Request-Id")
			if c.want != "" && got != c.want || c.want == "" && !uuidV4.MatchString(got) {
				t.Errorf("x-request-id %q, want %q (or a new UUID)", got, c.want)
			}
		})
	}
	if !strings.Contains(logs.String(), "request_id=client-trace-42") {
		t.Errorf("the access log does not carry the client's request id:\n%s", logs.String())
	}
}

// TestRequestIDInErrorLogs: an unexpected error's log line carries the
// request's id, so the report of a client (who sees only the id and a
// generic message) can be traced.
func TestRequestIDInErrorLogs(t *testing.T) {
	var logs syncBuffer
	hs := faultyServerLogged(t, slog.New(slogLogHandler(&logs)))
	r := rawDo(t, hs.URL, http.MethodPost, "/v1/graphql", map[string]string{"X-Moveo-Account-Id": acct, "X-Request-Id": "trace-unexpected-7"}, spec)
	if !bytes.Contains(r.body, []byte(`"unexpected"`)) {
		t.Fatalf("want an unexpected error: %s", r.body)
	}
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			line = l
		}
	}
	if !strings.Contains(line, "request_id=trace-unexpected-7") || !strings.Contains(line, "index corrupt") {
		t.Errorf("error log line %q lacks the request id or the cause;\nlog:\n%s", line, logs.String())
	}
}

func TestHasuraHealthz(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, p := range []string{"/healthz", "/hasura/healthz"} {
		r := rawDo(t, s.URL, http.MethodGet, p, nil, "")
		if r.status != http.StatusOK || string(r.body) != "OK" {
			t.Errorf("%s: %d %q, want 200 OK", p, r.status, r.body)
		}
	}
}

func TestCORS(t *testing.T) {
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-moveo-account-id"}
	}
	post := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Content-Type": "application/json", "X-Moveo-Account-Id": acct}
	}
	check := func(t *testing.T, url, origin string, allowed bool) {
		t.Helper()
		r := rawDo(t, url, http.MethodOptions, "/v1/graphql", preflight(origin), "")
		h := r.header
		if allowed {
			if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Headers") != "content-type,x-moveo-account-id" ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("preflight from %s: %d %v", origin, r.status, h)
			}
		} else if h.Get("Access-Control-Allow-Origin") != "" || r.status == http.StatusNoContent {
			t.Errorf("preflight from %s, not allowed: %d %v", origin, r.status, h)
		}
		r = rawDo(t, url, http.MethodPost, "/v1/graphql", post(origin), gql(`{ __typename }`, nil))
		if got := r.header.Get("Access-Control-Allow-Origin"); allowed && got != origin || !allowed && got != "" {
			t.Errorf("POST from %s: Access-Control-Allow-Origin %q", origin, got)
		}
		if allowed && r.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("POST from %s: no Allow-Credentials", origin)
		}
	}
	t.Run("every origin by default", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{})
		check(t, s.URL, "https://app.example.com", true)
		check(t, s.URL, "http://localhost:5173", true)
		if r := rawDo(t, s.URL, http.MethodPost, "/v1/graphql", post(""), gql(`{ __typename }`, nil)); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("CORS headers without an Origin")
		}
	})
	t.Run("narrowed by --cors-origins", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{CORSOrigins: []string{"https://app.example.com", "http://*.corp.example:8080"}})
		check(t, s.URL, "https://app.example.com", true)
		check(t, s.URL, "http://dash.corp.example:8080", true)
		check(t, s.URL, "https://evil.example.net", false)
		check(t, s.URL, "http://dash.corp.example", false)
		check(t, s.URL, "http://app.example.com", false)
	})
}
