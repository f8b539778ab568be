// Package graphql is Tally's GraphQL layer: the schema Hasura v2 would
// generate for the catalogue's SQL functions (generated from
// analytics.Catalogue), parsing and validation with gqlparser, Tally's own
// executor, introspection, and errors in Hasura's shape and codes.
//
// A request runs in two phases. Execution (ExecuteBody, Execute) checks
// the document, parses each root field's arguments, asks the function's
// call for its rows through analytics.Source, applies the table arguments
// and computes aggregates: its result is a Response value holding the
// rows and aggregate values, or a typed *Error. Rendering
// (Response.AppendJSON) writes that value as Hasura-ordered JSON.
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

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// DefaultCacheSize is Config.CacheSize when it is not set.
const DefaultCacheSize = 1024

// Config configures an Executor. The zero value uses the defaults.
type Config struct {
	// Limits bound each function call (buckets per query).
	Limits analytics.Limits
	// CacheSize is how many prepared documents are kept (default
	// DefaultCacheSize).
	CacheSize int
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
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
	rules     *rules.Rules
	cache     docCache
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
		rules:     newRules(),
		cache:     docCache{max: cfg.CacheSize, entries: map[string]*prepared{}},
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
}

// ExecuteBody runs an HTTP request body: one request object, or a JSON
// array of them (a batch, answered by an array in the same order). Every
// failure is a typed *Error in the Response.
func (e *Executor) ExecuteBody(ctx context.Context, caller Caller, body []byte) *Response {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			return ErrorResponse(invalidJSON(err))
		}
		r := &Response{batch: true, results: make([]Result, len(batch))}
		for i, raw := range batch {
			r.results[i] = e.executeRaw(ctx, caller, raw)
		}
		return r
	}
	return single(e.executeRaw(ctx, caller, body))
}

func invalidJSON(err error) *Error {
	return NewError(CodeInvalidJSON, fmt.Sprintf("the request body is not valid JSON (%v); send {\"query\": \"...\", \"variables\": {...}, \"operationName\": \"...\"} or an array of such objects", err))
}

func (e *Executor) executeRaw(ctx context.Context, caller Caller, raw []byte) Result {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			at := (*path)(nil).child(te.Field)
			return errorResult(newError(CodeParseFailed, &at, fmt.Sprintf("expected %s for %q, but found a JSON %s", expectedFor(te.Field), te.Field, te.Value)))
		}
		return errorResult(invalidJSON(err))
	}
	if req.Query == nil {
		return errorResult(NewError(CodeParseFailed, `the request has no "query"; send {"query": "...", "variables": {...}}`))
	}
	return e.execute(ctx, caller, &req)
}

func expectedFor(field string) string {
	if field == "variables" {
		return "an object"
	}
	return "a string"
}

// Execute runs one request.
func (e *Executor) Execute(ctx context.Context, caller Caller, req *Request) *Response {
	return single(e.execute(ctx, caller, req))
}

func (e *Executor) execute(ctx context.Context, caller Caller, req *Request) Result {
	var vars map[string]any
	if len(req.Variables) > 0 && string(req.Variables) != "null" {
		var err error
		if vars, err = decodeVariables(req.Variables); err != nil {
			at := (*path)(nil).child("variables")
			return errorResult(newError(CodeParseFailed, &at, "variables must be a JSON object mapping variable names to values"+err.Error()))
		}
	}
	p := e.prepare(*req.Query)
	if p.err != nil {
		return errorResult(p.err)
	}
	op, gerr := selectOperation(p.doc, req.OperationName)
	if gerr != nil {
		return errorResult(gerr)
	}
	if gerr := e.checkVariables(op, vars); gerr != nil {
		return errorResult(gerr)
	}
	x := execution{e: e, ctx: ctx, caller: caller, collector: collector{doc: p.doc, vars: vars}}
	data, err := x.rootFields(op.SelectionSet)
	if err != nil {
		return errorResult(toError(ctx, e.cfg.Logger, err))
	}
	return Result{data: data, collector: x.collector, log: e.cfg.Logger}
}

func selectOperation(doc *ast.QueryDocument, name *string) (*ast.OperationDefinition, *Error) {
	if name != nil && *name != "" {
		op := doc.Operations.ForName(*name)
		if op == nil {
			return nil, NewError(CodeValidationFailed, fmt.Sprintf("no such operation found in the document: %q", *name))
		}
		return op, nil
	}
	if len(doc.Operations) != 1 {
		return nil, NewError(CodeValidationFailed, "exactly one operation has to be present in the query when operationName is not specified")
	}
	return doc.Operations[0], nil
}
