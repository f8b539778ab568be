package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Bodies held open (SPEC section 10: memory is bounded, request bodies
// held at once by bytes). Each route bounds its own body (--max-query-bytes,
// --max-ingest-bytes), but a thousand connections each trickling a body
// in would hold a thousand bodies. So every body is read under one
// process-wide budget, Config.MaxBodyBytesInFlight: the bytes a request has
// read count against it until its answer is written, because the handler
// keeps them (the GraphQL document, the decoded batch) that long.
//
// The first smallBody bytes of each body are not counted: every
// connection already costs about that much in buffers and stack, and
// small requests — a dashboard's query, a health probe's
// { __typename } — must keep working while large bodies fill the budget.
//
// When the budget is spent, a new request whose body may be larger than
// smallBody is refused at once with 503 and Retry-After, and a request
// whose next bytes would overrun the budget fails its read with
// *BodyBudgetError (ingestion answers 503 with Retry-After; GraphQL a
// bad-request error naming the limit). Refusing rather than waiting is
// deliberate: a request that waited for room would still hold its
// connection and the bytes it had read, and the waiters would form the
// unbounded queue the budget is there to prevent.
//
// Bodies must also keep moving: every read waits at most
// Config.BodyIdleTimeout for the next bytes, and the whole body must
// arrive within Config.BodyTimeout (*BodyTimeoutError, 408).

// BodyBudgetError is a request body that did not fit in the bytes the
// server holds for bodies at once.
type BodyBudgetError struct {
	Limit int64 // Config.MaxBodyBytesInFlight
	Held  int64 // bytes held by requests in flight when this one was refused
}

func (e *BodyBudgetError) Error() string {
	return fmt.Sprintf("the server is holding %d bytes of request bodies in flight, and its limit is %d (--max-body-bytes-in-flight); nothing was read from this request; retry in a few seconds", e.Held, e.Limit)
}

// BodyTimeoutError is a request body that stopped arriving.
type BodyTimeoutError struct {
	Idle  bool          // no bytes for Limit (else the whole body took longer)
	Limit time.Duration // Config.BodyIdleTimeout or Config.BodyTimeout
	Read  int64         // bytes received before the timeout
}

func (e *BodyTimeoutError) Error() string {
	if e.Idle {
		return fmt.Sprintf("the request body stopped arriving: no bytes for %s after %d bytes, the limit set by --body-idle-timeout", e.Limit, e.Read)
	}
	return fmt.Sprintf("the request body took longer than %s to arrive (%d bytes received), the limit set by --body-timeout", e.Limit, e.Read)
}

// bodyDefaults sets the unset body limits to their defaults.
func (c Config) bodyDefaults() Config {
	if c.MaxBodyBytesInFlight <= 0 {
		c.MaxBodyBytesInFlight = 128 << 20
	}
	if c.BodyIdleTimeout <= 0 {
		c.BodyIdleTimeout = 10 * time.Second
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = 2 * time.Minute
	}
	return c
}

// bodyBudget counts the bytes of request bodies held at once.
type bodyBudget struct {
	limit int64
	held  atomic.Int64
}

// take reserves n bytes; false (reserving nothing) when they do not fit.
func (b *bodyBudget) take(n int64) bool {
	if b.held.Add(n) > b.limit {
		b.held.Add(-n)
		return false
	}
	return true
}

func (b *bodyBudget) give(n int64) { b.held.Add(-n) }

// limitBodies reads every request body under one budget and the body
// timeouts, and refuses a request with a body while the budget is spent.
func (s *Server) limitBodies(h http.Handler) http.Handler {
	budget := &bodyBudget{limit: s.cfg.MaxBodyBytesInFlight}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		if held := budget.held.Load(); held >= budget.limit && (r.ContentLength < 0 || r.ContentLength > smallBody) {
			s.refuseBody(w, &BodyBudgetError{Limit: budget.limit, Held: held})
			return
		}
		br := &budgetReader{
			r:        r.Body,
			budget:   budget,
			rc:       http.NewResponseController(w),
			idle:     s.cfg.BodyIdleTimeout,
			total:    s.cfg.BodyTimeout,
			deadline: time.Now().Add(s.cfg.BodyTimeout),
		}
		defer br.release()
		r.Body = br
		h.ServeHTTP(w, r)
	})
}

// refuseBody answers a request refused before its body was read.
func (s *Server) refuseBody(w http.ResponseWriter, err *BodyBudgetError) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
}

// bodyError answers a body read that failed for the budget (503 with
// Retry-After) or a timeout (408); false for other errors.
func (s *Server) bodyError(w http.ResponseWriter, err error) bool {
	var be *BodyBudgetError
	var te *BodyTimeoutError
	switch {
	case errors.As(err, &be):
		s.refuseBody(w, be)
	case errors.As(err, &te):
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestTimeout, errorBody{Error: te.Error() + "; nothing was written"})
	default:
		return false
	}
	return true
}

// budgetReader is a request body read under the budget and the timeouts.
// It is used by one handler goroutine.
type budgetReader struct {
	r        io.ReadCloser
	budget   *bodyBudget
	rc       *http.ResponseController // nil once it cannot set deadlines
	idle     time.Duration
	total    time.Duration
	deadline time.Time // the whole body's
	read     int64     // bytes read so far
	held     int64     // of those, the bytes counted against the budget
	err      error     // sticky: a failed read fails every later one
}

// chunk is the most a read asks for at once, so a refused read wastes
// little and a request never holds much more than it has used.
const chunk = 32 << 10

// smallBody is the part of each body the budget does not count.
const smallBody = 16 << 10

// counted is how many of the bytes from offset `from` to `to` of a body
// count against the budget.
func counted(from, to int64) int64 {
	return max(0, to-smallBody) - max(0, from-smallBody)
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) > chunk {
		p = p[:chunk]
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := counted(b.read, b.read+int64(len(p)))
	if !b.budget.take(want) {
		b.err = &BodyBudgetError{Limit: b.budget.limit, Held: b.budget.held.Load()}
		return 0, b.err
	}
	now := time.Now()
	if !now.Before(b.deadline) {
		b.budget.give(want)
		b.err = &BodyTimeoutError{Limit: b.total, Read: b.read}
		return 0, b.err
	}
	// The per-read deadline replaces http.Server's ReadTimeout for this
	// connection, so it never goes past the whole body's. A writer that
	// cannot set one (a test's recorder) is not asked again.
	idleEnd := now.Add(b.idle)
	if b.rc != nil && b.rc.SetReadDeadline(minTime(idleEnd, b.deadline)) != nil {
		b.rc = nil
	}
	n, err := b.r.Read(p)
	got := counted(b.read, b.read+int64(n))
	b.budget.give(want - got)
	b.held += got
	b.read += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		te := &BodyTimeoutError{Idle: true, Limit: b.idle, Read: b.read}
		if !idleEnd.Before(b.deadline) {
			te.Idle, te.Limit = false, b.total
		}
		b.err = te
		return n, b.err
	}
	if err == io.EOF && b.rc != nil {
		// Nothing more to read: later writes have no read deadline.
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *budgetReader) Close() error { return b.r.Close() }

// inflated returns r, the decompressed form of this body, with every
// byte it yields counted against the budget as well: a gzip body of
// 64 KB may inflate to the route's whole limit, and the handler holds
// what it decodes from it until its answer is written. The bytes are
// given back by release. A read that does not fit fails with
// *BodyBudgetError.
func (b *budgetReader) inflated(r io.Reader) io.Reader {
	return &inflatedReader{r: r, b: b}
}

type inflatedReader struct {
	r   io.Reader
	b   *budgetReader
	err error
}

func (z *inflatedReader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if len(p) > chunk {
		p = p[:chunk]
	}
	want := int64(len(p))
	if !z.b.budget.take(want) {
		z.err = &BodyBudgetError{Limit: z.b.budget.limit, Held: z.b.budget.held.Load()}
		return 0, z.err
	}
	n, err := z.r.Read(p)
	z.b.budget.give(want - int64(n))
	z.b.held += int64(n)
	return n, err
}

// release gives back what the request held, once its answer is written.
func (b *budgetReader) release() {
	b.budget.give(b.held)
	b.held = 0
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
