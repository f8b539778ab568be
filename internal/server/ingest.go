package server

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/session"
)

// POST /v1/sessions: authentication, the body (plain or gzip) within its
// limit, decoding and validation by ingest, then the Ingester.

// Ingester makes a validated batch durable and visible to queries.
type Ingester interface {
	// Ingest writes recs atomically. It returns how many records were
	// written and how many were ignored as older than the stored session.
	// When it returns nil the batch is durable.
	Ingest(ctx context.Context, recs []session.Record) (accepted, ignored int, err error)
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !p.Can(auth.ScopeWrite) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "this API key may not write sessions; it needs the write scope"})
		return
	}
	br, _ := r.Body.(*budgetReader) // nil without limitBodies (a handler test)
	body := io.Reader(http.MaxBytesReader(w, r.Body, s.cfg.MaxIngestBytes))
	// Content codings are case-insensitive (RFC 9110, section 8.4.1).
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.ingestReadError(w, err)
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, left: s.cfg.MaxIngestBytes}
		if br != nil {
			body = br.inflated(body)
		}
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: fmt.Sprintf("Content-Encoding %q is not supported; send the body plain or gzip-compressed", enc)})
		return
	}
	icfg := s.cfg.Ingest
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc == "" || enc == "identity" {
		icfg.SizeHint = min(max(r.ContentLength, 0), s.cfg.MaxIngestBytes) // a gzip body's is not its decoded size
	}
	recs, err := ingest.Decode(ingest.ReaderErrors(body), p.Account, icfg)
	if err != nil {
		var (
			be *ingest.BatchError
			tm *ingest.TooManyError
			se *ingest.SyntaxError
		)
		switch {
		case errors.As(err, &be):
			n := len(be.Problems) + be.More
			msg := fmt.Sprintf("%d problems in the batch; nothing was written", n)
			if n == 1 {
				msg = "1 problem in the batch; nothing was written"
			}
			if be.More > 0 {
				msg += fmt.Sprintf(" (the first %d are listed)", len(be.Problems))
			}
			writeJSON(w, http.StatusBadRequest, errorBody{Error: msg, Problems: be.Problems})
		case errors.As(err, &tm):
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: tm.Error() + "; nothing was written"})
		case errors.As(err, &se):
			writeJSON(w, http.StatusBadRequest, errorBody{Error: se.Error() + "; nothing was written"})
		default:
			s.ingestReadError(w, err)
		}
		return
	}
	accepted, ignored, err := s.ingest.Ingest(r.Context(), recs)
	if err != nil {
		s.ingestFailed(w, r, err, len(recs))
		return
	}
	if s.m != nil {
		s.m.ingested.Add(float64(accepted))
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": accepted, "ignored": ignored})
}

// retryAfterSeconds is the Retry-After of a 503: long enough for a
// briefly busy store or database, short enough that a client's batch
// waits little once the fault has passed.
const retryAfterSeconds = "5"

// ingestFailed answers a batch the Ingester did not store: 503 with
// Retry-After when the failure may pass (session.ErrTemporary: the
// database unreachable or busy, the disk full; or the client left), 500
// when it will not (a read-only data directory, a damaged database, data
// the database refuses, a bug), so that clients do not retry it forever.
// Either way nothing was written.
func (s *Server) ingestFailed(w http.ResponseWriter, r *http.Request, err error, records int) {
	if errors.Is(err, session.ErrTemporary) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.log.WarnContext(r.Context(), "ingest failed; the client may retry", "err", err, "records", records)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the batch could not be stored and nothing was written; retry later (" + err.Error() + ")"})
		return
	}
	s.log.ErrorContext(r.Context(), "ingest failed", "err", err, "records", records)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "the batch could not be stored and nothing was written; retrying will not help until the server's operator acts (" + err.Error() + ")"})
}

func (s *Server) ingestReadError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	var le *limitError
	if s.bodyError(w, err) {
		return
	}
	switch {
	case errors.As(err, &mbe), errors.As(err, &le):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("the request body is larger than %d bytes (after decompression), the limit for /v1/sessions; split the batch or raise --max-ingest-bytes; nothing was written", s.cfg.MaxIngestBytes)})
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body is not valid gzip (" + err.Error() + "); nothing was written"})
	default:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "could not read the request body (" + err.Error() + "); nothing was written"})
	}
}

type limitError struct{}

func (limitError) Error() string { return "decompressed body too large" }

// limitedReader fails, rather than stopping quietly, past its limit: a
// stream of exactly left bytes reads to its end; one byte more is a
// *limitError.
type limitedReader struct {
	r    io.Reader
	left int64 // bytes still allowed; -1 once past the limit
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &limitError{}
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Ask for one byte more than allowed: getting it is the only way to
	// tell a stream that ends at the limit from one that goes past it.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n, l.left = int(l.left), -1
		return n, &limitError{}
	}
	l.left -= int64(n)
	return n, err
}
