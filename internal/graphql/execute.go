package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Config configures an Executor. The zero value uses the defaults.
type Config struct {
	// MaxBuckets is the most buckets one query may ask for (default 10000).
	MaxBuckets int
	// CacheSize is how many prepared documents are kept (default 1024).
	CacheSize int
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
}

// Executor runs GraphQL requests against a Source. It is safe for
// concurrent use.
type Executor struct {
	cfg    Config
	schema *ast.Schema
	rules  *rules.Rules
	cache  docCache
	fn     *analytics.Function
	src    analytics.Source
}

// New builds an Executor.
func New(cfg Config, src analytics.Source) (*Executor, error) {
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = 10000
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1024
	}
	s, err := loadSchema()
	if err != nil {
		return nil, err
	}
	return &Executor{
		cfg:    cfg,
		schema: s,
		rules:  newRules(),
		cache:  docCache{max: cfg.CacheSize, entries: map[string]*prepared{}},
		fn:     analytics.NewCatalogue().Function(FunctionName),
		src:    src,
	}, nil
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
// array of them (a batch, answered by an array in the same order). It
// appends the response body to dst and returns it. The response is always
// valid JSON; every failure is an error object in Hasura's shape.
func (e *Executor) ExecuteBody(ctx context.Context, caller Caller, body []byte, dst []byte) []byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			return appendErrors(dst, invalidJSON(err))
		}
		dst = append(dst, '[')
		for i, raw := range batch {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.executeRaw(ctx, caller, raw, dst)
		}
		return append(dst, ']')
	}
	return e.executeRaw(ctx, caller, body, dst)
}

func invalidJSON(err error) *Error {
	return newError(CodeInvalidJSON, "$", fmt.Sprintf("the request body is not valid JSON (%v); send {\"query\": \"...\", \"variables\": {...}, \"operationName\": \"...\"} or an array of such objects", err))
}

func (e *Executor) executeRaw(ctx context.Context, caller Caller, raw []byte, dst []byte) []byte {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return appendErrors(dst, newError(CodeParseFailed, "$."+te.Field, fmt.Sprintf("expected %s for %q, but found a JSON %s", expectedFor(te.Field), te.Field, te.Value)))
		}
		return appendErrors(dst, invalidJSON(err))
	}
	if req.Query == nil {
		return appendErrors(dst, newError(CodeParseFailed, "$", `the request has no "query"; send {"query": "...", "variables": {...}}`))
	}
	return e.Execute(ctx, caller, &req, dst)
}

func expectedFor(field string) string {
	if field == "variables" {
		return "an object"
	}
	return "a string"
}

// Execute runs one request and appends its response body to dst.
func (e *Executor) Execute(ctx context.Context, caller Caller, req *Request, dst []byte) []byte {
	var vars map[string]any
	if len(req.Variables) > 0 && string(req.Variables) != "null" {
		var err error
		if vars, err = decodeVariables(req.Variables); err != nil {
			return appendErrors(dst, newError(CodeParseFailed, "$.variables", "variables must be a JSON object mapping variable names to values"+err.Error()))
		}
	}
	p := e.prepare(*req.Query)
	if p.err != nil {
		return appendErrors(dst, p.err)
	}
	op, gerr := selectOperation(p.doc, req.OperationName)
	if gerr != nil {
		return appendErrors(dst, gerr)
	}
	if gerr := checkVariables(op, vars); gerr != nil {
		return appendErrors(dst, gerr)
	}
	x := &execution{e: e, ctx: ctx, caller: caller, doc: p.doc, vars: vars}
	start := len(dst)
	dst = append(dst, `{"data":`...)
	dst, err := x.rootFields(dst, op.SelectionSet)
	if err != nil {
		return appendErrors(dst[:start], toError(ctx, e.cfg.Logger, err))
	}
	return append(dst, '}')
}

func selectOperation(doc *ast.QueryDocument, name *string) (*ast.OperationDefinition, *Error) {
	if name != nil && *name != "" {
		op := doc.Operations.ForName(*name)
		if op == nil {
			return nil, newError(CodeValidationFailed, "$", fmt.Sprintf("no such operation found in the document: %q", *name))
		}
		return op, nil
	}
	if len(doc.Operations) != 1 {
		return nil, newError(CodeValidationFailed, "$", "exactly one operation has to be present in the query when operationName is not specified")
	}
	return doc.Operations[0], nil
}

func appendErrors(dst []byte, err *Error) []byte {
	return AppendError(dst, err)
}

// AppendError appends a response body holding err alone, as Hasura sends
// it: {"errors":[{"message":...,"extensions":{"path":...,"code":...}}]}.
func AppendError(dst []byte, err *Error) []byte {
	dst = append(dst, `{"errors":[{"message":`...)
	dst = appendString(dst, err.Message)
	dst = append(dst, `,"extensions":{"path":`...)
	dst = appendString(dst, err.Extensions.Path)
	dst = append(dst, `,"code":`...)
	dst = appendString(dst, err.Extensions.Code)
	return append(dst, "}}]}"...)
}

// execution is the state of one operation's run.
type execution struct {
	e      *Executor
	ctx    context.Context
	caller Caller
	doc    *ast.QueryDocument
	vars   map[string]any
}

// collectedField is one response key and the fields merged under it.
type collectedField struct {
	key    string
	fields []*ast.Field
}

// collect is the spec's CollectFields: it flattens fragments, applies
// @skip/@include, and groups fields by response key in first-seen order.
func (x *execution) collect(set ast.SelectionSet, typeName string, out []collectedField, visited map[string]bool) []collectedField {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !x.included(sel.Directives) {
				continue
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			found := false
			for i := range out {
				if out[i].key == key {
					out[i].fields = append(out[i].fields, sel)
					found = true
					break
				}
			}
			if !found {
				out = append(out, collectedField{key: key, fields: []*ast.Field{sel}})
			}
		case *ast.InlineFragment:
			if !x.included(sel.Directives) || (sel.TypeCondition != "" && sel.TypeCondition != typeName) {
				continue
			}
			out = x.collect(sel.SelectionSet, typeName, out, visited)
		case *ast.FragmentSpread:
			if !x.included(sel.Directives) || visited[sel.Name] {
				continue
			}
			def := x.doc.Fragments.ForName(sel.Name)
			if def == nil || (def.TypeCondition != "" && def.TypeCondition != typeName) {
				continue
			}
			if visited == nil {
				visited = map[string]bool{}
			}
			visited[sel.Name] = true
			out = x.collect(def.SelectionSet, typeName, out, visited)
		}
	}
	return out
}

func (x *execution) included(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, _ := resolve(arg.Value, x.vars).(bool)
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

func appendKey(dst []byte, key string) []byte {
	dst = appendString(dst, key)
	return append(dst, ':')
}

// appendObject writes one JSON object for fields collected on typeName:
// response keys in selection order, __typename answered here, every other
// field written by value. Every object of a response goes through it.
func appendObject(dst []byte, fields []collectedField, typeName string, value func(dst []byte, cf collectedField) ([]byte, error)) ([]byte, error) {
	dst = append(dst, '{')
	for i, cf := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, cf.key)
		if cf.fields[0].Name == "__typename" {
			dst = appendString(dst, typeName)
			continue
		}
		var err error
		if dst, err = value(dst, cf); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

func (x *execution) rootFields(dst []byte, set ast.SelectionSet) ([]byte, error) {
	return appendObject(dst, x.collect(set, QueryRootName, nil, nil), QueryRootName, func(dst []byte, cf collectedField) ([]byte, error) {
		f := cf.fields[0]
		switch f.Name {
		case "__schema":
			return x.introspect(dst, schemaObj{x.e.schema}, mergedSelection(cf.fields))
		case "__type":
			name, _ := resolve(f.Arguments.ForName("name").Value, x.vars).(string)
			var obj introObject
			if def := x.e.schema.Types[name]; def != nil {
				obj = typeObj{s: x.e.schema, def: def}
			}
			return x.introspect(dst, obj, mergedSelection(cf.fields))
		case FunctionName:
			return x.function(dst, f, mergedSelection(cf.fields))
		case FunctionName + "_aggregate":
			return x.aggregate(dst, f, mergedSelection(cf.fields))
		}
		return nil, fmt.Errorf("field %q passed validation but has no resolver", f.Name)
	})
}

// fnRows runs the function for a root field and applies its table
// arguments (where, order_by, distinct_on, offset, limit).
func (x *execution) fnRows(f *ast.Field) ([]fnRow, error) {
	rows, err := x.runFunction(f)
	if err != nil {
		return nil, toError(x.ctx, x.e.cfg.Logger, err)
	}
	ra, err := parseRowArgs(f, x.vars)
	if err != nil {
		return nil, err
	}
	return ra.apply(rows), nil
}

func (x *execution) runFunction(f *ast.Field) ([]fnRow, error) {
	if !x.caller.Account.Valid {
		return nil, &AccessError{Message: "no account selected: send the X-Moveo-Account-Id header with the account's UUID (and Authorization: apikey <key>, or X-Admin-Secret)"}
	}
	base := argsPath(f.Name)
	args, ok := resolve(f.Arguments.ForName("args").Value, x.vars).(*object)
	if !ok {
		return nil, newError(CodeValidationFailed, base, "missing required field 'args'")
	}
	for _, name := range args.names {
		if x.e.schema.Types[ArgsType].Fields.ForName(name) == nil {
			return nil, newError(CodeValidationFailed, base+"."+name, fmt.Sprintf("field '%s' not found in type: '%s'", name, ArgsType))
		}
	}
	call, err := x.e.fn.Prepare(analytics.Args{Names: args.names, Values: args.values}, analytics.Limits{MaxBuckets: x.e.cfg.MaxBuckets})
	if err != nil {
		var ae *analytics.ArgError
		if errors.As(err, &ae) {
			return nil, newError(argErrorCode(ae.Kind), base+"."+ae.Arg, ae.Reason)
		}
		return nil, err
	}
	res, err := call.Run(x.ctx, x.e.src, x.caller.Account.UUID, analytics.AllColumns(len(x.e.fn.Table.Columns)))
	if err != nil {
		return nil, err
	}
	rows := make([]fnRow, res.Len)
	for k := range rows {
		rows[k] = fnRow{res.Cols[analytics.ColPerInterval].Ints[k], res.Cols[analytics.ColOpenSessions].Ints[k], res.Cols[analytics.ColClosedSessions].Ints[k]}
	}
	return rows, nil
}

// function renders the rows of open_closed_sessions_interval_counts_v2.
func (x *execution) function(dst []byte, f *ast.Field, sel ast.SelectionSet) ([]byte, error) {
	rows, err := x.fnRows(f)
	if err != nil {
		return nil, err
	}
	return x.appendRows(dst, rows, sel, ReturnType)
}

// appendRows renders rows as a list of objects of type typeName (the
// table type or one of its *_max_fields-like types share the columns).
func (x *execution) appendRows(dst []byte, rows []fnRow, sel ast.SelectionSet, typeName string) ([]byte, error) {
	fields := x.collect(sel, typeName, nil, nil)
	dst = append(dst, '[')
	for k := range rows {
		if k > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = x.appendRow(dst, &rows[k], fields, typeName); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

func (x *execution) appendRow(dst []byte, r *fnRow, fields []collectedField, typeName string) ([]byte, error) {
	return appendObject(dst, fields, typeName, func(dst []byte, cf collectedField) ([]byte, error) {
		switch cf.fields[0].Name {
		case "per_interval":
			dst = append(dst, '"')
			dst = pgtext.AppendTimestamp(dst, r[colPerInterval])
			return append(dst, '"'), nil
		case "open_sessions":
			return strconv.AppendInt(dst, r[colOpen], 10), nil
		case "closed_sessions":
			return strconv.AppendInt(dst, r[colClosed], 10), nil
		}
		return nil, fmt.Errorf("row field %q passed validation but has no resolver", cf.fields[0].Name)
	})
}

// aggregate renders open_closed_sessions_interval_counts_v2_aggregate.
func (x *execution) aggregate(dst []byte, f *ast.Field, sel ast.SelectionSet) ([]byte, error) {
	rows, err := x.fnRows(f)
	if err != nil {
		return nil, err
	}
	typeName := ReturnType + "_aggregate"
	return appendObject(dst, x.collect(sel, typeName, nil, nil), typeName, func(dst []byte, cf collectedField) ([]byte, error) {
		switch cf.fields[0].Name {
		case "nodes":
			return x.appendRows(dst, rows, mergedSelection(cf.fields), ReturnType)
		case "aggregate":
			return x.appendAggregateFields(dst, aggregates{rows}, mergedSelection(cf.fields))
		}
		return nil, fmt.Errorf("aggregate field %q passed validation but has no resolver", cf.fields[0].Name)
	})
}

func (x *execution) appendAggregateFields(dst []byte, g aggregates, sel ast.SelectionSet) ([]byte, error) {
	typeName := ReturnType + "_aggregate_fields"
	return appendObject(dst, x.collect(sel, typeName, nil, nil), typeName, func(dst []byte, cf collectedField) ([]byte, error) {
		f := cf.fields[0]
		switch f.Name {
		case "count":
			var cols []int
			if a := f.Arguments.ForName("columns"); a != nil {
				if v := resolve(a.Value, x.vars); v != nil {
					var err error
					if cols, err = parseColumns(v, "$.selectionSet."+FunctionName+"_aggregate.selectionSet.aggregate.selectionSet.count.args.columns"); err != nil {
						return nil, err
					}
				}
			}
			distinct := false
			if a := f.Arguments.ForName("distinct"); a != nil {
				distinct, _ = resolve(a.Value, x.vars).(bool)
			}
			return strconv.AppendInt(dst, g.count(cols, distinct), 10), nil
		case "avg", "max", "min", "stddev", "stddev_pop", "stddev_samp", "sum", "var_pop", "var_samp", "variance":
			opType := ReturnType + "_" + f.Name + "_fields"
			return appendObject(dst, x.collect(mergedSelection(cf.fields), opType, nil, nil), opType, func(dst []byte, sub collectedField) ([]byte, error) {
				name := sub.fields[0].Name
				col, ok := columnIndex(name)
				if !ok {
					return nil, fmt.Errorf("aggregate column %q passed validation but has no resolver", name)
				}
				isInt, iv, fv, ok := g.stat(f.Name, col)
				switch {
				case !ok:
					return append(dst, "null"...), nil
				case isInt && col == colPerInterval:
					dst = append(dst, '"')
					dst = pgtext.AppendTimestamp(dst, iv)
					return append(dst, '"'), nil
				case isInt:
					return strconv.AppendInt(dst, iv, 10), nil
				}
				return appendFloat(dst, fv), nil
			})
		}
		return nil, fmt.Errorf("aggregate field %q passed validation but has no resolver", f.Name)
	})
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
