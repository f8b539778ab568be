package graphql

import (
	"context"
	"errors"
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// Execution: from a validated operation to a Result value. Each root field
// runs in turn, and the first error ends the operation: for a function
// field, errors of its args come first, then those of its table
// arguments and selection, then the Source's.

// collector flattens selection sets with one request's fragments and
// variables.
type collector struct {
	doc   *ast.QueryDocument
	frags map[string]*ast.FragmentDefinition
	vars  map[string]any
}

// collectedField is one response key and the fields merged under it.
type collectedField struct {
	key    string
	fields []*ast.Field
}

// fieldCollection is the output of collect: the response keys in
// first-seen order, indexed once they are many, so that collecting n
// fields costs O(n) whatever their keys.
type fieldCollection struct {
	fields []collectedField
	index  map[string]int
	// singles backs the fields lists of keys seen once, which most keys
	// are: one allocation for all of them. Each list is capped at its
	// one field, so appending to it copies.
	singles []*ast.Field
}

// find returns the position of key, or -1.
func (fc *fieldCollection) find(key string) int {
	if fc.index != nil {
		if i, ok := fc.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range fc.fields {
		if fc.fields[i].key == key {
			return i
		}
	}
	if len(fc.fields) >= 16 {
		fc.index = make(map[string]int, 2*len(fc.fields))
		for i := range fc.fields {
			fc.index[fc.fields[i].key] = i
		}
	}
	return -1
}

func (fc *fieldCollection) add(key string, f *ast.Field) {
	if i := fc.find(key); i >= 0 {
		fc.fields[i].fields = append(fc.fields[i].fields, f)
		return
	}
	if fc.index != nil {
		fc.index[key] = len(fc.fields)
	}
	n := len(fc.singles)
	fc.singles = append(fc.singles, f)
	fc.fields = append(fc.fields, collectedField{key: key, fields: fc.singles[n : n+1 : n+1]})
}

// collect is the spec's CollectFields: it flattens fragments, applies
// @skip/@include, and groups fields by response key in first-seen order.
// Each fragment is expanded once per call (visited), so the work is at
// most the fields of the expanded selection, which the node limit bounds.
func (c *collector) collect(set ast.SelectionSet, typeName string) []collectedField {
	fc := fieldCollection{fields: make([]collectedField, 0, len(set)), singles: make([]*ast.Field, 0, len(set))}
	c.collectInto(set, typeName, &fc, nil)
	return fc.fields
}

func (c *collector) collectInto(set ast.SelectionSet, typeName string, fc *fieldCollection, visited map[string]bool) map[string]bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !c.included(sel.Directives) {
				continue
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			fc.add(key, sel)
		case *ast.InlineFragment:
			if !c.included(sel.Directives) || (sel.TypeCondition != "" && sel.TypeCondition != typeName) {
				continue
			}
			visited = c.collectInto(sel.SelectionSet, typeName, fc, visited)
		case *ast.FragmentSpread:
			if !c.included(sel.Directives) || visited[sel.Name] {
				continue
			}
			def := c.frags[sel.Name]
			if def == nil || (def.TypeCondition != "" && def.TypeCondition != typeName) {
				continue
			}
			if visited == nil {
				visited = map[string]bool{}
			}
			visited[sel.Name] = true
			visited = c.collectInto(def.SelectionSet, typeName, fc, visited)
		}
	}
	return visited
}

func (c *collector) included(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, _ := resolve(arg.Value, c.vars).(bool)
		if d.Name == "skip" && v {
			return false
		}
		if d.Name == "include" && !v {
			return false
		}
	}
	return true
}

func mergedSelection(fields []*ast.Field) ast.SelectionSet {
	if len(fields) == 1 {
		return fields[0].SelectionSet
	}
	var set ast.SelectionSet
	for _, f := range fields {
		set = append(set, f.SelectionSet...)
	}
	return set
}

// execution is the state of one operation's run.
type execution struct {
	e    *Executor
	r    *run
	body *decodedBody // the body cache's entry, or nil
	collector
}

// objectNode makes an object node for collected fields: keys in selection
// order, __typename answered here, every other value written by value
// into its slot (which stays where it is: aggregates are filled in there
// after the call has run).
func objectNode(fields []collectedField, typeName string, value func(dst *node, cf collectedField) error) (node, error) {
	n := node{kind: nodeObject, fields: make([]field, len(fields))}
	for i, cf := range fields {
		n.fields[i].key = cf.key
		if cf.fields[0].Name == "__typename" {
			n.fields[i].val = node{kind: nodeString, s: typeName}
			continue
		}
		if err := value(&n.fields[i].val, cf); err != nil {
			return node{}, err
		}
	}
	return n, nil
}

func (x *execution) rootFields(set ast.SelectionSet) (node, error) {
	return objectNode(x.collect(set, QueryRootName), QueryRootName, func(dst *node, cf collectedField) error {
		f := cf.fields[0]
		switch f.Name {
		case "__schema":
			*dst = node{kind: nodeIntro, intro: &introspection{obj: schemaObj{s: x.e.schema, in: x.e.intro}, sel: mergedSelection(cf.fields)}}
			return nil
		case "__type":
			name, _ := fieldArg(f, "name", x.vars).(string)
			in := &introspection{sel: mergedSelection(cf.fields)}
			if def := x.e.intro.byName[name]; def != nil {
				in.obj = typeObj{s: x.e.schema, def: def}
			}
			*dst = node{kind: nodeIntro, intro: in}
			return nil
		}
		rf, ok := x.e.roots[f.Name]
		if !ok {
			return fmt.Errorf("field %q passed validation but has no resolver", f.Name)
		}
		var err error
		*dst, err = x.function(f, mergedSelection(cf.fields), rf)
		return err
	})
}

// function runs a function's root field (the rows, or their aggregate).
func (x *execution) function(f *ast.Field, sel ast.SelectionSet, rf rootField) (node, error) {
	if !x.r.caller.Account.Valid {
		return node{}, &AccessError{Message: "no account selected: send the X-Moveo-Account-Id header with the account's UUID (and Authorization: apikey <key>, or X-Admin-Secret)"}
	}
	// Hasura's paths name the field, not its alias.
	selAt := (*path)(nil).child("selectionSet")
	fieldAt := selAt.child(f.Name)
	argsAt := fieldAt.child("args")
	call, err := x.prepare(f, rf.fn, &argsAt)
	if err != nil {
		return node{}, err
	}
	if err := x.r.ctx.Err(); err != nil {
		return node{}, err
	}
	ta, err := parseTableArgs(f, x.vars, rf.table, &argsAt)
	if err != nil {
		return node{}, err
	}
	t := rf.table
	if !rf.aggregate {
		r := &rows{table: t, typename: t.Name}
		used := ta.used
		if r.fields, used, err = x.rowFields(sel, t, used); err != nil {
			return node{}, err
		}
		if r.res, err = x.run(call, t, used); err != nil {
			return node{}, err
		}
		if r.order, err = ta.apply(x.r.ctx, r.res, t); err != nil {
			return node{}, err
		}
		return node{kind: nodeRows, rows: r}, nil
	}
	var a aggregation
	n, err := a.plan(x, sel, t, ta.used, &fieldAt)
	if err != nil {
		return node{}, err
	}
	res, err := x.run(call, t, a.used)
	if err != nil {
		return node{}, err
	}
	order, err := ta.apply(x.r.ctx, res, t)
	if err != nil {
		return node{}, err
	}
	if err := a.fill(x.r.ctx, res, t, order); err != nil {
		return node{}, err
	}
	return n, nil
}

// plannedCall is a root field's planned call, and what keeping it in the
// body's memo takes (run keeps it once it has run).
type plannedCall struct {
	call  analytics.Call
	field *ast.Field
	lim   analytics.Limits
	kept  bool // it came from the memo
}

// prepare parses the field's args object into a planned call, within the
// buckets the request has left.
func (x *execution) prepare(f *ast.Field, fn *analytics.Function, argsAt *path) (plannedCall, error) {
	lim := x.e.cfg.Limits
	left := x.e.cfg.MaxRequestBuckets - x.r.buckets
	byRequest := left < lim.MaxBuckets
	if byRequest {
		lim.MaxBuckets = left
	}
	if call := x.body.call(f, lim); call != nil {
		// The same field of the same body, within the same limits,
		// prepared and run before without error: the checks below
		// passed then.
		return plannedCall{call: call, kept: true}, nil
	}
	at := argsAt.child("args")
	raw := fieldArg(f, "args", x.vars)
	args, ok := raw.(*object)
	if !ok {
		return plannedCall{}, newError(CodeValidationFailed, &at, fmt.Sprintf("expected an object for type '%s', but found %s", fn.Name+"_args", jsonKindOf(raw)))
	}
	for _, name := range args.names {
		if fn.Arg(name) == nil {
			argAt := at.child(name)
			return plannedCall{}, newError(CodeValidationFailed, &argAt, fmt.Sprintf("field '%s' not found in type: '%s'", name, fn.Name+"_args"))
		}
	}
	if byRequest && left <= 0 {
		return plannedCall{}, x.requestBucketsError(&at)
	}
	call, err := fn.Prepare(analytics.Args{Names: args.names, Values: args.values}, lim)
	if err != nil {
		var ae *analytics.ArgError
		if errors.As(err, &ae) {
			argAt := at.child(ae.Arg)
			if ae.Kind == analytics.KindLimit && byRequest {
				return plannedCall{}, x.requestBucketsError(&argAt)
			}
			return plannedCall{}, newError(argErrorCode(ae.Kind), &argAt, ae.Reason)
		}
		return plannedCall{}, err
	}
	return plannedCall{call: call, field: f, lim: lim}, nil
}

// requestBucketsError is a root field asking for more buckets than the
// request has left.
func (x *execution) requestBucketsError(at *path) *Error {
	max := x.e.cfg.MaxRequestBuckets
	return newError(CodeDataException, at, fmt.Sprintf("the request asks for more than %d buckets summed over its operations, root fields and aliases (%d before this field, which asks for more than the %d left); the limit is %d (%s); send fewer aliases or use a longer interval_span",
		max, x.r.buckets, max-min(x.r.buckets, max), max, flagMaxRequestBuckets))
}

// run asks the Source through pc and checks that the result has the
// table's shape, so that rendering cannot read past it; then the body's
// memo may keep pc.
func (x *execution) run(pc plannedCall, t *tableInfo, used analytics.ColumnSet) (*analytics.Result, error) {
	res, err := pc.call.Run(x.r.ctx, x.e.src, x.r.caller.Account.UUID, used)
	if err != nil {
		return nil, err
	}
	if res != nil {
		x.r.buckets += res.Len
	}
	if res == nil || len(res.Cols) != len(t.Columns) || res.Len < 0 {
		return nil, fmt.Errorf("function %s returned a result without the %d columns of %s", t.Name, len(t.Columns), t.Name)
	}
	for c, col := range t.Columns {
		if !used.Has(c) {
			continue
		}
		cells := res.Cols[c]
		n := len(cells.Ints)
		if col.Type == analytics.Text {
			n = len(cells.Texts)
		}
		if n != res.Len || (cells.Null != nil && len(cells.Null) != res.Len) {
			return nil, fmt.Errorf("function %s returned %d values of column %s for %d rows", t.Name, n, col.Name, res.Len)
		}
	}
	if !pc.kept {
		x.body.keepCall(pc.field, pc.lim, pc.call, res.Len)
	}
	return res, nil
}

// rowFields resolves a selection on the table type to columns, adding them
// to used.
func (x *execution) rowFields(sel ast.SelectionSet, t *tableInfo, used analytics.ColumnSet) ([]outColumn, analytics.ColumnSet, error) {
	fields := x.collect(sel, t.Name)
	out := make([]outColumn, len(fields))
	for i, cf := range fields {
		out[i] = outColumn{key: cf.key, col: -1}
		if name := cf.fields[0].Name; name != "__typename" {
			c := t.Column(name)
			if c < 0 {
				return nil, 0, fmt.Errorf("row field %q passed validation but has no resolver", name)
			}
			out[i].col = c
			used = used.With(c)
		}
	}
	return out, used, nil
}

// aggregation plans the selection of a <table>_aggregate field before the
// call runs (to learn the columns it reads), then fills the values in.
type aggregation struct {
	used  analytics.ColumnSet
	nodes []*rows    // every nodes selection
	stats []statSpec // every aggregate value
}

type statSpec struct {
	dst      *node
	op       string // "count" or an aggregate op
	col      int
	cols     []int // count's columns
	distinct bool
}

func (a *aggregation) plan(x *execution, sel ast.SelectionSet, t *tableInfo, used analytics.ColumnSet, fieldAt *path) (node, error) {
	a.used = used
	typeName := t.Name + "_aggregate"
	selAt := fieldAt.child("selectionSet")
	return objectNode(x.collect(sel, typeName), typeName, func(dst *node, cf collectedField) error {
		switch cf.fields[0].Name {
		case "nodes":
			r := &rows{table: t, typename: t.Name}
			var err error
			if r.fields, a.used, err = x.rowFields(mergedSelection(cf.fields), t, a.used); err != nil {
				return err
			}
			a.nodes = append(a.nodes, r)
			*dst = node{kind: nodeRows, rows: r}
			return nil
		case "aggregate":
			aggAt := selAt.child("aggregate")
			var err error
			*dst, err = a.planFields(x, mergedSelection(cf.fields), t, &aggAt)
			return err
		}
		return fmt.Errorf("aggregate field %q passed validation but has no resolver", cf.fields[0].Name)
	})
}

func (a *aggregation) planFields(x *execution, sel ast.SelectionSet, t *tableInfo, aggAt *path) (node, error) {
	typeName := t.Name + "_aggregate_fields"
	return objectNode(x.collect(sel, typeName), typeName, func(dst *node, cf collectedField) error {
		f := cf.fields[0]
		if f.Name == "count" {
			s := statSpec{dst: dst, op: "count"}
			if v := fieldArg(f, "columns", x.vars); v != nil {
				sel := aggAt.child("selectionSet")
				countAt := sel.child("count")
				args := countAt.child("args")
				colsAt := args.child("columns")
				var err error
				if s.cols, err = parseColumns(t, v, &colsAt); err != nil {
					return err
				}
			}
			s.distinct, _ = fieldArg(f, "distinct", x.vars).(bool)
			for _, c := range s.cols {
				a.used = a.used.With(c)
			}
			if s.distinct && len(s.cols) == 0 {
				a.used |= analytics.AllColumns(len(t.Columns))
			}
			a.stats = append(a.stats, s)
			return nil
		}
		opType := t.Name + "_" + f.Name + "_fields"
		var err error
		*dst, err = objectNode(x.collect(mergedSelection(cf.fields), opType), opType, func(dst *node, sub collectedField) error {
			c := t.Column(sub.fields[0].Name)
			if c < 0 {
				return fmt.Errorf("aggregate column %q passed validation but has no resolver", sub.fields[0].Name)
			}
			a.used = a.used.With(c)
			a.stats = append(a.stats, statSpec{dst: dst, op: f.Name, col: c})
			return nil
		})
		return err
	})
}

// fill computes the planned values over the rows kept, stopping when ctx
// ends: there may be as many values as the node limit allows.
func (a *aggregation) fill(ctx context.Context, res *analytics.Result, t *tableInfo, order []int32) error {
	kept := &rows{res: res, table: t, order: order}
	for _, r := range a.nodes {
		r.res, r.order = res, order
	}
	c := cells{res: res, table: t}
	for i, s := range a.stats {
		if i&63 == 63 && ctx.Err() != nil {
			return ctx.Err()
		}
		if s.op == "count" {
			*s.dst = node{kind: nodeInt, i: count(c, kept, s.cols, s.distinct)}
		} else {
			*s.dst = stat(c, kept, s.op, s.col)
		}
	}
	return nil
}
