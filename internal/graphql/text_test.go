package graphql

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzUnquoteExact: on any JSON string encoding/json accepts,
// unquoteExact gives what encoding/json gives, except where that one
// replaced bytes by U+FFFD: there it keeps each invalid byte, which
// encoding/json turns into one U+FFFD each.
func FuzzUnquoteExact(f *testing.F) {
	for _, s := range []string{`abc`, `\u00e9\n\t\"\\\/`, "w\xffb", `\ud83d\ude00`, `\ud800`, `\udc80x`, `\ud800\u0041`, `\\ud800`, "\xed\xa0\x80", `\u0000`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		raw := []byte(`"` + body + `"`)
		var want string
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		got := unquoteExact(raw)
		switch {
		case plainText(raw):
			if got != want {
				t.Fatalf("plain %q: got %q, want %q", raw, got, want)
			}
		case !strings.Contains(strings.ToLower(body), `\ud`):
			if string([]rune(got)) != want {
				t.Fatalf("%q: got %q, want %q once invalid bytes are replaced", raw, got, want)
			}
		}
	})
}

// TestPlainText: what takes the exact path.
func TestPlainText(t *testing.T) {
	for s, want := range map[string]bool{
		`"abc"`:                  true,
		`"\u00e9 \n"`:            true,
		"\"w\xffb\"":             false,
		`"\ud83d\ude00"`:         false, // a pair: fine for encoding/json, but checked the slow way
		`"\uD800"`:               false,
		`"\\ud800"`:              true, // a backslash, then "ud800"
		`["a", {"b": "\udc00"}]`: false,
		`"\u00d8"`:               true,
	} {
		if got := plainText([]byte(s)); got != want {
			t.Errorf("plainText(%s) = %v, want %v", s, got, want)
		}
	}
}
