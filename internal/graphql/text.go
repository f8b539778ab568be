package graphql

import (
	"bytes"
	"unicode/utf8"
)

// Text in variables keeps what the client sent (SPEC section 10: text is
// valid UTF-8 without NUL, and bad text is refused, never silently
// changed). encoding/json replaces invalid UTF-8 and unpaired UTF-16
// surrogate escapes with U+FFFD, which would turn a bad value into one
// that quietly matches nothing, or something else. So variables whose
// JSON is not plainly valid are decoded with their strings unquoted here,
// keeping invalid bytes as they are and an unpaired surrogate as its
// three-byte (invalid) UTF-8 form; the argument's text check in
// analytics then refuses them, naming the argument.

// plainText reports whether encoding/json decodes every string of the
// JSON data unchanged: the data is valid UTF-8 and has no \u escape of a
// surrogate (paired ones decode fine, but telling them apart is the slow
// path's work).
func plainText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			return true
		}
		i += j
		if i+1 < len(data) && data[i+1] == 'u' && i+2 < len(data) && (data[i+2] == 'd' || data[i+2] == 'D') && i+3 < len(data) && hexAtLeast8(data[i+3]) {
			return false
		}
		i += 2 // the escaped character, whatever it is
		if i >= len(data) {
			return true
		}
	}
}

// hexAtLeast8 reports whether c is a hex digit of 8 or more: \uD800 to
// \uDFFF are the surrogates.
func hexAtLeast8(c byte) bool {
	return c == '8' || c == '9' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unquoteExact unquotes raw, one JSON string with its quotes, that
// encoding/json has already accepted, keeping invalid UTF-8 bytes and
// unpaired surrogates (as their three-byte encoding) instead of U+FFFD.
func unquoteExact(raw []byte) string {
	s, _ := unescapeJSON(raw[1:len(raw)-1], true)
	return s
}

// unescapeJSON decodes s, the bytes of a JSON string between its quotes,
// copying other bytes as they are. Without withU a \u escape is refused
// (false), as is any escape JSON does not define; with it, \u escapes are
// decoded, a pair of surrogates as one character and an unpaired one as
// its three-byte (invalid) UTF-8 form.
func unescapeJSON(s []byte, withU bool) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if !withU || i+6 > len(s) {
				return "", false
			}
			r, ok := hex4(s[i+2 : i+6])
			if !ok {
				return "", false
			}
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo, ok := hex4(s[i+2 : i+6]); ok && lo >= 0xDC00 && lo < 0xE000 {
					out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
					i += 6
					continue
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				// An unpaired surrogate: its bytes as UTF-8 would have
				// them, which no valid UTF-8 text contains.
				out = append(out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
				continue
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

// hex4 reads four hex digits; false when one is not.
func hex4(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
