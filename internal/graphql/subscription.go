package graphql

import (
	"context"
	"fmt"
	"math"
	"time"

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
	p      *prepared
	op     *ast.OperationDefinition
	uses   []varUse
	vars   map[string]any
	until  int64
	body   *decodedBody // the body cache's entry, or nil
}

// PrepareOperation checks req for caller within ctx (--query-timeout
// bounds it as it bounds HTTP requests): its variables, the document
// (parsed, Hasura's checks, the depth and node limits), the operation
// selected by operationName, and the variables' values. Its errors are the
// ones an HTTP request would get, in the same order, except that
// subscriptions are allowed.
func (e *Executor) PrepareOperation(ctx context.Context, caller Caller, req *Request) (*Operation, *Error) {
	if req.hashOnly() {
		return nil, NewError(CodeNotSupported, ErrPersistedQueryNotSupported)
	}
	if req.Query == nil {
		return nil, NewError(CodeParseFailed, missingQuery)
	}
	r := &run{ctx: ctx, start: time.Now(), caller: caller}
	o, err := e.operation(r, req)
	if err != nil {
		return nil, err
	}
	if err := checkUses(o.uses, o.vars); err != nil {
		return nil, err
	}
	o.until = o.extent()
	return o, nil
}

// Subscription reports whether the operation is a subscription (else a
// query).
func (o *Operation) Subscription() bool { return o.op.Operation == ast.Subscription }

// Run executes the operation now, within ctx. Its Response renders as a
// query's does: {"data": ...}, or {"errors": [...]} with Hasura's codes;
// each run has the request limits (buckets, answer bytes) of its own.
func (o *Operation) Run(ctx context.Context) *Response {
	resp := o.e.newResponse(ctx, o.caller)
	return resp.single(o.execute(&resp.run))
}

// subscriptionFields runs the root fields of a subscription: functions
// and __typename (introspection is not on subscription_root).
func (x *execution) subscriptionFields(set ast.SelectionSet) (node, error) {
	return objectNode(x.collect(set, SubscriptionRootName), SubscriptionRootName, func(dst *node, cf collectedField) error {
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

// extent computes Until from the root fields' arguments.
func (o *Operation) extent() int64 {
	root := QueryRootName
	if o.Subscription() {
		root = SubscriptionRootName
	}
	c := collector{doc: o.p.doc, frags: o.p.frags, vars: o.vars}
	until := int64(math.MinInt64)
	for _, cf := range c.collect(o.op.SelectionSet, root) {
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
		until = max(until, q.Bounds[len(q.Bounds)-1]) // an instant, whatever the time zone
	}
	return until
}
