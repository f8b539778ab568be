package graphql

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// The table arguments Hasura gives a function's root fields — where,
// order_by, distinct_on, offset, limit — with PostgreSQL's semantics
// applied to the function's result (SELECT ... FROM fn(...) WHERE ...
// ORDER BY ... LIMIT ... OFFSET ...), over any catalogue table: cells are
// Int, BigInt, Timestamp or Text, and may be NULL. Comparisons follow
// SQL's three-valued logic; text sorts by byte value (PostgreSQL's "C"
// collation).

// tableArgs are the parsed table arguments of one root field.
type tableArgs struct {
	where    *boolExp
	orderBy  []orderKey
	distinct []int
	limit    int64 // -1: none
	offset   int64
	// used are the columns the arguments read.
	used analytics.ColumnSet
	// sorted are the columns of orderBy.
	sorted analytics.ColumnSet
}

type orderKey struct {
	col        int
	desc       bool
	nullsFirst bool
}

// boolExp is a parsed <table>_bool_exp: the AND of all its parts.
type boolExp struct {
	and, or []*boolExp
	hasOr   bool
	not     *boolExp
	cmps    []comparison
}

type compareOp uint8

const (
	opEq compareOp = iota
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opIsNull
)

var compareOps = map[string]compareOp{"_eq": opEq, "_neq": opNeq, "_gt": opGt, "_gte": opGte, "_lt": opLt, "_lte": opLte, "_in": opIn, "_nin": opNin, "_is_null": opIsNull}

type comparison struct {
	col    int
	op     compareOp
	val    value
	list   []value
	isNull bool
}

// value is one non-NULL cell value: i for Int, BigInt and Timestamp
// columns, s for Text.
type value struct {
	i int64
	s string
}

// truth is a SQL boolean: true, false or unknown (NULL).
type truth uint8

const (
	isFalse truth = iota
	isTrue
	isUnknown
)

func truthOf(b bool) truth {
	if b {
		return isTrue
	}
	return isFalse
}

// cells reads one result's cells.
type cells struct {
	res   *analytics.Result
	table *tableInfo
}

func (c cells) null(col, row int) bool {
	n := c.res.Cols[col].Null
	return n != nil && n[row]
}

// compare orders the non-NULL cell (col, row) against v.
func (c cells) compare(col, row int, v value) int {
	if c.table.Columns[col].Type == analytics.Text {
		return strings.Compare(c.res.Cols[col].Texts[row], v.s)
	}
	return cmp.Compare(c.res.Cols[col].Ints[row], v.i)
}

// compareRows orders two rows on one column, NULLs equal to each other.
func (c cells) compareRows(col, a, b int, nullsFirst bool) int {
	na, nb := c.null(col, a), c.null(col, b)
	switch {
	case na && nb:
		return 0
	case na != nb:
		if na == nullsFirst {
			return -1
		}
		return 1
	}
	if c.table.Columns[col].Type == analytics.Text {
		return strings.Compare(c.res.Cols[col].Texts[a], c.res.Cols[col].Texts[b])
	}
	return cmp.Compare(c.res.Cols[col].Ints[a], c.res.Cols[col].Ints[b])
}

func (e *boolExp) eval(c cells, row int) truth {
	t := isTrue
	for _, sub := range e.and {
		switch sub.eval(c, row) {
		case isFalse:
			return isFalse
		case isUnknown:
			t = isUnknown
		}
	}
	if e.hasOr {
		or := isFalse
		for _, sub := range e.or {
			if v := sub.eval(c, row); v == isTrue {
				or = isTrue
				break
			} else if v == isUnknown {
				or = isUnknown
			}
		}
		switch or {
		case isFalse:
			return isFalse
		case isUnknown:
			t = isUnknown
		}
	}
	if e.not != nil {
		switch e.not.eval(c, row) {
		case isTrue:
			return isFalse
		case isUnknown:
			t = isUnknown
		}
	}
	for i := range e.cmps {
		switch e.cmps[i].eval(c, row) {
		case isFalse:
			return isFalse
		case isUnknown:
			t = isUnknown
		}
	}
	return t
}

func (cm *comparison) eval(c cells, row int) truth {
	null := c.null(cm.col, row)
	if cm.op == opIsNull {
		return truthOf(null == cm.isNull)
	}
	if null {
		if (cm.op == opIn || cm.op == opNin) && len(cm.list) == 0 {
			return truthOf(cm.op == opNin) // x = ANY('{}') is false even for NULL x
		}
		return isUnknown
	}
	switch cm.op {
	case opIn, opNin:
		found := false
		for _, v := range cm.list {
			if c.compare(cm.col, row, v) == 0 {
				found = true
				break
			}
		}
		return truthOf(found == (cm.op == opIn))
	}
	d := c.compare(cm.col, row, cm.val)
	switch cm.op {
	case opEq:
		return truthOf(d == 0)
	case opNeq:
		return truthOf(d != 0)
	case opGt:
		return truthOf(d > 0)
	case opGte:
		return truthOf(d >= 0)
	case opLt:
		return truthOf(d < 0)
	}
	return truthOf(d <= 0) // opLte
}

// apply runs where, order_by, distinct_on, offset and limit over res, in
// PostgreSQL's order, and returns the rows kept in order; nil when there
// is nothing to apply (every row, in the function's order). It stops when
// ctx ends. Sorting is
// stable, so rows that tie on every order_by key keep the function's
// order.
func (a *tableArgs) apply(ctx context.Context, res *analytics.Result, t *tableInfo) ([]int32, error) {
	if a.where == nil && len(a.orderBy) == 0 && len(a.distinct) == 0 && a.limit < 0 && a.offset == 0 {
		return nil, nil
	}
	c := cells{res: res, table: t}
	order := make([]int32, 0, res.Len)
	for r := 0; r < res.Len; r++ {
		// A where may hold as many comparisons as a request has bytes.
		if r&255 == 255 && a.where != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if a.where == nil || a.where.eval(c, r) == isTrue {
			order = append(order, int32(r))
		}
	}
	keys := a.orderBy
	if len(keys) == 0 && len(a.distinct) > 0 {
		for _, col := range a.distinct {
			keys = append(keys, orderKey{col: col})
		}
	}
	if len(keys) > 0 {
		slices.SortStableFunc(order, func(x, y int32) int {
			for _, k := range keys {
				d := c.compareRows(k.col, int(x), int(y), k.nullsFirst)
				if k.desc && !c.null(k.col, int(x)) && !c.null(k.col, int(y)) {
					d = -d
				}
				if d != 0 {
					return d
				}
			}
			return 0
		})
	}
	if len(a.distinct) > 0 {
		kept := order[:0]
		for i, r := range order {
			if i > 0 && sameOn(c, int(r), int(kept[len(kept)-1]), a.distinct) {
				continue
			}
			kept = append(kept, r)
		}
		order = kept
	}
	if a.offset > 0 {
		order = order[min(int64(len(order)), a.offset):]
	}
	if a.limit >= 0 && a.limit < int64(len(order)) {
		order = order[:a.limit]
	}
	return order, nil
}

func sameOn(c cells, x, y int, cols []int) bool {
	for _, col := range cols {
		if c.compareRows(col, x, y, false) != 0 {
			return false
		}
	}
	return true
}

// fieldArg resolves a field's argument, nil when absent.
func fieldArg(f *ast.Field, name string, vars map[string]any) any {
	if a := f.Arguments.ForName(name); a != nil {
		return resolve(a.Value, vars)
	}
	return nil
}

// parseTableArgs reads where, order_by, distinct_on, limit and offset of a
// root field whose arguments are at argsAt.
func parseTableArgs(f *ast.Field, vars map[string]any, t *tableInfo, argsAt *path) (*tableArgs, error) {
	a := &tableArgs{limit: -1}
	if v := fieldArg(f, "limit", vars); v != nil {
		at := argsAt.child("limit")
		n, err := parseLimit(v, &at)
		if err != nil {
			return nil, err
		}
		a.limit = n
	}
	if v := fieldArg(f, "offset", vars); v != nil {
		at := argsAt.child("offset")
		n, err := parseOffset(v, &at)
		if err != nil {
			return nil, err
		}
		a.offset = n
	}
	if v := fieldArg(f, "where", vars); v != nil {
		at := argsAt.child("where")
		var err error
		if a.where, err = a.parseBoolExp(t, v, at.onHeap()); err != nil {
			return nil, err
		}
	}
	if v := fieldArg(f, "order_by", vars); v != nil {
		if err := a.parseOrderBy(t, v, argsAt); err != nil {
			return nil, err
		}
	}
	if v := fieldArg(f, "distinct_on", vars); v != nil {
		at := argsAt.child("distinct_on")
		cols, err := parseColumns(t, v, &at)
		if err != nil {
			return nil, err
		}
		a.distinct = cols
		for _, c := range cols {
			a.used = a.used.With(c)
		}
		// PostgreSQL: SELECT DISTINCT ON expressions must match the
		// initial ORDER BY expressions. Hasura checks it first.
		if len(a.orderBy) > 0 {
			var initial, want analytics.ColumnSet
			for _, k := range a.orderBy[:min(len(cols), len(a.orderBy))] {
				initial = initial.With(k.col)
			}
			for _, c := range cols {
				want = want.With(c)
			}
			if len(a.orderBy) < want.Len() || initial != want {
				// Hasura reports it at the arguments (Select.hs).
				return nil, newError(CodeValidationFailed, argsAt, `"distinct_on" columns must match initial "order_by" columns`)
			}
		}
	}
	return a, nil
}

func (a *tableArgs) parseOrderBy(t *tableInfo, v any, argsAt *path) error {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	list := argsAt.child("order_by")
	for i, item := range items {
		at := list.at(i)
		o, ok := item.(*object)
		if !ok {
			return newError(CodeValidationFailed, &at, fmt.Sprintf("expected an object for type '%s_order_by', but found %s", t.Name, jsonKindOf(item)))
		}
		for j, name := range o.names {
			colAt := at.child(name)
			col := t.Column(name)
			if col < 0 {
				return newError(CodeValidationFailed, &colAt, fmt.Sprintf("field '%s' not found in type: '%s_order_by'", name, t.Name))
			}
			dir, isString := o.values[j].(string)
			k := orderKey{col: col}
			switch {
			case o.values[j] == nil:
				continue // a null direction orders nothing
			case !isString:
				return newError(CodeValidationFailed, &colAt, fmt.Sprintf("expected an enum value for type 'order_by', but found %s", jsonKindOf(o.values[j])))
			}
			switch dir {
			case "asc", "asc_nulls_last":
			case "asc_nulls_first":
				k.nullsFirst = true
			case "desc", "desc_nulls_first":
				k.desc, k.nullsFirst = true, true
			case "desc_nulls_last":
				k.desc = true
			default:
				return newError(CodeValidationFailed, &colAt, fmt.Sprintf("expected one of the values %s for type 'order_by', but found '%s'", orderByNames, dir))
			}
			// A column sorted on again never changes the order: keep the
			// first, so that a long order_by costs nothing per row.
			if !a.sorted.Has(col) {
				a.sorted = a.sorted.With(col)
				a.orderBy = append(a.orderBy, k)
			}
			a.used = a.used.With(col)
		}
	}
	return nil
}

// orderByNames are the values of the order_by enum, as Hasura lists them.
var orderByNames = quotedList([]string{"asc", "asc_nulls_first", "asc_nulls_last", "desc", "desc_nulls_first", "desc_nulls_last"})

// parseLimit reads limit as Hasura's non-negative Int parser does
// (Scalars.hs nonNegativeInt). Literals were checked before; values here
// come from variables.
func parseLimit(v any, at *path) (int64, error) {
	n, ok := v.(json.Number)
	if !ok || strings.HasPrefix(string(n), "-") && strings.Trim(string(n), "-0.eE+") != "" {
		return 0, newError(CodeValidationFailed, at, fmt.Sprintf("expected a non-negative 32-bit integer for type 'Int', but found %s", jsonKindOf(v)))
	}
	i, ok := jsonInt(n, 32)
	if !ok {
		return 0, newError(CodeParseFailed, at, outOfBounds(string(n)))
	}
	return i, nil
}

// parseOffset reads offset as Hasura's bigint parser does (Scalars.hs
// bigInt): an integer, or a decimal string. A negative offset reaches
// PostgreSQL, whose error Hasura relays at $.
func parseOffset(v any, at *path) (int64, error) {
	var i int64
	switch v := v.(type) {
	case json.Number:
		n, ok := jsonInt(v, 64)
		if !ok {
			return 0, newError(CodeParseFailed, at, outOfBounds(string(v)))
		}
		i = n
	case string:
		if !isDecimal(v) {
			return 0, newError(CodeValidationFailed, at, fmt.Sprintf("expected a 32-bit integer, or a 64-bit integer represented as a string for type 'Int', but found %s", jsonKindOf(v)))
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, newError(CodeParseFailed, at, outOfBounds(v))
		}
		i = n
	default:
		return 0, newError(CodeValidationFailed, at, fmt.Sprintf("expected a 32-bit integer, or a 64-bit integer represented as a string for type 'Int', but found %s", jsonKindOf(v)))
	}
	if i < 0 {
		return 0, NewError(CodeDataException, "OFFSET must not be negative")
	}
	return i, nil
}

// parseColumns reads a [<table>_select_column!] value: distinct column
// indices in the order given.
func parseColumns(t *tableInfo, v any, at *path) ([]int, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var cols []int
	for i, item := range items {
		s, isString := item.(string)
		c := t.Column(s)
		if !isString {
			elem := at.at(i)
			return nil, newError(CodeValidationFailed, &elem, fmt.Sprintf("expected an enum value for type '%s_select_column', but found %s", t.Name, jsonKindOf(item)))
		}
		if c < 0 {
			elem := at.at(i)
			return nil, newError(CodeValidationFailed, &elem, fmt.Sprintf("expected one of the values %s for type '%s_select_column', but found '%s'", t.names, t.Name, s))
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

func (a *tableArgs) parseBoolExp(t *tableInfo, v any, at *path) (*boolExp, error) {
	o, ok := v.(*object)
	if !ok {
		return nil, newError(CodeValidationFailed, at, fmt.Sprintf("expected an object for type '%s_bool_exp', but found %s", t.Name, jsonKindOf(v)))
	}
	e := &boolExp{}
	for i, name := range o.names {
		val := o.values[i]
		p := at.child(name)
		switch name {
		case "_and", "_or":
			items, ok := val.([]any)
			if !ok {
				if val == nil {
					return nil, newError(CodeValidationFailed, &p, "expected a list, but found null")
				}
				items = []any{val}
			}
			for j, item := range items {
				elem := p.at(j)
				sub, err := a.parseBoolExp(t, item, &elem)
				if err != nil {
					return nil, err
				}
				if name == "_and" {
					e.and = append(e.and, sub)
				} else {
					e.or = append(e.or, sub)
				}
			}
			if name == "_or" {
				e.hasOr = true
			}
		case "_not":
			sub, err := a.parseBoolExp(t, val, &p)
			if err != nil {
				return nil, err
			}
			e.not = sub
		default:
			col := t.Column(name)
			if col < 0 {
				return nil, newError(CodeValidationFailed, &p, fmt.Sprintf("field '%s' not found in type: '%s_bool_exp'", name, t.Name))
			}
			cmps, err := parseComparisons(t, col, val, &p)
			if err != nil {
				return nil, err
			}
			e.cmps = append(e.cmps, cmps...)
			a.used = a.used.With(col)
		}
	}
	return e, nil
}

func parseComparisons(t *tableInfo, col int, v any, at *path) ([]comparison, error) {
	typ := t.Columns[col].Type
	o, ok := v.(*object)
	if !ok {
		return nil, newError(CodeValidationFailed, at, fmt.Sprintf("expected an object for type '%s_comparison_exp', but found %s", typ.GraphQL(), jsonKindOf(v)))
	}
	var out []comparison
	for i, name := range o.names {
		val := o.values[i]
		p := at.child(name)
		op, ok := compareOps[name]
		if !ok {
			return nil, newError(CodeValidationFailed, &p, fmt.Sprintf("field '%s' not found in type: '%s_comparison_exp'", name, typ.GraphQL()))
		}
		c := comparison{col: col, op: op}
		switch op {
		case opIsNull:
			b, ok := val.(bool)
			if !ok {
				return nil, newError(CodeValidationFailed, &p, fmt.Sprintf("expected a boolean for type 'Boolean', but found %s", jsonKindOf(val)))
			}
			c.isNull = b
		case opIn, opNin:
			items, ok := val.([]any)
			if !ok {
				items = []any{val}
			}
			for j, item := range items {
				elem := p.at(j)
				n, err := columnValue(typ, item, &elem)
				if err != nil {
					return nil, err
				}
				c.list = append(c.list, n)
			}
		default:
			n, err := columnValue(typ, val, &p)
			if err != nil {
				return nil, err
			}
			c.val = n
		}
		out = append(out, c)
	}
	return out, nil
}

// columnValue reads a comparison value of a column of type typ: a 32-bit
// Int, a 64-bit bigint, a timestamp literal or a string. An explicit null
// is an error, worded as Hasura v2 words it (Postgres
// Instances/Schema.hs): it never silently drops the condition.
func columnValue(typ analytics.Type, v any, at *path) (value, error) {
	if v == nil {
		return value{}, newError(CodeValidationFailed, at, fmt.Sprintf("unexpected null value for type '%s'", typ.GraphQL()))
	}
	switch typ {
	case analytics.Timestamp:
		s, ok := v.(string)
		if !ok {
			return value{}, newError(CodeParseFailed, at, fmt.Sprintf("A string is expected for type: timestamp, such as \"2024-01-08\", but found %s", jsonKindOf(v)))
		}
		ts, err := pgtext.ParseTimestamp(s)
		if err != nil {
			return value{}, newError(CodeDataException, at, err.Error())
		}
		return value{i: ts}, nil
	case analytics.Text:
		s, ok := v.(string)
		if !ok {
			return value{}, newError(CodeValidationFailed, at, fmt.Sprintf("expected a string for type 'String', but found %s", jsonKindOf(v)))
		}
		return value{s: s}, nil
	}
	bitSize, name, kind := 32, "Int", "a 32-bit integer"
	if typ == analytics.BigInt {
		bitSize, name, kind = 64, "bigint", "a 64-bit integer"
	}
	n, ok := v.(json.Number)
	if !ok {
		return value{}, newError(CodeValidationFailed, at, fmt.Sprintf("expected %s for type '%s', but found %s", kind, name, jsonKindOf(v)))
	}
	i, ok := jsonInt(n, bitSize)
	if !ok {
		return value{}, newError(CodeParseFailed, at, outOfBounds(string(n)))
	}
	return value{i: i}, nil
}
