package pgtext

import "math"

// ParseInt4 reads an integer as PostgreSQL 15's int4in does: optional
// blanks, an optional sign, decimal digits, optional blanks, within the
// 32-bit range.
func ParseInt4(s string) (int32, error) {
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
	var v int64
	for i < len(s) && isDigit(s[i]) {
		v = v*10 + int64(s[i]-'0')
		if v > math.MaxInt32+1 {
			v = math.MaxInt32 + 2
		}
		i++
	}
	if i == start {
		return 0, &SyntaxError{Type: "integer", Input: s, Reason: "expected a whole number"}
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i != len(s) {
		return 0, &SyntaxError{Type: "integer", Input: s, Reason: "expected a whole number"}
	}
	if neg {
		v = -v
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0, &RangeError{Type: "integer", Input: s, Reason: "must be between -2147483648 and 2147483647"}
	}
	return int32(v), nil
}

// NullInt4 is an array element of type integer that may be NULL.
type NullInt4 struct {
	Int32 int32
	Valid bool
}

// ParseInt4Array reads an integer[] literal ("_int4").
func ParseInt4Array(s string) ([]NullInt4, error) {
	elems, err := ParseArray(s)
	if err != nil {
		return nil, err
	}
	out := make([]NullInt4, len(elems))
	for i, e := range elems {
		if e == nil {
			continue
		}
		v, err := ParseInt4(*e)
		if err != nil {
			return nil, err
		}
		out[i] = NullInt4{Int32: v, Valid: true}
	}
	return out, nil
}
