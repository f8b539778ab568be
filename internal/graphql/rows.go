package graphql

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/pgtext"
)

// The function's rows and what Hasura lets a client do with them: where,
// order_by, distinct_on, offset, limit and aggregates, with PostgreSQL's
// semantics applied to the function's result (SELECT ... FROM fn(...)
// WHERE ... ORDER BY ... LIMIT ... OFFSET ...).

// Columns of open_closed_sessions_interval_counts.
const (
	colPerInterval = iota
	colOpen
	colClosed
)

var columnNames = []string{"per_interval", "open_sessions", "closed_sessions"}

func columnIndex(name string) (int, bool) {
	i := slices.Index(columnNames, name)
	return i, i >= 0
}

// fnRow is one row of the function's result. No column is ever NULL.
type fnRow [3]int64

// rowArgs are the table arguments of the function's root fields.
type rowArgs struct {
	where    *boolExp
	orderBy  []orderKey
	distinct []int
	limit    int64 // -1: none
	offset   int64
}

type orderKey struct {
	col  int
	desc bool
}

// boolExp is a parsed open_closed_sessions_interval_counts_bool_exp.
type boolExp struct {
	and, or []*boolExp
	hasOr   bool
	not     *boolExp
	cmps    []comparison
}

type comparison struct {
	col    int
	op     string
	val    int64
	list   []int64
	isNull bool
}

func (e *boolExp) eval(r *fnRow) bool {
	for _, c := range e.and {
		if !c.eval(r) {
			return false
		}
	}
	if e.hasOr {
		any := false
		for _, c := range e.or {
			if c.eval(r) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if e.not != nil && e.not.eval(r) {
		return false
	}
	for _, c := range e.cmps {
		v := r[c.col]
		var ok bool
		switch c.op {
		case "_eq":
			ok = v == c.val
		case "_neq":
			ok = v != c.val
		case "_gt":
			ok = v > c.val
		case "_gte":
			ok = v >= c.val
		case "_lt":
			ok = v < c.val
		case "_lte":
			ok = v <= c.val
		case "_in":
			ok = slices.Contains(c.list, v)
		case "_nin":
			ok = !slices.Contains(c.list, v)
		case "_is_null":
			ok = !c.isNull // no column is ever NULL
		}
		if !ok {
			return false
		}
	}
	return true
}

// apply runs where, order_by, distinct_on, offset and limit over rows, in
// PostgreSQL's order. Sorting is stable, so rows that tie on every
// order_by key keep the function's order (per_interval ascending).
func (a *rowArgs) apply(rows []fnRow) []fnRow {
	if a.where != nil {
		kept := rows[:0]
		for i := range rows {
			if a.where.eval(&rows[i]) {
				kept = append(kept, rows[i])
			}
		}
		rows = kept
	}
	keys := a.orderBy
	if len(keys) == 0 && len(a.distinct) > 0 {
		for _, c := range a.distinct {
			keys = append(keys, orderKey{col: c})
		}
	}
	if len(keys) > 0 {
		slices.SortStableFunc(rows, func(x, y fnRow) int {
			for _, k := range keys {
				c := cmp.Compare(x[k.col], y[k.col])
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if len(a.distinct) > 0 {
		kept := rows[:0]
		for i, r := range rows {
			if i > 0 && sameOn(r, kept[len(kept)-1], a.distinct) {
				continue
			}
			kept = append(kept, r)
		}
		rows = kept
	}
	if a.offset > 0 {
		rows = rows[min(int64(len(rows)), a.offset):]
	}
	if a.limit >= 0 && a.limit < int64(len(rows)) {
		rows = rows[:a.limit]
	}
	return rows
}

func sameOn(x, y fnRow, cols []int) bool {
	for _, c := range cols {
		if x[c] != y[c] {
			return false
		}
	}
	return true
}

// parseRowArgs reads where, order_by, distinct_on, limit and offset of a
// root field.
func parseRowArgs(f *ast.Field, vars map[string]any) (*rowArgs, error) {
	a := &rowArgs{limit: -1}
	base := "$.selectionSet." + f.Name + ".args."
	arg := func(name string) any {
		if v := f.Arguments.ForName(name); v != nil {
			return resolve(v.Value, vars)
		}
		return nil
	}
	var err error
	for _, name := range []string{"limit", "offset"} {
		v := arg(name)
		if v == nil {
			continue
		}
		n, ok := v.(json.Number)
		i, perr := strconv.ParseInt(string(n), 10, 32)
		if !ok || perr != nil {
			return nil, newError(CodeValidationFailed, base+name, fmt.Sprintf("expected a 32-bit integer for type 'Int', but found %s", jsonKindOf(v)))
		}
		if i < 0 {
			return nil, newError(CodeValidationFailed, base+name, fmt.Sprintf("%s must not be negative, but found %d", name, i))
		}
		if name == "limit" {
			a.limit = i
		} else {
			a.offset = i
		}
	}
	if v := arg("where"); v != nil {
		if a.where, err = parseBoolExp(v, base+"where"); err != nil {
			return nil, err
		}
	}
	if v := arg("order_by"); v != nil {
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		for i, item := range items {
			path := fmt.Sprintf("%sorder_by[%d]", base, i)
			o, ok := item.(*object)
			if !ok {
				return nil, newError(CodeValidationFailed, path, fmt.Sprintf("expected an object for type '%s_order_by', but found %s", ReturnType, jsonKindOf(item)))
			}
			for j, col := range o.names {
				c, ok := columnIndex(col)
				if !ok {
					return nil, newError(CodeValidationFailed, path+"."+col, fmt.Sprintf("field '%s' not found in type: '%s_order_by'", col, ReturnType))
				}
				dir, _ := o.values[j].(string)
				switch dir {
				case "asc", "asc_nulls_last", "asc_nulls_first":
					a.orderBy = append(a.orderBy, orderKey{col: c})
				case "desc", "desc_nulls_first", "desc_nulls_last":
					a.orderBy = append(a.orderBy, orderKey{col: c, desc: true})
				default:
					return nil, newError(CodeValidationFailed, path+"."+col, fmt.Sprintf("expected one of the values asc, asc_nulls_first, asc_nulls_last, desc, desc_nulls_first, desc_nulls_last for type 'order_by', but found %s", describe(o.values[j])))
				}
			}
		}
	}
	if v := arg("distinct_on"); v != nil {
		cols, err := parseColumns(v, base+"distinct_on")
		if err != nil {
			return nil, err
		}
		a.distinct = cols
		// PostgreSQL: SELECT DISTINCT ON expressions must match the
		// initial ORDER BY expressions. Hasura checks it first.
		if len(a.orderBy) > 0 {
			initial := map[int]bool{}
			for _, k := range a.orderBy[:min(len(cols), len(a.orderBy))] {
				initial[k.col] = true
			}
			want := map[int]bool{}
			for _, c := range cols {
				want[c] = true
			}
			if len(a.orderBy) < len(want) || !mapsEqual(initial, want) {
				return nil, newError(CodeValidationFailed, base+"distinct_on", `"distinct_on" columns must match initial "order_by" columns`)
			}
		}
	}
	return a, nil
}

func mapsEqual(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'"
	}
	return jsonKindOf(v)
}

// parseColumns reads a [..._select_column!] value.
func parseColumns(v any, path string) ([]int, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var cols []int
	for i, item := range items {
		s, _ := item.(string)
		c, ok := columnIndex(s)
		if !ok {
			return nil, newError(CodeValidationFailed, fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("expected one of the values closed_sessions, open_sessions, per_interval for type '%s_select_column', but found %s", ReturnType, describe(item)))
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

var comparisonOps = []string{"_eq", "_gt", "_gte", "_in", "_is_null", "_lt", "_lte", "_neq", "_nin"}

func parseBoolExp(v any, path string) (*boolExp, error) {
	o, ok := v.(*object)
	if !ok {
		return nil, newError(CodeValidationFailed, path, fmt.Sprintf("expected an object for type '%s_bool_exp', but found %s", ReturnType, jsonKindOf(v)))
	}
	e := &boolExp{}
	for i, name := range o.names {
		val := o.values[i]
		p := path + "." + name
		switch name {
		case "_and", "_or":
			items, ok := val.([]any)
			if !ok {
				if val == nil {
					return nil, newError(CodeValidationFailed, p, fmt.Sprintf("expected a list for type '[%s_bool_exp!]', but found null", ReturnType))
				}
				items = []any{val}
			}
			for j, item := range items {
				sub, err := parseBoolExp(item, fmt.Sprintf("%s[%d]", p, j))
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
			sub, err := parseBoolExp(val, p)
			if err != nil {
				return nil, err
			}
			e.not = sub
		default:
			col, ok := columnIndex(name)
			if !ok {
				return nil, newError(CodeValidationFailed, p, fmt.Sprintf("field '%s' not found in type: '%s_bool_exp'", name, ReturnType))
			}
			cmps, err := parseComparisons(col, val, p)
			if err != nil {
				return nil, err
			}
			e.cmps = append(e.cmps, cmps...)
		}
	}
	return e, nil
}

func parseComparisons(col int, v any, path string) ([]comparison, error) {
	typ := "Int"
	if col == colPerInterval {
		typ = "timestamp"
	}
	o, ok := v.(*object)
	if !ok {
		return nil, newError(CodeValidationFailed, path, fmt.Sprintf("expected an object for type '%s_comparison_exp', but found %s", typ, jsonKindOf(v)))
	}
	var out []comparison
	for i, op := range o.names {
		val := o.values[i]
		p := path + "." + op
		if !slices.Contains(comparisonOps, op) {
			return nil, newError(CodeValidationFailed, p, fmt.Sprintf("field '%s' not found in type: '%s_comparison_exp'", op, typ))
		}
		c := comparison{col: col, op: op}
		switch op {
		case "_is_null":
			b, ok := val.(bool)
			if !ok {
				return nil, newError(CodeValidationFailed, p, fmt.Sprintf("expected a boolean for type 'Boolean', but found %s", jsonKindOf(val)))
			}
			c.isNull = b
		case "_in", "_nin":
			items, ok := val.([]any)
			if !ok {
				items = []any{val}
			}
			for j, item := range items {
				n, err := columnValue(col, item, fmt.Sprintf("%s[%d]", p, j))
				if err != nil {
					return nil, err
				}
				c.list = append(c.list, n)
			}
		default:
			n, err := columnValue(col, val, p)
			if err != nil {
				return nil, err
			}
			c.val = n
		}
		out = append(out, c)
	}
	return out, nil
}

// columnValue reads a comparison value: a 32-bit Int for the counts, a
// timestamp literal for per_interval. An explicit null is an error, as in
// Hasura v2 (it no longer silently drops the condition).
func columnValue(col int, v any, path string) (int64, error) {
	if col == colPerInterval {
		s, ok := v.(string)
		if !ok {
			return 0, newError(CodeParseFailed, path, fmt.Sprintf("A string is expected for type: timestamp, such as \"2024-01-08\", but found %s", jsonKindOf(v)))
		}
		ts, err := pgtext.ParseTimestamp(s)
		if err != nil {
			return 0, newError(CodeDataException, path, err.Error())
		}
		return ts, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, newError(CodeValidationFailed, path, fmt.Sprintf("expected a 32-bit integer for type 'Int', but found %s", jsonKindOf(v)))
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil {
		return 0, newError(CodeValidationFailed, path, fmt.Sprintf("The value %s lies outside the bounds or is not an integer. Maybe it is a float, or is there integer overflow?", n))
	}
	return i, nil
}

// aggregates computes what one aggregate field asks of rows.
type aggregates struct{ rows []fnRow }

func (g aggregates) count(cols []int, distinct bool) int64 {
	if !distinct || len(g.rows) == 0 {
		return int64(len(g.rows)) // no column is NULL, so count(cols) = count(*)
	}
	if len(cols) == 0 {
		cols = []int{colPerInterval, colOpen, colClosed}
	}
	seen := map[[3]int64]bool{}
	for _, r := range g.rows {
		var k [3]int64
		for i, c := range cols {
			k[i] = r[c]
		}
		seen[k] = true
	}
	return int64(len(seen))
}

// stat returns an aggregate of one column, or ok=false for SQL NULL.
// Integer results (sum, max, min) are exact; the others are float64 of the
// exact rational value, as PostgreSQL's numeric result read by a client.
func (g aggregates) stat(op string, col int) (isInt bool, i int64, f float64, ok bool) {
	n := int64(len(g.rows))
	switch op {
	case "max", "min":
		if n == 0 {
			return true, 0, 0, false
		}
		v := g.rows[0][col]
		for _, r := range g.rows[1:] {
			if (op == "max" && r[col] > v) || (op == "min" && r[col] < v) {
				v = r[col]
			}
		}
		return true, v, 0, true
	case "sum":
		if n == 0 {
			return true, 0, 0, false
		}
		var s int64
		for _, r := range g.rows {
			s += r[col]
		}
		return true, s, 0, true
	}
	sum, sumSq := new(big.Int), new(big.Int)
	for _, r := range g.rows {
		v := big.NewInt(r[col])
		sum.Add(sum, v)
		sumSq.Add(sumSq, v.Mul(v, v))
	}
	if op == "avg" {
		if n == 0 {
			return false, 0, 0, false
		}
		q, _ := new(big.Rat).SetFrac(sum, big.NewInt(n)).Float64()
		return false, 0, q, true
	}
	// Variance: (n·Σx² − (Σx)²) / (n·d), d = n for the population and n−1
	// for the sample, computed exactly before the one rounding.
	pop := op == "var_pop" || op == "stddev_pop"
	d := n - 1
	if pop {
		d = n
	}
	if n == 0 || d == 0 {
		return false, 0, 0, false
	}
	num := new(big.Int).Mul(big.NewInt(n), sumSq)
	num.Sub(num, new(big.Int).Mul(sum, sum))
	v, _ := new(big.Rat).SetFrac(num, new(big.Int).Mul(big.NewInt(n), big.NewInt(d))).Float64()
	if op == "stddev" || op == "stddev_pop" || op == "stddev_samp" {
		v = math.Sqrt(v)
	}
	return false, 0, v, true
}

func appendFloat(dst []byte, f float64) []byte {
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
