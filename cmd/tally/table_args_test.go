package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// The differential test of Hasura's table arguments: random where,
// order_by, distinct_on, limit, offset and _aggregate queries through
// Tally, and the same clauses applied by PostgreSQL to reference.sql's
// function. Each random spec is rendered twice, once as GraphQL and once
// as SQL, by separate code.

type exprSpec struct {
	op    string // "and", "or", "not", or a comparison operator
	kids  []*exprSpec
	col   string
	value any // int64, or a timestamp string; []any for _in/_nin; bool for _is_null
}

var tableCols = []string{"per_interval", "open_sessions", "closed_sessions"}

func genExpr(r *rand.Rand, depth int, stamps []string, cols []string) *exprSpec {
	if depth < 2 && r.Intn(3) == 0 {
		op := []string{"and", "or", "not"}[r.Intn(3)]
		e := &exprSpec{op: op}
		n := 1
		if op != "not" {
			n = r.Intn(3) // 0, 1 or 2 children; empty _and/_or are legal
		}
		for i := 0; i < n; i++ {
			e.kids = append(e.kids, genExpr(r, depth+1, stamps, cols))
		}
		return e
	}
	col := pick(r, cols)
	op := pick(r, []string{"_eq", "_neq", "_gt", "_gte", "_lt", "_lte", "_in", "_nin", "_is_null"})
	e := &exprSpec{op: op, col: col}
	val := func() any {
		if col == "per_interval" {
			return pick(r, stamps)
		}
		return int64(r.Intn(40))
	}
	switch op {
	case "_is_null":
		e.value = r.Intn(2) == 0
	case "_in", "_nin":
		var list []any
		for n := r.Intn(4); n > 0; n-- {
			list = append(list, val())
		}
		e.value = list
	default:
		e.value = val()
	}
	return e
}

func (e *exprSpec) graphql() string {
	switch e.op {
	case "and", "or":
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			parts[i] = k.graphql()
		}
		return fmt.Sprintf("{_%s: [%s]}", e.op, strings.Join(parts, ", "))
	case "not":
		return "{_not: " + e.kids[0].graphql() + "}"
	}
	return fmt.Sprintf("{%s: {%s: %s}}", e.col, e.op, literal(e.value))
}

func literal(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = literal(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return string(mustJSON(v))
	}
	return fmt.Sprint(v)
}

func sqlValue(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'::timestamp"
	}
	return fmt.Sprint(v)
}

func (e *exprSpec) sql() string {
	switch e.op {
	case "and", "or":
		if len(e.kids) == 0 {
			return map[string]string{"and": "true", "or": "false"}[e.op]
		}
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			parts[i] = "(" + k.sql() + ")"
		}
		return strings.Join(parts, " "+strings.ToUpper(e.op)+" ")
	case "not":
		return "NOT (" + e.kids[0].sql() + ")"
	case "_is_null":
		if e.value.(bool) {
			return e.col + " IS NULL"
		}
		return e.col + " IS NOT NULL"
	case "_in", "_nin":
		list := e.value.([]any)
		if len(list) == 0 {
			return map[string]string{"_in": "false", "_nin": "true"}[e.op]
		}
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = sqlValue(x)
		}
		not := ""
		if e.op == "_nin" {
			not = "NOT "
		}
		return e.col + " " + not + "IN (" + strings.Join(parts, ", ") + ")"
	}
	sqlOp := map[string]string{"_eq": "=", "_neq": "<>", "_gt": ">", "_gte": ">=", "_lt": "<", "_lte": "<="}[e.op]
	return e.col + " " + sqlOp + " " + sqlValue(e.value)
}

type tableSpec struct {
	where     *exprSpec
	order     [][2]string // column, direction
	distinct  []string
	limit     int
	offset    int
	aggregate bool
}

var directions = map[string]string{"asc": "ASC NULLS LAST", "asc_nulls_first": "ASC NULLS FIRST", "asc_nulls_last": "ASC NULLS LAST",
	"desc": "DESC NULLS FIRST", "desc_nulls_first": "DESC NULLS FIRST", "desc_nulls_last": "DESC NULLS LAST"}

// genTableSpec makes random table arguments over the columns tableCols
// names (per_interval first): per_interval is made the last key of a
// non-empty order_by, which makes the order total when per_interval is
// unique; with total, every column is.
func genTableSpec(r *rand.Rand, stamps []string, tableCols []string, total bool) tableSpec {
	s := tableSpec{limit: -1, offset: -1, aggregate: r.Intn(2) == 0}
	if r.Intn(3) != 0 {
		s.where = genExpr(r, 0, stamps, tableCols)
	}
	dirs := []string{"asc", "asc_nulls_first", "asc_nulls_last", "desc", "desc_nulls_first", "desc_nulls_last"}
	cols := append([]string{}, tableCols...)
	r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	if r.Intn(3) == 0 {
		s.distinct = cols[:1+r.Intn(2)]
	}
	if r.Intn(2) == 0 || len(s.distinct) > 0 {
		n := max(len(s.distinct), r.Intn(3))
		for _, c := range cols[:n] {
			s.order = append(s.order, [2]string{c, pick(r, dirs)})
		}
		// per_interval last makes the order total, so both sides agree on
		// which row comes first among ties.
		has := false
		for _, o := range s.order {
			has = has || o[0] == "per_interval"
		}
		if !has {
			s.order = append(s.order, [2]string{"per_interval", pick(r, dirs)})
		}
		for _, c := range tableCols[1:] {
			has := false
			for _, o := range s.order {
				has = has || o[0] == c
			}
			if total && !has {
				s.order = append(s.order, [2]string{c, pick(r, dirs)})
			}
		}
	}
	if r.Intn(3) == 0 {
		s.limit = r.Intn(8)
	}
	if r.Intn(3) == 0 {
		s.offset = r.Intn(8)
	}
	return s
}

func (s tableSpec) graphqlArgs() string {
	var parts []string
	if s.where != nil {
		parts = append(parts, "where: "+s.where.graphql())
	}
	if len(s.order) > 0 {
		var os []string
		for _, o := range s.order {
			os = append(os, fmt.Sprintf("{%s: %s}", o[0], o[1]))
		}
		parts = append(parts, "order_by: ["+strings.Join(os, ", ")+"]")
	}
	if len(s.distinct) > 0 {
		parts = append(parts, "distinct_on: ["+strings.Join(s.distinct, ", ")+"]")
	}
	if s.limit >= 0 {
		parts = append(parts, fmt.Sprintf("limit: %d", s.limit))
	}
	if s.offset >= 0 {
		parts = append(parts, fmt.Sprintf("offset: %d", s.offset))
	}
	return strings.Join(parts, ", ")
}

// sql renders s over the function call, selecting cols.
func (s tableSpec) sql(fnCall string, cols []string) string {
	q := "SELECT "
	if len(s.distinct) > 0 {
		q += "DISTINCT ON (" + strings.Join(s.distinct, ", ") + ") "
	}
	q += strings.Join(cols, ", ") + " FROM " + fnCall + " t"
	if s.where != nil {
		q += " WHERE " + s.where.sql()
	}
	if len(s.order) > 0 {
		var os []string
		for _, o := range s.order {
			os = append(os, o[0]+" "+directions[o[1]])
		}
		q += " ORDER BY " + strings.Join(os, ", ")
	}
	if s.limit >= 0 {
		q += fmt.Sprintf(" LIMIT %d", s.limit)
	}
	if s.offset >= 0 {
		q += fmt.Sprintf(" OFFSET %d", s.offset)
	}
	return q
}

const aggSelection = `aggregate { count cd: count(columns: [open_sessions], distinct: true) cc: count(columns: [open_sessions, closed_sessions])
  sum { open_sessions closed_sessions } avg { open_sessions closed_sessions } max { per_interval open_sessions closed_sessions }
  min { per_interval open_sessions closed_sessions } stddev { open_sessions } stddev_pop { closed_sessions } stddev_samp { open_sessions }
  var_pop { open_sessions } var_samp { closed_sessions } variance { open_sessions } } nodes { per_interval open_sessions closed_sessions }`

const aggSQL = `SELECT count(*), count(DISTINCT open_sessions), count((open_sessions, closed_sessions)),
  sum(open_sessions), sum(closed_sessions), avg(open_sessions)::float8, avg(closed_sessions)::float8,
  max(per_interval), max(open_sessions), max(closed_sessions), min(per_interval), min(open_sessions), min(closed_sessions),
  stddev(open_sessions)::float8, stddev_pop(closed_sessions)::float8, stddev_samp(open_sessions)::float8,
  var_pop(open_sessions)::float8, var_samp(closed_sessions)::float8, variance(open_sessions)::float8 FROM (%s) s`

func TestDifferentialTableArguments(t *testing.T) {
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	db := connectNew(t)
	d := genDataset(r, 8000)
	tally := servertest.Start(t, servertest.Options{})
	loadTally(t, tally, r, d)
	loadPostgres(t, db, d)

	failures := 0
	for i := 0; i < 300 && failures < 10; i++ {
		account := pick(r, d.accounts).String()
		start := d.minStart + r.Int63n(d.maxStart-d.minStart)
		start -= start % pgtext.MicrosPerDay
		days := 3 + r.Intn(20)
		span := pick(r, []string{"1 day", "2 days", "12 hours"})
		iv, _ := pgtext.ParseInterval(span)
		end := start + int64(days-1)*pgtext.MicrosPerDay
		var stamps []string
		for b := start; b <= end+iv.FixedMicros(); b += iv.FixedMicros() / 2 {
			stamps = append(stamps, pgtext.FormatTimestamp(b))
		}
		spec := genTableSpec(r, stamps, tableCols, false)
		fnArgs := fmt.Sprintf(`args: {start_time: %q, end_time: %q, interval_span: %q}`, pgtext.FormatTimestamp(start), pgtext.FormatTimestamp(end), span)
		if a := spec.graphqlArgs(); a != "" {
			fnArgs += ", " + a
		}
		fnCall := fmt.Sprintf("open_closed_sessions_interval_counts_v2('%s'::uuid, '%s'::timestamp, '%s'::timestamp, '%s'::interval)", account, pgtext.FormatTimestamp(start), pgtext.FormatTimestamp(end), span)
		rowsSQL := spec.sql(fnCall, tableCols)
		var doc string
		if spec.aggregate {
			doc = "{ r: open_closed_sessions_interval_counts_v2_aggregate(" + fnArgs + ") { " + aggSelection + " } }"
		} else {
			doc = "{ r: open_closed_sessions_interval_counts_v2(" + fnArgs + ") { per_interval open_sessions closed_sessions } }"
		}
		resp := tally.Query(t, account, doc, nil)
		if len(resp.Errors) > 0 {
			failures++
			t.Errorf("query %d: Tally error %+v\n%s", i, resp.Errors[0], doc)
			continue
		}
		wantRows := pgRows(t, db, rowsSQL)
		if !spec.aggregate {
			if g, w := servertest.Compact(resp.Data["r"]), mustJSON(wantRows); string(g) != string(w) {
				failures++
				t.Errorf("query %d differs\n%s\nSQL %s\nTally      %s\nPostgreSQL %s", i, doc, rowsSQL, g, w)
			}
			continue
		}
		var got struct {
			Aggregate map[string]any `json:"aggregate"`
			Nodes     []tableRow     `json:"nodes"`
		}
		if err := json.Unmarshal(resp.Data["r"], &got); err != nil {
			t.Fatal(err)
		}
		if g, w := mustJSON(got.Nodes), mustJSON(wantRows); string(g) != string(w) {
			failures++
			t.Errorf("query %d nodes differ\n%s\nTally      %s\nPostgreSQL %s", i, doc, g, w)
		}
		want := pgAggregate(t, db, fmt.Sprintf(aggSQL, rowsSQL))
		if diff := compareAggregate(got.Aggregate, want); diff != "" {
			failures++
			t.Errorf("query %d aggregate differs: %s\n%s\nSQL %s", i, diff, doc, rowsSQL)
		}
	}
}

type tableRow struct {
	PerInterval string `json:"per_interval"`
	Open        int64  `json:"open_sessions"`
	Closed      int64  `json:"closed_sessions"`
}

func pgRows(t *testing.T, db *pgx.Conn, q string) []tableRow {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := []tableRow{}
	for rows.Next() {
		var ts pgtype.Timestamp
		var row tableRow
		if err := rows.Scan(&ts, &row.Open, &row.Closed); err != nil {
			t.Fatal(err)
		}
		row.PerInterval = pgtext.FormatTimestamp(ts.Time.UnixMicro())
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// pgAggregate returns the aggregate row keyed as Tally's answer is.
func pgAggregate(t *testing.T, db *pgx.Conn, q string) map[string]any {
	t.Helper()
	var (
		count, cd, cc                                   int64
		sumO, sumC, maxO, maxC, minO, minC              *int64
		avgO, avgC, sd, sdPop, sdSamp, vPop, vSamp, vAr *float64
		maxP, minP                                      pgtype.Timestamp
	)
	err := db.QueryRow(context.Background(), q).Scan(&count, &cd, &cc, &sumO, &sumC, &avgO, &avgC, &maxP, &maxO, &maxC, &minP, &minO, &minC, &sd, &sdPop, &sdSamp, &vPop, &vSamp, &vAr)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	num, ts := jsonInt, jsonTimestamp
	flt := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return map[string]any{
		"count": float64(count), "cd": float64(cd), "cc": float64(cc),
		"sum":         map[string]any{"open_sessions": num(sumO), "closed_sessions": num(sumC)},
		"avg":         map[string]any{"open_sessions": flt(avgO), "closed_sessions": flt(avgC)},
		"max":         map[string]any{"per_interval": ts(maxP), "open_sessions": num(maxO), "closed_sessions": num(maxC)},
		"min":         map[string]any{"per_interval": ts(minP), "open_sessions": num(minO), "closed_sessions": num(minC)},
		"stddev":      map[string]any{"open_sessions": flt(sd)},
		"stddev_pop":  map[string]any{"closed_sessions": flt(sdPop)},
		"stddev_samp": map[string]any{"open_sessions": flt(sdSamp)},
		"var_pop":     map[string]any{"open_sessions": flt(vPop)},
		"var_samp":    map[string]any{"closed_sessions": flt(vSamp)},
		"variance":    map[string]any{"open_sessions": flt(vAr)},
	}
}

// compareAggregate compares decoded JSON values; numbers agree within a
// relative 1e-12 (PostgreSQL computes in numeric, Tally exactly then
// rounds once).
func compareAggregate(got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		for k, wv := range w {
			if d := compareAggregate(g[k], wv); d != "" {
				return k + ": " + d
			}
		}
		return ""
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		return ""
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	return ""
}

// jsonInt is an aggregate's bigint as decoded JSON: a number, or nil for
// SQL NULL.
func jsonInt(p *int64) any {
	if p == nil {
		return nil
	}
	return float64(*p)
}

// jsonTimestamp is an aggregate's timestamp as Tally renders it, or nil
// for SQL NULL.
func jsonTimestamp(v pgtype.Timestamp) any {
	if !v.Valid {
		return nil
	}
	return pgtext.FormatTimestamp(v.Time.UnixMicro())
}
