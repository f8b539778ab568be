package graphql

import (
	"bytes"
	"encoding/json"
	"sync"
	"unicode/utf8"
)

// The common request body, decoded in one pass without reflection:
//
//	{"query": "...", "variables": {"name": scalar, ...}, "operationName": "..." | null}
//
// with the keys in any order, each at most once, spelled exactly so, and
// the variables' values strings, numbers, true, false or null. Strings
// may hold the escapes \" \\ \/ \b \f \n \r \t, valid UTF-8 and no control
// character. Anything else (other keys, nested variables, \u escapes,
// trailing bytes, invalid JSON) makes fastRequest decline, and the body
// goes through encoding/json as before (decodeRequest), which gives the
// same Request and variables for every body fastRequest accepts, and the
// errors for the rest. decodeVariables gives the same values (strings,
// bools, nil, json.Number).

// fastRequest decodes body into req (Query, OperationName, Variables as
// the raw object) and returns its variables decoded, or false. texts, when
// not nil, decodes the query text.
func fastRequest(body []byte, req *Request, texts *textCache) (vars map[string]any, ok bool) {
	s := scanner{b: body}
	if !s.byte('{') {
		return nil, false
	}
	var seenQ, seenV, seenO bool
	for first := true; ; first = false {
		if s.byte('}') {
			if first || !seenQ {
				return nil, false
			}
			break
		}
		if !first && !s.byte(',') {
			return nil, false
		}
		key, ok := s.plainKey()
		if !ok || !s.byte(':') {
			return nil, false
		}
		switch string(key) { // no allocation: the conversion is only compared
		case "query":
			raw, escapes, ok := s.rawStr()
			if !ok || seenQ {
				return nil, false
			}
			q, ok := texts.decode(raw, escapes)
			if !ok {
				return nil, false
			}
			req.Query, seenQ = &q, true
		case "operationName":
			if seenO {
				return nil, false
			}
			seenO = true
			if s.literal("null") {
				continue
			}
			n, ok := s.str()
			if !ok {
				return nil, false
			}
			req.OperationName = &n
		case "variables":
			if seenV {
				return nil, false
			}
			seenV = true
			from := s.skipSpace()
			if s.literal("null") {
				req.Variables = body[from:s.i]
				continue
			}
			if vars, ok = s.flatObject(); !ok {
				return nil, false
			}
			req.Variables = body[from:s.i]
		default:
			return nil, false
		}
	}
	s.skipSpace()
	return vars, s.i == len(s.b)
}

// scanner reads JSON from b at i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skipSpace() int {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		break
	}
	return s.i
}

// byte consumes c after white space.
func (s *scanner) byte(c byte) bool {
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal consumes the word w (null, true, false) after white space.
func (s *scanner) literal(w string) bool {
	s.skipSpace()
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// plainKey reads a key of ASCII letters, digits and underscores.
func (s *scanner) plainKey() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	from := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			k := s.b[from:s.i]
			s.i++
			return k, len(k) > 0
		case c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			s.i++
		default:
			return nil, false
		}
	}
	return nil, false
}

// str reads a string after white space (see the escapes above).
func (s *scanner) str() (string, bool) {
	raw, escapes, ok := s.rawStr()
	if !ok {
		return "", false
	}
	return decodeStr(raw, escapes)
}

// rawStr reads a string after white space and returns its bytes between
// the quotes, undecoded, and whether they hold escapes; false when it is
// not a string, holds a control character or is not valid UTF-8.
func (s *scanner) rawStr() (raw []byte, escapes, ok bool) {
	if !s.byte('"') {
		return nil, false, false
	}
	from := s.i
	high := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[from:s.i]
			s.i++
			if high && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, escapes, true
		case c == '\\':
			escapes = true
			s.i += 2
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			high = true
			s.i++
		default:
			s.i++
		}
	}
	return nil, false, false
}

func decodeStr(raw []byte, escapes bool) (string, bool) {
	if !escapes {
		return string(raw), true
	}
	return unescapeJSON(raw, false)
}

// textCache maps the raw text of recent queries, as sent, to the decoded
// text, so that a dashboard sending one query again and again does not
// decode and copy it every time. It holds at most maxTexts texts of at
// most maxTextBytes bytes each, the first it sees; safe for concurrent
// use.
type textCache struct {
	mu    sync.RWMutex
	texts map[string]string
}

const (
	maxTexts     = 256
	maxTextBytes = 16 << 10
)

func (c *textCache) decode(raw []byte, escapes bool) (string, bool) {
	if c == nil || len(raw) > maxTextBytes {
		return decodeStr(raw, escapes)
	}
	c.mu.RLock()
	t, ok := c.texts[string(raw)]
	c.mu.RUnlock()
	if ok {
		return t, true
	}
	if t, ok = decodeStr(raw, escapes); !ok {
		return "", false
	}
	c.mu.Lock()
	if c.texts == nil {
		c.texts = map[string]string{}
	}
	if len(c.texts) < maxTexts {
		c.texts[string(raw)] = t
	}
	c.mu.Unlock()
	return t, true
}

// bodyCache maps recent request bodies, as sent, to what fastRequest
// decoded from them, so that a dashboard sending one request again and
// again does not decode its variables every time (a dozen allocations:
// names, values and the map). It holds at most maxBodies bodies of at
// most maxBodyBytes bytes each, and starts again empty when full. What it
// returns is shared between requests, and read-only: a request's
// variables are never written (resolveVariables copies them to add
// defaults). Safe for concurrent use.
type bodyCache struct {
	mu     sync.RWMutex
	bodies map[string]*decodedBody
}

// decodedBody is a request fastRequest decoded, and what executing it
// found that the next request with the same body can use (memo.go).
type decodedBody struct {
	query     string
	opName    *string
	variables []byte
	vars      map[string]any

	memo bodyMemo
}

const (
	maxBodies    = 256
	maxBodyBytes = 4 << 10
)

// get fills req with what fastRequest decoded from body earlier, and
// reports whether it had it.
func (c *bodyCache) get(body []byte, req *Request) bool {
	if len(body) > maxBodyBytes {
		return false
	}
	c.mu.RLock()
	d := c.bodies[string(body)]
	c.mu.RUnlock()
	if d == nil {
		return false
	}
	*req = Request{Query: &d.query, OperationName: d.opName, Variables: d.variables, vars: d.vars, decoded: true, body: d}
	return true
}

// put keeps req, which fastRequest decoded from body (whose buffer the
// caller may reuse), and gives req its entry.
func (c *bodyCache) put(body []byte, req *Request) {
	if len(body) > maxBodyBytes {
		return
	}
	d := &decodedBody{query: *req.Query, variables: bytes.Clone(req.Variables), vars: req.vars}
	if req.OperationName != nil {
		name := *req.OperationName
		d.opName = &name
	}
	c.mu.Lock()
	if c.bodies == nil || len(c.bodies) >= maxBodies {
		c.bodies = make(map[string]*decodedBody, maxBodies)
	}
	c.bodies[string(body)] = d
	c.mu.Unlock()
	req.body = d
}

// flatObject reads an object whose values are scalars, as decodeVariables
// decodes them.
func (s *scanner) flatObject() (map[string]any, bool) {
	if !s.byte('{') {
		return nil, false
	}
	vars := make(map[string]any, 8)
	for first := true; ; first = false {
		if s.byte('}') {
			return vars, true
		}
		if !first && !s.byte(',') {
			return nil, false
		}
		name, ok := s.str()
		if !ok || !s.byte(':') {
			return nil, false
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			return nil, false
		}
		switch c := s.b[s.i]; {
		case c == '"':
			v, ok := s.str()
			if !ok {
				return nil, false
			}
			vars[name] = v
		case s.literal("true"):
			vars[name] = true
		case s.literal("false"):
			vars[name] = false
		case s.literal("null"):
			vars[name] = nil
		case c == '-' || '0' <= c && c <= '9':
			n, ok := s.number()
			if !ok {
				return nil, false
			}
			vars[name] = n
		default:
			return nil, false
		}
	}
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() (json.Number, bool) {
	from := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return "", false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return "", false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return json.Number(s.b[from:s.i]), true
}
