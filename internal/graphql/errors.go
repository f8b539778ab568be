package graphql

import (
	"context"
	"errors"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/session"
)

// Hasura error codes (Hasura/Base/Error.hs) that Tally uses.
const (
	CodeValidationFailed = "validation-failed"
	CodeParseFailed      = "parse-failed"
	CodeDataException    = "data-exception"
	CodeAccessDenied     = "access-denied"
	CodeInvalidJSON      = "invalid-json"
	CodeBadRequest       = "bad-request"
	CodeNotSupported     = "not-supported"
	CodeUnexpected       = "unexpected"
	// CodeUnexpectedPayload is Hasura's answer to a subscription sent
	// over HTTP.
	CodeUnexpectedPayload = "unexpected-payload"
	// CodeTimeout is Tally's: Hasura's community edition has no time
	// limit (docs/hasura.md lists the difference).
	CodeTimeout = "timeout"
)

// Error is one GraphQL error: Hasura's code, where in the request, and a
// message that names the input and what is expected. It renders as
// {"message":...,"extensions":{"path":...,"code":...}}, in that order, as
// Hasura sends it.
type Error struct {
	Code    string
	Path    Path
	Message string
}

func (e *Error) Error() string {
	return e.Code + ": " + e.Message + " at " + e.Path.String()
}

// NewError makes an error at "$", for failures before a request reaches
// the executor (authentication, an unreadable body).
func NewError(code, msg string) *Error { return &Error{Code: code, Message: msg} }

func newError(code string, at *path, msg string) *Error {
	return &Error{Code: code, Path: at.freeze(), Message: msg}
}

// AccessError is an authentication or authorisation failure raised before
// or during execution; it maps to access-denied.
type AccessError struct{ Message string }

func (e *AccessError) Error() string { return e.Message }

// argErrorCode is Hasura's code for an argument error of kind k.
func argErrorCode(k analytics.ErrorKind) string {
	switch k {
	case analytics.KindParse:
		return CodeParseFailed
	case analytics.KindValidation:
		return CodeValidationFailed
	}
	return CodeDataException
}

// toError maps any error met while executing (during stage) to Hasura's
// shape. This is the one place codes are chosen. Unknown errors become
// "unexpected" with a generic message; their details go to the log only.
func (e *Executor) toError(r *run, stage string, err error) *Error {
	ctx, log := r.ctx, e.cfg.Logger
	var (
		ge  *Error
		acc *AccessError
	)
	switch {
	case errors.As(err, &ge):
		return ge
	case errors.As(err, &acc):
		return NewError(CodeAccessDenied, acc.Message)
	case errors.Is(err, session.ErrUnavailable):
		log.ErrorContext(ctx, "graphql: database unreachable", "err", err)
		return NewError(CodeUnexpected, "the database is unreachable, so the query could not run; retry later (GET /healthz reports when it is back)")
	case errors.Is(err, context.DeadlineExceeded):
		return e.timeError(stage, time.Since(r.start))
	case errors.Is(err, context.Canceled):
		return NewError(CodeUnexpected, "the request was cancelled")
	}
	log.ErrorContext(ctx, "graphql: unexpected error", "err", err)
	return NewError(CodeUnexpected, "unexpected error while executing the query; the server log has details")
}
