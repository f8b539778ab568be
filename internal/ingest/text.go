package ingest

import (
	"fmt"
	"unicode/utf8"
)

// Text is valid UTF-8 without NUL (SPEC section 10), in both backends:
// PostgreSQL refuses NUL in text and invalid UTF-8 in a UTF-8 database,
// and encoding/json would replace invalid bytes and lone surrogates with
// U+FFFD, so that distinct session ids sent by a client merge into one.
// Every string of a record is therefore checked as sent, before anything
// decodes it, and a bad one makes the record invalid, naming the field
// and the byte offset of the problem in the record.

// textProblem returns the offset in v (a valid JSON value) of the first
// string content that is not valid UTF-8 without NUL, and what is there
// ("invalid UTF-8 (byte 0xFF)"); -1 when every string is good. Escapes count as what they decode
// to: \u0000 is NUL, and a \uD800-\uDFFF escape that is not half of a
// surrogate pair is not a character at all.
func textProblem(v []byte) (int, string) {
	for i := 0; i < len(v); i++ {
		if v[i] != '"' {
			continue
		}
		i++ // into the string
		for i < len(v) && v[i] != '"' {
			c := v[i]
			switch {
			case c == '\\':
				if i+1 < len(v) && v[i+1] == 'u' {
					r, ok := hex4(v, i+2)
					switch {
					case !ok:
						return i, "a malformed \\u escape"
					case r == 0:
						return i, `NUL (\u0000)`
					case r >= 0xD800 && r < 0xDC00:
						if lo, ok := hex4(v, i+8); ok && i+7 < len(v) && v[i+6] == '\\' && v[i+7] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
							i += 12
							continue
						}
						return i, fmt.Sprintf(`\u%04X (a lone half of a UTF-16 surrogate pair)`, r)
					case r >= 0xDC00 && r < 0xE000:
						return i, fmt.Sprintf(`\u%04X (a lone half of a UTF-16 surrogate pair)`, r)
					}
					i += 6
					continue
				}
				i += 2
			case c < utf8.RuneSelf:
				if c == 0 {
					return i, "a NUL byte"
				}
				i++
			default:
				r, size := utf8.DecodeRune(v[i:])
				if r == utf8.RuneError && size == 1 {
					return i, fmt.Sprintf("invalid UTF-8 (byte 0x%02X)", c)
				}
				i += size
			}
		}
	}
	return -1, ""
}

// hex4 reads the four hexadecimal digits at v[i:i+4].
func hex4(v []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(v) {
		return 0, false
	}
	var r rune
	for _, c := range v[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// offsetIn is where sub, a subslice of rec, starts in rec.
func offsetIn(rec, sub []byte) int {
	if n := cap(rec) - cap(sub); n >= 0 && n <= len(rec) {
		return n
	}
	return 0
}
