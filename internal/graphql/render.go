package graphql

import (
	"fmt"

	"strconv"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Rendering: a Response value to the JSON Hasura sends. Objects keep
// their keys in selection order; an error is
// {"errors":[{"message":...,"extensions":{"path":...,"code":...}}]}.

// AppendJSON appends the response body to dst and returns it: the one
// result's object, or an array of them for a batch. It is always valid
// JSON.
func (r *Response) AppendJSON(dst []byte) []byte {
	if !r.batch {
		return r.results[0].AppendJSON(dst)
	}
	dst = append(dst, '[')
	for i := range r.results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.results[i].AppendJSON(dst)
	}
	return append(dst, ']')
}

// AppendJSON appends the result's body to dst and returns it. Should the
// value break an invariant rendering relies on, the body is an
// "unexpected" error instead, and Err is set to it.
func (r *Result) AppendJSON(dst []byte) []byte {
	if r.Err != nil {
		return appendError(dst, r.Err)
	}
	start := len(dst)
	dst = append(dst, `{"data":`...)
	dst, err := r.appendNode(dst, &r.data)
	if err != nil {
		r.log.Error("graphql: cannot render the result", "err", err)
		r.Err = NewError(CodeUnexpected, "unexpected error while writing the answer; the server log has details")
		return appendError(dst[:start], r.Err)
	}
	return append(dst, '}')
}

// appendError appends a body holding err alone, as Hasura sends it.
func appendError(dst []byte, err *Error) []byte {
	dst = append(dst, `{"errors":[{"message":`...)
	dst = appendString(dst, err.Message)
	dst = append(dst, `,"extensions":{"path":`...)
	dst = appendString(dst, err.Path.String())
	dst = append(dst, `,"code":`...)
	dst = appendString(dst, err.Code)
	return append(dst, "}}]}"...)
}

func (r *Result) appendNode(dst []byte, n *node) ([]byte, error) {
	switch n.kind {
	case nodeNull:
		return append(dst, "null"...), nil
	case nodeInt:
		return strconv.AppendInt(dst, n.i, 10), nil
	case nodeFloat:
		return strconv.AppendFloat(dst, n.f, 'f', -1, 64), nil
	case nodeNumber:
		return append(dst, n.s...), nil
	case nodeString:
		return appendString(dst, n.s), nil
	case nodeTimestamp:
		return appendTimestamp(dst, n.i), nil
	case nodeObject:
		dst = append(dst, '{')
		for i := range n.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendKey(dst, n.fields[i].key)
			var err error
			if dst, err = r.appendNode(dst, &n.fields[i].val); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case nodeRows:
		return appendRows(dst, n.rows), nil
	case nodeIntro:
		return r.collector.introspect(dst, n.intro.obj, n.intro.sel)
	}
	return nil, fmt.Errorf("a result node of kind %d", n.kind)
}

// appendRows writes rows as a list of objects, one key per selected
// column. The executor checked that every selected column has a value per
// row.
func appendRows(dst []byte, r *rows) []byte {
	dst = append(dst, '[')
	n := r.len()
	for k := 0; k < n; k++ {
		row := r.row(k)
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		for i, f := range r.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendKey(dst, f.key)
			if f.col < 0 {
				dst = appendString(dst, r.typename)
				continue
			}
			cells := &r.res.Cols[f.col]
			switch {
			case cells.Null != nil && cells.Null[row]:
				dst = append(dst, "null"...)
			case r.table.Columns[f.col].Type == analytics.Timestamp:
				dst = appendTimestamp(dst, cells.Ints[row])
			case r.table.Columns[f.col].Type == analytics.Text:
				dst = appendString(dst, cells.Texts[row])
			default:
				dst = strconv.AppendInt(dst, cells.Ints[row], 10)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendTimestamp writes a timestamp as PostgreSQL's JSON does:
// "2024-01-08T00:00:00".
func appendTimestamp(dst []byte, micros int64) []byte {
	dst = append(dst, '"')
	dst = pgtext.AppendTimestamp(dst, micros)
	return append(dst, '"')
}

func appendKey(dst []byte, key string) []byte {
	dst = appendString(dst, key)
	return append(dst, ':')
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
