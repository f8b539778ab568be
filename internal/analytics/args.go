package analytics

import (
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/tally-server/tally/internal/pgtext"
)

// Parsing of transport-neutral argument values (see Args), one helper per
// Type. Each returns an *ArgError naming the argument; the messages name
// what is accepted.

// accepted names the forms an argument of type t takes, in parse errors.
func accepted(t Type) string {
	switch t {
	case Timestamp:
		return `a string such as "2024-01-08" or "2024-01-08T10:00:00"`
	case Interval:
		return `a string such as "1 day", "1 week", "1 hour" or "1 mon"`
	case UUIDArray:
		return `a PostgreSQL array literal string such as "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c}", or a JSON array of UUID strings`
	case Int4Array:
		return `a PostgreSQL array literal string such as "{1,2}", or a JSON array of integers`
	case TextArray:
		return `a PostgreSQL array literal string such as "{web,whatsapp}", or a JSON array of strings`
	}
	return "a string"
}

// stringExpected is a value of the wrong JSON kind for a string-typed
// argument.
func stringExpected(arg string, t Type, v any) error {
	return &ArgError{Arg: arg, Kind: KindParse, Reason: fmt.Sprintf("A string is expected for type: %s; argument %s takes %s, but found %s", t.GraphQL(), arg, accepted(t), JSONKind(v))}
}

// literalError is a string that is not a literal of the argument's type:
// err is pgtext's error, which quotes PostgreSQL's own wording.
func literalError(arg string, err error) error {
	return &ArgError{Arg: arg, Kind: KindData, Reason: "argument " + arg + ": " + err.Error(), Err: err}
}

// requiredTimestamp reads a timestamp argument that must be present.
func requiredTimestamp(args Args, arg string) (int64, error) {
	v := args.Get(arg)
	if v == nil {
		return 0, &ArgError{Arg: arg, Kind: KindValidation, Reason: fmt.Sprintf("argument %s is required and must not be null; send a timestamp such as \"2024-01-08\"", arg)}
	}
	s, ok := v.(string)
	if !ok {
		return 0, stringExpected(arg, Timestamp, v)
	}
	t, err := pgtext.ParseTimestamp(s)
	if err != nil {
		return 0, literalError(arg, err)
	}
	return t, nil
}

// intervalArg reads an optional interval argument; def when null or
// absent.
func intervalArg(args Args, arg string, def pgtext.Interval) (pgtext.Interval, error) {
	v := args.Get(arg)
	if v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return def, stringExpected(arg, Interval, v)
	}
	intervals.mu.RLock()
	iv, ok := intervals.m[s]
	intervals.mu.RUnlock()
	if ok {
		return iv, nil
	}
	iv, err := pgtext.ParseInterval(s)
	if err != nil {
		return def, literalError(arg, err)
	}
	intervals.mu.Lock()
	if len(intervals.m) < maxIntervals && len(s) <= maxIntervalText {
		intervals.m[s] = iv
	}
	intervals.mu.Unlock()
	return iv, nil
}

// intervals holds the first maxIntervals interval texts of at most
// maxIntervalText bytes parsed (a
// dashboard sends "1 day" or "1 hour" again and again) and their values:
// parsing one took about a microsecond, a twentieth of a cheap query's
// work in the server.
var intervals = struct {
	mu sync.RWMutex
	m  map[string]pgtext.Interval
}{m: map[string]pgtext.Interval{}}

const (
	maxIntervals    = 1024
	maxIntervalText = 64
)

// boolArg reads an optional Boolean argument; hint completes the error
// with what the argument means.
func boolArg(args Args, arg, hint string) (BoolFilter, error) {
	v := args.Get(arg)
	if v == nil {
		return BoolFilter{}, nil
	}
	b, ok := v.(bool)
	if !ok {
		return BoolFilter{}, &ArgError{Arg: arg, Kind: KindValidation, Reason: fmt.Sprintf("expected a boolean for type 'Boolean', but found %s; %s", JSONKind(v), hint)}
	}
	return BoolFilter{Active: true, Value: b}, nil
}

// elements returns an array argument's elements as strings (nil for SQL
// NULL), from a PostgreSQL literal string or a JSON list. active is false
// when the argument is null or absent.
func elements(arg string, t Type, v any) (es []*string, active bool, err error) {
	switch v := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		es, err := pgtext.ParseArray(v)
		if err != nil {
			return nil, false, literalError(arg, err)
		}
		return es, true, nil
	case []any:
		out := make([]*string, len(v))
		for i, e := range v {
			switch e := e.(type) {
			case nil:
			case string:
				out[i] = &e
			case json.Number:
				if t != Int4Array {
					return nil, false, stringExpected(arg, t, e)
				}
				s := e.String()
				out[i] = &s
			default:
				return nil, false, stringExpected(arg, t, e)
			}
		}
		return out, true, nil
	}
	return nil, false, stringExpected(arg, t, v)
}

// uuidSet reads an optional _uuid argument.
func uuidSet(args Args, arg string) (UUIDSet, error) {
	es, active, err := elements(arg, UUIDArray, args.Get(arg))
	if err != nil || !active {
		return UUIDSet{}, err
	}
	set := UUIDSet{Active: true, Values: make([]pgtext.UUID, 0, len(es))}
	for _, e := range es {
		if e == nil {
			continue
		}
		u, err := pgtext.ParseUUID(*e)
		if err != nil {
			return set, literalError(arg, err)
		}
		set.Values = append(set.Values, u)
	}
	return set, nil
}

// intSet reads an optional _int4 argument.
func intSet(args Args, arg string) (IntSet, error) {
	es, active, err := elements(arg, Int4Array, args.Get(arg))
	if err != nil || !active {
		return IntSet{}, err
	}
	set := IntSet{Active: true, Values: make([]int32, 0, len(es))}
	for _, e := range es {
		if e == nil {
			continue
		}
		n, err := pgtext.ParseInt4(*e)
		if err != nil {
			return set, literalError(arg, err)
		}
		set.Values = append(set.Values, n)
	}
	return set, nil
}

// textSet reads an optional _text argument.
func textSet(args Args, arg string) (TextSet, error) {
	es, active, err := elements(arg, TextArray, args.Get(arg))
	if err != nil || !active {
		return TextSet{}, err
	}
	set := TextSet{Active: true, Values: make([]string, 0, len(es))}
	for _, e := range es {
		if e != nil {
			set.Values = append(set.Values, *e)
		}
	}
	return set, nil
}

// Text arguments (Text, and the elements of TextArray) are valid UTF-8
// without NUL, as ingested text is (SPEC section 10): PostgreSQL refuses
// NUL in text and invalid UTF-8 in a UTF-8 database, so such a value
// would fail there as an unexpected error, and match nothing in the
// engine. checkText refuses it first, in every function, as data the
// argument cannot hold.

// checkText returns a KindData *ArgError for the first Text or TextArray
// argument of f in args whose text is not valid UTF-8 without NUL.
func checkText(f *Function, args Args) error {
	for i, name := range args.Names {
		a := f.Arg(name)
		if a == nil || (a.Type != Text && a.Type != TextArray) {
			continue
		}
		switch v := args.Values[i].(type) {
		case string:
			if err := textError(name, -1, v); err != nil {
				return err
			}
		case []any:
			for k, e := range v {
				if s, ok := e.(string); ok {
					if err := textError(name, k, s); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// textError describes what is wrong with s, the value of arg (or its
// element k when k >= 0), or returns nil.
func textError(arg string, k int, s string) error {
	what := ""
	at := 0
	for i, r := range s {
		switch {
		case r == 0:
			what = "NUL"
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				what = fmt.Sprintf("invalid UTF-8 (byte 0x%02X)", s[i])
			}
		}
		if what != "" {
			at = i
			break
		}
	}
	if what == "" {
		return nil
	}
	where := "argument " + arg
	if k >= 0 {
		where += fmt.Sprintf(" element %d", k)
	}
	return &ArgError{Arg: arg, Kind: KindData, Reason: fmt.Sprintf("%s has %s at byte %d; text must be valid UTF-8 without NUL", where, what, at)}
}
