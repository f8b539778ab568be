package graphql

import (
	"fmt"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Preparation: query text to a parsed document, then, per operation, the
// checks that do not depend on the request's variables (validate.go).
// gqlparser only parses: its validator's rules are replaced by Tally's own
// walks, which word errors as Hasura does and stay linear in the document
// (gqlparser's OverlappingFieldsCanBeMerged is exponential on fragments
// that spread each other twice, and quadratic on repeated fields).

// prepared is a parsed document, or the error parsing gave, with the
// checks of its operations made so far. Documents are read-only once
// parsed and shared between requests.
type prepared struct {
	doc  *ast.QueryDocument
	err  *Error
	cost int64 // bytes it holds, estimated: the query text and its tree

	frags   map[string]*ast.FragmentDefinition // the first of each name
	dupFrag string                             // a fragment name defined twice, or ""

	mu  sync.Mutex
	ops map[*ast.OperationDefinition]*checkedOp
}

// treeBytesPerToken estimates the memory gqlparser's tree takes per token
// of the document (measured by TestCacheCostEstimate).
const treeBytesPerToken = 160

func (e *Executor) prepare(r *run, query string) *prepared {
	if p := e.cache.get(query); p != nil {
		return p
	}
	p := e.parse(r, query)
	if p.err == nil || p.err.Code != CodeTimeout {
		e.cache.put(query, p)
	}
	return p
}

// parse parses query after checking that its nesting is within the depth
// limit, as gqlparser's parser recurses once per bracket.
func (e *Executor) parse(r *run, query string) *prepared {
	st := scanDocument(query)
	p := &prepared{cost: int64(len(query)) + int64(st.tokens)*treeBytesPerToken + 512}
	if limit := 2*e.cfg.MaxDepth + 8; st.depth > limit {
		at := (*path)(nil).child("query")
		p.err = newError(CodeValidationFailed, &at, fmt.Sprintf("depth_limit exceeded: the query nests its brackets %d levels deep; the limit is %d levels of selections and %d of values, %d brackets in all (%s)", st.depth, e.cfg.MaxDepth, e.cfg.MaxDepth, limit, flagMaxDepth))
		return p
	}
	if r.ctx.Err() != nil {
		return &prepared{err: e.ctxError(r, "parsing")}
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		at := (*path)(nil).child("query")
		p.err = newError(CodeValidationFailed, &at, "not a valid graphql query: "+gqlMessage(err))
		return p
	}
	p.doc = doc
	p.frags = make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		if p.frags[f.Name] != nil {
			if p.dupFrag == "" {
				p.dupFrag = f.Name
			}
			continue
		}
		p.frags[f.Name] = f
	}
	p.ops = map[*ast.OperationDefinition]*checkedOp{}
	return p
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

// selectOperation picks the operation to run as Hasura does
// (Transport/HTTP/Protocol.hs): by name, which no anonymous operation may
// accompany, or the only one.
func selectOperation(doc *ast.QueryDocument, name *string) (*ast.OperationDefinition, *Error) {
	if name != nil && *name != "" {
		for _, op := range doc.Operations {
			if op.Name == "" {
				return nil, NewError(CodeValidationFailed, "operationName cannot be used when an anonymous operation exists in the document")
			}
		}
		op := doc.Operations.ForName(*name)
		if op == nil {
			return nil, NewError(CodeValidationFailed, fmt.Sprintf("no such operation found in the document: %q", *name))
		}
		return op, nil
	}
	if len(doc.Operations) != 1 {
		return nil, NewError(CodeValidationFailed, "exactly one operation has to be present in the document when operationName is not specified")
	}
	return doc.Operations[0], nil
}

// checkedOp is what the checks of one operation found, whatever the
// request's variables: errors in Hasura's order around the variable checks
// the request makes itself (execute).
type checkedOp struct {
	// early are the errors Hasura finds while inlining fragments, and
	// the depth and node limits: before the variables are resolved.
	early *Error
	// dupVar is a variable defined twice, or "".
	dupVar string
	// unbound is the first variable used but not defined, or "".
	unbound string
	// used are the variables the operation uses, fragments included.
	used map[string]bool
	// late is the first error of the fields, arguments and directives,
	// found after the variables.
	late *Error
	// uses are variables at positions of built-in scalars outside the
	// root fields' arguments, whose values the request checks there.
	uses []varUse
}

// varUse is a variable used where a built-in scalar is expected.
type varUse struct {
	name string
	typ  *ast.Type
	at   Path
}

// check returns the checks of op, making them on first use. Checks cut
// short by ctx are not kept.
func (p *prepared) check(r *run, e *Executor, op *ast.OperationDefinition) (*checkedOp, *Error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.ops[op]; c != nil {
		return c, nil
	}
	c, err := e.checkOperation(r, p, op)
	if err != nil {
		return nil, err
	}
	p.ops[op] = c
	return c, nil
}
