package graphql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// The checks of one operation, in Hasura's order and wording, with
// Hasura's JSONPaths (read from graphql-engine's Execute/Inline.hs,
// Parser/Collect.hs, Parser/Directives.hs, Internal/Input.hs,
// Internal/Scalars.hs and Internal/TypeChecking.hs; facts in
// hasura-source-facts.md).
//
// Both walks are linear in the document. The first (inline) visits each
// fragment once per operation, memoising what it holds (fields once
// expanded, depth, variables), so that the node and depth limits are
// known before any walk follows the expansion. The second (checker)
// follows the expansion, as Hasura's collection of fields does, and is
// therefore bounded by the node limit. Recursion is bounded by the depth
// checks: the brackets of the document before parsing, then the
// selections.

// checkOperation makes the checks of op that do not depend on the
// request's variables. Its error is a timeout, when ctx ends first.
func (e *Executor) checkOperation(r *run, p *prepared, op *ast.OperationDefinition) (*checkedOp, *Error) {
	c := &checkedOp{used: map[string]bool{}}
	in := inliner{p: p, op: op, c: c, frags: map[string]*fragInfo{}}
	sel := (*path)(nil).child("selectionSet")
	nodes, depth, err := in.selectionSet(op.SelectionSet, &sel)
	switch {
	case err != nil:
		c.early = err
	case p.dupFrag != "":
		c.early = NewError(CodeValidationFailed, fmt.Sprintf("the following fragment(s) have been defined more than once: %s", p.dupFrag))
	case depth > e.cfg.MaxDepth:
		c.early = e.depthError(nil, "the operation's selections", depth)
	case in.valueDepth > e.cfg.MaxDepth:
		c.early = e.depthError(nil, "the values of the operation's arguments", in.valueDepth)
	case nodes > int64(e.cfg.MaxNodes):
		c.early = e.nodeError(nodes)
	}
	// Variables are looked up by name: an operation may define 70 000.
	vardefs := make(map[string]*ast.VariableDefinition, len(op.VariableDefinitions))
	for _, vd := range op.VariableDefinitions {
		if vardefs[vd.Variable] != nil {
			if c.dupVar == "" {
				c.dupVar = vd.Variable
			}
			continue
		}
		vardefs[vd.Variable] = vd
	}
	for _, name := range in.usedOrder {
		if vardefs[name] == nil {
			c.unbound = name
			break
		}
	}
	if c.early != nil || c.dupVar != "" || c.unbound != "" {
		return c, nil
	}
	ck := checker{e: e, s: e.schema, p: p, op: op, vardefs: vardefs, r: r, c: c, argsChecked: map[*ast.Field]bool{}, useSeen: map[string]bool{}}
	c.late = ck.operation()
	if ck.interrupted {
		return nil, c.late
	}
	return c, nil
}

// fragInfo is what a fragment holds once expanded.
type fragInfo struct {
	done  bool
	nodes int64
	depth int
}

// inliner walks an operation as Hasura inlines its fragments
// (Execute/Inline.hs): each spread fragment must exist and must not spread
// itself; each is walked once. It counts the fields of the expanded
// operation and its depth, and lists the variables it uses in order.
type inliner struct {
	p          *prepared
	op         *ast.OperationDefinition
	c          *checkedOp
	frags      map[string]*fragInfo
	stack      []string // fragments being walked, innermost last
	usedOrder  []string
	valueDepth int
}

// selectionSet returns the fields set expands to (saturated) and its
// depth: the most fields with a selection set on one path.
func (in *inliner) selectionSet(set ast.SelectionSet, at *path) (int64, int, *Error) {
	var nodes int64
	depth := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			in.directives(sel.Directives)
			for _, a := range sel.Arguments {
				in.value(a.Value, 1)
			}
			nodes = addSat(nodes, 1)
			if len(sel.SelectionSet) > 0 {
				fat := at.child(sel.Name)
				sub := fat.child("selectionSet")
				n, d, err := in.selectionSet(sel.SelectionSet, &sub)
				if err != nil {
					return 0, 0, err
				}
				nodes = addSat(nodes, n)
				depth = max(depth, d+1)
			}
		case *ast.InlineFragment:
			in.directives(sel.Directives)
			n, d, err := in.selectionSet(sel.SelectionSet, at)
			if err != nil {
				return 0, 0, err
			}
			nodes = addSat(nodes, n)
			depth = max(depth, d)
		case *ast.FragmentSpread:
			in.directives(sel.Directives)
			n, d, err := in.spread(sel.Name, at)
			if err != nil {
				return 0, 0, err
			}
			nodes = addSat(nodes, n)
			depth = max(depth, d)
		}
	}
	return nodes, depth, nil
}

func (in *inliner) spread(name string, at *path) (int64, int, *Error) {
	if fi := in.frags[name]; fi != nil && fi.done {
		return fi.nodes, fi.depth, nil
	}
	for i, s := range in.stack {
		if s == name {
			// Hasura names the spread fragment first, then the fragments
			// it went through to reach itself again.
			cycle := append([]string{name}, in.stack[i+1:]...)
			return 0, 0, newError(CodeValidationFailed, at, "the fragment definition(s) "+englishList(cycle)+" form a cycle")
		}
	}
	def := in.p.frags[name]
	if def == nil {
		return 0, 0, newError(CodeValidationFailed, at, fmt.Sprintf("reference to undefined fragment %q", name))
	}
	in.stack = append(in.stack, name)
	fat := at.child(name)
	sub := fat.child("selectionSet")
	n, d, err := in.selectionSet(def.SelectionSet, &sub)
	in.stack = in.stack[:len(in.stack)-1]
	if err != nil {
		return 0, 0, err
	}
	in.frags[name] = &fragInfo{done: true, nodes: n, depth: d}
	return n, d, nil
}

func (in *inliner) directives(ds ast.DirectiveList) {
	for _, d := range ds {
		for _, a := range d.Arguments {
			in.value(a.Value, 1)
		}
	}
}

// value notes the variables v uses and how deep it nests.
func (in *inliner) value(v *ast.Value, depth int) {
	if v == nil {
		return
	}
	switch v.Kind {
	case ast.Variable:
		if !in.c.used[v.Raw] {
			in.c.used[v.Raw] = true
			in.usedOrder = append(in.usedOrder, v.Raw)
		}
	case ast.ListValue, ast.ObjectValue:
		in.valueDepth = max(in.valueDepth, depth)
		for _, ch := range v.Children {
			in.value(ch.Value, depth+1)
		}
	}
}

// englishList joins names as Hasura's englishList does: "F", "F and G",
// "F, G, and H".
func englishList(names []string) string {
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + ", and " + names[len(names)-1]
}

// checker makes the checks Hasura's parsers make on the operation once its
// fragments are inlined: fields collected and merged per selection set
// (Collect.hs), directives (Directives.hs), fields and arguments of the
// schema, literal values (Input.hs, Scalars.hs) and the types of
// variables where they are used (TypeChecking.hs).
type checker struct {
	e           *Executor
	s           *ast.Schema
	p           *prepared
	op          *ast.OperationDefinition
	vardefs     map[string]*ast.VariableDefinition
	c           *checkedOp
	r           *run
	steps       int
	interrupted bool
	// argsChecked are fields whose arguments were checked: a fragment
	// spread in many places holds the same fields, and their arguments
	// need checking once.
	argsChecked map[*ast.Field]bool
	// inRootArgs is set while checking a function root field's
	// arguments, whose variables the execution checks where it reads
	// them.
	inRootArgs bool
	useSeen    map[string]bool
}

// tick counts a step and reports whether the walk must stop, checking
// the context every 1024 steps.
func (c *checker) tick() bool {
	c.steps++
	if c.steps&1023 == 0 && c.r.ctx.Err() != nil {
		c.interrupted = true
	}
	return c.interrupted
}

func (c *checker) operation() *Error {
	loc := ast.LocationQuery
	root := c.s.Query
	switch c.op.Operation {
	case ast.Subscription:
		loc, root = ast.LocationSubscription, c.s.Subscription
	case ast.Mutation:
		return NewError(CodeValidationFailed, "no mutations exist")
	}
	if err := c.directives(c.op.Directives, loc, nil); err != nil {
		return err
	}
	sel := (*path)(nil).child("selectionSet")
	return c.selectionSet(c.op.SelectionSet, root, &sel)
}

// fieldGroup is the fields of one response key in a selection set.
type fieldGroup struct {
	key    string
	fields []*ast.Field
}

// selectionSet checks set on parent, at (its path, ending in
// "selectionSet"): its fields are collected with fragments that apply to
// parent flattened and merged by response key, then each is checked.
func (c *checker) selectionSet(set ast.SelectionSet, parent *ast.Definition, at *path) *Error {
	var flat []*ast.Field
	if err := c.flatten(set, parent, at, &flat); err != nil {
		return err
	}
	groups, err := mergeFields(flat, at)
	if err != nil {
		return err
	}
	for i := range groups {
		if err := c.field(&groups[i], parent, at); err != nil {
			return err
		}
	}
	return nil
}

// flatten appends the fields of set to out, checking the directives of
// each selection; fragments whose type condition is not parent's are
// left out, as Hasura does (it serves no interface or union).
func (c *checker) flatten(set ast.SelectionSet, parent *ast.Definition, at *path, out *[]*ast.Field) *Error {
	for _, sel := range set {
		if c.tick() {
			return c.e.ctxError(c.r, "validating")
		}
		switch sel := sel.(type) {
		case *ast.Field:
			if err := c.directives(sel.Directives, ast.LocationField, at); err != nil {
				return err
			}
			*out = append(*out, sel)
		case *ast.InlineFragment:
			if err := c.directives(sel.Directives, ast.LocationInlineFragment, at); err != nil {
				return err
			}
			if sel.TypeCondition != "" && sel.TypeCondition != parent.Name {
				continue
			}
			if err := c.flatten(sel.SelectionSet, parent, at, out); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			// Hasura inlines a spread as an inline fragment with the
			// spread's directives.
			if err := c.directives(sel.Directives, ast.LocationInlineFragment, at); err != nil {
				return err
			}
			def := c.p.frags[sel.Name]
			if def == nil || def.TypeCondition != parent.Name {
				continue
			}
			if err := c.flatten(def.SelectionSet, parent, at, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeFields groups fields by response key in first-seen order, in time
// linear in their number. Fields sharing a key must be the same field
// with the same arguments (Collect.hs).
func mergeFields(flat []*ast.Field, at *path) ([]fieldGroup, *Error) {
	groups := make([]fieldGroup, 0, len(flat))
	var index map[string]int
	if len(flat) > 8 {
		index = make(map[string]int, len(flat))
	}
	for _, f := range flat {
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		i := -1
		if index != nil {
			if j, ok := index[key]; ok {
				i = j
			}
		} else {
			for j := range groups {
				if groups[j].key == key {
					i = j
					break
				}
			}
		}
		if i < 0 {
			if index != nil {
				index[key] = len(groups)
			}
			groups = append(groups, fieldGroup{key: key, fields: []*ast.Field{f}})
			continue
		}
		first := groups[i].fields[0]
		if first.Name != f.Name {
			return nil, newError(CodeValidationFailed, at, fmt.Sprintf("selection of both '%s' and '%s' specify the same response name, '%s'", first.Name, f.Name, key))
		}
		if first != f && !sameArguments(first.Arguments, f.Arguments) {
			return nil, newError(CodeValidationFailed, at, fmt.Sprintf("inconsistent arguments between multiple selections of field '%s'", f.Name))
		}
		groups[i].fields = append(groups[i].fields, f)
	}
	return groups, nil
}

// sameArguments reports whether two argument lists are equal as maps, in
// time linear in their size.
func sameArguments(a, b ast.ArgumentList) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) <= 8 {
		for _, x := range a {
			y := b.ForName(x.Name)
			if y == nil || !sameValue(x.Value, y.Value) {
				return false
			}
		}
		return true
	}
	byName := make(map[string]*ast.Value, len(b))
	for _, y := range b {
		byName[y.Name] = y.Value
	}
	for _, x := range a {
		y, ok := byName[x.Name]
		if !ok || !sameValue(x.Value, y) {
			return false
		}
	}
	return true
}

// sameValue reports whether two values are equal, object fields in any
// order, in time linear in their size.
func sameValue(a, b *ast.Value) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.Kind != b.Kind || a.Raw != b.Raw || len(a.Children) != len(b.Children) {
		return false
	}
	if a.Kind != ast.ObjectValue {
		for i, ch := range a.Children {
			if !sameValue(ch.Value, b.Children[i].Value) {
				return false
			}
		}
		return true
	}
	var byName map[string]*ast.Value
	if len(b.Children) > 8 {
		byName = make(map[string]*ast.Value, len(b.Children))
		for _, ch := range b.Children {
			byName[ch.Name] = ch.Value
		}
	}
	for _, ch := range a.Children {
		var other *ast.Value
		if byName != nil {
			other = byName[ch.Name]
		} else {
			other = b.Children.ForName(ch.Name)
		}
		if other == nil || !sameValue(ch.Value, other) {
			return false
		}
	}
	return true
}

// field checks one response key's fields on parent.
func (c *checker) field(g *fieldGroup, parent *ast.Definition, setAt *path) *Error {
	f := g.fields[0]
	fpath := setAt.child(f.Name)
	if f.Name == "__typename" {
		for _, x := range g.fields {
			if len(x.SelectionSet) > 0 {
				return newError(CodeValidationFailed, &fpath, "unexpected subselection set for non-object field")
			}
		}
		return nil
	}
	def := parent.Fields.ForName(f.Name)
	if def == nil {
		return newError(CodeValidationFailed, &fpath, fmt.Sprintf("field '%s' not found in type: '%s'", f.Name, parent.Name))
	}
	if !c.argsChecked[f] {
		c.argsChecked[f] = true
		_, root := c.e.roots[f.Name]
		c.inRootArgs = root && (parent == c.s.Query || parent == c.s.Subscription)
		err := c.arguments(f, def, &fpath)
		c.inRootArgs = false
		if err != nil {
			return err
		}
	}
	td := c.s.Types[def.Type.Name()]
	if td == nil {
		return nil
	}
	switch td.Kind {
	case ast.Object, ast.Interface, ast.Union:
		var set ast.SelectionSet
		if len(g.fields) == 1 {
			set = f.SelectionSet
		} else {
			for _, x := range g.fields {
				set = append(set, x.SelectionSet...)
			}
		}
		sub := fpath.child("selectionSet")
		if len(set) == 0 {
			return newError(CodeValidationFailed, &sub, fmt.Sprintf("missing selection set for '%s'", td.Name))
		}
		return c.selectionSet(set, td, &sub)
	}
	for _, x := range g.fields {
		if len(x.SelectionSet) > 0 {
			return newError(CodeValidationFailed, &fpath, "unexpected subselection set for non-object field")
		}
	}
	return nil
}

// arguments checks a field's arguments as Hasura's field parsers do:
// unknown names first, then each argument of the definition in order.
func (c *checker) arguments(f *ast.Field, def *ast.FieldDefinition, fpath *path) *Error {
	for i, a := range f.Arguments {
		if def.Arguments.ForName(a.Name) == nil {
			return newError(CodeValidationFailed, fpath, fmt.Sprintf("'%s' has no argument named '%s'", f.Name, a.Name))
		}
		for _, b := range f.Arguments[:i] {
			if b.Name == a.Name {
				return newError(CodeValidationFailed, fpath, fmt.Sprintf("the argument '%s' is given more than once", a.Name))
			}
		}
	}
	args := fpath.child("args")
	for _, ad := range def.Arguments {
		argAt := args.child(ad.Name)
		a := f.Arguments.ForName(ad.Name)
		if a == nil {
			if ad.Type.NonNull && ad.DefaultValue == nil {
				return newError(CodeValidationFailed, &argAt, fmt.Sprintf("missing required field '%s'", ad.Name))
			}
			continue
		}
		special := scalarPlain
		if c.inRootArgs {
			switch ad.Name {
			case "limit":
				special = scalarNonNegative
			case "offset":
				special = scalarBigInt
			}
		}
		if err := c.value(a.Value, ad.Type, &argAt, ad.DefaultValue != nil, special); err != nil {
			return err
		}
	}
	return nil
}

// hasuraDirectives are the directives Hasura knows, with where each may
// be used (Directives.hs).
var hasuraDirectives = map[string][]ast.DirectiveLocation{
	"include": {ast.LocationField, ast.LocationFragmentSpread, ast.LocationInlineFragment},
	"skip":    {ast.LocationField, ast.LocationFragmentSpread, ast.LocationInlineFragment},
	"cached":  {ast.LocationQuery},
}

// locationName is how Hasura's errors name a directive location.
func locationName(l ast.DirectiveLocation) string {
	switch l {
	case ast.LocationQuery:
		return "a query"
	case ast.LocationMutation:
		return "a mutation"
	case ast.LocationSubscription:
		return "a subscription"
	case ast.LocationField:
		return "a field"
	case ast.LocationFragmentDefinition:
		return "a fragment definition"
	case ast.LocationFragmentSpread:
		return "a fragment spread"
	case ast.LocationInlineFragment:
		return "an inline fragment"
	}
	return strings.ToLower(string(l))
}

// directives checks the directives at one location: known, allowed there,
// each once, and their arguments. at is the selection set holding them
// ($ for the operation's).
func (c *checker) directives(ds ast.DirectiveList, loc ast.DirectiveLocation, at *path) *Error {
	for i, d := range ds {
		locs, ok := hasuraDirectives[d.Name]
		if !ok {
			return newError(CodeValidationFailed, at, fmt.Sprintf("directive '%s' is not defined in the schema", d.Name))
		}
		allowed := false
		for _, l := range locs {
			allowed = allowed || l == loc
		}
		if !allowed {
			return newError(CodeValidationFailed, at, fmt.Sprintf("directive '%s' is not allowed on %s", d.Name, locationName(loc)))
		}
		for _, other := range ds[:i] {
			if other.Name == d.Name {
				return newError(CodeValidationFailed, at, fmt.Sprintf("the following directives are used more than once: ['%s']", d.Name))
			}
		}
	}
	for _, d := range ds {
		def := c.s.Directives[d.Name]
		dat := at.child(d.Name)
		for _, a := range d.Arguments {
			if def.Arguments.ForName(a.Name) == nil {
				return newError(CodeValidationFailed, &dat, fmt.Sprintf("'%s' has no argument named '%s'", d.Name, a.Name))
			}
		}
		args := dat.child("args")
		for _, ad := range def.Arguments {
			argAt := args.child(ad.Name)
			a := d.Arguments.ForName(ad.Name)
			if a == nil {
				if ad.Type.NonNull && ad.DefaultValue == nil {
					return newError(CodeValidationFailed, &argAt, fmt.Sprintf("missing required field '%s'", ad.Name))
				}
				continue
			}
			if err := c.value(a.Value, ad.Type, &argAt, ad.DefaultValue != nil, scalarPlain); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalarKind selects the parser Hasura uses for an Int argument: plain
// Int, limit's non-negative Int, or offset's bigint, which also takes a
// decimal string (Scalars.hs).
type scalarKind uint8

const (
	scalarPlain scalarKind = iota
	scalarNonNegative
	scalarBigInt
)

// expectedKind is what Hasura's parser of a type says it expected.
func (c *checker) expectedKind(typ *ast.Type, special scalarKind) string {
	if typ.Elem != nil {
		return "a list"
	}
	switch special {
	case scalarNonNegative:
		return "a non-negative 32-bit integer"
	case scalarBigInt:
		return "a 32-bit integer, or a 64-bit integer represented as a string"
	}
	switch typ.NamedType {
	case "Int":
		return "a 32-bit integer"
	case "Float":
		return "a float"
	case "String":
		return "a string"
	case "Boolean":
		return "a boolean"
	case "ID":
		return "a String or a 32-bit integer"
	}
	if td := c.s.Types[typ.NamedType]; td != nil {
		switch td.Kind {
		case ast.InputObject:
			return "an object"
		case ast.Enum:
			return "an enum value"
		}
	}
	return "a value"
}

// literalKind describes a GraphQL literal as Hasura's messages do.
func literalKind(v *ast.Value) string {
	switch v.Kind {
	case ast.IntValue:
		return "an integer"
	case ast.FloatValue:
		return "a float"
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

func (c *checker) mismatch(at *path, typ *ast.Type, special scalarKind, v *ast.Value) *Error {
	return newError(CodeValidationFailed, at, fmt.Sprintf("expected %s for type '%s', but found %s", c.expectedKind(typ, special), typ.Name(), literalKind(v)))
}

// value checks a literal (or the type of a variable) where typ is
// expected. Values of Tally's custom scalars are parsed by the execution,
// which words their errors for what each argument accepts.
func (c *checker) value(v *ast.Value, typ *ast.Type, at *path, locationHasDefault bool, special scalarKind) *Error {
	if v == nil {
		return nil
	}
	if c.tick() {
		return c.e.ctxError(c.r, "validating")
	}
	switch v.Kind {
	case ast.Variable:
		vd := c.vardefs[v.Raw]
		if vd == nil {
			return nil // unbound: reported before
		}
		if !variableAllowed(vd, typ, locationHasDefault) {
			return newError(CodeValidationFailed, at, fmt.Sprintf("variable '%s' is declared as '%s', but used where '%s' is expected", vd.Variable, vd.Type.String(), typ.String()))
		}
		c.noteUse(vd.Variable, typ, at)
		return nil
	case ast.NullValue:
		if !typ.NonNull {
			return nil
		}
		if typ.Elem != nil {
			return newError(CodeValidationFailed, at, "expected a list, but found null")
		}
		return c.mismatch(at, typ, special, v)
	}
	if typ.Elem != nil {
		if v.Kind == ast.ListValue {
			for i, ch := range v.Children {
				elem := at.at(i)
				if err := c.value(ch.Value, typ.Elem, &elem, false, special); err != nil {
					return err
				}
			}
			return nil
		}
		// List input coercion: one value is a list of one, at index 0.
		elem := at.at(0)
		return c.value(v, typ.Elem, &elem, false, special)
	}
	td := c.s.Types[typ.NamedType]
	if td == nil {
		return nil
	}
	switch td.Kind {
	case ast.InputObject:
		if v.Kind != ast.ObjectValue {
			return c.mismatch(at, typ, special, v)
		}
		for i, ch := range v.Children {
			fieldAt := at.child(ch.Name)
			if td.Fields.ForName(ch.Name) == nil {
				return newError(CodeValidationFailed, &fieldAt, fmt.Sprintf("field '%s' not found in type: '%s'", ch.Name, td.Name))
			}
			for _, prev := range v.Children[:i] {
				if prev.Name == ch.Name {
					return newError(CodeValidationFailed, &fieldAt, fmt.Sprintf("the field '%s' is given more than once", ch.Name))
				}
			}
		}
		for _, fd := range td.Fields {
			fieldAt := at.child(fd.Name)
			ch := v.Children.ForName(fd.Name)
			if ch == nil {
				if fd.Type.NonNull && fd.DefaultValue == nil {
					return newError(CodeValidationFailed, &fieldAt, fmt.Sprintf("missing required field '%s'", fd.Name))
				}
				continue
			}
			if err := c.value(ch, fd.Type, &fieldAt, fd.DefaultValue != nil, scalarPlain); err != nil {
				return err
			}
		}
	case ast.Enum:
		if v.Kind != ast.EnumValue {
			return c.mismatch(at, typ, special, v)
		}
		if td.EnumValues.ForName(v.Raw) == nil {
			return newError(CodeValidationFailed, at, fmt.Sprintf("expected one of the values %s for type '%s', but found '%s'", enumNames(td), td.Name, v.Raw))
		}
	case ast.Scalar:
		return c.scalar(v, typ, at, special)
	}
	return nil
}

// scalar checks a literal of a built-in scalar; the custom ones are left
// to the execution.
func (c *checker) scalar(v *ast.Value, typ *ast.Type, at *path, special scalarKind) *Error {
	switch typ.NamedType {
	case "Boolean":
		if v.Kind != ast.BooleanValue {
			return c.mismatch(at, typ, special, v)
		}
	case "String":
		if v.Kind != ast.StringValue && v.Kind != ast.BlockValue {
			return c.mismatch(at, typ, special, v)
		}
	case "ID":
		if v.Kind != ast.StringValue && v.Kind != ast.BlockValue && v.Kind != ast.IntValue {
			return c.mismatch(at, typ, special, v)
		}
	case "Float":
		if v.Kind != ast.FloatValue && v.Kind != ast.IntValue {
			return c.mismatch(at, typ, special, v)
		}
	case "Int":
		switch {
		case special == scalarBigInt && (v.Kind == ast.StringValue || v.Kind == ast.BlockValue):
			if !isDecimal(v.Raw) {
				return c.mismatch(at, typ, special, v)
			}
		case v.Kind != ast.IntValue:
			return c.mismatch(at, typ, special, v)
		case special == scalarNonNegative && strings.HasPrefix(v.Raw, "-"):
			return c.mismatch(at, typ, special, v)
		default:
			bits := 32
			if special == scalarBigInt {
				bits = 64
			}
			if _, err := strconv.ParseInt(v.Raw, 10, bits); err != nil {
				return newError(CodeParseFailed, at, outOfBounds(v.Raw))
			}
		}
	}
	return nil
}

// isDecimal reports whether s is what Haskell's Data.Text.Read.decimal
// reads whole: one or more ASCII digits, nothing else.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// noteUse records a variable used where a built-in scalar is expected,
// outside the function fields' arguments, for the request to check its
// value there (Hasura checks variables where they are used).
func (c *checker) noteUse(name string, typ *ast.Type, at *path) {
	if c.inRootArgs || c.useSeen[name] {
		return
	}
	switch typ.Name() {
	case "Boolean", "Int", "Float", "String", "ID":
	default:
		return
	}
	c.useSeen[name] = true
	c.c.uses = append(c.c.uses, varUse{name: name, typ: typ, at: at.freeze()})
}

// enumNames lists an enum's values as Hasura's messages do:
// ['asc', 'desc'].
func enumNames(td *ast.Definition) string {
	names := make([]string, len(td.EnumValues))
	for i, ev := range td.EnumValues {
		names[i] = ev.Name
	}
	return quotedList(names)
}

// quotedList is Hasura's rendering of a list of names: ['a', 'b'].
func quotedList(names []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + n + "'")
	}
	b.WriteByte(']')
	return b.String()
}

// variableAllowed is the GraphQL spec's IsVariableUsageAllowed, as
// Hasura's typeCheck implements it: the variable's declared type must
// match the location's, except that a nullable variable may flow into a
// non-null location when either has a default value.
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

// outOfBounds is Hasura's message for a number that is not an integer of
// the type's size (scientificToInteger), the number shown as Haskell's
// Scientific shows it.
func outOfBounds(num string) string {
	return "The value " + showScientific(num) + " lies outside the bounds or is not an integer. Maybe it is a float, or is there integer overflow?"
}

// showScientific renders a decimal number as Haskell's Data.Scientific
// show does: digits d1d2... with exponent e (value 0.d1d2... × 10^e) print
// as a fixed-point number with at least one decimal when 0 <= e <= 7
// ("1.5", "5.0", "0.1"), else as d1.d2...e(e-1) ("3.0e9", "1.0e-2").
// Text that is not a number is returned as it is.
func showScientific(num string) string {
	s := num
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return num
		}
		mant, exp = s[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	for _, r := range digits {
		if r < '0' || r > '9' {
			return num
		}
	}
	if digits == "" {
		return num
	}
	e := len(intPart) + exp // value = 0.digits × 10^e
	trimmed := strings.TrimLeft(digits, "0")
	e -= len(digits) - len(trimmed)
	digits = strings.TrimRight(trimmed, "0")
	sign := ""
	if neg {
		sign = "-"
	}
	if digits == "" {
		return sign + "0.0"
	}
	if e >= 0 && e <= 7 {
		var whole, rest string
		if e >= len(digits) {
			whole, rest = digits+strings.Repeat("0", e-len(digits)), "0"
		} else {
			whole, rest = digits[:e], digits[e:]
		}
		if whole == "" {
			whole = "0"
		}
		return sign + whole + "." + rest
	}
	rest := digits[1:]
	if rest == "" {
		rest = "0"
	}
	return sign + digits[:1] + "." + rest + "e" + strconv.Itoa(e-1)
}
