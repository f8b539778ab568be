package graphql

import (
	"fmt"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// hasuraWorded are the gqlparser rules whose checks Tally makes itself in
// checkOperation, so that the error has Hasura's wording and path.
// NoUnusedVariables is dropped outright: Hasura allows declared variables
// that are not used.
var hasuraWorded = []string{
	"FieldsOnCorrectType", "KnownArgumentNames", "ProvidedRequiredArguments",
	"VariablesInAllowedPosition", "NoUnusedVariables", "ValuesOfCorrectType", "ScalarLeafs",
}

func newRules() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, name := range hasuraWorded {
		r.RemoveRule(name)
	}
	return r
}

// prepared is a parsed and validated document, or the error it gave.
// Documents are read-only once prepared and shared between requests. A
// valid document that holds a subscription has both: doc, which runs over
// WebSocket (subscription.go), and err, HTTP's refusal.
type prepared struct {
	doc *ast.QueryDocument
	err *Error
}

// docCache caches prepared documents by query text, so that a dashboard
// sending the same query every few seconds pays for parsing and validation
// once. It holds at most max entries; when full, an arbitrary entry goes.
type docCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*prepared
}

func (c *docCache) get(q string) *prepared {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[q]
}

func (c *docCache) put(q string, p *prepared) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[q] = p
}

func (e *Executor) prepare(query string) *prepared {
	if p := e.cache.get(query); p != nil {
		return p
	}
	p := e.prepareUncached(query)
	e.cache.put(query, p)
	return p
}

func (e *Executor) prepareUncached(query string) *prepared {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		at := (*path)(nil).child("query")
		return &prepared{err: newError(CodeValidationFailed, &at, "not a valid graphql query: "+gqlMessage(err))}
	}
	if errs := validator.ValidateWithRules(e.schema, doc, e.rules); len(errs) > 0 {
		if errs[0].Rule == "KnownRootType" {
			return &prepared{err: NewError(CodeValidationFailed, "no mutations exist")}
		}
		return &prepared{err: NewError(CodeValidationFailed, gqlMessage(errs[0]))}
	}
	subscription := false
	for _, op := range doc.Operations {
		c := checker{schema: e.schema, doc: doc, op: op, visiting: map[string]bool{}}
		root := e.schema.Query
		switch op.Operation {
		case ast.Mutation:
			return &prepared{err: NewError(CodeValidationFailed, "no mutations exist")}
		case ast.Subscription:
			root, subscription = e.schema.Subscription, true
		}
		if err := c.selectionSet(op.SelectionSet, root, nil); err != nil {
			return &prepared{err: err}
		}
	}
	if subscription {
		return &prepared{doc: doc, err: NewError(CodeNotSupported, "subscriptions are not supported over HTTP; send a query")}
	}
	return &prepared{doc: doc}
}

// gqlMessage renders a gqlparser error with its position.
func gqlMessage(err error) string {
	if ge, ok := err.(*gqlerror.Error); ok {
		msg := ge.Message
		if len(ge.Locations) > 0 {
			msg += fmt.Sprintf(" (line %d, column %d)", ge.Locations[0].Line, ge.Locations[0].Column)
		}
		return msg
	}
	return err.Error()
}

// checker makes the checks whose errors Hasura words its own way, with
// Hasura's JSONPath: unknown fields and arguments, missing arguments,
// variables used at the wrong type, and literals of the wrong kind.
type checker struct {
	schema   *ast.Schema
	doc      *ast.QueryDocument
	op       *ast.OperationDefinition
	visiting map[string]bool
}

func (c *checker) selectionSet(set ast.SelectionSet, parent *ast.Definition, at *path) *Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if err := c.field(sel, parent, at); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := c.directives(sel.Directives, at); err != nil {
				return err
			}
			if err := c.selectionSet(sel.SelectionSet, parent, at); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if err := c.directives(sel.Directives, at); err != nil {
				return err
			}
			if c.visiting[sel.Name] {
				continue
			}
			def := c.doc.Fragments.ForName(sel.Name)
			if def == nil {
				continue // KnownFragmentNames reports it
			}
			c.visiting[sel.Name] = true
			err := c.selectionSet(def.SelectionSet, parent, at)
			delete(c.visiting, sel.Name)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) directives(ds ast.DirectiveList, at *path) *Error {
	for _, d := range ds {
		if d.Definition == nil {
			continue
		}
		for _, a := range d.Arguments {
			def := d.Definition.Arguments.ForName(a.Name)
			if def == nil {
				return newError(CodeValidationFailed, at, fmt.Sprintf("directive '%s' has no argument named '%s'", d.Name, a.Name))
			}
			args := at.child("args")
			argAt := args.child(a.Name)
			if err := c.value(a.Value, def.Type, &argAt, def.DefaultValue != nil); err != nil {
				return err
			}
		}
		for _, def := range d.Definition.Arguments {
			if def.Type.NonNull && def.DefaultValue == nil && d.Arguments.ForName(def.Name) == nil {
				return newError(CodeValidationFailed, at, fmt.Sprintf("missing required field '%s'", def.Name))
			}
		}
	}
	return nil
}

func (c *checker) field(f *ast.Field, parent *ast.Definition, at *path) *Error {
	if err := c.directives(f.Directives, at); err != nil {
		return err
	}
	sel := at.child("selectionSet")
	fpath := sel.child(f.Name)
	if f.Name == "__typename" {
		if len(f.SelectionSet) > 0 {
			return newError(CodeValidationFailed, &fpath, "unexpected subselection set for non-object field")
		}
		return nil
	}
	def := parent.Fields.ForName(f.Name)
	if def == nil {
		return newError(CodeValidationFailed, &fpath, fmt.Sprintf("field '%s' not found in type: '%s'", f.Name, parent.Name))
	}
	args := fpath.child("args")
	for _, a := range f.Arguments {
		ad := def.Arguments.ForName(a.Name)
		if ad == nil {
			return newError(CodeValidationFailed, &fpath, fmt.Sprintf("'%s' has no argument named '%s'", f.Name, a.Name))
		}
		argAt := args.child(a.Name)
		if err := c.value(a.Value, ad.Type, &argAt, ad.DefaultValue != nil); err != nil {
			return err
		}
	}
	for _, ad := range def.Arguments {
		if ad.Type.NonNull && ad.DefaultValue == nil && f.Arguments.ForName(ad.Name) == nil {
			argAt := args.child(ad.Name)
			return newError(CodeValidationFailed, &argAt, fmt.Sprintf("missing required field '%s'", ad.Name))
		}
	}
	td := c.schema.Types[def.Type.Name()]
	if td == nil {
		return nil
	}
	switch td.Kind {
	case ast.Object, ast.Interface, ast.Union:
		if len(f.SelectionSet) == 0 {
			return newError(CodeValidationFailed, &fpath, fmt.Sprintf("missing selection set for '%s'", td.Name))
		}
		return c.selectionSet(f.SelectionSet, td, &fpath)
	default:
		if len(f.SelectionSet) > 0 {
			return newError(CodeValidationFailed, &fpath, "unexpected subselection set for non-object field")
		}
	}
	return nil
}

// value checks one argument value against the type expected at path.
func (c *checker) value(v *ast.Value, typ *ast.Type, at *path, locationHasDefault bool) *Error {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		vd := c.op.VariableDefinitions.ForName(v.Raw)
		if vd == nil {
			return nil // NoUndefinedVariables reports it
		}
		if !variableAllowed(vd, typ, locationHasDefault) {
			return newError(CodeValidationFailed, at, fmt.Sprintf("variable '%s' is declared as '%s', but used where '%s' is expected", vd.Variable, vd.Type.String(), typ.String()))
		}
		return nil
	case ast.NullValue:
		if typ.NonNull {
			return newError(CodeValidationFailed, at, fmt.Sprintf("null value found for non-nullable type: '%s'", typ.String()))
		}
		return nil
	}
	if typ.Elem != nil {
		if v.Kind == ast.ListValue {
			for i, child := range v.Children {
				elem := at.at(i)
				if err := c.value(child.Value, typ.Elem, &elem, false); err != nil {
					return err
				}
			}
			return nil
		}
		// A single value where a list is expected is coerced to a list of one.
		return c.value(v, typ.Elem, at, false)
	}
	td := c.schema.Types[typ.NamedType]
	if td == nil {
		return nil
	}
	switch td.Kind {
	case ast.InputObject:
		if v.Kind != ast.ObjectValue {
			return newError(CodeValidationFailed, at, fmt.Sprintf("expected an object for type '%s', but found %s", td.Name, kindName(v.Kind)))
		}
		for _, child := range v.Children {
			fd := td.Fields.ForName(child.Name)
			fieldAt := at.child(child.Name)
			if fd == nil {
				return newError(CodeValidationFailed, &fieldAt, fmt.Sprintf("field '%s' not found in type: '%s'", child.Name, td.Name))
			}
			if err := c.value(child.Value, fd.Type, &fieldAt, fd.DefaultValue != nil); err != nil {
				return err
			}
		}
		for _, fd := range td.Fields {
			if fd.Type.NonNull && fd.DefaultValue == nil && v.Children.ForName(fd.Name) == nil {
				fieldAt := at.child(fd.Name)
				return newError(CodeValidationFailed, &fieldAt, fmt.Sprintf("missing required field '%s'", fd.Name))
			}
		}
	case ast.Enum:
		if v.Kind != ast.EnumValue || td.EnumValues.ForName(v.Raw) == nil {
			return newError(CodeValidationFailed, at, fmt.Sprintf("expected one of the values %s for type '%s', but found %s", enumNames(td), td.Name, describeLiteral(v)))
		}
	case ast.Scalar:
		switch td.Name {
		case "Boolean":
			if v.Kind != ast.BooleanValue {
				return newError(CodeValidationFailed, at, fmt.Sprintf("expected a boolean for type 'Boolean', but found %s", kindName(v.Kind)))
			}
		case "Int":
			if v.Kind != ast.IntValue {
				return newError(CodeValidationFailed, at, fmt.Sprintf("expected a 32-bit integer for type 'Int', but found %s", kindName(v.Kind)))
			}
			if _, err := parseInt32(v.Raw); err != nil {
				return newError(CodeValidationFailed, at, fmt.Sprintf("The value %s lies outside the bounds or is not an integer. Maybe it is a float, or is there integer overflow?", v.Raw))
			}
		case "String", "ID":
			if v.Kind != ast.StringValue && v.Kind != ast.BlockValue && !(td.Name == "ID" && v.Kind == ast.IntValue) {
				return newError(CodeValidationFailed, at, fmt.Sprintf("expected a string for type '%s', but found %s", td.Name, kindName(v.Kind)))
			}
		case "Float":
			if v.Kind != ast.FloatValue && v.Kind != ast.IntValue {
				return newError(CodeValidationFailed, at, fmt.Sprintf("expected a float for type 'Float', but found %s", kindName(v.Kind)))
			}
		}
	}
	return nil
}

func enumNames(td *ast.Definition) string {
	names := make([]string, len(td.EnumValues))
	for i, ev := range td.EnumValues {
		names[i] = ev.Name
	}
	return strings.Join(names, ", ")
}

func describeLiteral(v *ast.Value) string {
	if v.Kind == ast.EnumValue {
		return "'" + v.Raw + "'"
	}
	return kindName(v.Kind)
}

func kindName(k ast.ValueKind) string {
	switch k {
	case ast.IntValue:
		return "a number"
	case ast.FloatValue:
		return "a number"
	case ast.StringValue, ast.BlockValue:
		return "a string"
	case ast.BooleanValue:
		return "a boolean"
	case ast.NullValue:
		return "null"
	case ast.EnumValue:
		return "an enum value"
	case ast.ListValue:
		return "a list"
	case ast.ObjectValue:
		return "an object"
	}
	return "a variable"
}

// variableAllowed is the GraphQL spec's IsVariableUsageAllowed: the
// variable's declared type must match the location's, except that a
// nullable variable may flow into a non-null location when either has a
// default value.
func variableAllowed(vd *ast.VariableDefinition, loc *ast.Type, locationHasDefault bool) bool {
	if loc.NonNull && !vd.Type.NonNull {
		hasDefault := vd.DefaultValue != nil && vd.DefaultValue.Kind != ast.NullValue
		if !hasDefault && !locationHasDefault {
			return false
		}
		nn := *loc
		nn.NonNull = false
		return typesCompatible(vd.Type, &nn)
	}
	return typesCompatible(vd.Type, loc)
}

func typesCompatible(varType, loc *ast.Type) bool {
	if loc.NonNull {
		if !varType.NonNull {
			return false
		}
		a, b := *varType, *loc
		a.NonNull, b.NonNull = false, false
		return typesCompatible(&a, &b)
	}
	if varType.NonNull {
		a := *varType
		a.NonNull = false
		return typesCompatible(&a, loc)
	}
	if loc.Elem != nil {
		return varType.Elem != nil && typesCompatible(varType.Elem, loc.Elem)
	}
	if varType.Elem != nil {
		return false
	}
	return varType.NamedType == loc.NamedType
}
