package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The transport as Hasura's HTTP layer does it (facts in
// hasura-source-facts.md, "Transport"), as one middleware around every
// route:
//
//   - x-request-id: the client's, or a new one, on every answer, and on
//     the access log line and every log line written with the request's
//     context (LogHandler);
//   - CORS: every origin allowed unless Config.CORSOrigins narrows it; an
//     OPTIONS request from an allowed origin is a preflight answered 204
//     with the requested headers (Hasura's Middleware.hs);
//   - gzip: successful answers of 700 bytes or more, when an
//     Accept-Encoding token starts with "gzip"; level 1, level 6 above
//     20 000 bytes (Hasura's Compression.hs). Errors are never compressed.

// Compression thresholds, as Hasura's.
const (
	gzipMinBytes  = 700
	gzipHighBytes = 20000
)

// corsMethods are the methods a preflight allows, as Hasura's default
// CORS policy lists them.
const corsMethods = "GET,POST,PUT,PATCH,DELETE,OPTIONS"

// transportKey keys a request's *compressWriter, which holds its ID, in
// its context: one value for both saves an allocation per request.
type transportKey struct{}

// RequestID returns the x-request-id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if w, ok := ctx.Value(transportKey{}).(*compressWriter); ok {
		return w.requestID
	}
	return ""
}

// LogHandler wraps h so that every record logged with a request's context
// carries its request ID (attribute request_id), so that a client's
// report can be found in the log.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// newRequestID is a random UUID (version 4), as Hasura generates them,
// from math/rand/v2's generator (ChaCha8, seeded from the system's
// randomness): an ID must be unique, not secret.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:16], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// corsPolicy says which origins may call Tally from a browser.
type corsPolicy struct {
	all       bool
	exact     map[string]bool
	wildcards []wildcardOrigin // scheme://*.domain[:port]
}

type wildcardOrigin struct{ scheme, suffix, port string }

// newCORSPolicy reads Config.CORSOrigins: empty, or "*", allows every
// origin; otherwise each entry is an origin ("https://app.example.com",
// "http://localhost:3000") or a wildcard on subdomains
// ("https://*.example.com"), as Hasura's --cors-domain takes them.
func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{exact: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
		case o == "*":
			p.all = true
		case strings.Contains(o, "://*."):
			scheme, rest, _ := strings.Cut(o, "://*.")
			host, port, err := net.SplitHostPort(rest)
			if err != nil {
				host, port = rest, ""
			}
			p.wildcards = append(p.wildcards, wildcardOrigin{scheme: strings.ToLower(scheme), suffix: "." + strings.ToLower(host), port: port})
		default:
			p.exact[strings.ToLower(strings.TrimRight(o, "/"))] = true
		}
	}
	if len(p.exact) == 0 && len(p.wildcards) == 0 {
		p.all = true
	}
	return p
}

// ValidateCORSOrigins reports the first entry of origins that is neither
// "*", an origin scheme://host[:port] nor a wildcard scheme://*.domain.
func ValidateCORSOrigins(origins []string) error {
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "" || o == "*" {
			continue
		}
		scheme, rest, ok := strings.Cut(o, "://")
		rest = strings.TrimPrefix(rest, "*.")
		if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#*") {
			return errors.New("--cors-origins: " + o + " is not an origin such as https://app.example.com, http://localhost:3000 or https://*.example.com")
		}
	}
	return nil
}

func (p corsPolicy) allows(origin string) bool {
	if p.all {
		return true
	}
	o := strings.ToLower(origin)
	if p.exact[o] {
		return true
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = rest, ""
	}
	for _, w := range p.wildcards {
		if w.scheme == scheme && w.port == port && strings.HasSuffix(host, w.suffix) && len(host) > len(w.suffix) {
			return true
		}
	}
	return false
}

// noCompress marks the answer of r as not to be compressed: Hasura
// compresses no error.
func noCompress(r *http.Request) {
	if w, ok := r.Context().Value(transportKey{}).(*compressWriter); ok {
		w.noCompress = true
	}
}

// transport wraps every route with the request ID, CORS, gzip and the
// access log.
func (s *Server) transport(next http.Handler) http.Handler {
	cors := newCORSPolicy(s.cfg.CORSOrigins)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &compressWriter{ResponseWriter: w, gzipOK: acceptsGzip(r.Header), status: http.StatusOK}
		cw.requestID = r.Header.Get("X-Request-Id")
		if cw.requestID == "" {
			cw.requestID = newRequestID()
		}
		cw.idHeader[0] = cw.requestID
		w.Header()["X-Request-Id"] = cw.idHeader[:]
		r = r.WithContext(context.WithValue(r.Context(), transportKey{}, cw))

		if origin := r.Header.Get("Origin"); origin != "" && cors.allows(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
				h.Set("Access-Control-Max-Age", "1728000")
				w.WriteHeader(http.StatusNoContent)
				s.accessLog(r, http.StatusNoContent, 0, start)
				return
			}
		}
		if r.Method == http.MethodHead || r.Header.Get("Upgrade") != "" {
			cw.gzipOK = false
		}
		next.ServeHTTP(cw, r)
		cw.finish()
		s.accessLog(r, cw.status, cw.bytes, start)
	})
}

// accessLog logs one request, with its request_id: a Logger whose
// handler is LogHandler's adds it from r's context, for others it is
// added here.
func (s *Server) accessLog(r *http.Request, status int, bytes int64, start time.Time) {
	if !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	if rh, adds := s.log.Handler().(requestIDHandler); adds {
		if th, ok := rh.Handler.(*TextHandler); ok && th.accessLine(time.Now(), r.Method, r.URL.Path, status, bytes, time.Since(start), RequestID(r.Context())) {
			return
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.Int64("bytes", bytes), slog.Duration("duration", time.Since(start)))
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Int64("bytes", bytes), slog.Duration("duration", time.Since(start)), slog.String("request_id", RequestID(r.Context())))
}

// acceptsGzip reports whether an Accept-Encoding token starts with
// "gzip" ("gzip", "gzip, deflate, br"); "*" does not count, as in Hasura.
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.HasPrefix(strings.TrimSpace(tok), "gzip") {
				return true
			}
		}
	}
	return false
}

// gzipPools hold writers of level 1 and of level 6.
var gzipPools = [2]sync.Pool{
	{New: func() any { w, _ := gzip.NewWriterLevel(nil, 1); return w }},
	{New: func() any { w, _ := gzip.NewWriterLevel(nil, 6); return w }},
}

// compressWriter holds the first bytes of an answer until it knows
// whether to compress it: answers of 200 or 201 without an encoding of
// their own, not marked noCompress, of 700 bytes or more. It holds up to
// 20 000 bytes to choose the level.
type compressWriter struct {
	http.ResponseWriter
	requestID  string
	idHeader   [1]string // the x-request-id header's value, without another allocation
	noCompress bool      // set by the handler: an error
	gzipOK     bool
	status     int
	header     bool // WriteHeader was called
	decided    bool
	pending    []byte
	gz         *gzip.Writer
	pool       int // gzipPools index: 0 level 1, 1 level 6
	bytes      int64
}

func (w *compressWriter) WriteHeader(code int) {
	if w.header {
		return
	}
	w.header = true
	w.status = code
	if !w.compressible() {
		w.decide(false, 0)
	}
}

// compressible reports whether the answer may be compressed, whatever its
// size.
func (w *compressWriter) compressible() bool {
	return w.gzipOK && !w.noCompress && (w.status == http.StatusOK || w.status == http.StatusCreated) &&
		w.Header().Get("Content-Encoding") == ""
}

func (w *compressWriter) Write(p []byte) (int, error) {
	if !w.header {
		w.WriteHeader(http.StatusOK)
	}
	if w.decided {
		return w.write(p)
	}
	if len(w.pending) == 0 && len(p) > gzipHighBytes {
		// One large write, as the GraphQL handler makes: no copy.
		w.decide(true, len(p))
		return w.write(p)
	}
	w.pending = append(w.pending, p...)
	if len(w.pending) > gzipHighBytes {
		w.decide(true, len(w.pending))
	}
	return len(p), nil
}

func (w *compressWriter) write(p []byte) (int, error) {
	if w.gz != nil {
		return w.gz.Write(p)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// decide writes the header, compressed when compress says so and the
// answer, of at least size bytes, qualifies; then what was held.
func (w *compressWriter) decide(compress bool, size int) {
	if w.decided {
		return
	}
	w.decided = true
	if compress && w.compressible() && size >= gzipMinBytes {
		h := w.Header()
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		w.pool = 0
		if size > gzipHighBytes {
			w.pool = 1
		}
		w.gz = gzipPools[w.pool].Get().(*gzip.Writer)
		w.gz.Reset(countingWriter{w})
	}
	w.ResponseWriter.WriteHeader(w.status)
	if size > 0 {
		p := w.pending
		w.pending = nil
		w.write(p)
	}
}

// countingWriter writes compressed bytes through, counting them.
type countingWriter struct{ w *compressWriter }

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.ResponseWriter.Write(p)
	c.w.bytes += int64(n)
	return n, err
}

// finish decides on what is held, once the handler returned, and ends
// the gzip stream.
func (w *compressWriter) finish() {
	if !w.header && len(w.pending) == 0 {
		// The handler wrote nothing: an empty 200.
		w.decided = true
		return
	}
	w.decide(true, len(w.pending))
	if w.gz != nil {
		w.gz.Close()
		gzipPools[w.pool].Put(w.gz)
		w.gz = nil
	}
}

// Flush sends what is held (compressed from here on if it qualifies).
func (w *compressWriter) Flush() {
	w.decide(true, len(w.pending))
	if w.gz != nil {
		w.gz.Flush()
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket upgrades).
func (w *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.decided = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *compressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
