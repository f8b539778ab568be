package graphql

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// Operations over WebSocket. A socket transport prepares each operation a
// client starts once (PrepareOperation) and runs it as often as it needs
// (Operation.Run): once for a query, again after every relevant write for
// a subscription. Preparation and execution are the ones HTTP uses — the
// same document cache, checks, execution to a Response and rendering —
// except that subscription operations are allowed and run on
// subscription_root, whose fields are the query root's functions.

// Operation is one operation of a document, prepared for a caller. It is
// read-only once prepared: Run may be called any number of times, from any
// goroutine.
type Operation struct {
	e      *Executor
	caller Caller
	doc    *ast.QueryDocument
	op     *ast.OperationDefinition
	vars   map[string]any
	until  int64
}

// PrepareOperation checks req for caller: its variables, the document
// (parsed, validated, Hasura's checks), the operation selected by
// operationName, and the variables' types. Its errors are the ones an
// HTTP request would get, except that subscriptions are allowed.
func (e *Executor) PrepareOperation(caller Caller, req *Request) (*Operation, *Error) {
	if req.Query == nil {
		return nil, NewError(CodeParseFailed, `the operation has no "query"; send {"query": "...", "variables": {...}}`)
	}
	var vars map[string]any
	if v := bytes.TrimSpace(req.Variables); len(v) > 0 && string(v) != "null" {
		var err error
		if vars, err = decodeVariables(v); err != nil {
			at := (*path)(nil).child("variables")
			return nil, newError(CodeParseFailed, &at, "variables must be a JSON object mapping variable names to values"+err.Error())
		}
	}
	p := e.prepare(*req.Query)
	if p.doc == nil {
		return nil, p.err
	}
	op, gerr := selectOperation(p.doc, req.OperationName)
	if gerr != nil {
		return nil, gerr
	}
	if gerr := e.checkVariables(op, vars); gerr != nil {
		return nil, gerr
	}
	o := &Operation{e: e, caller: caller, doc: p.doc, op: op, vars: vars}
	o.until = o.extent()
	return o, nil
}

// Subscription reports whether the operation is a subscription (else a
// query).
func (o *Operation) Subscription() bool { return o.op.Operation == ast.Subscription }

// Run executes the operation now. Its Response renders as a query's does:
// {"data": ...}, or {"errors": [...]} with Hasura's codes.
func (o *Operation) Run(ctx context.Context) *Response {
	x := execution{e: o.e, ctx: ctx, caller: o.caller, collector: collector{doc: o.doc, vars: o.vars}}
	var (
		data node
		err  error
	)
	if o.Subscription() {
		data, err = x.subscriptionFields(o.op.SelectionSet)
	} else {
		data, err = x.rootFields(o.op.SelectionSet)
	}
	if err != nil {
		return single(errorResult(toError(ctx, o.e.cfg.Logger, err)))
	}
	return single(Result{data: data, collector: x.collector, log: o.e.cfg.Logger})
}

// subscriptionFields runs the root fields of a subscription: functions
// and __typename (introspection is not on subscription_root).
func (x *execution) subscriptionFields(set ast.SelectionSet) (node, error) {
	return objectNode(x.collect(set, SubscriptionRootName, nil, nil), SubscriptionRootName, func(dst *node, cf collectedField) error {
		rf, ok := x.e.roots[cf.fields[0].Name]
		if !ok {
			return fmt.Errorf("subscription field %q passed validation but has no resolver", cf.fields[0].Name)
		}
		var err error
		*dst, err = x.function(cf.fields[0], mergedSelection(cf.fields), rf)
		return err
	})
}

// Unbounded is Until's answer for an operation that may read sessions of
// any time.
const Unbounded = math.MaxInt64

// Until is an instant (microseconds since 1970, UTC) such that a change
// to sessions whose start_time and end_time are all at or after it cannot
// change the operation's answer: the end of its latest bucket, or
// Unbounded. Every column of the interval table depends only on sessions
// that start or end before a bucket's end (open_at_end counts sessions
// started before it, however long ago), so the end is the only bound that
// holds for all of them. A function whose query has no known bound, and
// arguments that do not plan, are Unbounded.
func (o *Operation) Until() int64 { return o.until }

// untilSlack widens Until by a day, so that the bound holds whether a
// planned query's last bound is an instant or a wall-clock time in any
// time zone (offsets are within ±14 hours).
const untilSlack = 24 * 3600 * 1e6

// extent computes Until from the root fields' arguments.
func (o *Operation) extent() int64 {
	root := QueryRootName
	if o.Subscription() {
		root = SubscriptionRootName
	}
	c := collector{doc: o.doc, vars: o.vars}
	until := int64(math.MinInt64)
	for _, cf := range c.collect(o.op.SelectionSet, root, nil, nil) {
		f := cf.fields[0]
		rf, ok := o.e.roots[f.Name]
		if !ok {
			continue // __typename, introspection
		}
		args, ok := fieldArg(f, "args", o.vars).(*object)
		if !ok {
			return Unbounded
		}
		for _, name := range args.names {
			if rf.fn.Arg(name) == nil {
				return Unbounded
			}
		}
		call, err := rf.fn.Prepare(analytics.Args{Names: args.names, Values: args.values}, o.e.cfg.Limits)
		if err != nil {
			return Unbounded
		}
		q, ok := call.(*analytics.IntervalQuery)
		if !ok || len(q.Bounds) == 0 {
			return Unbounded
		}
		end := q.Bounds[len(q.Bounds)-1]
		if end > Unbounded-untilSlack {
			return Unbounded
		}
		until = max(until, end+untilSlack)
	}
	return until
}
