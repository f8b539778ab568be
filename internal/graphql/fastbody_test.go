package graphql

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"strconv"
	"testing"
)

// slowRequest is the general path: encoding/json, then decodeVariables.
func slowRequest(body []byte) (req Request, vars map[string]any, ok bool) {
	if decodeRequest(body, &req, -1) != nil || req.Query == nil {
		return req, nil, false
	}
	if len(req.Variables) > 0 && string(req.Variables) != "null" {
		v, err := decodeVariables(req.Variables)
		if err != nil {
			return req, nil, false
		}
		vars = v
	}
	return req, vars, true
}

// testTexts is shared by every test, so that repeated bodies take the
// query text from it.
var testTexts = &textCache{}

// checkFast fails when fastRequest accepts body and the general path
// decodes it differently or refuses it.
func checkFast(t *testing.T, body []byte) bool {
	t.Helper()
	var fast Request
	fvars, ok := fastRequest(body, &fast, testTexts)
	if !ok {
		return false
	}
	slow, svars, sok := slowRequest(body)
	if !sok {
		t.Fatalf("fastRequest accepted %q, which encoding/json refuses", body)
	}
	if *fast.Query != *slow.Query || !reflect.DeepEqual(fast.OperationName, slow.OperationName) ||
		!reflect.DeepEqual(fvars, svars) || string(fast.Variables) != string(slow.Variables) || slow.Extensions != nil {
		t.Fatalf("%q:\nfast %q %v %#v %s\nslow %q %v %#v %s", body, *fast.Query, fast.OperationName, fvars, fast.Variables,
			*slow.Query, slow.OperationName, svars, slow.Variables)
	}
	// The body cache gives it back, once the body's buffer is reused.
	if len(body) > maxBodyBytes {
		return true
	}
	buf := append([]byte(nil), body...)
	var again Request
	again.vars, _ = fastRequest(buf, &again, testTexts)
	again.decoded = true
	testBodies.put(buf, &again)
	for i := range buf {
		buf[i] = 'x'
	}
	var cached Request
	if !testBodies.get(body, &cached) {
		t.Fatalf("%q: not in the body cache after put", body)
	}
	if *cached.Query != *slow.Query || !reflect.DeepEqual(cached.OperationName, slow.OperationName) ||
		!reflect.DeepEqual(cached.vars, svars) || !cached.decoded || string(cached.Variables) != string(slow.Variables) {
		t.Fatalf("%q from the body cache:\n%q %v %#v %s", body, *cached.Query, cached.OperationName, cached.vars, cached.Variables)
	}
	return true
}

// testBodies is shared by every test, and so fills and starts again.
var testBodies = &bodyCache{}

// TestBodyCacheBounded: the body cache keeps at most maxBodies bodies of
// at most maxBodyBytes bytes.
func TestBodyCacheBounded(t *testing.T) {
	var c bodyCache
	q := "{ a }"
	for i := range 3 * maxBodies {
		body := []byte(`{"query":"{ a }","variables":{"i":` + strconv.Itoa(i) + `}}`)
		c.put(body, &Request{Query: &q, vars: map[string]any{"i": json.Number(strconv.Itoa(i))}})
		if len(c.bodies) > maxBodies {
			t.Fatalf("%d bodies kept", len(c.bodies))
		}
		var r Request
		if !c.get(body, &r) || r.vars["i"] != json.Number(strconv.Itoa(i)) {
			t.Fatalf("body %d not kept or kept wrong: %v", i, r.vars)
		}
	}
	long := append([]byte(`{"query":"`), make([]byte, maxBodyBytes)...)
	c.put(long, &Request{Query: &q})
	if c.get(long, new(Request)) {
		t.Fatal("a body over maxBodyBytes was kept")
	}
}

func TestFastRequestAcceptsCommonBodies(t *testing.T) {
	for _, body := range []any{
		map[string]any{"query": "query Q($d: _uuid) {\n  rows: f(args: {desk_ids: $d}) { a }\n}", "variables": map[string]any{
			"d": "{6b0d2f43-1c8e-4a57-9e2b-0f3a7c5d1e01}", "start": "2024-06-01", "n": 3, "x": 1.5e3, "t": true, "f": false, "z": nil}},
		map[string]any{"query": "{ a }"},
		map[string]any{"query": "{ a }", "variables": nil, "operationName": nil},
		map[string]any{"query": "query Q { a } query R { b }", "operationName": "R", "variables": map[string]any{}},
		map[string]any{"query": "{ a(s: \"tab\\there é ü\") }", "variables": map[string]any{"s": "quote \" slash \\ solidus /"}},
	} {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if !checkFast(t, b) {
			t.Errorf("fastRequest declined %s", b)
		}
	}
	// Hand-written: white space everywhere, \/ and the short escapes.
	for _, b := range []string{
		" {\r\n\t\"variables\" : { \"a\" : \"x\\/y\\b\\f\\n\\r\\t\" , \"b\":-0.5E+2 } , \"query\" : \"{ a }\" } \n",
		`{"query":"{ a }","variables":{"n":0,"m":-12,"k":12e-3}}`,
	} {
		if !checkFast(t, []byte(b)) {
			t.Errorf("fastRequest declined %s", b)
		}
	}
}

func TestFastRequestDeclinesTheRest(t *testing.T) {
	for _, b := range []string{
		``, `[]`, `{}`, `null`, `{"query":null}`, `{"Query":"{ a }"}`, `{"query":"{ a }","extensions":{}}`,
		`{"query":"{ a }","query":"{ b }"}`, `{"query":"{ a }"} x`, `{"query":"{ a }",}`, `{"query":"\u0041"}`,
		`{"query":"{ a }","variables":{"a":{"b":1}}}`, `{"query":"{ a }","variables":{"a":[1]}}`,
		`{"query":"{ a }","variables":{"a":01}}`, `{"query":"{ a }","variables":{"a":1.}}`, `{"query":"{ a }","variables":{"a":tru}}`,
		"{\"query\":\"\xff\"}", "{\"query\":\"a\nb\"}", `{"query":"{ a }","variables":[]}`, `{"query":"{ a }","variables":"x"}`,
		`{"query":"{ a }","operationName":1}`, `{"query":"{ a }"`, `{"query":"\x"}`,
	} {
		var req Request
		if _, ok := fastRequest([]byte(b), &req, testTexts); ok {
			t.Errorf("fastRequest accepted %q", b)
		}
	}
}

// TestFastRequestMatchesEncodingJSON mutates common bodies at random: every
// body fastRequest accepts, encoding/json decodes the same.
func TestFastRequestMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	seeds := []string{
		`{"query":"query Q($a: String) { f(a: $a) }","variables":{"a":"x\ny","n":12,"t":true,"z":null},"operationName":"Q"}`,
		` { "variables" : { "a" : -1.5e3 } , "query" : "{ a }" , "operationName" : null } `,
	}
	alphabet := []byte(`{}[]":,\ntrufalsen0123456789-+.eE \/ébq`)
	accepted := 0
	for i := range 200_000 {
		b := []byte(seeds[i%len(seeds)])
		for range 1 + r.Intn(3) {
			p := r.Intn(len(b) + 1)
			switch r.Intn(3) {
			case 0: // insert
				b = append(b[:p], append([]byte{alphabet[r.Intn(len(alphabet))]}, b[p:]...)...)
			case 1: // delete
				if p < len(b) {
					b = append(b[:p], b[p+1:]...)
				}
			case 2: // replace
				if p < len(b) {
					b[p] = alphabet[r.Intn(len(alphabet))]
				}
			}
		}
		if checkFast(t, b) {
			accepted++
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d mutated bodies accepted: the test no longer exercises the fast path", accepted)
	}
}

func FuzzFastRequest(f *testing.F) {
	f.Add([]byte(`{"query":"{ a }","variables":{"a":"x","n":1}}`))
	f.Add([]byte(`{"variables":null,"query":"{ a }","operationName":"Q"}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}
