package graphql

import (
	"context"
	"errors"
	"log/slog"

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
	CodeTimeout          = "timeout"
)

// Error is one GraphQL error in Hasura's shape. Field order matters: Hasura
// sends message before extensions, and path before code.
type Error struct {
	Message    string     `json:"message"`
	Extensions Extensions `json:"extensions"`
}

// Extensions carries Hasura's path (a JSONPath string such as
// "$.selectionSet.rows.args.args.desk_ids") and code.
type Extensions struct {
	Path string `json:"path"`
	Code string `json:"code"`
}

func (e *Error) Error() string {
	return e.Extensions.Code + ": " + e.Message + " at " + e.Extensions.Path
}

func newError(code, path, msg string) *Error {
	return &Error{Message: msg, Extensions: Extensions{Path: path, Code: code}}
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

// toError maps any error met while executing to Hasura's shape. This is the
// one place codes are chosen. Unknown errors become "unexpected" with a
// generic message; their details go to the log only.
func toError(ctx context.Context, log *slog.Logger, err error) *Error {
	var ge *Error
	if errors.As(err, &ge) {
		return ge
	}
	var acc *AccessError
	switch {
	case errors.As(err, &acc):
		return newError(CodeAccessDenied, "$", acc.Message)
	case errors.Is(err, session.ErrUnavailable):
		if log != nil {
			log.ErrorContext(ctx, "graphql: database unreachable", "err", err)
		}
		return newError(CodeUnexpected, "$", "the database is unreachable, so the query could not run; retry later (GET /healthz reports when it is back)")
	case errors.Is(err, context.DeadlineExceeded):
		return newError(CodeTimeout, "$", "the query took longer than the server's time limit and was cancelled; narrow the time range or filters")
	case errors.Is(err, context.Canceled):
		return newError(CodeUnexpected, "$", "the request was cancelled")
	}
	if log != nil {
		log.ErrorContext(ctx, "graphql: unexpected error", "err", err)
	}
	return newError(CodeUnexpected, "$", "unexpected error while executing the query; the server log has details")
}
