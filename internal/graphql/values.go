package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

func parseInt32(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	return int32(v), err
}

// checkVariables applies Hasura's rules to the request's variables: every
// variable sent must be declared, non-null variables need a value, and
// values of built-in scalars must have the right JSON type. Values of
// Tally's custom scalars are parsed where they are used.
func (e *Executor) checkVariables(op *ast.OperationDefinition, vars map[string]any) *Error {
	var unexpected []string
	for name := range vars {
		if op.VariableDefinitions.ForName(name) == nil {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		return NewError(CodeValidationFailed, "unexpected variables in variableValues: "+strings.Join(unexpected, ", "))
	}
	for _, vd := range op.VariableDefinitions {
		v, ok := vars[vd.Variable]
		if !ok {
			if vd.Type.NonNull && vd.DefaultValue == nil {
				at := variablePath(vd.Variable, nil)
				return newError(CodeValidationFailed, at, fmt.Sprintf("expecting a value for non-nullable variable: '%s' of type '%s'", vd.Variable, vd.Type.String()))
			}
			continue
		}
		if err := e.checkJSONValue(v, vd.Type, vd.Variable, nil); err != nil {
			return err
		}
	}
	return nil
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
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
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
				v, err := decodeValue(dec)
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

// variablePath is $.variableValues.<name>[i][j]... .
func variablePath(name string, index []int) *path {
	values := (*path)(nil).child("variableValues")
	p := &path{up: &values, key: name}
	for _, i := range index {
		p = &path{up: p, index: i}
	}
	return p
}

// checkJSONValue checks the value of variable name (at index within it,
// for list elements) against its declared type. The path is built only
// for an error, so that checking allocates nothing.
func (e *Executor) checkJSONValue(v any, typ *ast.Type, name string, index []int) *Error {
	if v == nil {
		if typ.NonNull {
			return newError(CodeValidationFailed, variablePath(name, index), fmt.Sprintf("null value found for non-nullable type: '%s'", typ.String()))
		}
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return e.checkJSONValue(v, typ.Elem, name, index)
		}
		for i, item := range list {
			if err := e.checkJSONValue(item, typ.Elem, name, append(index[:len(index):len(index)], i)); err != nil {
				return err
			}
		}
		return nil
	}
	switch typ.NamedType {
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return newError(CodeParseFailed, variablePath(name, index), fmt.Sprintf("expected a boolean for type 'Boolean', but found %s", jsonKindOf(v)))
		}
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return newError(CodeParseFailed, variablePath(name, index), fmt.Sprintf("expected a 32-bit integer for type 'Int', but found %s", jsonKindOf(v)))
		}
		if _, err := parseInt32(n.String()); err != nil {
			return newError(CodeParseFailed, variablePath(name, index), fmt.Sprintf("The value %s lies outside the bounds or is not an integer. Maybe it is a float, or is there integer overflow?", n))
		}
	case "String":
		if _, ok := v.(string); !ok {
			return newError(CodeParseFailed, variablePath(name, index), fmt.Sprintf("expected a string for type 'String', but found %s", jsonKindOf(v)))
		}
	default:
		if e.argsTypes[typ.NamedType] == nil {
			break
		}
		if _, ok := v.(*object); !ok {
			return newError(CodeParseFailed, variablePath(name, index), fmt.Sprintf("expected an object for type '%s', but found %s", typ.NamedType, jsonKindOf(v)))
		}
	}
	return nil
}

// resolve turns a GraphQL value into a JSON-like Go value (nil, string,
// bool, json.Number, []any, map[string]any), substituting variables. A
// variable that was not sent takes its default, or is absent (nil).
func resolve(v *ast.Value, vars map[string]any) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		if val, ok := vars[v.Raw]; ok {
			return val
		}
		if v.VariableDefinition != nil && v.VariableDefinition.DefaultValue != nil {
			return resolve(v.VariableDefinition.DefaultValue, nil)
		}
		return nil
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
		out := &object{}
		for _, c := range v.Children {
			out.names = append(out.names, c.Name)
			out.values = append(out.values, resolve(c.Value, vars))
		}
		return out
	}
	return nil
}
