package pgtext

import "fmt"

// SyntaxError reports input that is not a valid literal of Type. Its
// Error text starts with PostgreSQL's own wording ("invalid input syntax for
// type interval: ...", "malformed array literal: ...") so that people who
// search for the PostgreSQL message find it, and adds Reason, which says
// what was wrong and what is accepted.
type SyntaxError struct {
	Type   string // PostgreSQL type name: "timestamp", "interval", "uuid", "integer", "array"
	Input  string // the whole input as given
	Reason string // what was wrong, and what is accepted
}

func (e *SyntaxError) Error() string {
	var head string
	if e.Type == "array" {
		head = fmt.Sprintf("malformed array literal: %q", e.Input)
	} else {
		head = fmt.Sprintf("invalid input syntax for type %s: %q", e.Type, e.Input)
	}
	if e.Reason == "" {
		return head
	}
	return head + ": " + e.Reason
}

// RangeError reports a well-formed literal whose value is outside what the
// type can hold, such as February 30th or an interval of 2^31 months.
type RangeError struct {
	Type   string
	Input  string
	Reason string
}

func (e *RangeError) Error() string {
	msg := fmt.Sprintf("%s value out of range: %q", e.Type, e.Input)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}
