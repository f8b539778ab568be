package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// resolveVariables applies Hasura's checks of a request's variables
// (Execute/Resolve.hs) and returns the values to use, with the defaults
// of those not sent: a non-null variable needs a value other than null, no
// variable is defined twice, every variable used is defined, and every
// value sent is used. The values themselves are checked where they are
// used, as Hasura does.
func (e *Executor) resolveVariables(op *ast.OperationDefinition, c *checkedOp, vars map[string]any) (map[string]any, *Error) {
	defaults := false
	for _, vd := range op.VariableDefinitions {
		v, ok := vars[vd.Variable]
		switch {
		case ok && v == nil && vd.Type.NonNull:
			return nil, NewError(CodeValidationFailed, fmt.Sprintf("null value found for non-nullable type: %q", vd.Type.String()))
		case !ok && vd.DefaultValue != nil:
			defaults = true
		case !ok && vd.Type.NonNull:
			return nil, NewError(CodeValidationFailed, fmt.Sprintf("expecting a value for non-nullable variable: %q", vd.Variable))
		}
	}
	if c.dupVar != "" {
		return nil, NewError(CodeParseFailed, fmt.Sprintf("multiple definitions for variable %q", c.dupVar))
	}
	if c.unbound != "" {
		return nil, NewError(CodeValidationFailed, fmt.Sprintf("unbound variable %q", c.unbound))
	}
	var unexpected []string
	for name := range vars {
		if !c.used[name] {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		return nil, NewError(CodeValidationFailed, "unexpected variables in variableValues: "+strings.Join(unexpected, ", "))
	}
	if !defaults {
		return vars, nil
	}
	out := make(map[string]any, len(op.VariableDefinitions))
	for k, v := range vars {
		out[k] = v
	}
	for _, vd := range op.VariableDefinitions {
		if _, ok := out[vd.Variable]; !ok && vd.DefaultValue != nil {
			out[vd.Variable] = resolve(vd.DefaultValue, nil)
		}
	}
	return out, nil
}

// checkUses checks the values of variables used where built-in scalars
// are expected (directive arguments, __type's name, count's distinct), at
// the place of their first use, as Hasura's scalar parsers do.
func checkUses(uses []varUse, vars map[string]any) *Error {
	for _, u := range uses {
		v, ok := vars[u.name]
		if !ok {
			continue
		}
		if err := checkJSONScalar(v, u.typ, u.at); err != nil {
			return err
		}
	}
	return nil
}

func checkJSONScalar(v any, typ *ast.Type, at Path) *Error {
	if v == nil {
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return checkJSONScalar(v, typ.Elem, append(at[:len(at):len(at)], PathElem{Index: 0}))
		}
		for i, item := range list {
			if err := checkJSONScalar(item, typ.Elem, append(at[:len(at):len(at)], PathElem{Index: i})); err != nil {
				return err
			}
		}
		return nil
	}
	mismatch := func(expected string) *Error {
		return &Error{Code: CodeValidationFailed, Path: at, Message: fmt.Sprintf("expected %s for type '%s', but found %s", expected, typ.NamedType, jsonKindOf(v))}
	}
	switch typ.NamedType {
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return mismatch("a boolean")
		}
	case "String":
		if _, ok := v.(string); !ok {
			return mismatch("a string")
		}
	case "Float":
		if _, ok := v.(json.Number); !ok {
			return mismatch("a float")
		}
	case "ID":
		switch v.(type) {
		case string, json.Number:
		default:
			return mismatch("a String or a 32-bit integer")
		}
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return mismatch("a 32-bit integer")
		}
		if _, ok := jsonInt(n, 32); !ok {
			return &Error{Code: CodeParseFailed, Path: at, Message: outOfBounds(n.String())}
		}
	}
	return nil
}

// jsonInt reads a JSON number as an integer of bits bits, as Haskell's
// toBoundedInteger does: 100, 1e2 and 100.0 are all 100; 1.5 and numbers
// out of range are not integers.
func jsonInt(n json.Number, bits int) (int64, bool) {
	if i, err := strconv.ParseInt(string(n), 10, bits); err == nil {
		return i, true
	}
	if len(n) > 64 {
		return 0, false // not worth a big.Rat: no integer of 64 bits is written so long
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	i := r.Num().Int64()
	if bits == 32 && (i < math.MinInt32 || i > math.MaxInt32) {
		return 0, false
	}
	return i, true
}

// object is an input object value with its fields in the order given:
// order matters for order_by ({per_interval: desc, open_sessions: asc}).
type object struct {
	names  []string
	values []any
}

// get returns a field's value, nil when absent.
func (o *object) get(name string) any {
	for i, n := range o.names {
		if n == name {
			return o.values[i]
		}
	}
	return nil
}

// decodeJSON decodes JSON with objects kept in order and numbers as
// json.Number.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	d := &jsonDecoder{dec: dec}
	if !plainText(data) {
		d.exact = data
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the value")
	}
	return v, nil
}

// jsonDecoder is decodeJSON's walk. With exact set (the data decodeJSON
// was given, when it is not plainText), strings are unquoted from their
// bytes there by unquoteExact rather than taken from encoding/json.
type jsonDecoder struct {
	dec   *json.Decoder
	exact []byte
}

func (d *jsonDecoder) token() (json.Token, error) {
	from := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if s, ok := tok.(string); ok && err == nil && d.exact != nil {
		// Between the previous token and this string there are only
		// spaces, a comma or a colon: its opening quote is the first.
		to := d.dec.InputOffset()
		if at := bytes.IndexByte(d.exact[from:to], '"'); at >= 0 {
			s = unquoteExact(d.exact[from+int64(at) : to])
		}
		return s, nil
	}
	return tok, err
}

func (d *jsonDecoder) value() (any, error) {
	dec := d.dec
	tok, err := d.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				k, err := d.token()
				if err != nil {
					return nil, err
				}
				v, err := d.value()
				if err != nil {
					return nil, err
				}
				o.names = append(o.names, k.(string))
				o.values = append(o.values, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			list := []any{}
			for dec.More() {
				v, err := d.value()
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

// decodeVariables decodes the request's variables object. Scalars, the
// common case (the SPEC query sends only strings), are decoded directly;
// objects and lists go through decodeJSON to keep their key order. An
// error's text completes "variables must be a JSON object ...".
func decodeVariables(data []byte) (map[string]any, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		v, derr := decodeJSON(data)
		if derr != nil {
			return nil, fmt.Errorf(": %w", derr)
		}
		return nil, fmt.Errorf(", but found %s", jsonKindOf(v))
	}
	vars := make(map[string]any, len(top))
	for name, raw := range top {
		var v any
		switch raw[0] {
		case '"':
			if !plainText(raw) {
				v = unquoteExact(raw) // raw is valid JSON: top was decoded
				break
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf(": %w", err)
			}
			v = s
		case 't', 'f':
			v = raw[0] == 't'
		case 'n':
			v = nil
		case '{', '[':
			var err error
			if v, err = decodeJSON(raw); err != nil {
				return nil, fmt.Errorf(": %w", err)
			}
		default:
			v = json.Number(raw)
		}
		vars[name] = v
	}
	return vars, nil
}

func jsonKindOf(v any) string { return analytics.JSONKind(v) }

// resolve turns a GraphQL value into a JSON-like Go value (nil, string,
// bool, json.Number, []any, *object), substituting variables (vars holds
// the defaults of those not sent: resolveVariables). A variable without a
// value is absent (nil).
func resolve(v *ast.Value, vars map[string]any) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		return vars[v.Raw]
	case ast.NullValue:
		return nil
	case ast.IntValue, ast.FloatValue:
		return json.Number(v.Raw)
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.ListValue:
		out := make([]any, len(v.Children))
		for i, c := range v.Children {
			out[i] = resolve(c.Value, vars)
		}
		return out
	case ast.ObjectValue:
		out := &object{names: make([]string, 0, len(v.Children)), values: make([]any, 0, len(v.Children))}
		for _, c := range v.Children {
			out.names = append(out.names, c.Name)
			out.values = append(out.values, resolve(c.Value, vars))
		}
		return out
	}
	return nil
}
