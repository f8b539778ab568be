package server

import (
	"bytes"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// TextHandler is slog's TextHandler writing to w, which also formats the
// server's access log lines itself: they are one per request, and slog's
// generic path (a record, its attributes, the handler's checks of every
// value) cost about 7 % of the server's time under load. Its lines are
// TextHandler's byte for byte (TestAccessLineIsTextHandlers); a line with
// a value TextHandler would quote goes through slog.
type TextHandler struct {
	slog.Handler
	w io.Writer
}

// NewTextHandler is slog.NewTextHandler(w, opts) with the access log's
// direct path. opts must not set ReplaceAttr or AddSource (they would
// change lines the direct path writes); NewTextHandler panics if they do.
func NewTextHandler(w io.Writer, opts *slog.HandlerOptions) *TextHandler {
	if opts != nil && (opts.ReplaceAttr != nil || opts.AddSource) {
		panic("server.NewTextHandler: ReplaceAttr and AddSource are not supported")
	}
	return &TextHandler{Handler: slog.NewTextHandler(w, opts), w: w}
}

var accessLines = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// accessLine writes, when every value is one TextHandler writes
// unquoted, the line slog would write for
// LogAttrs(ctx, LevelInfo, "http request", method, path, status, bytes,
// duration) with request_id added, at time now, and reports whether it
// did. The caller has checked that the level is enabled.
func (h *TextHandler) accessLine(now time.Time, method, path string, status int, bytes int64, d time.Duration, requestID string) bool {
	if !plain(method) || !plain(path) || (requestID != "" && !plain(requestID)) {
		return false
	}
	bp := accessLines.Get().(*[]byte)
	b := append((*bp)[:0], "time="...)
	b = appendMillis(b, now)
	b = append(b, ` level=INFO msg="http request" method=`...)
	b = append(b, method...)
	b = append(b, " path="...)
	b = append(b, path...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " duration="...)
	b = append(b, d.String()...)
	if requestID != "" {
		b = append(b, " request_id="...)
		b = append(b, requestID...)
	}
	b = append(b, '\n')
	h.w.Write(b)
	*bp = b
	accessLines.Put(bp)
	return true
}

// plain reports whether TextHandler writes s as it is: not empty, and
// printable ASCII other than space, '"' and '='. (It writes some other
// strings unquoted too; those take slog's path.)
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '=' {
			return false
		}
	}
	return true
}

// appendMillis appends t as TextHandler writes a record's time: RFC 3339
// in t's zone with exactly three digits of milliseconds, truncated. The
// text of the last second is kept: the lines of one second differ only
// in their milliseconds (formatting the whole time cost 0.7 µs a line).
func appendMillis(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	c := lastSecond.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		text := t.Round(0).Truncate(time.Second).AppendFormat(nil, "2006-01-02T15:04:05.000Z07:00")
		dot := bytes.LastIndex(text, []byte(".000"))
		c = &secondText{sec: sec, loc: loc, prefix: text[:dot], zone: text[dot+4:]}
		lastSecond.Store(c)
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, c.prefix...)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, c.zone...)
}

// secondText is one second's time as appendMillis writes it, split
// around the milliseconds.
type secondText struct {
	sec          int64
	loc          *time.Location
	prefix, zone []byte
}

var lastSecond atomic.Pointer[secondText]
