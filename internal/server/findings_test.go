package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

// The small findings of issue 9 (finding 11) that the HTTP API answers.

// TestGzipBodyAtTheLimit: a gzip body whose decompressed size equals
// --max-ingest-bytes exactly was refused with 413 (off by one); one byte
// more is refused, as a plain body is.
func TestGzipBodyAtTheLimit(t *testing.T) {
	// 64 KiB exactly, padded with blank lines: flate hands out its window
	// (32 KiB) before it sees the end of the stream, so the last bytes
	// come without io.EOF and the limit is met before the end is.
	body := batchOf(200, "s")
	body = append(body, strings.Repeat("\n", 64<<10-len(body))...)
	limit := int64(len(body))
	s := servertest.Start(t, servertest.Options{MaxIngest: limit})
	gz := map[string]string{"Content-Encoding": "gzip"}
	for _, c := range []struct {
		name    string
		headers map[string]string
		body    []byte
		code    int
	}{
		{"plain, at the limit", nil, body, 200},
		{"gzip, at the limit", gz, servertest.Gzip(body), 200},
		{"plain, one byte over", nil, append(body, '\n'), 413},
		{"gzip, one byte over", gz, servertest.Gzip(append(body, '\n')), 413},
	} {
		code, b := s.Post(t, "/v1/sessions", c.headers, c.body)
		if code != c.code {
			t.Errorf("%s (%d bytes, limit %d): %d %s", c.name, len(body), limit, code, b)
		}
		if code == 413 && !strings.Contains(string(b), "--max-ingest-bytes") {
			t.Errorf("%s: the error does not name the flag: %s", c.name, b)
		}
	}
}

// TestContentEncodingAnyCase: content codings are case-insensitive (RFC
// 9110, section 8.4.1); "GZIP" was refused with 415.
func TestContentEncodingAnyCase(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for i, enc := range []string{"GZIP", "Gzip", " gzip", "x-gzip"} {
		code, b := s.Post(t, "/v1/sessions", map[string]string{"Content-Encoding": enc}, servertest.Gzip([]byte(servertest.Record(enc, ""))))
		if code != 200 {
			t.Errorf("Content-Encoding %q: %d %s", enc, code, b)
		}
		if n := s.Embedded.Sessions(); n != i+1 {
			t.Errorf("Content-Encoding %q: %d sessions held", enc, n)
		}
	}
	if code, _ := s.Post(t, "/v1/sessions", map[string]string{"Content-Encoding": "BR"}, []byte(servertest.Record("br", ""))); code != http.StatusUnsupportedMediaType {
		t.Errorf("Content-Encoding BR: %d, want 415", code)
	}
}

// TestOversizedAdminRequest: the admin API said "unexpected EOF" for a
// body past its limit; it says the limit.
func TestOversizedAdminRequest(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	body := `{"account_id":"` + servertest.Account + `","scopes":["read"],"name":"` + strings.Repeat("n", 70<<10) + `"}`
	code, b := s.Post(t, "/v1/admin/keys", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(body))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "65536 bytes") || strings.Contains(string(b), "EOF") {
		t.Errorf("an oversized admin request: %d %s", code, b)
	}
	s.CheckAlive(t)
}

// TestKeyNamesWithControlCharacters: a name that would rewrite an
// operator's terminal is refused when the key is created.
func TestKeyNamesWithControlCharacters(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	for _, name := range []string{"red\x1b[31m", "two\nlines", "del\x7f", "c1\u0085"} {
		body := servertest.MustJSON(map[string]any{"account_id": servertest.Account, "scopes": []string{"read"}, "name": name})
		code, b := s.Post(t, "/v1/admin/keys", map[string]string{"X-Admin-Secret": "s3cret"}, body)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "name") {
			t.Errorf("name %q: %d %s", name, code, b)
		}
	}
	body := servertest.MustJSON(map[string]any{"account_id": servertest.Account, "scopes": []string{"read"}, "name": "Grafana – prod ✓"})
	if code, b := s.Post(t, "/v1/admin/keys", map[string]string{"X-Admin-Secret": "s3cret"}, body); code != http.StatusCreated {
		t.Errorf("a printable name: %d %s", code, b)
	}
}
