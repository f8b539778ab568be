package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
)

// POST /v1/graphql: authentication, the body within its limit, then the
// executor; every answer is HTTP 200 with a Hasura-shaped body.

// writeGraphQL renders a GraphQL response within ctx and writes it:
// always HTTP 200, as Hasura's /v1/graphql does, errors included, which
// are never compressed. The error metric reads the codes from the
// response value.
func (s *Server) writeGraphQL(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *graphql.Response) {
	out := s.getBuf()
	defer s.putBuf(out)
	body := resp.Render(ctx, out.AvailableBuffer())
	if resp.Len() == 1 && resp.Result(0).Err != nil {
		noCompress(r)
	}
	if s.m != nil {
		for _, e := range resp.Errors() {
			s.m.errors.WithLabelValues(e.Code).Inc()
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	if cap(body) > out.Cap() {
		// Keep the grown buffer for the next answer (putBuf drops those
		// over its limit): re-growing it cost more than writing a large
		// answer.
		*out = *bytes.NewBuffer(body[:0])
	}
}

func graphqlError(code, msg string) *graphql.Response {
	return graphql.ErrorResponse(graphql.NewError(code, msg))
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	p, err := s.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeAccessDenied, err.Error()))
		return
	}
	if p.KeyID != "" && !p.AccountHeader {
		s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeAccessDenied, "X-Moveo-Account-Id header required with an API key: send the UUID of the key's account"))
		return
	}
	if !p.Can(auth.ScopeRead) {
		s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeAccessDenied, "this API key may not read; it needs the read scope"))
		return
	}
	buf := s.getBuf()
	defer s.putBuf(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxQueryBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeBadRequest, fmt.Sprintf("the request body is larger than %d bytes, the limit for /v1/graphql (--max-query-bytes)", s.cfg.MaxQueryBytes)))
			return
		}
		s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeBadRequest, "could not read the request body: "+err.Error()))
		return
	}
	// The time limit covers every stage, writing the answer included;
	// the client leaving cancels r's context, and so the work.
	ctx, cancel := withTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	s.writeGraphQL(ctx, w, r, s.exec.ExecuteBody(ctx, graphql.Caller{Account: p.Account}, buf.Bytes()))
}

// graphqlGet answers GET /v1/graphql as Hasura does: GET is its route for
// persisted queries, which it does not support.
func (s *Server) graphqlGet(w http.ResponseWriter, r *http.Request) {
	s.writeGraphQL(r.Context(), w, r, graphqlError(graphql.CodeNotSupported, graphql.ErrPersistedQueryNotSupported))
}
