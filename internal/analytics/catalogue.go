package analytics

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/tally-server/tally/internal/pgtext"
)

// Type is the PostgreSQL type of an argument or a column, with the name
// Hasura gives it in GraphQL.
type Type uint8

// Types Tally's functions use. Columns may be Int, BigInt, Timestamp or
// Text; arguments any of them.
const (
	Int       Type = iota + 1 // int4: GraphQL Int
	BigInt                    // int8: GraphQL bigint
	Timestamp                 // timestamp without time zone: GraphQL timestamp
	Text                      // text: GraphQL String
	Boolean                   // boolean: GraphQL Boolean
	Interval                  // interval: GraphQL interval
	UUIDArray                 // uuid[]: GraphQL _uuid
	Int4Array                 // int4[]: GraphQL _int4
	TextArray                 // text[]: GraphQL _text
)

// GraphQL is the name of the GraphQL scalar Hasura maps t to.
func (t Type) GraphQL() string {
	switch t {
	case Int:
		return "Int"
	case BigInt:
		return "bigint"
	case Timestamp:
		return "timestamp"
	case Text:
		return "String"
	case Boolean:
		return "Boolean"
	case Interval:
		return "interval"
	case UUIDArray:
		return "_uuid"
	case Int4Array:
		return "_int4"
	case TextArray:
		return "_text"
	}
	return fmt.Sprintf("type%d", t)
}

// PostgreSQL is t's PostgreSQL name.
func (t Type) PostgreSQL() string {
	switch t {
	case Int:
		return "int4"
	case BigInt:
		return "int8"
	case Timestamp:
		return "timestamp"
	case Text:
		return "text"
	case Boolean:
		return "boolean"
	case Interval:
		return "interval"
	case UUIDArray:
		return "uuid[]"
	case Int4Array:
		return "int4[]"
	case TextArray:
		return "text[]"
	}
	return fmt.Sprintf("type%d", t)
}

// Builtin reports whether t's GraphQL scalar is one of GraphQL's own
// (Int, String, Boolean); the others are declared as custom scalars.
func (t Type) Builtin() bool { return t == Int || t == Text || t == Boolean }

// Numeric reports whether t is a number: such columns get sum, avg,
// stddev and variance aggregates.
func (t Type) Numeric() bool { return t == Int || t == BigInt }

// Comparable reports whether t's values are ordered: such columns get max
// and min aggregates and may be sorted on. Every column type is.
func (t Type) Comparable() bool { return t == Int || t == BigInt || t == Timestamp || t == Text }

// Arg is one argument of a function.
type Arg struct {
	Name string
	Type Type
	// Required arguments must be present and not null; the others default
	// (a missing filter does not filter). GraphQL declares every argument
	// nullable, as Hasura does; Required is checked by the call.
	Required bool
}

// Column is one column of a function's result table.
type Column struct {
	Name string
	Type Type
	// Nullable is the column's declared nullability: GraphQL types it
	// without "!". Whether a result holds a NULL is Cells.Null.
	Nullable bool
}

// Table is the SQL table type a function returns.
type Table struct {
	Name    string
	Columns []Column // the function's column order; GraphQL sorts by name
}

// Column returns the index of the column called name, or -1.
func (t *Table) Column(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// MaxColumns is the most columns a table may have (a ColumnSet's size).
const MaxColumns = 64

// ColumnSet is a set of column indices of one table.
type ColumnSet uint64

// AllColumns is the set of a table's n columns.
func AllColumns(n int) ColumnSet {
	if n >= MaxColumns {
		return ^ColumnSet(0)
	}
	return ColumnSet(1)<<n - 1
}

// With returns s with column i added.
func (s ColumnSet) With(i int) ColumnSet { return s | 1<<i }

// Has reports whether column i is in s.
func (s ColumnSet) Has(i int) bool { return s&(1<<i) != 0 }

// Len is the number of columns in s.
func (s ColumnSet) Len() int { return bits.OnesCount64(uint64(s)) }

// Args are a call's argument values by name, in the order the client sent
// them. Values are JSON-like: nil (null), string, bool, json.Number, []any
// of those, or a transport's own representation of a JSON object.
// GraphQL resolves literals and variables to these; REST builds them from
// query parameters.
type Args struct {
	Names  []string
	Values []any
}

// Get returns the value of the argument called name, nil when absent.
func (a Args) Get(name string) any {
	for i, n := range a.Names {
		if n == name {
			return a.Values[i]
		}
	}
	return nil
}

// Cells is one column of a Result. Int, BigInt and Timestamp (microseconds
// since 1970-01-01, wall-clock) columns use Ints, Text columns Texts.
// Null[i] marks row i as SQL NULL; a nil Null means the column holds no
// NULL. A column the call was not asked for may be empty.
type Cells struct {
	Ints  []int64
	Texts []string
	Null  []bool
}

// Result is a function's answer: Len rows, stored column by column in the
// order of the function's Table.Columns. The caller owns it.
type Result struct {
	Len  int
	Cols []Cells
}

// Call is a function call whose arguments are parsed and planned; Run asks
// a Source for the answer. used names the columns the caller will read:
// Run computes at least those. Run does not change the call, which may be
// run again, and by several goroutines at once (the GraphQL transport
// keeps the calls of recent request bodies); its results may share the
// call's memory, which neither may change.
type Call interface {
	Run(ctx context.Context, src Source, account pgtext.UUID, used ColumnSet) (*Result, error)
}

// Function is one SQL function Tally serves, as Hasura would track it.
type Function struct {
	Name string
	// Args in the function's declaration order.
	Args  []Arg
	Table Table
	// prepare parses args (their names are known to be declared) and
	// plans the call; its errors are *ArgError.
	prepare func(args Args, lim Limits) (Call, error)
}

// Arg returns the argument called name, or nil.
func (f *Function) Arg(name string) *Arg {
	for i := range f.Args {
		if f.Args[i].Name == name {
			return &f.Args[i]
		}
	}
	return nil
}

// Prepare parses a call's arguments and plans it within lim. Every name in
// args must be one of f.Args (transports check that first and word the
// error their way). Errors are *ArgError: first text that is not valid
// UTF-8 without NUL (checkText), then the others in the order the
// function reads its arguments.
func (f *Function) Prepare(args Args, lim Limits) (Call, error) {
	if err := checkText(f, args); err != nil {
		return nil, err
	}
	return f.prepare(args, lim.WithDefaults())
}

// Catalogue is every function Tally serves, in the order GraphQL lists
// their root fields.
type Catalogue struct {
	Functions []*Function
}

// Function returns the function called name, or nil.
func (c *Catalogue) Function(name string) *Function {
	for _, f := range c.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// NewCatalogue returns the catalogue of Tally's functions.
func NewCatalogue() *Catalogue {
	return &Catalogue{Functions: []*Function{intervalCounts(), dimensionCounts()}}
}

// NewFunction makes a function whose call is prepared by prepare, for
// catalogues built by tests of the transports. Tally's own functions are
// in NewCatalogue.
func NewFunction(name string, args []Arg, table Table, prepare func(args Args, lim Limits) (Call, error)) *Function {
	return &Function{Name: name, Args: args, Table: table, prepare: prepare}
}

// Validate checks the catalogue's invariants: unique function names, at
// most MaxColumns columns per table, unique column and argument names, and
// known types.
func (c *Catalogue) Validate() error {
	seen := map[string]bool{}
	for _, f := range c.Functions {
		if seen[f.Name] {
			return fmt.Errorf("catalogue: function %s is listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.prepare == nil {
			return fmt.Errorf("catalogue: function %s has no call", f.Name)
		}
		if len(f.Table.Columns) == 0 || len(f.Table.Columns) > MaxColumns {
			return fmt.Errorf("catalogue: table %s has %d columns; 1 to %d are allowed", f.Table.Name, len(f.Table.Columns), MaxColumns)
		}
		names := map[string]bool{}
		for _, col := range f.Table.Columns {
			if names[col.Name] || !col.Type.Comparable() {
				return fmt.Errorf("catalogue: table %s: column %s is repeated or has an unsupported type", f.Table.Name, col.Name)
			}
			names[col.Name] = true
		}
		names = map[string]bool{}
		for _, a := range f.Args {
			if names[a.Name] || a.Type < Int || a.Type > TextArray {
				return fmt.Errorf("catalogue: function %s: argument %s is repeated or has an unknown type", f.Name, a.Name)
			}
			names[a.Name] = true
		}
	}
	return nil
}
