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

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

func parseInt32(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	return int32(v), err
}

// checkVariables applies Hasura's rules to the request's variables: every
// variable sent must be declared, non-null variables need a value, and
// values of built-in scalars must have the right JSON type. Values of
// Tally's custom scalars are parsed where they are used.
func checkVariables(op *ast.OperationDefinition, vars map[string]any) *Error {
	var unexpected []string
	for name := range vars {
		if op.VariableDefinitions.ForName(name) == nil {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		return newError(CodeValidationFailed, "$", "unexpected variables in variableValues: "+strings.Join(unexpected, ", "))
	}
	for _, vd := range op.VariableDefinitions {
		path := "$.variableValues." + vd.Variable
		v, ok := vars[vd.Variable]
		if !ok {
			if vd.Type.NonNull && vd.DefaultValue == nil {
				return newError(CodeValidationFailed, path, fmt.Sprintf("expecting a value for non-nullable variable: '%s' of type '%s'", vd.Variable, vd.Type.String()))
			}
			continue
		}
		if err := checkJSONValue(v, vd.Type, path); err != nil {
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

func jsonKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case *object:
		return "an object"
	}
	return "a value"
}

func checkJSONValue(v any, typ *ast.Type, path string) *Error {
	if v == nil {
		if typ.NonNull {
			return newError(CodeValidationFailed, path, fmt.Sprintf("null value found for non-nullable type: '%s'", typ.String()))
		}
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return checkJSONValue(v, typ.Elem, path)
		}
		for i, e := range list {
			if err := checkJSONValue(e, typ.Elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	switch typ.NamedType {
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return newError(CodeParseFailed, path, fmt.Sprintf("expected a boolean for type 'Boolean', but found %s", jsonKindOf(v)))
		}
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return newError(CodeParseFailed, path, fmt.Sprintf("expected a 32-bit integer for type 'Int', but found %s", jsonKindOf(v)))
		}
		if _, err := parseInt32(n.String()); err != nil {
			return newError(CodeParseFailed, path, fmt.Sprintf("The value %s lies outside the bounds or is not an integer. Maybe it is a float, or is there integer overflow?", n))
		}
	case "String":
		if _, ok := v.(string); !ok {
			return newError(CodeParseFailed, path, fmt.Sprintf("expected a string for type 'String', but found %s", jsonKindOf(v)))
		}
	case ArgsType:
		if _, ok := v.(*object); !ok {
			return newError(CodeParseFailed, path, fmt.Sprintf("expected an object for type '%s', but found %s", ArgsType, jsonKindOf(v)))
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

// argsPath is Hasura's path of the function's args on a root field (the
// field's name, not its alias).
func argsPath(field string) string { return "$.selectionSet." + field + ".args.args" }

// accepted forms, named in parse-failed messages.
var acceptedForms = map[string]string{
	"timestamp": `a string such as "2024-01-08" or "2024-01-08T10:00:00"`,
	"interval":  `a string such as "1 day", "1 week", "1 hour" or "1 mon"`,
	"_uuid":     `a PostgreSQL array literal string such as "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c}", or a JSON array of UUID strings`,
	"_int4":     `a PostgreSQL array literal string such as "{1,2}", or a JSON array of integers`,
	"_text":     `a PostgreSQL array literal string such as "{web,whatsapp}", or a JSON array of strings`,
}

func stringExpected(base, arg, typ string, v any) error {
	return &argError{path: base + "." + arg, arg: arg, err: newError(CodeParseFailed, base+"."+arg,
		fmt.Sprintf("A string is expected for type: %s; argument %s takes %s, but found %s", typ, arg, acceptedForms[typ], jsonKindOf(v)))}
}

func wrapArg(base, arg string, err error) error {
	return &argError{path: base + "." + arg, arg: arg, err: err}
}

// buildQuery reads the function's args into a session.Query.
func buildQuery(args *object, base string) (*session.Query, error) {
	q := &session.Query{Span: session.DefaultSpan}
	ts := func(name string) (int64, error) {
		v := args.get(name)
		if v == nil {
			return 0, &argError{path: base + "." + name, arg: name, err: newError(CodeValidationFailed, base+"."+name,
				fmt.Sprintf("argument %s is required and must not be null; send a timestamp such as \"2024-01-08\"", name))}
		}
		s, ok := v.(string)
		if !ok {
			return 0, stringExpected(base, name, "timestamp", v)
		}
		t, err := pgtext.ParseTimestamp(s)
		if err != nil {
			return 0, wrapArg(base, name, err)
		}
		return t, nil
	}
	var err error
	if q.StartMicros, err = ts("start_time"); err != nil {
		return nil, err
	}
	if q.EndMicros, err = ts("end_time"); err != nil {
		return nil, err
	}
	if v := args.get("interval_span"); v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, stringExpected(base, "interval_span", "interval", v)
		}
		if q.Span, err = pgtext.ParseInterval(s); err != nil {
			return nil, wrapArg(base, "interval_span", err)
		}
	}
	for _, f := range []struct {
		name string
		set  *session.UUIDSet
	}{{"brain_parent_ids", &q.BrainParentIDs}, {"desk_ids", &q.DeskIDs}, {"integration_ids", &q.IntegrationIDs}} {
		if *f.set, err = uuidSet(base, f.name, args.get(f.name)); err != nil {
			return nil, err
		}
	}
	if q.BrainVersions, err = intSet(base, "brain_versions", args.get("brain_versions")); err != nil {
		return nil, err
	}
	if q.Channels, err = textSet(base, "channels", args.get("channels")); err != nil {
		return nil, err
	}
	if q.AgentIDs, err = textSet(base, "agent_ids", args.get("agent_ids")); err != nil {
		return nil, err
	}
	if v := args.get("is_test"); v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, &argError{path: base + ".is_test", arg: "is_test", err: newError(CodeValidationFailed, base+".is_test",
				fmt.Sprintf("expected a boolean for type 'Boolean', but found %s; argument is_test takes true (test sessions only), false (production only) or null (all)", jsonKindOf(v)))}
		}
		q.IsTest = session.BoolFilter{Active: true, Value: b}
	}
	return q, nil
}

// elements returns an array argument's elements as strings (nil for SQL
// NULL), from a literal string or a JSON/GraphQL list.
func elements(base, name, typ string, v any) ([]*string, bool, error) {
	switch v := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		es, err := pgtext.ParseArray(v)
		if err != nil {
			return nil, false, wrapArg(base, name, err)
		}
		return es, true, nil
	case []any:
		out := make([]*string, len(v))
		for i, e := range v {
			switch e := e.(type) {
			case nil:
			case string:
				out[i] = &e
			case json.Number:
				if typ != "_int4" {
					return nil, false, stringExpected(base, name, typ, e)
				}
				s := e.String()
				out[i] = &s
			default:
				return nil, false, stringExpected(base, name, typ, e)
			}
		}
		return out, true, nil
	}
	return nil, false, stringExpected(base, name, typ, v)
}

func uuidSet(base, name string, v any) (session.UUIDSet, error) {
	es, active, err := elements(base, name, "_uuid", v)
	if err != nil || !active {
		return session.UUIDSet{}, err
	}
	set := session.UUIDSet{Active: true, Values: make([]pgtext.UUID, 0, len(es))}
	for _, e := range es {
		if e == nil {
			continue
		}
		u, err := pgtext.ParseUUID(*e)
		if err != nil {
			return set, wrapArg(base, name, err)
		}
		set.Values = append(set.Values, u)
	}
	return set, nil
}

func intSet(base, name string, v any) (session.IntSet, error) {
	es, active, err := elements(base, name, "_int4", v)
	if err != nil || !active {
		return session.IntSet{}, err
	}
	set := session.IntSet{Active: true, Values: make([]int32, 0, len(es))}
	for _, e := range es {
		if e == nil {
			continue
		}
		n, err := pgtext.ParseInt4(*e)
		if err != nil {
			return set, wrapArg(base, name, err)
		}
		set.Values = append(set.Values, n)
	}
	return set, nil
}

func textSet(base, name string, v any) (session.TextSet, error) {
	es, active, err := elements(base, name, "_text", v)
	if err != nil || !active {
		return session.TextSet{}, err
	}
	set := session.TextSet{Active: true, Values: make([]string, 0, len(es))}
	for _, e := range es {
		if e != nil {
			set.Values = append(set.Values, *e)
		}
	}
	return set, nil
}
