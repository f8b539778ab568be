package graphql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// introObject is one object of the introspection schema (__Schema,
// __Type, ...). resolve returns nil, string, bool, []string, introObject
// or []introObject.
type introObject interface {
	typename() string
	resolve(field string) any
}

// introSchema is what introspection lists, as Hasura lists it: only the
// types reachable from the root types (so no ID), sorted by name, and
// exactly the directives include, skip and cached, described as Hasura
// describes them (Parser/Directives.hs).
type introSchema struct {
	types      []*ast.Definition
	byName     map[string]*ast.Definition
	directives []*ast.DirectiveDefinition
}

func newIntroSchema(s *ast.Schema) *introSchema {
	in := &introSchema{byName: map[string]*ast.Definition{}}
	ifArg := func() ast.ArgumentDefinitionList {
		return ast.ArgumentDefinitionList{{Name: "if", Type: ast.NonNullNamedType("Boolean", nil)}}
	}
	locs := []ast.DirectiveLocation{ast.LocationField, ast.LocationFragmentSpread, ast.LocationInlineFragment}
	in.directives = []*ast.DirectiveDefinition{
		{Name: "include", Description: "whether this query should be included", Arguments: ifArg(), Locations: locs},
		{Name: "skip", Description: "whether this query should be skipped", Arguments: ifArg(), Locations: locs},
		s.Directives["cached"],
	}
	var visit func(name string)
	visit = func(name string) {
		def := s.Types[name]
		if def == nil || in.byName[name] != nil {
			return
		}
		in.byName[name] = def
		for _, f := range def.Fields {
			visit(f.Type.Name())
			for _, a := range f.Arguments {
				visit(a.Type.Name())
			}
		}
		for _, n := range def.Interfaces {
			visit(n)
		}
		for _, p := range s.GetPossibleTypes(def) {
			visit(p.Name)
		}
	}
	for _, root := range []*ast.Definition{s.Query, s.Subscription} {
		if root != nil {
			visit(root.Name)
		}
	}
	for _, d := range in.directives {
		for _, a := range d.Arguments {
			visit(a.Type.Name())
		}
	}
	for _, def := range in.byName {
		in.types = append(in.types, def)
	}
	sort.Slice(in.types, func(i, j int) bool { return in.types[i].Name < in.types[j].Name })
	return in
}

type schemaObj struct {
	s  *ast.Schema
	in *introSchema
}

func (schemaObj) typename() string { return "__Schema" }

func (o schemaObj) resolve(field string) any {
	switch field {
	case "types":
		out := make([]introObject, len(o.in.types))
		for i, def := range o.in.types {
			out[i] = typeObj{s: o.s, def: def}
		}
		return out
	case "queryType":
		return typeObj{s: o.s, def: o.s.Query}
	case "subscriptionType":
		if o.s.Subscription == nil {
			return nil
		}
		return typeObj{s: o.s, def: o.s.Subscription}
	case "directives":
		out := make([]introObject, len(o.in.directives))
		for i, d := range o.in.directives {
			out[i] = directiveObj{s: o.s, def: d}
		}
		return out
	}
	return nil // description, mutationType
}

// typeRef describes an ast.Type: wrappers for non-null and lists, else the
// named type.
func typeRef(s *ast.Schema, t *ast.Type) introObject {
	if t.NonNull {
		inner := *t
		inner.NonNull = false
		return wrapperObj{kind: "NON_NULL", of: typeRef(s, &inner)}
	}
	if t.Elem != nil {
		return wrapperObj{kind: "LIST", of: typeRef(s, t.Elem)}
	}
	return typeObj{s: s, def: s.Types[t.NamedType]}
}

type wrapperObj struct {
	kind string
	of   introObject
}

func (wrapperObj) typename() string { return "__Type" }

func (o wrapperObj) resolve(field string) any {
	switch field {
	case "kind":
		return o.kind
	case "ofType":
		return o.of
	}
	return nil
}

type typeObj struct {
	s   *ast.Schema
	def *ast.Definition
}

func (typeObj) typename() string { return "__Type" }

func (o typeObj) resolve(field string) any {
	d := o.def
	switch field {
	case "kind":
		return string(d.Kind)
	case "name":
		return d.Name
	case "description":
		if d.BuiltIn && d.Kind == ast.Scalar {
			return nil // Hasura describes no built-in scalar
		}
		return nullable(d.Description)
	case "fields":
		if d.Kind != ast.Object && d.Kind != ast.Interface {
			return nil
		}
		out := []introObject{}
		for _, f := range d.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			out = append(out, fieldObj{s: o.s, def: f})
		}
		return out
	case "interfaces":
		if d.Kind != ast.Object && d.Kind != ast.Interface {
			return nil
		}
		out := []introObject{}
		for _, n := range d.Interfaces {
			out = append(out, typeObj{s: o.s, def: o.s.Types[n]})
		}
		return out
	case "possibleTypes":
		if d.Kind != ast.Interface && d.Kind != ast.Union {
			return nil
		}
		out := []introObject{}
		for _, p := range o.s.GetPossibleTypes(d) {
			out = append(out, typeObj{s: o.s, def: p})
		}
		return out
	case "enumValues":
		if d.Kind != ast.Enum {
			return nil
		}
		out := []introObject{}
		for _, v := range d.EnumValues {
			out = append(out, enumValueObj{v})
		}
		return out
	case "inputFields":
		if d.Kind != ast.InputObject {
			return nil
		}
		out := []introObject{}
		for _, f := range d.Fields {
			out = append(out, inputValueObj{s: o.s, name: f.Name, desc: f.Description, typ: f.Type, def: f.DefaultValue})
		}
		return out
	case "isOneOf":
		if d.Kind != ast.InputObject {
			return nil
		}
		return d.Directives.ForName("oneOf") != nil
	}
	return nil // specifiedByURL, ofType
}

type fieldObj struct {
	s   *ast.Schema
	def *ast.FieldDefinition
}

func (fieldObj) typename() string { return "__Field" }

func (o fieldObj) resolve(field string) any {
	switch field {
	case "name":
		return o.def.Name
	case "description":
		return nullable(o.def.Description)
	case "args":
		out := []introObject{}
		for _, a := range o.def.Arguments {
			out = append(out, inputValueObj{s: o.s, name: a.Name, desc: a.Description, typ: a.Type, def: a.DefaultValue})
		}
		return out
	case "type":
		return typeRef(o.s, o.def.Type)
	case "isDeprecated":
		return false
	}
	return nil
}

type inputValueObj struct {
	s    *ast.Schema
	name string
	desc string
	typ  *ast.Type
	def  *ast.Value
}

func (inputValueObj) typename() string { return "__InputValue" }

func (o inputValueObj) resolve(field string) any {
	switch field {
	case "name":
		return o.name
	case "description":
		return nullable(o.desc)
	case "type":
		return typeRef(o.s, o.typ)
	case "defaultValue":
		if o.def == nil {
			return nil
		}
		return o.def.String()
	case "isDeprecated":
		return false
	}
	return nil
}

type enumValueObj struct{ def *ast.EnumValueDefinition }

func (enumValueObj) typename() string { return "__EnumValue" }

func (o enumValueObj) resolve(field string) any {
	switch field {
	case "name":
		return o.def.Name
	case "description":
		return nullable(o.def.Description)
	case "isDeprecated":
		return false
	}
	return nil
}

type directiveObj struct {
	s   *ast.Schema
	def *ast.DirectiveDefinition
}

func (directiveObj) typename() string { return "__Directive" }

func (o directiveObj) resolve(field string) any {
	switch field {
	case "name":
		return o.def.Name
	case "description":
		return nullable(o.def.Description)
	case "locations":
		out := make([]string, len(o.def.Locations))
		for i, l := range o.def.Locations {
			out[i] = string(l)
		}
		return out
	case "args":
		out := []introObject{}
		for _, a := range o.def.Arguments {
			out = append(out, inputValueObj{s: o.s, name: a.Name, desc: a.Description, typ: a.Type, def: a.DefaultValue})
		}
		return out
	case "isRepeatable":
		return o.def.IsRepeatable
	}
	return nil
}

// nullable is s, or JSON null when s is empty (an absent description).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// introspect renders obj with the selection set. Introspection is
// rendered straight from the schema: its result value is the object and
// the selection. Its size depends on the schema, not only on the
// document, so it is checked as it grows.
func (w *renderer) introspect(dst []byte, obj introObject, sel ast.SelectionSet) ([]byte, error) {
	if obj == nil {
		return append(dst, "null"...), nil
	}
	if w.check(dst) {
		return dst, errStop
	}
	dst = append(dst, '{')
	for i, cf := range w.col.collect(sel, obj.typename()) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, cf.key)
		if cf.fields[0].Name == "__typename" {
			dst = appendString(dst, obj.typename())
			continue
		}
		var err error
		if dst, err = w.introValue(dst, obj.resolve(cf.fields[0].Name), mergedSelection(cf.fields)); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (w *renderer) introValue(dst []byte, v any, sel ast.SelectionSet) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	case introObject:
		return w.introspect(dst, v, sel)
	case []introObject:
		dst = append(dst, '[')
		for i, o := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = w.introspect(dst, o, sel); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return dst, fmt.Errorf("introspection value of type %T", v)
}
