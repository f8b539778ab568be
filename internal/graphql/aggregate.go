package graphql

import (
	"encoding/binary"
	"math"
	"math/big"
	"strings"

	"github.com/tally-server/tally/internal/analytics"
)

// Aggregates of the rows a root field kept, as PostgreSQL computes them
// over the function's result: NULLs are skipped, and an aggregate of no
// value is NULL (count is 0).

// count is count(*), or count(columns) with distinct: for one column its
// non-NULL values (distinct ones with distinct), for several the rows
// (distinct tuples with distinct, NULLs equal), as count((a, b)) and
// count(DISTINCT (a, b)) do.
func count(c cells, r *rows, cols []int, distinct bool) int64 {
	n := r.len()
	if len(cols) == 0 {
		if !distinct {
			return int64(n)
		}
		for i := range c.table.Columns {
			cols = append(cols, i)
		}
	}
	if !distinct {
		if len(cols) > 1 {
			return int64(n)
		}
		var k int64
		for i := 0; i < n; i++ {
			if !c.null(cols[0], r.row(i)) {
				k++
			}
		}
		return k
	}
	seen := map[string]bool{}
	var key []byte
	for i := 0; i < n; i++ {
		row := r.row(i)
		if len(cols) == 1 && c.null(cols[0], row) {
			continue
		}
		key = key[:0]
		for _, col := range cols {
			switch {
			case c.null(col, row):
				key = append(key, 'N')
			case c.table.Columns[col].Type == analytics.Text:
				s := c.res.Cols[col].Texts[row]
				key = binary.AppendUvarint(append(key, 'T'), uint64(len(s)))
				key = append(key, s...)
			default:
				key = binary.AppendVarint(append(key, 'I'), c.res.Cols[col].Ints[row])
			}
		}
		seen[string(key)] = true
	}
	return int64(len(seen))
}

// stat computes aggregate op (avg, max, min, stddev..., sum, var...) of a
// column over the rows kept. Integer results (sum, max and min of
// numbers) are exact; max and min keep the column's type; the others are
// the float64 of the exact rational value, as PostgreSQL's numeric result
// read by a client.
func stat(c cells, r *rows, op string, col int) node {
	typ := c.table.Columns[col].Type
	n := r.len()
	var vals []int
	for i := 0; i < n; i++ {
		if row := r.row(i); !c.null(col, row) {
			vals = append(vals, row)
		}
	}
	if len(vals) == 0 {
		return node{} // NULL
	}
	switch op {
	case "max", "min":
		best := vals[0]
		for _, row := range vals[1:] {
			d := c.compareRows(col, row, best, false)
			if (op == "max" && d > 0) || (op == "min" && d < 0) {
				best = row
			}
		}
		switch typ {
		case analytics.Text:
			return node{kind: nodeString, s: c.res.Cols[col].Texts[best]}
		case analytics.Timestamp:
			return node{kind: nodeTimestamp, i: c.res.Cols[col].Ints[best]}
		}
		return node{kind: nodeInt, i: c.res.Cols[col].Ints[best]}
	}
	ints := c.res.Cols[col].Ints
	sum, sumSq := new(big.Int), new(big.Int)
	for _, row := range vals {
		v := big.NewInt(ints[row])
		sum.Add(sum, v)
		sumSq.Add(sumSq, v.Mul(v, v))
	}
	k := int64(len(vals))
	switch op {
	case "sum":
		return node{kind: nodeNumber, s: sum.String()}
	case "avg":
		q, _ := new(big.Rat).SetFrac(sum, big.NewInt(k)).Float64()
		return node{kind: nodeFloat, f: q}
	}
	// Variance: (k·Σx² − (Σx)²) / (k·d), d = k for the population and k−1
	// for the sample, computed exactly before the one rounding.
	d := k - 1
	if op == "var_pop" || op == "stddev_pop" {
		d = k
	}
	if d == 0 {
		return node{}
	}
	num := new(big.Int).Mul(big.NewInt(k), sumSq)
	num.Sub(num, new(big.Int).Mul(sum, sum))
	v, _ := new(big.Rat).SetFrac(num, new(big.Int).Mul(big.NewInt(k), big.NewInt(d))).Float64()
	if strings.HasPrefix(op, "stddev") {
		v = math.Sqrt(v)
	}
	return node{kind: nodeFloat, f: v}
}
