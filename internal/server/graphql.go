package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
)

// POST /v1/graphql: authentication, the body within its limit, then the
// executor; every answer is HTTP 200 with a Hasura-shaped body.

// writeGraphQL renders a GraphQL response and writes it: always HTTP 200,
// as Hasura's /v1/graphql does, errors included. The error metric reads
// the codes from the response value.
func (s *Server) writeGraphQL(w http.ResponseWriter, resp *graphql.Response) {
	out := s.getBuf()
	defer s.putBuf(out)
	body := resp.AppendJSON(out.AvailableBuffer())
	if s.m != nil {
		for _, e := range resp.Errors() {
			s.m.errors.WithLabelValues(e.Code).Inc()
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func graphqlError(code, msg string) *graphql.Response {
	return graphql.ErrorResponse(graphql.NewError(code, msg))
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	p, err := s.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, err.Error()))
		return
	}
	if p.KeyID != "" && !p.AccountHeader {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, "X-Moveo-Account-Id header required with an API key: send the UUID of the key's account"))
		return
	}
	if !p.Can(auth.ScopeRead) {
		s.writeGraphQL(w, graphqlError(graphql.CodeAccessDenied, "this API key may not read; it needs the read scope"))
		return
	}
	buf := s.getBuf()
	defer s.putBuf(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxQueryBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeGraphQL(w, graphqlError(graphql.CodeBadRequest, fmt.Sprintf("the request body is larger than %d bytes, the limit for /v1/graphql (--max-query-bytes)", s.cfg.MaxQueryBytes)))
			return
		}
		s.writeGraphQL(w, graphqlError(graphql.CodeBadRequest, "could not read the request body: "+err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	s.writeGraphQL(w, s.exec.ExecuteBody(ctx, graphql.Caller{Account: p.Account}, buf.Bytes()))
}

func (s *Server) graphqlGet(w http.ResponseWriter, r *http.Request) {
	s.writeGraphQL(w, graphqlError(graphql.CodeNotSupported, "GET requests to /v1/graphql are not supported; POST {\"query\": ...} as JSON"))
}
