package graphql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// Rendering: a Response value to the JSON Hasura sends. Objects keep
// their keys in selection order; an error is
// {"errors":[{"message":...,"extensions":{"path":...,"code":...}}]}.

// Render appends the response body to dst and returns it: the one
// result's object, or an array of them for a batch. It is always valid
// JSON. Rendering stops when the body passes the executor's
// MaxResponseBytes or ctx ends: the result being written becomes that
// error, as do those after it, and Errors reports them.
func (r *Response) Render(ctx context.Context, dst []byte) []byte {
	w := renderer{ctx: ctx, limit: -1, resp: r}
	if r.e != nil {
		w.limit = len(dst) + r.e.cfg.MaxResponseBytes
	}
	if !r.batch {
		return w.result(dst, &r.results[0])
	}
	dst = append(dst, '[')
	for i := range r.results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = w.result(dst, &r.results[i])
	}
	return append(dst, ']')
}

// AppendJSON is Render without a deadline.
func (r *Response) AppendJSON(dst []byte) []byte {
	return r.Render(context.Background(), dst)
}

// renderer writes one response within its limits.
type renderer struct {
	ctx   context.Context
	limit int // the length of dst past which rendering stops; -1: none
	steps int
	resp  *Response
	col   *collector
}

// errStop ends rendering once the limit or the context is reached; the
// result's error says which.
var errStop = errors.New("rendering stopped")

// check reports whether rendering must stop, at dst's length: the
// response limit is compared every call, the context every 1024 calls.
func (w *renderer) check(dst []byte) bool {
	if w.limit >= 0 && len(dst) > w.limit {
		return true
	}
	w.steps++
	return w.steps&1023 == 0 && w.ctx.Err() != nil
}

// stopError is the error of a result whose rendering stopped at size
// bytes of the body.
func (w *renderer) stopError(size int) *Error {
	e := w.resp.e
	if w.ctx.Err() != nil {
		return e.ctxError(&run{ctx: w.ctx, start: w.resp.start}, "writing the answer")
	}
	return NewError(CodeDataException, fmt.Sprintf("the answer reached %d bytes and was stopped: the limit is %d (%s); select fewer fields, aliases or buckets", size, e.cfg.MaxResponseBytes, flagMaxResponseBytes))
}

func (w *renderer) result(dst []byte, res *Result) []byte {
	if res.Err != nil {
		return appendError(dst, res.Err)
	}
	start := len(dst)
	if w.check(dst) {
		res.Err = w.stopError(len(dst))
		return appendError(dst, res.Err)
	}
	w.col = &res.collector
	dst = append(dst, `{"data":`...)
	dst, err := w.node(dst, &res.data)
	if err != nil {
		if errors.Is(err, errStop) {
			res.Err = w.stopError(len(dst))
		} else {
			w.log().ErrorContext(w.ctx, "graphql: cannot render the result", "err", err)
			res.Err = NewError(CodeUnexpected, "unexpected error while writing the answer; the server log has details")
		}
		return appendError(dst[:start], res.Err)
	}
	return append(dst, '}')
}

func (w *renderer) log() *slog.Logger {
	if w.resp.e == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.resp.e.cfg.Logger
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

func (w *renderer) node(dst []byte, n *node) ([]byte, error) {
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
			if dst, err = w.node(dst, &n.fields[i].val); err != nil {
				return dst, err
			}
		}
		if w.check(dst) {
			return dst, errStop
		}
		return append(dst, '}'), nil
	case nodeRows:
		return w.rows(dst, n.rows)
	case nodeIntro:
		return w.introspect(dst, n.intro.obj, n.intro.sel)
	}
	return dst, fmt.Errorf("a result node of kind %d", n.kind)
}

// rows writes rows as a list of objects, one key per selected column.
// The executor checked that every selected column has a value per row.
// Each key is escaped once, and the date of consecutive timestamps on the
// same day is written once (dateCache): long answers are mostly keys and
// timestamps.
func (w *renderer) rows(dst []byte, r *rows) ([]byte, error) {
	dst = append(dst, '[')
	n := r.len()
	// keys[ends[i-1]:ends[i]] is `,"key":` of field i (no comma for the first).
	var keyBuf [256]byte
	var endBuf [16]int
	keys, ends := keyBuf[:0], endBuf[:0]
	for i, f := range r.fields {
		if i > 0 {
			keys = append(keys, ',')
		}
		keys = appendKey(keys, f.key)
		ends = append(ends, len(keys))
	}
	var dates dateCache
	for k := 0; k < n; k++ {
		if w.check(dst) {
			return dst, errStop
		}
		row := r.row(k)
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		from := 0
		for i, f := range r.fields {
			dst = append(dst, keys[from:ends[i]]...)
			from = ends[i]
			if f.col < 0 {
				dst = appendString(dst, r.typename)
				continue
			}
			cells := &r.res.Cols[f.col]
			switch {
			case cells.Null != nil && cells.Null[row]:
				dst = append(dst, "null"...)
			case r.table.Columns[f.col].Type == analytics.Timestamp:
				dst = dates.appendTimestamp(dst, cells.Ints[row])
			case r.table.Columns[f.col].Type == analytics.Text:
				dst = appendString(dst, cells.Texts[row])
			default:
				dst = strconv.AppendInt(dst, cells.Ints[row], 10)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// dateCache writes timestamps as appendTimestamp does, keeping the date
// part ("2024-01-08T") of the last day written: a timestamp on that day
// at a whole second only needs its time of day.
type dateCache struct {
	day  int64 // days since the epoch of the cached date; valid when n > 0
	date [16]byte
	n    int
}

func (c *dateCache) appendTimestamp(dst []byte, micros int64) []byte {
	day := micros / pgtext.MicrosPerDay
	if micros%pgtext.MicrosPerDay < 0 {
		day--
	}
	tod := micros - day*pgtext.MicrosPerDay
	if tod%pgtext.MicrosPerSecond != 0 {
		return appendTimestamp(dst, micros)
	}
	if c.n == 0 || day != c.day {
		// The date as AppendTimestamp writes midnight of that day:
		// "YYYY-MM-DDT00:00:00" and nothing else, or no caching (years
		// of other widths, BC dates).
		var b [32]byte
		out := pgtext.AppendTimestamp(b[:0], day*pgtext.MicrosPerDay)
		if len(out) != 19 || string(out[10:]) != "T00:00:00" {
			c.n = 0
			return appendTimestamp(dst, micros)
		}
		c.day, c.n = day, 12
		c.date[0] = '"'
		copy(c.date[1:], out[:11])
	}
	secs := tod / pgtext.MicrosPerSecond
	h, m, sec := secs/3600, secs/60%60, secs%60
	dst = append(dst, c.date[:c.n]...)
	return append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+sec/10), byte('0'+sec%10), '"')
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
