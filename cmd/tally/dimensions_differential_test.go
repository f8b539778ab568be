package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// The differential test of session_dimension_counts: the generated data
// set of TestDifferentialAgainstReference, moved to March and April 2024
// so that its range crosses daylight-saving changes (New York on March
// 10th, Europe on March 31st, Lord Howe's half hour on April 7th), loaded
// into Tally (embedded, live and compacting, and on PostgreSQL) and into
// PostgreSQL with reference.sql and reference_dimensions.sql; random
// ranges and zones through /v1/graphql and through the reference
// function must give the same rows in the same order.

// shift moves every time of the data set by micros.
func (d *dataset) shift(t *testing.T, micros int64) {
	t.Helper()
	move := func(s *string) {
		if s != nil {
			*s = pgtext.FormatTimestamp(mustTS(*s) + micros)
		}
	}
	for _, batch := range d.sends {
		for i := range batch {
			move(&batch[i].StartTime)
			move(batch[i].EndTime)
			move(batch[i].UpdatedAt)
		}
	}
	d.minStart += micros
	d.maxStart += micros
}

// dimensionQuery is one generated call: the arguments Tally is sent
// (absent when not in args) and the reference function's (nil = NULL).
type dimensionQuery struct {
	account string
	args    map[string]any
	inline  bool
	pg      [3]*string // start_time, end_time, time_zone
}

var dimensionArgs = []struct{ name, typ string }{{"start_time", "timestamp"}, {"end_time", "timestamp"}, {"time_zone", "String"}}

// dimensionZones are the zones queries use: nil omits the argument.
var dimensionZones = []*string{nil, nil, ptr("UTC"), ptr("America/New_York"), ptr("europe/athens"), ptr("Australia/Lord_Howe"), ptr("Asia/Kolkata")}

// specialWalls are wall-clock times at the zones' changes: skipped (New
// York, Athens) or repeated (Lord Howe, 01:30-02:00 on April 7th).
var specialWalls = []string{"2024-03-10 02:30", "2024-03-10 03:00", "2024-03-31 03:30", "2024-03-31 04:00", "2024-04-07 01:45", "2024-04-07 02:00", "2024-04-07 01:30"}

func ptr(s string) *string { return &s }

func genDimensionQuery(r *rand.Rand, d *dataset) dimensionQuery {
	q := dimensionQuery{args: map[string]any{}, inline: r.Intn(3) == 0}
	if r.Intn(15) == 0 {
		q.account = randUUID(r).String() // an account with no data
	} else {
		q.account = pick(r, d.accounts).String()
	}
	zone := pick(r, dimensionZones)
	switch {
	case zone != nil:
		q.args["time_zone"] = *zone
		q.pg[2] = zone
	case r.Intn(3) == 0:
		q.args["time_zone"] = nil
	}
	utc := zone == nil || *zone == "UTC"
	wall := func() int64 {
		t := d.minStart - 5*pgtext.MicrosPerDay + r.Int63n(d.maxStart-d.minStart+10*pgtext.MicrosPerDay)
		switch r.Intn(3) {
		case 0:
			t -= t % pgtext.MicrosPerDay
		case 1:
			t -= t % pgtext.MicrosPerHour
		}
		return t
	}
	lo := wall()
	length := 20 * pgtext.MicrosPerDay
	if r.Intn(3) == 0 {
		length = 70 * pgtext.MicrosPerDay // long enough for the PostgreSQL store to split it
	}
	hi := lo + r.Int63n(length)
	if r.Intn(10) == 0 {
		hi = lo // an empty range
	}
	for k, v := range []int64{lo, hi} {
		name := dimensionArgs[k].name
		switch r.Intn(8) {
		case 0: // omitted: no bound
			continue
		case 1: // null: no bound
			q.args[name] = nil
			continue
		}
		text := pgtext.FormatTimestamp(v)
		q.pg[k] = ptr(text)
		switch {
		case r.Intn(8) == 0:
			text = pick(r, specialWalls)
			q.pg[k] = ptr(text)
		case r.Intn(4) == 0 && v%pgtext.MicrosPerDay == 0:
			text = text[:10] // date only
		case r.Intn(4) == 0 && utc:
			// An offset names an instant; in UTC PostgreSQL gets its wall
			// time. (In other zones a repeated wall time would name the
			// later instant, so offsets are only sent in UTC.)
			off := int64(r.Intn(5)-2) * pgtext.MicrosPerHour
			text = strings.Replace(pgtext.FormatTimestamp(v+off), "T", " ", 1) + fmt.Sprintf("%+03d:00", off/pgtext.MicrosPerHour)
		}
		q.args[name] = text
	}
	return q
}

// request renders q as a GraphQL document with variables.
func (q dimensionQuery) request() (string, map[string]any) {
	var decls, args []string
	vars := map[string]any{}
	for i, a := range dimensionArgs {
		v, ok := q.args[a.name]
		if !ok {
			continue
		}
		if q.inline {
			args = append(args, a.name+": "+graphqlLiteral(v))
			continue
		}
		vn := fmt.Sprintf("v%d", i)
		decls = append(decls, "$"+vn+": "+a.typ)
		args = append(args, a.name+": $"+vn)
		vars[vn] = v
	}
	doc := "query D"
	if len(decls) > 0 {
		doc += "(" + strings.Join(decls, ", ") + ")"
	}
	return doc + " { rows: session_dimension_counts(args: {" + strings.Join(args, ", ") + "}) { dimension value sessions } }", vars
}

type dimensionRow struct {
	Dimension string `json:"dimension"`
	Value     string `json:"value"`
	Sessions  int64  `json:"sessions"`
}

// reference calls the reference function; reversed reports whether the
// range's end is an instant before its start, which Tally rejects.
func (q dimensionQuery) reference(t *testing.T, conn *pgx.Conn) (rows []dimensionRow, reversed bool) {
	t.Helper()
	ctx := context.Background()
	err := conn.QueryRow(ctx, `SELECT coalesce($2::timestamp AT TIME ZONE coalesce($3, 'UTC') < $1::timestamp AT TIME ZONE coalesce($3, 'UTC'), false)`,
		q.pg[0], q.pg[1], q.pg[2]).Scan(&reversed)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	res, err := conn.Query(ctx, `SELECT dimension, value, sessions FROM session_dimension_counts($1::uuid, $2::timestamp, $3::timestamp, $4::text)`,
		q.account, q.pg[0], q.pg[1], q.pg[2])
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	for res.Next() {
		var r dimensionRow
		if err := res.Scan(&r.Dimension, &r.Value, &r.Sessions); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("reference: %v", err)
	}
	return rows, reversed
}

func TestDimensionCountsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	dbConn := connectNew(t)

	d := genDataset(r, 15000)
	d.shift(t, 60*pgtext.MicrosPerDay)
	live := servertest.Start(t, servertest.Options{})
	loadTally(t, live, r, d)
	compacting := servertest.Start(t, servertest.Options{CompactRows: 500})
	loadTally(t, compacting, r, d)
	onPostgres := servertest.Start(t, servertest.Options{DatabaseURL: pgtest.NewDatabase(t)})
	loadTally(t, onPostgres, r, d)
	loadPostgres(t, dbConn, d)
	ref, err := os.ReadFile("testdata/reference_dimensions.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbConn.Exec(context.Background(), "SET search_path = public;\n"+string(ref)); err != nil {
		t.Fatalf("reference_dimensions.sql: %v", err)
	}

	const queries = 300
	failures, nonEmpty, reversed := 0, 0, 0
	for i := 0; i < queries && failures < 10; i++ {
		q := genDimensionQuery(r, d)
		doc, vars := q.request()
		embedded := []*servertest.Server{live, compacting}[i%2]
		resp := embedded.Query(t, q.account, doc, vars)
		if pgResp := onPostgres.Query(t, q.account, doc, vars); string(mustJSON(pgResp)) != string(mustJSON(resp)) {
			failures++
			t.Errorf("query %d: the backends differ\n%s\nvariables %s\nembedded   %s\nPostgreSQL %s", i, doc, mustJSON(vars), mustJSON(resp), mustJSON(pgResp))
		}
		want, rev := q.reference(t, dbConn)
		if rev {
			// Tally rejects a reversed range (docs/semantics.md); the
			// reference has no session in it.
			reversed++
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions.Code != "data-exception" || !strings.HasSuffix(resp.Errors[0].Extensions.Path, ".end_time") || len(want) != 0 {
				failures++
				t.Errorf("query %d: a reversed range gives %s; the reference %v", i, mustJSON(resp), want)
			}
			continue
		}
		if len(resp.Errors) > 0 {
			failures++
			t.Errorf("query %d: Tally error %+v\n%s\n%s", i, resp.Errors[0], doc, mustJSON(vars))
			continue
		}
		var got []dimensionRow
		if err := json.Unmarshal(resp.Data["rows"], &got); err != nil {
			t.Fatal(err)
		}
		if g, w := mustJSON(got), mustJSON(want); len(got)+len(want) > 0 && string(g) != string(w) {
			failures++
			t.Errorf("query %d differs\n%s\nvariables %s\nreference args %v\nTally      %s\nPostgreSQL %s", i, doc, mustJSON(vars), showDimensionPG(q.pg), g, w)
		}
		if len(want) > 0 {
			nonEmpty++
		}
	}
	t.Logf("%d queries: %d with sessions, %d reversed ranges", queries, nonEmpty, reversed)
	if nonEmpty < queries/2 {
		t.Errorf("only %d of %d queries had any session: the generator no longer exercises the data", nonEmpty, queries)
	}
}

func showDimensionPG(pg [3]*string) string {
	var parts []string
	for i, v := range pg {
		s := "NULL"
		if v != nil {
			s = *v
		}
		parts = append(parts, dimensionArgs[i].name+"="+s)
	}
	return strings.Join(parts, " ")
}
