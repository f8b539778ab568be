// Package graphql is Tally's GraphQL layer: the schema Hasura v2 would
// generate for the catalogue's SQL functions (generated from
// analytics.Catalogue), parsing with gqlparser, Tally's own checks and
// executor, introspection, and errors in Hasura's shape, codes and paths.
//
// A request runs in two phases. Execution (ExecuteBody, Execute) checks
// the document, parses each root field's arguments, asks the function's
// call for its rows through analytics.Source, applies the table arguments
// and computes aggregates: its result is a Response value holding the
// rows and aggregate values, or a typed *Error. Rendering
// (Response.Render) writes that value as Hasura-ordered JSON.
//
// Every stage is bounded (limits.go): the nesting of the document before
// it is parsed, the fields of an operation once its fragments are
// expanded, the operations of a batch, the buckets of a request, the
// bytes of its answer, and its time, which every stage checks.
//
// It knows no HTTP and never imports a store or the engine.
package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Config configures an Executor. The zero value uses the defaults.
type Config struct {
	// Limits bound each function call (buckets per query).
	Limits analytics.Limits
	// MaxDepth bounds the nesting of selections and of argument values
	// (Hasura EE's depth_limit); default DefaultMaxDepth.
	MaxDepth int
	// MaxNodes bounds the fields of an operation once its fragments are
	// expanded (Hasura EE's node_limit); default DefaultMaxNodes.
	MaxNodes int
	// MaxBatch bounds the operations of a batch (Hasura EE's
	// batch_limit); default DefaultMaxBatch.
	MaxBatch int
	// MaxRequestBuckets bounds the buckets of a request, summed over its
	// operations, root fields and aliases; default
	// DefaultMaxRequestBuckets.
	MaxRequestBuckets int
	// MaxResponseBytes bounds the JSON answer of a request; default
	// DefaultMaxResponseBytes.
	MaxResponseBytes int
	// QueryCacheBytes bounds the prepared documents kept; default
	// DefaultQueryCacheBytes.
	QueryCacheBytes int64
	// QueryTimeout is the time a request may take (Hasura EE's
	// time_limit). The caller's context enforces it; errors quote it.
	// Default DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxNodes <= 0 {
		c.MaxNodes = DefaultMaxNodes
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxRequestBuckets <= 0 {
		c.MaxRequestBuckets = DefaultMaxRequestBuckets
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.QueryCacheBytes <= 0 {
		c.QueryCacheBytes = DefaultQueryCacheBytes
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Executor runs GraphQL requests for a catalogue of functions against a
// Source. It is safe for concurrent use.
type Executor struct {
	cfg       Config
	schema    *ast.Schema
	roots     map[string]rootField
	argsTypes map[string]*analytics.Function // <fn>_args input types
	intro     *introSchema
	cache     *docCache
	texts     textCache // query texts as sent → decoded (fastbody.go)
	bodies    bodyCache // request bodies as sent → decoded (fastbody.go)
	src       analytics.Source
}

// New builds an Executor serving cat's functions from src.
func New(cfg Config, cat *analytics.Catalogue, src analytics.Source) (*Executor, error) {
	cfg = cfg.WithDefaults()
	s, roots, err := loadSchema(cat)
	if err != nil {
		return nil, err
	}
	e := &Executor{
		cfg:       cfg,
		schema:    s,
		roots:     roots,
		argsTypes: map[string]*analytics.Function{},
		intro:     newIntroSchema(s),
		cache:     newDocCache(cfg.QueryCacheBytes),
		src:       src,
	}
	for _, f := range cat.Functions {
		e.argsTypes[f.Name+"_args"] = f
	}
	return e, nil
}

// Caller is who sends a request, as authentication established it.
type Caller struct {
	// Account is the account whose sessions the caller may read. Invalid
	// means no account was named: only introspection can run.
	Account pgtext.NullUUID
}

// Request is one GraphQL operation request.
type Request struct {
	Query         *string         `json:"query"`
	Variables     json.RawMessage `json:"variables"`
	OperationName *string         `json:"operationName"`
	Extensions    *struct {
		PersistedQuery json.RawMessage `json:"persistedQuery"`
	} `json:"extensions"`

	// vars are the Variables decoded, when decoded is set (fastRequest).
	vars    map[string]any
	decoded bool
	// body is the body cache's entry for the request, or nil.
	body *decodedBody
}

// run is the execution of one request body: its context, when it began,
// who sent it and the buckets its operations have used.
type run struct {
	ctx     context.Context
	start   time.Time
	caller  Caller
	buckets int
}

// ExecuteBody runs an HTTP request body: one request object, or a JSON
// array of them (a batch, answered by an array in the same order). Every
// failure is a typed *Error in the Response.
func (e *Executor) ExecuteBody(ctx context.Context, caller Caller, body []byte) *Response {
	resp := e.newResponse(ctx, caller)
	r := &resp.run
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			return resp.single(errorResult(e.bodyError(body, err)))
		}
		if len(batch) > e.cfg.MaxBatch {
			return resp.single(errorResult(e.batchError(len(batch))))
		}
		// Hasura decodes the whole batch first: an element that is not a
		// request fails the request as a whole, at its index.
		reqs := make([]Request, len(batch))
		for i, raw := range batch {
			if err := decodeRequest(raw, &reqs[i], i); err != nil {
				return resp.single(errorResult(err))
			}
		}
		resp.batch = true
		resp.results = make([]Result, len(batch))
		for i := range reqs {
			resp.results[i] = e.execute(r, &reqs[i])
		}
		return resp
	}
	var req Request
	if e.bodies.get(body, &req) {
		return resp.single(e.execute(r, &req))
	}
	if vars, ok := fastRequest(body, &req, &e.texts); ok {
		req.vars, req.decoded = vars, true
		e.bodies.put(body, &req)
		return resp.single(e.execute(r, &req))
	}
	req = Request{}
	if err := decodeRequest(body, &req, -1); err != nil {
		if err.Code == CodeInvalidJSON {
			err = e.bodyError(body, err)
		}
		return resp.single(errorResult(err))
	}
	return resp.single(e.execute(r, &req))
}

// Execute runs one request.
func (e *Executor) Execute(ctx context.Context, caller Caller, req *Request) *Response {
	resp := e.newResponse(ctx, caller)
	if req.Query == nil && !req.hashOnly() {
		return resp.single(errorResult(NewError(CodeParseFailed, missingQuery)))
	}
	return resp.single(e.execute(&resp.run, req))
}

// bodyError is the error of a body encoding/json refused: too deep for
// it (it stops at 10 000 levels) is the depth limit's error, anything
// else invalid-json. Decoding a body into a Request keeps the variables
// raw, so no recursive decoder has seen it yet.
func (e *Executor) bodyError(body []byte, err error) *Error {
	if d := jsonDepth(body); d > e.cfg.MaxDepth+3 {
		return NewError(CodeValidationFailed, fmt.Sprintf("depth_limit exceeded: the request body nests %d levels deep; the limit is %d levels of values, %d with the request around them (%s)", d, e.cfg.MaxDepth, e.cfg.MaxDepth+3, flagMaxDepth))
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge
	}
	return invalidJSON(err)
}

func invalidJSON(err error) *Error {
	return NewError(CodeInvalidJSON, fmt.Sprintf("the request body is not valid JSON (%v); send {\"query\": \"...\", \"variables\": {...}, \"operationName\": \"...\"} or an array of such objects", err))
}

const missingQuery = `the key 'query' was not present; send {"query": "...", "variables": {...}}`

// decodeRequest decodes one request object: the body (index -1) or the
// index-th element of a batch. Its errors are parse-failed at the element,
// as Hasura's decoding of GQLReq fails; a request holding only the hash
// of a persisted query decodes, and execute answers it.
func decodeRequest(raw []byte, req *Request, index int) *Error {
	var at path
	if index >= 0 {
		at = (*path)(nil).at(index)
	}
	atp := &at
	if index < 0 {
		atp = nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field != "" {
				fat := atp.child(te.Field)
				return newError(CodeParseFailed, &fat, fmt.Sprintf("expected %s for %q, but found a JSON %s", expectedFor(te.Field), te.Field, te.Value))
			}
			return newError(CodeParseFailed, atp, fmt.Sprintf("expected an object {\"query\": \"...\", \"variables\": {...}}, but found a JSON %s", te.Value))
		}
		if index >= 0 {
			return newError(CodeParseFailed, atp, fmt.Sprintf("the batch element is not a request: %v", err))
		}
		return invalidJSON(err)
	}
	if req.Query == nil && !req.hashOnly() {
		return newError(CodeParseFailed, atp, missingQuery)
	}
	return nil
}

// hashOnly reports whether req names a persisted query by its hash and
// sends no query text (Apollo's automatic persisted queries).
func (req *Request) hashOnly() bool {
	return req.Query == nil && req.Extensions != nil && len(req.Extensions.PersistedQuery) > 0 && string(req.Extensions.PersistedQuery) != "null"
}

// ErrPersistedQueryNotSupported is Hasura's answer to a persisted query
// sent by hash, and to GET /v1/graphql: Apollo's PersistedQueryLink falls
// back to sending full queries on exactly this message.
const ErrPersistedQueryNotSupported = "PersistedQueryNotSupported"

func expectedFor(field string) string {
	switch field {
	case "variables", "extensions":
		return "an object"
	}
	return "a string"
}

// execute runs one operation request, its checks in Hasura's order:
// operation, fragments and limits, variables, fields, then the root
// fields one by one.
func (e *Executor) execute(r *run, req *Request) Result {
	if req.hashOnly() {
		return errorResult(NewError(CodeNotSupported, ErrPersistedQueryNotSupported))
	}
	o, gerr := e.operation(r, req)
	if gerr != nil {
		return errorResult(gerr)
	}
	if o.op.Operation == ast.Subscription {
		return errorResult(NewError(CodeUnexpectedPayload, "subscriptions are not supported over HTTP, use websockets instead"))
	}
	if gerr := checkUses(o.uses, o.vars); gerr != nil {
		return errorResult(gerr)
	}
	return o.execute(r)
}

// operation makes the checks of req that come before its transport's
// (HTTP refuses subscriptions): variables decoded, document prepared,
// operation selected, its checks, variables resolved. The Operation
// holds the caller of r.
func (e *Executor) operation(r *run, req *Request) (*Operation, *Error) {
	if o := req.body.operation(r.caller); o != nil {
		return o, nil
	}
	vars := req.vars
	if !req.decoded && len(req.Variables) > 0 && string(req.Variables) != "null" {
		// Each level takes two brackets: short variables need no scan.
		if len(req.Variables) > 2*e.cfg.MaxDepth {
			if d := jsonDepth(req.Variables) - 1; d > e.cfg.MaxDepth {
				return nil, e.depthError(nil, "the variables", d)
			}
		}
		var err error
		if vars, err = decodeVariables(req.Variables); err != nil {
			at := (*path)(nil).child("variables")
			return nil, newError(CodeParseFailed, &at, "variables must be a JSON object mapping variable names to values"+err.Error())
		}
	}
	p := e.prepare(r, *req.Query)
	if p.err != nil {
		return nil, p.err
	}
	op, gerr := selectOperation(p.doc, req.OperationName)
	if gerr != nil {
		return nil, gerr
	}
	c, gerr := p.check(r, e, op)
	if gerr != nil {
		return nil, gerr
	}
	if c.early != nil {
		return nil, c.early
	}
	if vars, gerr = e.resolveVariables(op, c, vars); gerr != nil {
		return nil, gerr
	}
	if c.late != nil {
		return nil, c.late
	}
	o := &Operation{e: e, caller: r.caller, p: p, op: op, uses: c.uses, vars: vars, body: req.body}
	req.body.keepOperation(o)
	return o, nil
}

// execute runs the operation's root fields within r.
func (o *Operation) execute(r *run) Result {
	x := execution{e: o.e, r: r, body: o.body, collector: collector{doc: o.p.doc, frags: o.p.frags, vars: o.vars}}
	var (
		data node
		err  error
	)
	if o.op.Operation == ast.Subscription {
		data, err = x.subscriptionFields(o.op.SelectionSet)
	} else {
		data, err = x.rootFields(o.op.SelectionSet)
	}
	if err != nil {
		return errorResult(o.e.toError(r, "counting", err))
	}
	return Result{data: data, collector: x.collector}
}

// ctxError is the error of a request whose context ended during stage:
// its time limit, or the client leaving.
func (e *Executor) ctxError(r *run, stage string) *Error {
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		return e.timeError(stage, time.Since(r.start))
	}
	return NewError(CodeUnexpected, "the request was cancelled")
}
