package server_test

import (
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

// TestVariablesTextIsNotChanged: SPEC section 10 — text is valid UTF-8
// without NUL and bad text is refused, never silently changed. JSON
// decoding used to turn invalid UTF-8 and unpaired surrogates in a
// variable into U+FFFD, a value that quietly matched nothing; now they
// reach the argument's text check, which names the argument, in every
// form a _text variable takes. A valid surrogate pair is text like any
// other.
func TestVariablesTextIsNotChanged(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.Ingest(t, rec("a", `,"channel":"web \ud83d\ude00"`))
	const doc = `query ($c: _text) { r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08", channels: $c}) { open_sessions } }`
	h := map[string]string{"Content-Type": "application/json", "X-Moveo-Account-Id": servertest.Account}
	for _, c := range []struct {
		name, vars, want string
	}{
		{"invalid UTF-8 in a JSON list", "[\"web\", \"w\xffb\"]", `argument channels element 1 has invalid UTF-8 (byte 0xFF) at byte 1`},
		{"invalid UTF-8 in an array literal", "\"{web,w\xffb}\"", `argument channels has invalid UTF-8 (byte 0xFF)`},
		{"invalid UTF-8 in a string variable", "\"w\xffb\"", `argument channels has invalid UTF-8 (byte 0xFF)`},
		{"an unpaired surrogate in a JSON list", `["w\ud800b"]`, `argument channels element 0 has invalid UTF-8 (byte 0xED) at byte 1`},
		{"an unpaired low surrogate in an array literal", `"{\udc80}"`, `argument channels has invalid UTF-8 (byte 0xED)`},
		{"NUL", `["w\u0000b"]`, `argument channels element 0 has NUL at byte 1`},
		{"a surrogate pair", `["web \ud83d\ude00"]`, ``},
		{"an escaped backslash before u", `["web \\ud800"]`, ``},
	} {
		code, body := s.Post(t, "/v1/graphql", h, []byte(`{"query":"`+strings.ReplaceAll(doc, `"`, `\"`)+`","variables":{"c":`+c.vars+`}}`))
		got := string(body)
		if c.want == "" {
			want := `{"data":{"r":[{"open_sessions":1}]}}`
			if c.name == "an escaped backslash before u" {
				want = `{"data":{"r":[{"open_sessions":0}]}}`
			}
			if code != 200 || got != want {
				t.Errorf("%s: %d %s, want %s", c.name, code, got, want)
			}
			continue
		}
		if code != 200 || !strings.Contains(got, `"code":"data-exception"`) || !strings.Contains(got, c.want) || !strings.Contains(got, `"path":"$.selectionSet.open_closed_sessions_interval_counts_v2.args.args.channels"`) {
			t.Errorf("%s: %d %s\nwant a data-exception at the argument saying %q", c.name, code, got, c.want)
		}
	}
}
