package pgtext

import (
	"fmt"
	"strings"
)

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

// ParseArray reads a PostgreSQL array literal ("{a,b}", "{\"a b\",NULL}",
// "{{1,2},{3,4}}", "[1:2]={a,b}") as array_in does and returns its elements
// in storage order, flattened; a nil element is SQL NULL. Element values
// are not checked against an element type: see ParseUUIDArray and friends.
func ParseArray(s string) ([]*string, error) {
	p := arrayParser{in: s}
	return p.parse()
}

type arrayParser struct {
	in string
}

func (p *arrayParser) fail(detail string) error {
	return &SyntaxError{Type: "array", Input: p.in, Reason: detail + ` Accepted: a PostgreSQL array literal such as "{a,b}", "{}" or "{\"a\",NULL}", or a JSON array`}
}

// Parse states of ArrayCount (PostgreSQL 15 arrayfuncs.c).
const (
	stNoLevel = iota
	stLevelStarted
	stElemStarted
	stElemCompleted
	stQuotedElemStarted
	stQuotedElemCompleted
	stElemDelimited
	stLevelCompleted
	stLevelDelimited
)

func (p *arrayParser) parse() ([]*string, error) {
	s := p.in
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	// Optional dimension decoration: [lb:ub][lb:ub]...=
	var declared []int64
	for i < len(s) && s[i] == '[' {
		if len(declared) >= maxArrayDims {
			return nil, p.fail(fmt.Sprintf("number of array dimensions exceeds the maximum allowed (%d).", maxArrayDims))
		}
		i++
		j := i
		for j < len(s) && (isDigit(s[j]) || s[j] == '-' || s[j] == '+') {
			j++
		}
		if j == i {
			return nil, p.fail(`"[" must introduce explicitly-specified array dimensions.`)
		}
		// PostgreSQL 15 reads the bound with atoi: "1-1" is 1.
		first := atoi32(s[i:j])
		lb, ub := int64(1), first
		i = j
		if i < len(s) && s[i] == ':' {
			i++
			j = i
			for j < len(s) && (isDigit(s[j]) || s[j] == '-' || s[j] == '+') {
				j++
			}
			if j == i {
				return nil, p.fail("Missing array dimension value.")
			}
			lb, ub = first, atoi32(s[i:j])
			i = j
		}
		if i >= len(s) || s[i] != ']' {
			return nil, p.fail(`Missing "]" after array dimensions.`)
		}
		i++
		if ub < lb {
			return nil, p.fail("upper bound cannot be less than lower bound")
		}
		declared = append(declared, ub-lb+1)
	}
	if len(declared) > 0 {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return nil, p.fail(`Missing "=" after array dimensions.`)
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	if i >= len(s) || s[i] != '{' {
		return nil, p.fail(`Array value must start with "{" or dimension information.`)
	}
	body := s[i:]
	dims, err := p.count(body)
	if err != nil {
		return nil, err
	}
	if len(declared) > 0 {
		if len(declared) != len(dims) {
			return nil, p.fail("Specified array dimensions do not match array contents.")
		}
		for k := range dims {
			if declared[k] != dims[k] {
				return nil, p.fail("Specified array dimensions do not match array contents.")
			}
		}
	}
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	if len(dims) == 0 {
		n = 0
	}
	return p.elements(body, n)
}

// count checks the structure as ArrayCount does and returns the length of
// each dimension ({} gives no dimensions).
func (p *arrayParser) count(s string) ([]int64, error) {
	var temp, nelemsLast [maxArrayDims]int64
	var nelems [maxArrayDims]int64
	for k := range nelems {
		nelems[k] = 1
	}
	nestLevel := 0
	ndim := 0
	inQuotes := false
	state := stNoLevel
	emptyArray := true
	eoArray := false
	i := 0
	for !eoArray {
		if i >= len(s) {
			return nil, p.fail("Unexpected end of input.")
		}
		c := s[i]
		itemDone := false
		switch c {
		case '\\':
			if state != stLevelStarted && state != stElemStarted && state != stQuotedElemStarted && state != stElemDelimited {
				return nil, p.fail(`Unexpected "\" character.`)
			}
			if state != stQuotedElemStarted {
				state = stElemStarted
			}
			if i+1 < len(s) {
				i++
			} else {
				return nil, p.fail("Unexpected end of input.")
			}
			emptyArray = false
		case '"':
			if state != stLevelStarted && state != stQuotedElemStarted && state != stElemDelimited {
				return nil, p.fail(`Unexpected array element.`)
			}
			inQuotes = !inQuotes
			if inQuotes {
				state = stQuotedElemStarted
			} else {
				state = stQuotedElemCompleted
			}
			emptyArray = false
		case '{':
			if !inQuotes {
				if state != stNoLevel && state != stLevelStarted && state != stLevelDelimited {
					return nil, p.fail(`Unexpected "{" character.`)
				}
				state = stLevelStarted
				if nestLevel >= maxArrayDims {
					return nil, p.fail(fmt.Sprintf("number of array dimensions exceeds the maximum allowed (%d).", maxArrayDims))
				}
				temp[nestLevel] = 0
				nestLevel++
				if ndim < nestLevel {
					ndim = nestLevel
				}
			}
		case '}':
			if !inQuotes {
				if state != stElemStarted && state != stElemCompleted && state != stQuotedElemCompleted && state != stLevelCompleted && !(nestLevel == 1 && state == stLevelStarted) {
					return nil, p.fail(`Unexpected "}" character.`)
				}
				state = stLevelCompleted
				if nestLevel == 0 {
					return nil, p.fail(`Unmatched "}" character.`)
				}
				nestLevel--
				if nelemsLast[nestLevel] != 0 && nelems[nestLevel] != nelemsLast[nestLevel] {
					return nil, p.fail("Multidimensional arrays must have sub-arrays with matching dimensions.")
				}
				nelemsLast[nestLevel] = nelems[nestLevel]
				nelems[nestLevel] = 1
				if nestLevel == 0 {
					eoArray = true
					itemDone = true
				} else {
					temp[nestLevel-1]++
				}
			}
		case ',':
			if !inQuotes {
				if state != stElemStarted && state != stElemCompleted && state != stQuotedElemCompleted && state != stLevelCompleted {
					return nil, p.fail(`Unexpected "," character.`)
				}
				if state == stLevelCompleted {
					state = stLevelDelimited
				} else {
					state = stElemDelimited
				}
				itemDone = true
				nelems[nestLevel-1]++
			}
		default:
			if !inQuotes && !isSpace(c) {
				if state != stLevelStarted && state != stElemStarted && state != stElemDelimited {
					return nil, p.fail("Unexpected array element.")
				}
				state = stElemStarted
				emptyArray = false
				// The rest of a plain element changes nothing.
				for i+1 < len(s) && !arraySpecial(s[i+1]) {
					i++
				}
			} else if inQuotes {
				emptyArray = false
				// Nor does a quoted element's, up to a quote or backslash.
				for i+1 < len(s) && s[i+1] != '"' && s[i+1] != '\\' {
					i++
				}
			}
		}
		_ = itemDone
		i++
	}
	for ; i < len(s); i++ {
		if !isSpace(s[i]) {
			return nil, p.fail("Junk after closing right brace.")
		}
	}
	if emptyArray {
		return nil, nil
	}
	dims := make([]int64, ndim)
	for k := 0; k < ndim; k++ {
		dims[k] = nelemsLast[k]
	}
	return dims, nil
}

// elements extracts the n element strings as ReadArrayStr does, once
// count has accepted the structure: quotes and backslashes removed,
// unquoted leading and trailing blanks trimmed, and an unquoted NULL read
// as null. An element without quotes or backslashes (a UUID, a channel)
// is a substring of s; the others are copied.
func (p *arrayParser) elements(s string, n int) ([]*string, error) {
	out := make([]*string, 0, n)
	vals := make([]string, 0, n) // out's strings, in one allocation
	add := func(v string) {
		vals = append(vals, v)
		out = append(out, &vals[len(vals)-1])
	}
	var buf strings.Builder
	inElem := false
	quoted := false   // the element had a quote or escape: not NULL
	inQuotes := false // inside "..."
	lastLiteral := -1 // buf length after the last char that must not be trimmed
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inElem && !inQuotes && !isSpace(c) && !arraySpecial(c) {
			// A plain element: up to the next delimiter, unless a quote,
			// backslash or brace comes first (then byte by byte below).
			j := i + 1
			for j < len(s) && !arraySpecial(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == ',' || s[j] == '}') {
				v := s[i:j]
				for len(v) > 0 && isSpace(v[len(v)-1]) {
					v = v[:len(v)-1]
				}
				if strings.EqualFold(v, "NULL") {
					out = append(out, nil)
				} else {
					add(v)
				}
				i = j // the delimiter: nothing to do after an element
				continue
			}
		}
		switch {
		case c == '\\':
			i++
			buf.WriteByte(s[i])
			inElem = true
			quoted = true
			lastLiteral = buf.Len()
		case c == '"':
			inQuotes = !inQuotes
			inElem = true
			quoted = true
			lastLiteral = buf.Len()
		case inQuotes:
			buf.WriteByte(c)
			lastLiteral = buf.Len()
		case c == '{':
		case c == ',' || c == '}':
			if inElem {
				v := buf.String()
				// Trim unquoted trailing blanks, but not escaped or quoted ones.
				end := len(v)
				for end > lastLiteral && end > 0 && isSpace(v[end-1]) {
					end--
				}
				v = v[:end]
				if !quoted && strings.EqualFold(v, "NULL") {
					out = append(out, nil)
				} else {
					add(v)
				}
			}
			buf.Reset()
			inElem, quoted, lastLiteral = false, false, -1
		case isSpace(c):
			if inElem {
				buf.WriteByte(c)
			}
		default:
			buf.WriteByte(c)
			inElem = true
		}
	}
	return out, nil
}

// arraySpecial reports whether c ends or changes an unquoted element.
func arraySpecial(c byte) bool {
	return c == ',' || c == '}' || c == '{' || c == '"' || c == '\\'
}

// atoi32 reads a leading signed integer as C's atoi does on glibc (strtol
// truncated to int).
func atoi32(s string) int64 {
	v, _, _ := strtoi64(s)
	return int64(int32(v))
}
