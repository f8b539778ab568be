package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// The differential test of SPEC 9.1 and 9.2: time zones and the flow
// columns, through /v1/graphql on every backend, against
// open_closed_sessions_interval_counts_ext of reference.sql on a real
// PostgreSQL. The sessions span both daylight-saving changes of the
// northern and the southern hemisphere in 2024 and last from seconds to
// weeks; the queries are drawn around the zones' changes, anywhere in the
// data and past its end, with every interval form and random filters,
// select all five columns (in random order) and sometimes Hasura's table
// arguments and aggregates on them.

// diffZones are the zones queried: half-hour and 45-minute offsets, a
// 30-minute change, changes north and south, UTC; "" sends no time_zone
// and "null" an explicit null.
var diffZones = []string{"Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe", "America/St_Johns", "America/New_York",
	"Europe/Athens", "UTC", "", "null"}

// zoneSpellings are the interval forms of these queries: calendar days
// against fixed hours, sub-hour spans that meet 30- and 45-minute
// offsets, weeks, months and mixes.
var zoneSpellings = []struct{ tally, pg string }{
	{"1 day", "1 day"}, {"24 hours", "24 hours"}, {"1 hour", "1 hour"}, {"30 minutes", "30 minutes"}, {"15 minutes", "15 minutes"},
	{"45 minutes", "45 minutes"}, {"6 hours", "6 hours"}, {"1 week", "7 days"}, {"1 mon", "1 mon"}, {"1 month", "1 month"},
	{"1 mon 2 days", "1 mon 2 days"}, {"1 day 02:00:00", "1 day 02:00:00"}, {"P1D", "1 day"}, {"PT90M", "90 minutes"},
	{"2 days", "2 days"}, {"12h", "12 hours"}, {"1 day 30 minutes", "1 day 30 minutes"}, {"3 days 1 hour", "3 days 01:00:00"},
}

var flowCols = []string{"per_interval", "open_sessions", "closed_sessions", "open_at_end", "closed_in_interval"}

type flowRow struct {
	PerInterval      string `json:"per_interval"`
	OpenSessions     int64  `json:"open_sessions"`
	ClosedSessions   int64  `json:"closed_sessions"`
	OpenAtEnd        int64  `json:"open_at_end"`
	ClosedInInterval int64  `json:"closed_in_interval"`
}

// zoneQuery is one generated query of this test.
type zoneQuery struct {
	refQuery
	zone     string       // as diffZones
	z        *pgtext.Zone // the zone Tally uses
	nearDST  bool         // a change of the zone's offset is within the range
	table    tableSpec
	hasTable bool
}

// transitions returns the instants in [from, to) at which z's offset
// changes, to the hour.
func transitions(z *pgtext.Zone, from, to int64) []int64 {
	var out []int64
	prev := z.Offset(from)
	for t := from; t < to; t += pgtext.MicrosPerHour {
		if o := z.Offset(t); o != prev {
			out = append(out, t)
			prev = o
		}
	}
	return out
}

// wallText writes a wall-clock time as one of the literal forms.
func wallText(r *rand.Rand, wall int64) string {
	s := pgtext.FormatTimestamp(wall)
	switch {
	case wall%pgtext.MicrosPerDay == 0 && r.Intn(2) == 0:
		return s[:10]
	case r.Intn(2) == 0:
		return strings.Replace(s, "T", " ", 1)
	}
	return s
}

// instantText writes an instant with an offset or Z, as one of the
// literals that name an instant.
func instantText(r *rand.Rand, instant int64) string {
	off := []int64{0, -5 * 60, -(3*60 + 30), 2 * 60, 5*60 + 45}[r.Intn(5)] * pgtext.MicrosPerMinute
	s := pgtext.FormatTimestamp(instant + off)
	if off == 0 && r.Intn(2) == 0 {
		return s + "Z"
	}
	sign, a := "+", off
	if off < 0 {
		sign, a = "-", -off
	}
	return fmt.Sprintf("%s%s%02d:%02d", s, sign, a/pgtext.MicrosPerHour, a%pgtext.MicrosPerHour/pgtext.MicrosPerMinute)
}

func genZoneQuery(t *testing.T, r *rand.Rand, d *dataset, trans map[string][]int64) zoneQuery {
	q := zoneQuery{refQuery: refQuery{args: map[string]any{}, pg: map[string]*string{}, inline: r.Intn(3) == 0}}
	str := func(s string) *string { return &s }
	if r.Intn(15) == 0 {
		q.account = randUUID(r).String() // an account with no data
	} else {
		q.account = pick(r, d.accounts).String()
	}
	q.zone = pick(r, diffZones)
	q.z = pgtext.UTC()
	switch q.zone {
	case "":
	case "null":
		q.args["time_zone"] = nil
		q.pg["time_zone"] = nil
	default:
		name := q.zone
		if r.Intn(8) == 0 {
			name = strings.ToLower(name) // names match case-insensitively, in PostgreSQL too
		}
		q.args["time_zone"] = name
		q.pg["time_zone"] = str(name)
		z, err := pgtext.LoadZone(name)
		if err != nil {
			t.Fatal(err)
		}
		q.z = z
	}
	iv := pick(r, zoneSpellings)
	span, err := pgtext.ParseInterval(iv.tally)
	if err != nil {
		t.Fatal(err)
	}
	width := int64(span.Months)*30*pgtext.MicrosPerDay + int64(span.Days)*pgtext.MicrosPerDay + span.Micros
	buckets := 1 + r.Intn(30)
	var center int64
	switch ts := trans[q.z.Name()]; {
	case len(ts) > 0 && r.Intn(2) == 0: // around a change of the clocks
		center = pick(r, ts)
	case r.Intn(8) == 0: // past the data's end
		center = d.maxStart + pgtext.MicrosPerDay + r.Int63n(40*pgtext.MicrosPerDay)
	default:
		center = d.minStart - 5*pgtext.MicrosPerDay + r.Int63n(d.maxStart-d.minStart+10*pgtext.MicrosPerDay)
	}
	// A wall-clock start some buckets before the center, cut to the
	// day, the quarter hour or the second: near a change it may be a time
	// the clocks skipped or repeated.
	startWall, err := q.z.Wall(center - r.Int63n(int64(1+buckets/2)*width))
	if err != nil {
		t.Fatal(err)
	}
	switch r.Intn(3) {
	case 0:
		startWall -= startWall % pgtext.MicrosPerDay
	case 1:
		startWall -= startWall % (15 * pgtext.MicrosPerMinute)
	default:
		startWall -= startWall % pgtext.MicrosPerSecond
	}
	if r.Intn(6) == 0 {
		startWall += int64(r.Intn(5)-2) * 30 * pgtext.MicrosPerMinute // into a gap or an overlap, perhaps
	}
	start, err := q.z.Instant(startWall)
	if err != nil {
		t.Fatal(err)
	}
	endWall, err := q.z.Wall(start + int64(buckets-1)*width + r.Int63n(width))
	if err != nil {
		t.Fatal(err)
	}
	switch r.Intn(10) {
	case 0:
		endWall = startWall // a single bucket
	case 1:
		// Where the clocks sprang forward by jump, a start in the gap
		// is read jump later; an end just after the gap is then an
		// earlier instant (PostgreSQL: no bucket; Tally: an error).
		for _, tr := range trans[q.z.Name()] {
			jump := int64(q.z.Offset(tr)-q.z.Offset(tr-1)) * pgtext.MicrosPerSecond
			if jump > 0 && tr >= center-width && tr <= center+width {
				after, _ := q.z.Wall(tr)
				startWall = after - jump/2
				endWall = after + r.Int63n(jump/2)
				if start, err = q.z.Instant(startWall); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	// Literals: wall-clock times, or instants with an offset when the
	// reference (which takes wall-clock times) can name the same instant.
	for _, a := range []struct {
		name string
		wall int64
	}{{"start_time", startWall}, {"end_time", endWall}} {
		text := wallText(r, a.wall)
		pgWall := a.wall
		if r.Intn(4) == 0 {
			inst, err := q.z.Instant(a.wall)
			if err != nil {
				t.Fatal(err)
			}
			w, err := q.z.Wall(inst)
			if err != nil {
				t.Fatal(err)
			}
			// A repeated wall-clock time is read as the later instant,
			// so the earlier one has no wall-clock spelling.
			if back, _ := q.z.Instant(w); back == inst {
				text, pgWall = instantText(r, inst), w
			}
		}
		q.args[a.name] = text
		q.pg[a.name] = str(pgtext.FormatTimestamp(pgWall))
	}
	if r.Intn(6) == 0 {
		q.pg["interval_span"] = str("1 day") // omitted: the default
	} else {
		q.args["interval_span"] = iv.tally
		q.pg["interval_span"] = str(iv.pg)
	}
	// Does a change of the clocks fall within the range?
	last := endWall + width
	for _, tr := range trans[q.z.Name()] {
		if tr >= start && tr < last+14*pgtext.MicrosPerHour {
			q.nearDST = true
		}
	}
	genFilters(r, d, &q.refQuery)
	return q
}

// request renders q for Tally: all five columns in a random order, with
// the table arguments when it has them.
func (q zoneQuery) request(r *rand.Rand) string {
	decls, args, vars := graphqlArgs(q.refQuery, append(append([]string{}, argNames...), "time_zone"))
	_ = vars
	cols := append([]string{}, flowCols...)
	r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	fieldArgs := "args: {" + strings.Join(args, ", ") + "}"
	if q.hasTable {
		if a := q.table.graphqlArgs(); a != "" {
			fieldArgs += ", " + a
		}
	}
	doc := "query Q"
	if len(decls) > 0 {
		doc += "(" + strings.Join(decls, ", ") + ")"
	}
	sel := strings.Join(cols, " ")
	if q.hasTable && q.table.aggregate {
		return doc + " { r: open_closed_sessions_interval_counts_v2_aggregate(" + fieldArgs + ") { " + flowAggSelection + " nodes { " + sel + " } } }"
	}
	return doc + " { r: open_closed_sessions_interval_counts_v2(" + fieldArgs + ") { " + sel + " } }"
}

// variables are q's GraphQL variables (none when inline).
func (q zoneQuery) variables() map[string]any {
	_, _, vars := graphqlArgs(q.refQuery, append(append([]string{}, argNames...), "time_zone"))
	return vars
}

const flowAggSelection = `aggregate { count cd: count(columns: [open_at_end], distinct: true) sum { open_at_end closed_in_interval }
  max { per_interval open_at_end closed_in_interval } min { per_interval open_at_end closed_in_interval } }`

const flowAggSQL = `SELECT count(*), count(DISTINCT open_at_end), sum(open_at_end), sum(closed_in_interval),
  max(per_interval), max(open_at_end), max(closed_in_interval), min(per_interval), min(open_at_end), min(closed_in_interval) FROM (%s) s`

// refCall is the reference function's call with q's arguments as
// parameters $1..$12.
const refCall = `open_closed_sessions_interval_counts_ext($1::uuid, $2::timestamp, $3::timestamp, $4::interval, $5::uuid[], $6::uuid[], $7::uuid[], $8::int[], $9::text[], $10::boolean, $11::text[], $12::text)`

func (q zoneQuery) params() []any {
	params := []any{q.account}
	for _, name := range append(append([]string{}, argNames...), "time_zone") {
		params = append(params, q.pg[name])
	}
	return params
}

// reference runs sql (over refCall) and returns its rows of the five
// columns.
func (q zoneQuery) reference(t *testing.T, conn *pgx.Conn, sql string) []flowRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, q.params()...)
	if err != nil {
		t.Fatalf("reference: %v\n%s", err, sql)
	}
	out := []flowRow{}
	for rows.Next() {
		var ts pgtype.Timestamp
		var fr flowRow
		if err := rows.Scan(&ts, &fr.OpenSessions, &fr.ClosedSessions, &fr.OpenAtEnd, &fr.ClosedInInterval); err != nil {
			t.Fatal(err)
		}
		fr.PerInterval = pgtext.FormatTimestamp(ts.Time.UnixMicro())
		out = append(out, fr)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reference: %v\n%s", err, sql)
	}
	return out
}

// flowAggregate is the reference's aggregate row keyed as Tally's answer.
func (q zoneQuery) flowAggregate(t *testing.T, conn *pgx.Conn, rowsSQL string) map[string]any {
	t.Helper()
	var count, cd int64
	var sumO, sumC, maxO, maxC, minO, minC *int64
	var maxP, minP pgtype.Timestamp
	if err := conn.QueryRow(context.Background(), fmt.Sprintf(flowAggSQL, rowsSQL), q.params()...).Scan(&count, &cd, &sumO, &sumC, &maxP, &maxO, &maxC, &minP, &minO, &minC); err != nil {
		t.Fatalf("reference aggregate: %v", err)
	}
	num, ts := jsonInt, jsonTimestamp
	return map[string]any{
		"count": float64(count), "cd": float64(cd),
		"sum": map[string]any{"open_at_end": num(sumO), "closed_in_interval": num(sumC)},
		"max": map[string]any{"per_interval": ts(maxP), "open_at_end": num(maxO), "closed_in_interval": num(maxC)},
		"min": map[string]any{"per_interval": ts(minP), "open_at_end": num(minO), "closed_in_interval": num(minC)},
	}
}

// selectAll is the reference's rows, in the function's order.
const selectAll = "SELECT per_interval, open_sessions, closed_sessions, open_at_end, closed_in_interval FROM " + refCall

// zoneDuration is how long a closed session of this test lasts: from
// nothing to weeks; a fifth end exactly on an hour, where buckets start.
func zoneDuration(r *rand.Rand, start int64) int64 {
	switch r.Intn(10) {
	case 0:
		return 0
	case 1, 2:
		return r.Int63n(pgtext.MicrosPerHour)
	case 3, 4:
		return r.Int63n(pgtext.MicrosPerDay)
	case 5, 6:
		return int64(1+r.Intn(48))*pgtext.MicrosPerHour - start%pgtext.MicrosPerHour
	case 7, 8:
		return r.Int63n(10 * pgtext.MicrosPerDay)
	}
	return r.Int63n(60 * pgtext.MicrosPerDay)
}

func TestDifferentialZonesAndFlowColumns(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewSource(seed))
	conn := connectNew(t)
	// 2024-02-25 to 2024-11-11: New York and St. John's change on Mar 10
	// and Nov 3, Athens on Mar 31 and Oct 27, Lord Howe and Chatham on
	// Apr 7 and Oct 6 / Sep 29.
	d := genDatasetShaped(r, datasetShape{sessions: 20000, from: mustTS("2024-02-25"), days: 260, duration: zoneDuration})
	live := servertest.Start(t, servertest.Options{})
	loadTally(t, live, r, d)
	compacting := servertest.Start(t, servertest.Options{CompactRows: 700})
	loadTally(t, compacting, r, d)
	restarted := servertest.Start(t, servertest.Options{Dir: live.CopyData(t)})
	onPostgres := servertest.Start(t, servertest.Options{DatabaseURL: pgtest.NewDatabase(t)})
	loadTally(t, onPostgres, r, d)
	loadPostgres(t, conn, d)
	embedded := []*servertest.Server{live, compacting, restarted}

	trans := map[string][]int64{}
	for _, name := range diffZones {
		if z, err := pgtext.LoadZone(name); err == nil {
			trans[z.Name()] = transitions(z, d.minStart-30*pgtext.MicrosPerDay, d.maxStart+60*pgtext.MicrosPerDay)
		}
	}

	const queries = 500
	var (
		failures, nonEmpty, backlog, nearDST, reversed, tables int
		perZone                                                = map[string]int{}
	)
	for i := 0; i < queries && failures < 10; i++ {
		q := genZoneQuery(t, r, d, trans)
		want := q.reference(t, conn, selectAll)
		if r.Intn(4) == 0 && len(want) > 0 {
			var stamps []string
			for _, row := range want {
				stamps = append(stamps, row.PerInterval)
			}
			q.table, q.hasTable = genTableSpec(r, stamps, flowCols, true), true
			tables++
		}
		doc, vars := q.request(r), q.variables()
		resp := embedded[i%3].Query(t, q.account, doc, vars)
		if pgResp := onPostgres.Query(t, q.account, doc, vars); string(mustJSON(pgResp)) != string(mustJSON(resp)) {
			failures++
			t.Errorf("query %d: the backends differ\n%s\nvariables %s\nembedded   %s\nPostgreSQL %s", i, doc, mustJSON(vars), mustJSON(resp), mustJSON(pgResp))
			continue
		}
		perZone[q.zone]++
		if q.nearDST {
			nearDST++
		}
		if len(want) == 0 {
			// The reference's generate_series is empty when end_time is
			// before start_time as instants; Tally says so.
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions.Code != "data-exception" || !strings.HasSuffix(resp.Errors[0].Extensions.Path, ".args.args.end_time") {
				failures++
				t.Errorf("query %d: the reference has no bucket, Tally answered %s\n%s\nvariables %s\nPostgreSQL args %s", i, mustJSON(resp), doc, mustJSON(vars), showZonePG(q))
			}
			reversed++
			continue
		}
		if len(resp.Errors) > 0 {
			failures++
			t.Errorf("query %d: Tally error %+v\n%s\nvariables %s", i, resp.Errors[0], doc, mustJSON(vars))
			continue
		}
		for _, row := range want {
			if row.OpenSessions+row.ClosedSessions > 0 {
				nonEmpty++
				break
			}
		}
		for _, row := range want {
			if row.OpenAtEnd > 0 {
				backlog++
				break
			}
		}
		rowsSQL := selectAll
		if q.hasTable {
			rowsSQL = q.table.sql(refCall, flowCols)
			want = q.reference(t, conn, rowsSQL)
		}
		var got []flowRow
		var agg map[string]any
		if q.hasTable && q.table.aggregate {
			var a struct {
				Aggregate map[string]any `json:"aggregate"`
				Nodes     []flowRow      `json:"nodes"`
			}
			if err := json.Unmarshal(resp.Data["r"], &a); err != nil {
				t.Fatal(err)
			}
			got, agg = a.Nodes, a.Aggregate
		} else if err := json.Unmarshal(resp.Data["r"], &got); err != nil {
			t.Fatal(err)
		}
		if g, w := mustJSON(got), mustJSON(want); string(g) != string(w) {
			failures++
			t.Errorf("query %d differs\n%s\nvariables %s\nPostgreSQL args %s\nSQL %s\nTally      %s\nPostgreSQL %s", i, doc, mustJSON(vars), showZonePG(q), rowsSQL, g, w)
			continue
		}
		if agg != nil {
			if diff := compareAggregate(agg, q.flowAggregate(t, conn, rowsSQL)); diff != "" {
				failures++
				t.Errorf("query %d aggregate differs: %s\n%s\nvariables %s\nSQL %s", i, diff, doc, mustJSON(vars), rowsSQL)
			}
		}
	}
	var zones []string
	for z, n := range perZone {
		zones = append(zones, fmt.Sprintf("%q %d", z, n))
	}
	sort.Strings(zones)
	t.Logf("seed %d: %d queries (%s); %d with a change of the clocks in range, %d with sessions, %d with a backlog, %d with table arguments, %d reversed by a gap",
		seed, queries, strings.Join(zones, ", "), nearDST, nonEmpty, backlog, tables, reversed)
	if nonEmpty < queries/3 || backlog < queries/3 || nearDST < queries/5 || tables < queries/8 {
		t.Errorf("the generator no longer exercises the data: %d with sessions, %d with a backlog, %d near a change, %d with table arguments", nonEmpty, backlog, nearDST, tables)
	}
}

func showZonePG(q zoneQuery) string {
	s := showPG(q.pg)
	if v, ok := q.pg["time_zone"]; ok {
		if v == nil {
			return s + " time_zone=NULL"
		}
		return s + " time_zone=" + *v
	}
	return s
}
