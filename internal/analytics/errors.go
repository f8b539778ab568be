package analytics

import (
	"encoding/json"
)

// ErrorKind says what is wrong with an argument. Transports map it to
// their own codes: GraphQL to Hasura's (parse-failed, validation-failed,
// data-exception), REST to HTTP 400.
type ErrorKind uint8

// Kinds of argument errors.
const (
	// KindParse is a value of the wrong JSON kind for the argument's type,
	// such as a number where a timestamp string is expected.
	KindParse ErrorKind = iota + 1
	// KindValidation is a value the argument's type does not allow at all:
	// a required argument missing or null, a Boolean that is not one.
	KindValidation
	// KindData is a value of the right kind that cannot be used: a literal
	// that does not parse, an end before the start, an interval that does
	// not move forward.
	KindData
	// KindLimit is a call that would exceed one of the server's Limits.
	KindLimit
)

func (k ErrorKind) String() string {
	switch k {
	case KindParse:
		return "parse"
	case KindValidation:
		return "validation"
	case KindData:
		return "data"
	case KindLimit:
		return "limit"
	}
	return "unknown"
}

// ArgError is an argument that cannot be used. Reason is the complete
// message for the client (its text is API, pinned by golden tests); the
// other fields hold the facts for transports and logs.
type ArgError struct {
	Arg    string // the argument the client should change
	Kind   ErrorKind
	Reason string
	// Limit is the limit exceeded, for KindLimit.
	Limit int
	// Err is the cause, such as a *pgtext.SyntaxError, or nil.
	Err error
}

func (e *ArgError) Error() string { return e.Reason }
func (e *ArgError) Unwrap() error { return e.Err }

// JSONKind names the kind of a JSON-like value as error messages do: "a
// string", "null", "a list". Transports represent JSON objects their own
// way, so any value that is not nil, a string, a bool, a json.Number or a
// []any is "an object".
func JSONKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	}
	return "an object"
}
