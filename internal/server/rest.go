package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// GET /api/rest/<name> (SPEC 9.4, Hasura's RESTified-endpoint
// convention): a catalogue function called with its arguments as query
// parameters, answered as JSON or CSV. The call goes straight to the
// catalogue (analytics.Function.Prepare, Call.Run); no GraphQL document is
// made. Errors are GraphQL error bodies: an argument's error has the code,
// message and path GraphQL gives the same argument.

// RESTConfig is what the REST routes call. A nil Source leaves them out.
type RESTConfig struct {
	Catalogue *analytics.Catalogue
	Source    analytics.Source
	// Limits bound each call, as they bound GraphQL's.
	Limits analytics.Limits
}

// formatParam chooses the answer's format, over the Accept header.
const formatParam = "format"

// restRoutes gives each function its REST route: one line each. A
// function missing from the catalogue gets none.
func (s *Server) restRoutes(mux *http.ServeMux) {
	s.restRoute(mux, "open-closed-sessions", analytics.IntervalFunction)
}

func (s *Server) restRoute(mux *http.ServeMux, name, function string) {
	rc := s.cfg.REST
	if rc.Source == nil || rc.Catalogue == nil {
		return
	}
	fn := rc.Catalogue.Function(function)
	if fn == nil {
		return
	}
	if fn.Arg(formatParam) != nil {
		panic("server: function " + function + " has an argument named " + formatParam + ", which REST uses for the answer's format")
	}
	e := &restEndpoint{s: s, path: "/api/rest/" + name, fn: fn}
	mux.Handle("GET "+e.path, s.instrument("rest_"+strings.ReplaceAll(name, "-", "_"), e.serve))
}

// restEndpoint serves one function.
type restEndpoint struct {
	s    *Server
	path string
	fn   *analytics.Function
}

func (e *restEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Vary", "Accept")
	account, status, gerr := e.s.restCaller(r)
	if gerr != nil {
		e.s.writeRESTError(w, status, gerr)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		e.s.writeRESTError(w, http.StatusBadRequest, graphql.NewError(graphql.CodeBadRequest, "the query string cannot be read: "+err.Error()))
		return
	}
	asCSV, gerr := wantsCSV(q, r.Header.Get("Accept"))
	if gerr != nil {
		e.s.writeRESTError(w, http.StatusBadRequest, gerr)
		return
	}
	args, gerr := e.args(q)
	if gerr != nil {
		e.s.writeRESTError(w, http.StatusBadRequest, gerr)
		return
	}
	call, err := e.fn.Prepare(args, e.s.cfg.REST.Limits)
	if err != nil {
		var ae *analytics.ArgError
		if errors.As(err, &ae) {
			e.s.writeRESTError(w, http.StatusBadRequest, &graphql.Error{Code: argErrorCode(ae.Kind), Path: e.argPath(ae.Arg), Message: ae.Reason})
			return
		}
		e.s.restFailure(w, r, err)
		return
	}
	ctx, cancel := withTimeout(r.Context(), e.s.cfg.QueryTimeout)
	defer cancel()
	t := &e.fn.Table
	res, err := call.Run(ctx, e.s.cfg.REST.Source, account, analytics.AllColumns(len(t.Columns)))
	if err == nil {
		err = checkResult(t, res)
	}
	if err != nil {
		e.s.restFailure(w, r, err)
		return
	}
	buf := e.s.getBuf()
	defer e.s.putBuf(buf)
	if asCSV {
		writeCSV(buf, t, res)
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		w.Header().Set("Content-Disposition", `attachment; filename="`+e.fn.Name+`.csv"`)
	} else {
		buf.Write(appendRESTJSON(buf.AvailableBuffer(), e.fn.Name, t, res))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.Write(buf.Bytes())
}

// restCaller authenticates a REST request as /v1/graphql does and returns
// the account to read. Credential failures are 401 or 403 (auth's
// status); a request naming no account is 400.
func (s *Server) restCaller(r *http.Request) (pgtext.UUID, int, *graphql.Error) {
	p, err := s.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) {
			return pgtext.UUID{}, ae.Status, graphql.NewError(graphql.CodeAccessDenied, ae.Message)
		}
		return pgtext.UUID{}, http.StatusInternalServerError, graphql.NewError(graphql.CodeUnexpected, "authentication failed")
	}
	switch {
	case p.KeyID != "" && !p.AccountHeader:
		return pgtext.UUID{}, http.StatusForbidden, graphql.NewError(graphql.CodeAccessDenied, "X-Moveo-Account-Id header required with an API key: send the UUID of the key's account")
	case !p.Can(auth.ScopeRead):
		return pgtext.UUID{}, http.StatusForbidden, graphql.NewError(graphql.CodeAccessDenied, "this API key may not read; it needs the read scope")
	case !p.Account.Valid:
		return pgtext.UUID{}, http.StatusBadRequest, graphql.NewError(graphql.CodeAccessDenied, "no account selected: send the X-Moveo-Account-Id header with the account's UUID (and Authorization: apikey <key>, or X-Admin-Secret)")
	}
	return p.Account.UUID, 0, nil
}

// wantsCSV reads the format parameter, else the Accept header: CSV when
// it names text/csv with a quality above zero and at least that of
// application/json (the first listed wins a tie).
func wantsCSV(q url.Values, accept string) (bool, *graphql.Error) {
	if f, ok := q[formatParam]; ok {
		switch {
		case len(f) > 1:
			return false, graphql.NewError(graphql.CodeValidationFailed, fmt.Sprintf("query parameter %s is given %d times; give it once", formatParam, len(f)))
		case f[0] == "csv":
			return true, nil
		case f[0] == "json":
			return false, nil
		}
		return false, graphql.NewError(graphql.CodeValidationFailed, fmt.Sprintf("query parameter %s=%s: use %s=csv or %s=json (or leave it out and send Accept: text/csv)", formatParam, f[0], formatParam, formatParam))
	}
	csvQ, jsonQ := -1.0, -1.0
	csvAt, jsonAt := 0, 0
	for i, part := range strings.Split(accept, ",") {
		media, params, _ := strings.Cut(part, ";")
		media = strings.ToLower(strings.TrimSpace(media))
		quality := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					quality = f
				}
			}
		}
		switch media {
		case "text/csv":
			csvQ, csvAt = quality, i
		case "application/json":
			jsonQ, jsonAt = quality, i
		}
	}
	return csvQ > 0 && (csvQ > jsonQ || (csvQ == jsonQ && csvAt < jsonAt)), nil
}

// args turns query parameters into the function's arguments, with the
// values a GraphQL client would send as variables: text as a string;
// Boolean true and false as booleans (anything else is an error); numbers
// as JSON numbers. An
// array argument given once with a value starting with "{" is a PostgreSQL
// array literal; otherwise each occurrence is one element. Unknown
// parameters, and a scalar given more than once, are errors naming them.
func (e *restEndpoint) args(q url.Values) (analytics.Args, *graphql.Error) {
	var unknown []string
	for name := range q {
		if name != formatParam && e.fn.Arg(name) == nil {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		names := make([]string, 0, len(e.fn.Args)+1)
		for _, a := range e.fn.Args {
			names = append(names, a.Name)
		}
		names = append(names, formatParam)
		what := "query parameter " + unknown[0] + " is"
		if len(unknown) > 1 {
			what = "query parameters " + strings.Join(unknown, ", ") + " are"
		}
		return analytics.Args{}, graphql.NewError(graphql.CodeValidationFailed, fmt.Sprintf("%s not known to %s; it takes %s", what, e.path, strings.Join(names, ", ")))
	}
	var args analytics.Args
	for _, a := range e.fn.Args {
		vs, ok := q[a.Name]
		if !ok {
			continue
		}
		var v any
		switch a.Type {
		case analytics.UUIDArray, analytics.Int4Array, analytics.TextArray:
			if len(vs) == 1 && strings.HasPrefix(strings.TrimLeft(vs[0], " \t\r\n"), "{") {
				v = vs[0]
				break
			}
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = s
			}
			v = list
		default:
			if len(vs) > 1 {
				return analytics.Args{}, &graphql.Error{Code: graphql.CodeValidationFailed, Path: e.argPath(a.Name), Message: fmt.Sprintf("query parameter %s is given %d times; it takes one %s", a.Name, len(vs), a.Type.GraphQL())}
			}
			v = scalarValue(a.Type, vs[0])
			if _, isString := v.(string); isString && a.Type == analytics.Boolean {
				return analytics.Args{}, &graphql.Error{Code: graphql.CodeValidationFailed, Path: e.argPath(a.Name), Message: fmt.Sprintf("query parameter %s=%s is not a Boolean: send %s=true or %s=false, or leave it out", a.Name, vs[0], a.Name, a.Name)}
			}
		}
		args.Names = append(args.Names, a.Name)
		args.Values = append(args.Values, v)
	}
	return args, nil
}

// scalarValue is a parameter's value as a JSON variable of type t would
// hold it.
func scalarValue(t analytics.Type, s string) any {
	switch t {
	case analytics.Boolean:
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
		// Left a string: args refuses it, naming the parameter.
	case analytics.Int, analytics.BigInt:
		if json.Valid([]byte(s)) && s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
			return json.Number(s)
		}
	}
	return s
}

// argPath is where GraphQL reports an error in argument arg of the
// function: the same path, so REST and GraphQL errors read alike.
func (e *restEndpoint) argPath(arg string) graphql.Path {
	return graphql.Path{{Key: "selectionSet"}, {Key: e.fn.Name}, {Key: "args"}, {Key: "args"}, {Key: arg}}
}

// argErrorCode is Hasura's code for an argument error of kind k, as
// GraphQL chooses it.
func argErrorCode(k analytics.ErrorKind) string {
	switch k {
	case analytics.KindParse:
		return graphql.CodeParseFailed
	case analytics.KindValidation:
		return graphql.CodeValidationFailed
	}
	return graphql.CodeDataException
}

// restFailure answers a failure below the arguments: 503 for one that may
// pass (with Retry-After) and for the time limit, 500 for the others,
// whose details go to the log only.
func (s *Server) restFailure(w http.ResponseWriter, r *http.Request, err error) {
	var busy *analytics.BusyError
	switch {
	case errors.As(err, &busy):
		// Admission refused a heavy query (--max-heavy-queued): it may
		// pass, and the message says what to change.
		w.Header().Set("Retry-After", retryAfterSeconds)
		s.writeRESTError(w, http.StatusServiceUnavailable, graphql.NewError(graphql.CodeDataException, busy.Error()))
	case errors.Is(err, context.DeadlineExceeded):
		s.writeRESTError(w, http.StatusServiceUnavailable, graphql.NewError(graphql.CodeTimeout, fmt.Sprintf("the query took longer than the server's time limit (%s, --query-timeout) and was cancelled; narrow the time range or filters", s.cfg.QueryTimeout)))
	case errors.Is(err, session.ErrTemporary):
		s.log.ErrorContext(r.Context(), "rest: temporary failure", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		s.writeRESTError(w, http.StatusServiceUnavailable, graphql.NewError(graphql.CodeUnexpected, "the database is unreachable, so the query could not run; retry later (GET /healthz reports when it is back)"))
	case errors.Is(err, context.Canceled):
		s.writeRESTError(w, http.StatusServiceUnavailable, graphql.NewError(graphql.CodeUnexpected, "the request was cancelled"))
	default:
		s.log.ErrorContext(r.Context(), "rest: unexpected error", "path", r.URL.Path, "err", err)
		s.writeRESTError(w, http.StatusInternalServerError, graphql.NewError(graphql.CodeUnexpected, "unexpected error while executing the query; the server log has details"))
	}
}

// writeRESTError writes err as the body GraphQL would send, with status.
func (s *Server) writeRESTError(w http.ResponseWriter, status int, err *graphql.Error) {
	out := s.getBuf()
	defer s.putBuf(out)
	body := graphql.ErrorResponse(err).AppendJSON(out.AvailableBuffer())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// checkResult makes sure res has a value of every column per row, so
// that writing it cannot read past a slice.
func checkResult(t *analytics.Table, res *analytics.Result) error {
	if res == nil || len(res.Cols) != len(t.Columns) || res.Len < 0 {
		return fmt.Errorf("function result without the %d columns of %s", len(t.Columns), t.Name)
	}
	for c, col := range t.Columns {
		cells := &res.Cols[c]
		n := len(cells.Ints)
		if col.Type == analytics.Text {
			n = len(cells.Texts)
		}
		if n != res.Len || (cells.Null != nil && len(cells.Null) != res.Len) {
			return fmt.Errorf("function result has %d values of column %s for %d rows", n, col.Name, res.Len)
		}
	}
	return nil
}

// appendCell appends row k of column c as text: a timestamp as PostgreSQL
// writes it in JSON ("2024-01-08T00:00:00"), a number in decimal, text as
// it is. ok is false for NULL.
func appendCell(dst []byte, col analytics.Column, cells *analytics.Cells, k int) (_ []byte, ok bool) {
	switch {
	case cells.Null != nil && cells.Null[k]:
		return dst, false
	case col.Type == analytics.Timestamp:
		return pgtext.AppendTimestamp(dst, cells.Ints[k]), true
	case col.Type == analytics.Text:
		return append(dst, cells.Texts[k]...), true
	}
	return strconv.AppendInt(dst, cells.Ints[k], 10), true
}

// appendRESTJSON writes {"<function>":[{"<column>":value,...},...]}, the
// columns in the table's order, values as GraphQL renders them.
func appendRESTJSON(dst []byte, name string, t *analytics.Table, res *analytics.Result) []byte {
	dst = append(dst, '{')
	dst = appendJSONString(dst, name)
	dst = append(dst, ":["...)
	keys := make([][]byte, len(t.Columns))
	for c, col := range t.Columns {
		keys[c] = append(appendJSONString(nil, col.Name), ':')
	}
	var cell []byte
	for k := 0; k < res.Len; k++ {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		for c, col := range t.Columns {
			if c > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, keys[c]...)
			var ok bool
			cell, ok = appendCell(cell[:0], col, &res.Cols[c], k)
			switch {
			case !ok:
				dst = append(dst, "null"...)
			case col.Type.Numeric():
				dst = append(dst, cell...)
			default:
				dst = appendJSONString(dst, string(cell))
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendJSONString appends s as a JSON string, <, > and & as they are
// (as GraphQL writes them).
func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// writeCSV writes a header row of the column names, then one record per
// row (RFC 4180 quoting by encoding/csv, lines ended by \n); NULL is an
// empty field.
func writeCSV(buf *bytes.Buffer, t *analytics.Table, res *analytics.Result) {
	cw := csv.NewWriter(buf)
	record := make([]string, len(t.Columns))
	for c, col := range t.Columns {
		record[c] = col.Name
	}
	cw.Write(record)
	var cell []byte
	for k := 0; k < res.Len; k++ {
		for c, col := range t.Columns {
			cell, _ = appendCell(cell[:0], col, &res.Cols[c], k)
			record[c] = string(cell)
		}
		cw.Write(record)
	}
	cw.Flush() // a bytes.Buffer does not fail
}
