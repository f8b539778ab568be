package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// The differential test: one generated data set loaded into Tally over
// HTTP and into PostgreSQL with ../shared/reference.sql; hundreds of random
// queries through /v1/graphql and through the reference function; every
// answer must be identical.

// dataset is the generated world: dimension values per account and the
// records in the order they are sent (including re-sends).
type dataset struct {
	accounts     []pgtext.UUID
	desks        []pgtext.UUID
	brains       []pgtext.UUID
	integrations []pgtext.UUID
	channels     []string
	agents       []string
	versions     []int32
	sends        [][]wireRecord // batches, in send order
	minStart     int64
	maxStart     int64
}

// wireRecord is a record as POST /v1/sessions takes it.
type wireRecord struct {
	AccountID     string   `json:"account_id"`
	SessionID     string   `json:"session_id"`
	DeskID        *string  `json:"desk_id"`
	BrainParentID *string  `json:"brain_parent_id"`
	IntegrationID *string  `json:"integration_id"`
	BrainVersion  *int32   `json:"brain_version"`
	Channel       *string  `json:"channel"`
	AgentIDs      []string `json:"agent_ids"`
	IsTest        bool     `json:"is_test"`
	StartTime     string   `json:"start_time"`
	EndTime       *string  `json:"end_time"`
	UpdatedAt     *string  `json:"updated_at,omitempty"`
}

func randUUID(r *rand.Rand) pgtext.UUID {
	var u pgtext.UUID
	r.Read(u[:])
	return u
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

func genDataset(r *rand.Rand, sessions int) *dataset {
	return genDatasetShaped(r, datasetShape{sessions: sessions, from: mustTS("2024-01-01"), days: 60,
		duration: func(r *rand.Rand, start int64) int64 { return r.Int63n(3 * pgtext.MicrosPerHour) }})
}

// datasetShape is what genDatasetShaped varies: how many sessions, the
// days their starts span, and how long a closed one lasts.
type datasetShape struct {
	sessions int
	from     int64
	days     int
	duration func(r *rand.Rand, start int64) int64
}

func genDatasetShaped(r *rand.Rand, shape datasetShape) *dataset {
	sessions := shape.sessions
	d := &dataset{channels: []string{"web", "whatsapp", "facebook", "viber", "voice", "a b,\"c\""}, versions: []int32{1, 2, 3, 4, 5, -1}}
	for i := 0; i < 3; i++ {
		d.accounts = append(d.accounts, randUUID(r))
	}
	for i := 0; i < 6; i++ {
		d.desks = append(d.desks, randUUID(r))
	}
	for i := 0; i < 4; i++ {
		d.brains = append(d.brains, randUUID(r))
	}
	for i := 0; i < 5; i++ {
		d.integrations = append(d.integrations, randUUID(r))
	}
	for i := 0; i < 10; i++ {
		if i%2 == 0 {
			d.agents = append(d.agents, randUUID(r).String())
		} else {
			d.agents = append(d.agents, fmt.Sprintf("agent-%d", i))
		}
	}
	d.minStart, d.maxStart = shape.from, shape.from+int64(shape.days)*pgtext.MicrosPerDay
	optUUID := func(xs []pgtext.UUID) *string {
		if r.Intn(10) == 0 {
			return nil
		}
		s := pick(r, xs).String()
		return &s
	}
	ts := func(v int64) string { return pgtext.FormatTimestamp(v) }
	var all []wireRecord
	for i := 0; i < sessions; i++ {
		start := d.minStart + r.Int63n(d.maxStart-d.minStart)
		switch r.Intn(8) {
		case 0: // exactly midnight: bucket boundaries must be inclusive below
			start -= start % pgtext.MicrosPerDay
		case 1: // on the hour
			start -= start % pgtext.MicrosPerHour
		}
		rec := wireRecord{
			AccountID:     pick(r, d.accounts).String(),
			SessionID:     fmt.Sprintf("s-%d", i),
			DeskID:        optUUID(d.desks),
			BrainParentID: optUUID(d.brains),
			IntegrationID: optUUID(d.integrations),
			IsTest:        r.Intn(10) == 0,
			StartTime:     ts(start),
			AgentIDs:      []string{},
		}
		if r.Intn(10) != 0 {
			v := pick(r, d.versions)
			rec.BrainVersion = &v
		}
		if r.Intn(10) != 0 {
			c := pick(r, d.channels)
			rec.Channel = &c
		}
		for n := r.Intn(4); n > 0; n-- {
			rec.AgentIDs = append(rec.AgentIDs, pick(r, d.agents))
		}
		if r.Intn(3) != 0 {
			e := ts(start + shape.duration(r, start))
			rec.EndTime = &e
		}
		if r.Intn(2) == 0 {
			u := ts(start)
			rec.UpdatedAt = &u
		}
		all = append(all, rec)
	}
	// Re-sends: close open sessions, replay stale versions, move sessions.
	n := len(all)
	for i := 0; i < n/4; i++ {
		orig := all[r.Intn(n)]
		re := orig
		re.AgentIDs = append([]string{}, orig.AgentIDs...)
		switch r.Intn(4) {
		case 0: // closing a session, newer updated_at
			e := orig.StartTime
			re.EndTime = &e
			u := pgtext.FormatTimestamp(mustTS(orig.StartTime) + pgtext.MicrosPerHour)
			re.UpdatedAt = &u
		case 1: // a stale replay: older updated_at, must be ignored when both have one
			re.EndTime = nil
			u := pgtext.FormatTimestamp(mustTS(orig.StartTime) - pgtext.MicrosPerHour)
			re.UpdatedAt = &u
			re.IsTest = !orig.IsTest
		case 2: // no updated_at: always replaces
			re.UpdatedAt = nil
			re.AgentIDs = append(re.AgentIDs, pick(r, d.agents))
			c := pick(r, d.channels)
			re.Channel = &c
		default: // start time moves (another bucket), equal updated_at replaces
			s := pgtext.FormatTimestamp(mustTS(orig.StartTime) + r.Int63n(2*pgtext.MicrosPerDay))
			re.StartTime = s
			if re.EndTime != nil && *re.EndTime < s {
				re.EndTime = &s
			}
		}
		all = append(all, re)
	}
	for len(all) > 0 {
		size := min(len(all), 1+r.Intn(3000))
		d.sends = append(d.sends, all[:size])
		all = all[size:]
	}
	return d
}

func mustTS(s string) int64 {
	v, err := pgtext.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return v
}

// loadTally sends every batch over HTTP, in varied encodings.
func loadTally(t *testing.T, s *servertest.Server, r *rand.Rand, d *dataset) {
	t.Helper()
	for _, batch := range d.sends {
		var body []byte
		h := map[string]string{}
		if r.Intn(2) == 0 {
			body = mustJSON(batch)
			h["Content-Type"] = "application/json"
		} else {
			for _, rec := range batch {
				body = append(body, mustJSON(rec)...)
				body = append(body, '\n')
			}
			h["Content-Type"] = "application/x-ndjson"
		}
		if r.Intn(3) == 0 {
			body = servertest.Gzip(body)
			h["Content-Encoding"] = "gzip"
		}
		code, resp := s.Post(t, "/v1/sessions", h, body)
		if code != 200 {
			t.Fatalf("ingest: %d %s", code, resp)
		}
		var res struct{ Accepted, Ignored int }
		json.Unmarshal(resp, &res)
		if res.Accepted+res.Ignored != len(batch) {
			t.Fatalf("ingest answered %s for %d records", resp, len(batch))
		}
	}
}

// loadPostgres loads the reference schema and upserts every record in the
// same order with the updated_at rule written in SQL.
func loadPostgres(t *testing.T, conn *pgx.Conn, d *dataset) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, referenceSQL(t)); err != nil {
		t.Fatalf("reference.sql: %v", err)
	}
	// The reference has no updated_at or start_time index; both are added
	// for loading and speed, not semantics.
	if _, err := conn.Exec(ctx, `ALTER TABLE sessions ADD COLUMN updated_at timestamp; CREATE INDEX ON sessions (account_id, start_time)`); err != nil {
		t.Fatal(err)
	}
	const upsert = `INSERT INTO sessions (account_id, session_id, desk_id, brain_parent_id, integration_id, brain_version, channel, agent_ids, is_test, start_time, end_time, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz AT TIME ZONE 'UTC', $11::timestamptz AT TIME ZONE 'UTC', $12::timestamptz AT TIME ZONE 'UTC')
		ON CONFLICT (account_id, session_id) DO UPDATE SET desk_id = excluded.desk_id, brain_parent_id = excluded.brain_parent_id,
		  integration_id = excluded.integration_id, brain_version = excluded.brain_version, channel = excluded.channel,
		  agent_ids = excluded.agent_ids, is_test = excluded.is_test, start_time = excluded.start_time, end_time = excluded.end_time,
		  updated_at = excluded.updated_at
		WHERE excluded.updated_at IS NULL OR sessions.updated_at IS NULL OR excluded.updated_at >= sessions.updated_at`
	for _, batch := range d.sends {
		b := &pgx.Batch{}
		for _, r := range batch {
			b.Queue(upsert, r.AccountID, r.SessionID, r.DeskID, r.BrainParentID, r.IntegrationID, r.BrainVersion, r.Channel, r.AgentIDs, r.IsTest, r.StartTime, r.EndTime, r.UpdatedAt)
		}
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			t.Fatalf("load postgres: %v", err)
		}
	}
}

// refQuery is one generated query: what Tally is sent and what
// PostgreSQL's reference function is called with.
type refQuery struct {
	account string
	// Tally side
	args   map[string]any // argument name → JSON value (variables) or nil
	inline bool
	// PostgreSQL side: text literals (nil = SQL NULL)
	pg map[string]*string
}

var intervalSpellings = []struct{ tally, pg string }{
	{"1 day", "1 day"}, {"2 days", "2 days"}, {"1 week", "7 days"}, {"3 hours", "3 hours"}, {"6 hours", "6 hours"},
	{"1 mon", "1 mon"}, {"1 month", "1 month"}, {"1 year 2 months", "14 mons"}, {"1 day 02:00:00", "26 hours"},
	{"02:30", "2 hours 30 minutes"}, {"@ 1 day", "1 day"}, {"P1D", "1 day"}, {"PT15M", "15 minutes"},
	{"P1Y2M3DT4H5M6S", "1 year 2 mons 3 days 04:05:06"}, {"1.5 hours", "90 minutes"}, {"10 d", "10 days"},
	{"1 mon 2 days", "1 mon 2 days"}, {"90 secs", "90 seconds"}, {"12h", "12 hours"}, {"1 w", "1 week"},
}

// spellUUIDs writes a uuid list in one of the ways clients send it; the
// PostgreSQL side always gets a canonical literal.
func spellArray(r *rand.Rand, elems []*string, upper bool) (any, string) {
	pgParts := make([]string, len(elems))
	for i, e := range elems {
		if e == nil {
			pgParts[i] = "NULL"
		} else {
			pgParts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(*e) + `"`
		}
	}
	pg := "{" + strings.Join(pgParts, ",") + "}"
	switch r.Intn(5) {
	case 0: // JSON array
		arr := make([]any, len(elems))
		for i, e := range elems {
			if e != nil {
				arr[i] = *e
			}
		}
		return arr, pg
	case 1: // spaces after commas, unquoted where safe
		parts := make([]string, len(elems))
		for i, e := range elems {
			switch {
			case e == nil:
				parts[i] = "NULL"
			case strings.ContainsAny(*e, " ,{}\"\\") || strings.EqualFold(*e, "null") || *e == "":
				parts[i] = pgParts[i]
			case upper:
				parts[i] = strings.ToUpper(*e)
			default:
				parts[i] = *e
			}
		}
		return "{" + strings.Join(parts, ", ") + "}", pg
	default:
		return pg, pg
	}
}

func genQuery(r *rand.Rand, d *dataset) refQuery {
	q := refQuery{args: map[string]any{}, pg: map[string]*string{}, inline: r.Intn(3) == 0}
	if r.Intn(15) == 0 {
		q.account = randUUID(r).String() // an account with no data
	} else {
		q.account = pick(r, d.accounts).String()
	}
	str := func(s string) *string { return &s }
	start := d.minStart - 5*pgtext.MicrosPerDay + r.Int63n(d.maxStart-d.minStart+10*pgtext.MicrosPerDay)
	if r.Intn(2) == 0 {
		start -= start % pgtext.MicrosPerDay
	} else if r.Intn(2) == 0 {
		start -= start % pgtext.MicrosPerHour
	}
	if r.Intn(20) == 0 {
		start = d.maxStart + 30*pgtext.MicrosPerDay // after all data
	}
	iv := pick(r, intervalSpellings)
	span, _ := pgtext.ParseInterval(iv.tally)
	width := span.FixedMicros()
	if !span.Fixed() {
		width = int64(span.Months) * 30 * pgtext.MicrosPerDay
	}
	buckets := 1 + r.Intn(60)
	end := start + int64(buckets-1)*width + r.Int63n(width)
	if r.Intn(10) == 0 {
		end = start // a single bucket
	}
	startText := pgtext.FormatTimestamp(start)
	switch r.Intn(4) {
	case 0:
		if start%pgtext.MicrosPerDay == 0 {
			startText = startText[:10] // date only
		}
	case 1: // with a zone: Tally converts to UTC; PostgreSQL gets the UTC value
		off := int64(r.Intn(5)-2) * pgtext.MicrosPerHour
		startText = strings.Replace(pgtext.FormatTimestamp(start+off), "T", " ", 1) + fmt.Sprintf("%+03d:00", off/pgtext.MicrosPerHour)
	}
	q.args["start_time"] = startText
	q.pg["start_time"] = str(pgtext.FormatTimestamp(start))
	q.args["end_time"] = pgtext.FormatTimestamp(end)
	q.pg["end_time"] = str(pgtext.FormatTimestamp(end))
	switch r.Intn(6) {
	case 0: // omitted: defaults to 1 day
		q.pg["interval_span"] = str("1 day")
		q.args["end_time"] = pgtext.FormatTimestamp(start + int64(r.Intn(40))*pgtext.MicrosPerDay)
		q.pg["end_time"] = str(q.args["end_time"].(string))
	default:
		q.args["interval_span"] = iv.tally
		q.pg["interval_span"] = str(iv.pg)
	}
	genFilters(r, d, &q)
	return q
}

// genFilters adds random filters to q, spelled as clients spell them.
func genFilters(r *rand.Rand, d *dataset, q *refQuery) {
	str := func(s string) *string { return &s }
	uuidFilter := func(name string, pool []pgtext.UUID) {
		if r.Intn(3) != 0 {
			return
		}
		var elems []*string
		for n := r.Intn(4); n > 0; n-- {
			s := pick(r, pool).String()
			elems = append(elems, &s)
		}
		if r.Intn(5) == 0 {
			s := randUUID(r).String() // unknown id
			elems = append(elems, &s)
		}
		if r.Intn(6) == 0 {
			elems = append(elems, nil)
		}
		tv, pv := spellArray(r, elems, r.Intn(2) == 0)
		q.args[name] = tv
		q.pg[name] = &pv
	}
	uuidFilter("desk_ids", d.desks)
	uuidFilter("brain_parent_ids", d.brains)
	uuidFilter("integration_ids", d.integrations)
	textFilter := func(name string, pool []string) {
		if r.Intn(3) != 0 {
			return
		}
		var elems []*string
		for n := r.Intn(4); n > 0; n-- {
			s := pick(r, pool)
			elems = append(elems, &s)
		}
		if r.Intn(5) == 0 {
			s := "unknown"
			elems = append(elems, &s)
		}
		if r.Intn(6) == 0 {
			elems = append(elems, nil)
		}
		tv, pv := spellArray(r, elems, false)
		q.args[name] = tv
		q.pg[name] = &pv
	}
	textFilter("channels", d.channels)
	textFilter("agent_ids", d.agents)
	if r.Intn(3) == 0 {
		var elems []*string
		for n := r.Intn(3); n > 0; n-- {
			s := fmt.Sprint(pick(r, d.versions))
			elems = append(elems, &s)
		}
		if r.Intn(6) == 0 {
			elems = append(elems, nil)
		}
		tv, pv := spellArray(r, elems, false)
		if arr, ok := tv.([]any); ok && r.Intn(2) == 0 {
			for i, e := range arr { // JSON numbers
				if s, ok := e.(string); ok {
					arr[i] = json.Number(s)
				}
			}
		}
		q.args["brain_versions"] = tv
		q.pg["brain_versions"] = &pv
	}
	if r.Intn(3) == 0 {
		b := r.Intn(2) == 0
		q.args["is_test"] = b
		q.pg["is_test"] = str(fmt.Sprint(b))
	}
	if r.Intn(10) == 0 { // explicit nulls do not filter
		q.args["channels"] = nil
		q.pg["channels"] = nil
	}
}

var argNames = []string{"start_time", "end_time", "interval_span", "brain_parent_ids", "desk_ids", "integration_ids", "brain_versions", "channels", "is_test", "agent_ids"}
var argTypes = map[string]string{"time_zone": "String", "start_time": "timestamp", "end_time": "timestamp", "interval_span": "interval", "brain_parent_ids": "_uuid",
	"desk_ids": "_uuid", "integration_ids": "_uuid", "brain_versions": "_int4", "channels": "_text", "is_test": "Boolean", "agent_ids": "_text"}

// graphqlLiteral writes a JSON-like value as a GraphQL literal.
func graphqlLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return string(mustJSON(v))
	case bool:
		return fmt.Sprint(v)
	case json.Number:
		return v.String()
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = graphqlLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("literal %T", v))
}

// tallyRequest renders q as a GraphQL document with variables.
func tallyRequest(q refQuery) (string, map[string]any) {
	decls, args, vars := graphqlArgs(q, argNames)
	doc := "query Q"
	if len(decls) > 0 {
		doc += "(" + strings.Join(decls, ", ") + ")"
	}
	doc += " { rows: open_closed_sessions_interval_counts_v2(args: {" + strings.Join(args, ", ") + "}) { date: per_interval open_sessions closed_sessions } }"
	return doc, vars
}

// graphqlArgs renders q's arguments named in names, in that order, as
// GraphQL: inline literals, or variables with their declarations.
func graphqlArgs(q refQuery, names []string) (decls, args []string, vars map[string]any) {
	vars = map[string]any{}
	for i, name := range names {
		v, ok := q.args[name]
		if !ok {
			continue
		}
		if q.inline {
			args = append(args, name+": "+graphqlLiteral(v))
			continue
		}
		vn := fmt.Sprintf("v%d", i)
		decls = append(decls, "$"+vn+": "+argTypes[name])
		args = append(args, name+": $"+vn)
		vars[vn] = v
	}
	return decls, args, vars
}

type refRow struct {
	Date   string `json:"date"`
	Open   int64  `json:"open_sessions"`
	Closed int64  `json:"closed_sessions"`
}

func (q refQuery) postgres(t *testing.T, conn *pgx.Conn) []refRow {
	t.Helper()
	params := []any{q.account}
	for _, name := range argNames {
		params = append(params, q.pg[name])
	}
	rows, err := conn.Query(context.Background(), `SELECT per_interval, open_sessions, closed_sessions FROM open_closed_sessions_interval_counts_v2(
		$1::uuid, $2::timestamp, $3::timestamp, $4::interval, $5::uuid[], $6::uuid[], $7::uuid[], $8::int[], $9::text[], $10::boolean, $11::text[])`, params...)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	var out []refRow
	for rows.Next() {
		var ts pgtype.Timestamp
		var r refRow
		if err := rows.Scan(&ts, &r.Open, &r.Closed); err != nil {
			t.Fatal(err)
		}
		r.Date = pgtext.FormatTimestamp(ts.Time.UnixMicro())
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reference: %v", err)
	}
	return out
}

// connectNew creates a database and connects to it.
func connectNew(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDifferentialAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	ctx := context.Background()
	dbConn := connectNew(t)

	d := genDataset(r, 30000)
	// Three engines over the same data: one fed live with its changes in
	// deltas, one fed live with frequent compactions, and one rebuilt
	// from the store at start (the main segment).
	live := servertest.Start(t, servertest.Options{})
	loadTally(t, live, r, d)
	compacting := servertest.Start(t, servertest.Options{CompactRows: 500})
	loadTally(t, compacting, r, d)
	restarted := servertest.Start(t, servertest.Options{Dir: live.CopyData(t)})
	// And the PostgreSQL backend, fed over HTTP like the others.
	onPostgres := servertest.Start(t, servertest.Options{DatabaseURL: pgtest.NewDatabase(t)})
	loadTally(t, onPostgres, r, d)
	loadPostgres(t, dbConn, d)

	var stored int
	if err := dbConn.QueryRow(ctx, "SELECT count(*) FROM sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	tallies := []*servertest.Server{live, compacting, restarted, onPostgres}
	for i, tl := range tallies[:3] {
		if got := tl.Embedded.Sessions(); got != stored {
			t.Fatalf("Tally %d holds %d sessions, PostgreSQL %d", i, got, stored)
		}
	}
	const queries = 400
	failures, nonEmpty := 0, 0
	for i := 0; i < queries && failures < 10; i++ {
		q := genQuery(r, d)
		doc, vars := tallyRequest(q)
		// Every query goes to one embedded engine (in turn) and to the
		// PostgreSQL backend: both must match the reference.
		resp := tallies[i%3].Query(t, q.account, doc, vars)
		if pgResp := onPostgres.Query(t, q.account, doc, vars); string(mustJSON(pgResp)) != string(mustJSON(resp)) {
			failures++
			t.Errorf("query %d: the backends differ\n%s\nvariables %s\nembedded   %s\nPostgreSQL %s", i, doc, mustJSON(vars), mustJSON(resp), mustJSON(pgResp))
		}
		if len(resp.Errors) > 0 {
			failures++
			t.Errorf("query %d: Tally error %+v\n%s\n%v", i, resp.Errors[0], doc, vars)
			continue
		}
		var got []refRow
		if err := json.Unmarshal(resp.Data["rows"], &got); err != nil {
			t.Fatal(err)
		}
		want := q.postgres(t, dbConn)
		if g, w := mustJSON(got), mustJSON(want); string(g) != string(w) {
			failures++
			t.Errorf("query %d differs\n%s\nvariables %s\nPostgreSQL args %v\nTally      %s\nPostgreSQL %s", i, doc, mustJSON(vars), showPG(q.pg), g, w)
		}
		for _, row := range want {
			if row.Open+row.Closed > 0 {
				nonEmpty++
				break
			}
		}
	}
	if nonEmpty < queries/3 {
		t.Errorf("only %d of %d queries had any session: the generator no longer exercises the data", nonEmpty, queries)
	}
}

func showPG(m map[string]*string) string {
	var parts []string
	for _, n := range argNames {
		if v, ok := m[n]; ok {
			if v == nil {
				parts = append(parts, n+"=NULL")
			} else {
				parts = append(parts, n+"="+*v)
			}
		}
	}
	return strings.Join(parts, " ")
}
