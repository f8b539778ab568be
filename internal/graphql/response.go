package graphql

import (
	"context"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// Response is what a request body produced: one Result, or a batch of
// them answered as a JSON array. It is the value between execution and
// rendering: Render writes it; Errors tells what failed without reading
// the JSON.
type Response struct {
	e       *Executor // nil for ErrorResponse
	start   time.Time
	run     run // the execution, kept here to save an allocation
	batch   bool
	results []Result
	one     [1]Result // results of a single request, without another allocation
}

// Result is one operation's outcome: its data, or the error that ended it
// (Hasura sends one error and no data).
type Result struct {
	Err *Error

	data      node      // the root object
	collector collector // for introspection, rendered from its selection
}

func errorResult(err *Error) Result { return Result{Err: err} }

// newResponse starts the response of a request body and its run.
func (e *Executor) newResponse(ctx context.Context, caller Caller) *Response {
	resp := &Response{e: e, start: time.Now()}
	resp.run = run{ctx: ctx, start: resp.start, caller: caller}
	return resp
}

// single makes resp the answer of one request.
func (resp *Response) single(res Result) *Response {
	resp.one[0] = res
	resp.results = resp.one[:]
	return resp
}

// ErrorResponse is a response holding err alone, for failures before the
// executor (authentication, an unreadable body).
func ErrorResponse(err *Error) *Response {
	resp := &Response{}
	resp.one[0] = errorResult(err)
	resp.results = resp.one[:]
	return resp
}

// Len is the number of results: 1, or the length of a batch.
func (r *Response) Len() int { return len(r.results) }

// Result is the i-th result, in request order.
func (r *Response) Result(i int) *Result { return &r.results[i] }

// Errors are the errors of the failed operations, in request order.
func (r *Response) Errors() []*Error {
	var out []*Error
	for i := range r.results {
		if err := r.results[i].Err; err != nil {
			out = append(out, err)
		}
	}
	return out
}

// nodeKind says what a node holds.
type nodeKind uint8

const (
	nodeNull      nodeKind = iota
	nodeInt                // i
	nodeFloat              // f
	nodeNumber             // s: a JSON number's digits (sums of any size)
	nodeString             // s
	nodeTimestamp          // i, microseconds: rendered like PostgreSQL's JSON
	nodeObject             // fields
	nodeRows               // rows
	nodeIntro              // intro: introspection, rendered from the schema
)

// node is one value of a result. Objects keep their keys in selection
// order; rows stay column-wise until rendered.
type node struct {
	kind   nodeKind
	i      int64
	f      float64
	s      string
	fields []field
	rows   *rows
	intro  *introspection
}

// introspection is an introspection object and the selection on it.
type introspection struct {
	obj introObject // nil: JSON null
	sel ast.SelectionSet
}

// field is one key of an object node and its value.
type field struct {
	key string
	val node
}

// rows are the rows of a function's result that the table arguments kept,
// with the columns the selection asks for.
type rows struct {
	res      *analytics.Result
	table    *tableInfo
	order    []int32 // the rows kept, in order; nil: every row in order
	fields   []outColumn
	typename string
}

// outColumn is one key of each row object: a column, or __typename.
type outColumn struct {
	key string
	col int // -1: __typename
}

func (r *rows) len() int {
	if r.order == nil {
		return r.res.Len
	}
	return len(r.order)
}

// row is the index in res of the k-th row kept.
func (r *rows) row(k int) int {
	if r.order == nil {
		return k
	}
	return int(r.order[k])
}
