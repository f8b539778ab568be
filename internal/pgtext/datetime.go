package pgtext

import (
	"math"
	"strconv"
)

// PostgreSQL's datetime tokenizer, shared by the parsers of datetime
// text: ParseDateTime (datetime.c), which splits a literal into typed
// fields (the interval parser decodes them), and the C number readers
// (strtoll, strtod, ParseFraction) the decoders and the array parser use.

// Field types produced by parseDateTime (datetime.h).
const (
	ftNumber = iota
	ftString
	ftDate
	ftTime
	ftTZ
	ftSpecial
)

type dtField struct {
	text string
	typ  int
}

// dateKeywords are the words of PostgreSQL's datetktbl; the tokenizer needs
// them to decide whether letters followed by a digit start a date token.
var dateKeywords = map[string]bool{
	"-infinity": true, "ad": true, "allballs": true, "am": true, "apr": true, "april": true, "at": true,
	"aug": true, "august": true, "bc": true, "d": true, "dec": true, "december": true, "dow": true,
	"doy": true, "dst": true, "epoch": true, "feb": true, "february": true, "fri": true, "friday": true,
	"h": true, "infinity": true, "isodow": true, "isoyear": true, "j": true, "jan": true, "january": true,
	"jd": true, "jul": true, "julian": true, "july": true, "jun": true, "june": true, "m": true,
	"mar": true, "march": true, "may": true, "mm": true, "mon": true, "monday": true, "nov": true,
	"november": true, "now": true, "oct": true, "october": true, "on": true, "pm": true, "s": true,
	"sat": true, "saturday": true, "sep": true, "sept": true, "september": true, "sun": true,
	"sunday": true, "t": true, "thu": true, "thur": true, "thurs": true, "thursday": true,
	"today": true, "tomorrow": true, "tue": true, "tues": true, "tuesday": true, "wed": true,
	"wednesday": true, "weds": true, "y": true, "yesterday": true,
}

func truncTok(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

const (
	maxDateFields = 25
	workBufLen    = 256
)

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !isAlnum(c)
}
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// parseDateTime splits the input into fields as PostgreSQL's ParseDateTime
// does.
func parseDateTime(s string) ([]dtField, error) {
	var fields []dtField
	used := 0 // bytes of PostgreSQL's 256-byte work buffer in use
	i := 0
	for i < len(s) {
		var buf []byte
		appendc := func(c byte) bool {
			if used+1 >= workBufLen {
				return false
			}
			used++
			buf = append(buf, c)
			return true
		}
		c := s[i]
		if isSpace(c) {
			i++
			continue
		}
		if len(fields) >= maxDateFields {
			return nil, errBadFormat
		}
		var typ int
		switch {
		case isDigit(c):
			if !appendc(c) {
				return nil, errBadFormat
			}
			i++
			for i < len(s) && isDigit(s[i]) {
				if !appendc(s[i]) {
					return nil, errBadFormat
				}
				i++
			}
			switch {
			case i < len(s) && s[i] == ':':
				typ = ftTime
				if !appendc(':') {
					return nil, errBadFormat
				}
				i++
				for i < len(s) && (isDigit(s[i]) || s[i] == ':' || s[i] == '.') {
					if !appendc(s[i]) {
						return nil, errBadFormat
					}
					i++
				}
			case i < len(s) && (s[i] == '-' || s[i] == '/' || s[i] == '.'):
				delim := s[i]
				if !appendc(delim) {
					return nil, errBadFormat
				}
				i++
				if i < len(s) && isDigit(s[i]) {
					if delim == '.' {
						typ = ftNumber
					} else {
						typ = ftDate
					}
					for i < len(s) && isDigit(s[i]) {
						if !appendc(s[i]) {
							return nil, errBadFormat
						}
						i++
					}
					if i < len(s) && s[i] == delim {
						typ = ftDate
						for i < len(s) && (isDigit(s[i]) || s[i] == delim) {
							if !appendc(s[i]) {
								return nil, errBadFormat
							}
							i++
						}
					}
				} else {
					typ = ftDate
					for i < len(s) && (isAlnum(s[i]) || s[i] == delim) {
						if !appendc(lower(s[i])) {
							return nil, errBadFormat
						}
						i++
					}
				}
			default:
				typ = ftNumber
			}
		case c == '.':
			if !appendc(c) {
				return nil, errBadFormat
			}
			i++
			for i < len(s) && isDigit(s[i]) {
				if !appendc(s[i]) {
					return nil, errBadFormat
				}
				i++
			}
			typ = ftNumber
		case isAlpha(c):
			typ = ftString
			for i < len(s) && isAlpha(s[i]) {
				if !appendc(lower(s[i])) {
					return nil, errBadFormat
				}
				i++
			}
			isDate := false
			if i < len(s) && (s[i] == '-' || s[i] == '/' || s[i] == '.') {
				isDate = true
			} else if i < len(s) && (s[i] == '+' || isDigit(s[i])) {
				if !dateKeywords[truncTok(string(buf))] {
					isDate = true
				}
			}
			if isDate {
				typ = ftDate
				for {
					if !appendc(lower(s[i])) {
						return nil, errBadFormat
					}
					i++
					if i >= len(s) {
						break
					}
					d := s[i]
					if !(d == '+' || d == '-' || d == '/' || d == '_' || d == '.' || d == ':' || isAlnum(d)) {
						break
					}
				}
			}
		case c == '+' || c == '-':
			// PostgreSQL's APPEND_CHAR fails the parse when the work
			// buffer is full; a sign or digit dropped here left an empty
			// field that the decoders index (found by FuzzParseInterval).
			if !appendc(c) {
				return nil, errBadFormat
			}
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			switch {
			case i < len(s) && isDigit(s[i]):
				typ = ftTZ
				if !appendc(s[i]) {
					return nil, errBadFormat
				}
				i++
				for i < len(s) && (isDigit(s[i]) || s[i] == ':' || s[i] == '.' || s[i] == '-') {
					if !appendc(s[i]) {
						return nil, errBadFormat
					}
					i++
				}
			case i < len(s) && isAlpha(s[i]):
				typ = ftSpecial
				for i < len(s) && isAlpha(s[i]) {
					if !appendc(lower(s[i])) {
						return nil, errBadFormat
					}
					i++
				}
			default:
				return nil, errBadFormat
			}
		case isPunct(c):
			i++
			continue
		default:
			return nil, errBadFormat
		}
		used++ // the field's terminating NUL
		fields = append(fields, dtField{text: string(buf), typ: typ})
	}
	return fields, nil
}

// strtoi64 parses a leading optionally signed decimal integer as C's
// strtoll does, returning the value, the rest of the string and whether
// the value overflowed. With no digits it returns 0 and s unchanged.
func strtoi64(s string) (int64, string, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for i < len(s) && isDigit(s[i]) {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			v = v*10 + d
		}
		i++
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		if v > 1<<63 {
			overflow = true
		}
		return -int64(v), s[i:], overflow
	}
	if v > math.MaxInt64 {
		overflow = true
	}
	return int64(v), s[i:], overflow
}

// strtodPrefix finds the longest prefix of s that C's strtod would read as a
// decimal floating-point number and returns its value and the rest.
func strtodPrefix(s string) (float64, string, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, s, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		// Out of range: strtod returns ±HUGE_VAL and sets ERANGE.
		return v, s[i:], false
	}
	return v, s[i:], true
}

// parseFraction mirrors PostgreSQL's ParseFraction: s starts with '.'.
func parseFraction(s string) (float64, error) {
	if len(s) == 1 {
		return 0, nil
	}
	v, rest, ok := strtodPrefix(s)
	if !ok || rest != "" {
		return 0, errBadFormat
	}
	return v, nil
}
