package engine

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

var testAccount = pgtext.UUID{1}

// world generates sessions over one year for one account: 8 desks, 4
// brains with versions, 6 channels, a pool of agents.
type world struct {
	desks, brains, integrations []pgtext.UUID
	channels                    []string
	agents                      []string
	start                       int64
}

func newWorld(r *rand.Rand) *world {
	w := &world{channels: []string{"web", "whatsapp", "facebook", "instagram", "viber", "voice"}, start: mustTS("2024-01-01")}
	for i := 0; i < 8; i++ {
		w.desks = append(w.desks, pgtext.UUID{2, byte(i)})
	}
	for i := 0; i < 4; i++ {
		w.brains = append(w.brains, pgtext.UUID{3, byte(i)})
	}
	for i := 0; i < 6; i++ {
		w.integrations = append(w.integrations, pgtext.UUID{4, byte(i)})
	}
	for i := 0; i < 30; i++ {
		w.agents = append(w.agents, fmt.Sprintf("agent-%d", i))
	}
	return w
}

func mustTS(s string) int64 {
	v, err := pgtext.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (w *world) record(r *rand.Rand, i int, span int64) session.Record {
	rec := session.Record{
		AccountID:     testAccount,
		SessionID:     fmt.Sprint(i),
		DeskID:        pgtext.NullUUID{UUID: w.desks[r.Intn(len(w.desks))], Valid: r.Intn(20) != 0},
		BrainParentID: pgtext.NullUUID{UUID: w.brains[r.Intn(len(w.brains))], Valid: true},
		IntegrationID: pgtext.NullUUID{UUID: w.integrations[r.Intn(len(w.integrations))], Valid: true},
		BrainVersion:  pgtext.NullInt4{Int32: int32(r.Intn(6)), Valid: true},
		Channel:       session.NullString{String: w.channels[r.Intn(len(w.channels))], Valid: true},
		IsTest:        r.Intn(20) == 0,
		StartMicros:   w.start + r.Int63n(span),
		AgentIDs:      []string{},
	}
	if r.Intn(3) == 0 {
		rec.AgentIDs = append(rec.AgentIDs, w.agents[r.Intn(len(w.agents))])
	}
	if r.Intn(10) != 0 {
		rec.EndMicros, rec.HasEnd = rec.StartMicros+pgtext.MicrosPerHour, true
	}
	return rec
}

// naiveCount is the semantics of SPEC section 2 written as plainly as
// possible, to check the engine against on random data.
func naiveCount(recs []session.Record, q *analytics.IntervalQuery) []analytics.Counts {
	out := make([]analytics.Counts, len(q.Bounds)-1)
	inU := func(set analytics.UUIDSet, v pgtext.NullUUID) bool {
		if !set.Active {
			return true
		}
		for _, u := range set.Values {
			if v.Valid && u == v.UUID {
				return true
			}
		}
		return false
	}
	for _, r := range recs {
		if !inU(q.DeskIDs, r.DeskID) || !inU(q.BrainParentIDs, r.BrainParentID) || !inU(q.IntegrationIDs, r.IntegrationID) {
			continue
		}
		if q.BrainVersions.Active {
			ok := false
			for _, v := range q.BrainVersions.Values {
				ok = ok || (r.BrainVersion.Valid && r.BrainVersion.Int32 == v)
			}
			if !ok {
				continue
			}
		}
		if q.Channels.Active {
			ok := false
			for _, v := range q.Channels.Values {
				ok = ok || (r.Channel.Valid && r.Channel.String == v)
			}
			if !ok {
				continue
			}
		}
		if q.AgentIDs.Active {
			ok := false
			for _, v := range q.AgentIDs.Values {
				for _, a := range r.AgentIDs {
					ok = ok || a == v
				}
			}
			if !ok {
				continue
			}
		}
		if q.IsTest.Active && r.IsTest != q.IsTest.Value {
			continue
		}
		for k := 0; k+1 < len(q.Bounds); k++ {
			lo, hi := q.Bounds[k], q.Bounds[k+1]
			if r.StartMicros >= lo && r.StartMicros < hi {
				if r.HasEnd {
					out[k].Closed++
				} else {
					out[k].Open++
				}
			}
			if !q.Flow() {
				continue
			}
			// SPEC 9.2, as reference.sql's _ext function writes it.
			if r.StartMicros < hi && (!r.HasEnd || r.EndMicros >= hi) {
				out[k].OpenAtEnd++
			}
			if r.HasEnd && r.EndMicros >= lo && r.EndMicros < hi {
				out[k].ClosedInInterval++
			}
		}
	}
	return out
}

// varyEnd gives a closed record a duration drawn from what the flow
// columns must handle: none at all, minutes, hours, days and weeks, so
// that sessions end in their start's bucket, in a later one, or after the
// range, and some end exactly on a bound (whole days).
func varyEnd(r *rand.Rand, rec *session.Record) {
	if !rec.HasEnd {
		return
	}
	switch r.Intn(6) {
	case 0:
		rec.EndMicros = rec.StartMicros
	case 1:
		rec.EndMicros = rec.StartMicros + r.Int63n(30*pgtext.MicrosPerMinute)
	case 2:
		rec.EndMicros = rec.StartMicros + r.Int63n(30*pgtext.MicrosPerHour)
	case 3:
		rec.EndMicros = rec.StartMicros + r.Int63n(20*pgtext.MicrosPerDay)
	case 4: // on a midnight
		rec.EndMicros = rec.StartMicros - rec.StartMicros%pgtext.MicrosPerDay + int64(1+r.Intn(10))*pgtext.MicrosPerDay
	}
}

func TestCountMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	w := newWorld(r)
	span := 40 * pgtext.MicrosPerDay
	for _, mode := range []string{"loaded", "deltas", "compacted", "compacted when idle"} {
		t.Run(mode, func(t *testing.T) {
			ix := New(Config{CompactRows: map[string]int{"deltas": 1 << 30, "compacted": 300, "compacted when idle": 1 << 30}[mode]})
			current := map[string]session.Record{}
			var recs []session.Record
			for i := 0; i < 5000; i++ {
				rec := w.record(r, i, span)
				varyEnd(r, &rec)
				recs = append(recs, rec)
			}
			if mode == "loaded" {
				l := ix.NewLoader()
				for i := range recs {
					l.Add(&recs[i])
					current[recs[i].SessionID] = recs[i]
				}
				l.Finish()
			} else {
				for i := 0; i < len(recs); i += 97 {
					var changes []session.Change
					for j := i; j < min(i+97, len(recs)); j++ {
						rec := recs[j]
						if j%5 == 0 && j > 0 { // re-send an earlier session, changed
							rec = w.record(r, r.Intn(j), span)
							varyEnd(r, &rec)
						}
						var old *session.Record
						if o, ok := current[rec.SessionID]; ok {
							old = &o
						}
						n := rec
						changes = append(changes, session.Change{Old: old, New: &n})
						current[rec.SessionID] = rec
					}
					ix.Apply(changes)
				}
			}
			if mode == "compacted when idle" {
				// Written just now: not idle for a minute yet.
				if n := ix.CompactIdle(time.Now(), time.Minute, 1); n != 0 {
					t.Fatalf("CompactIdle compacted %d accounts written a moment ago", n)
				}
				if n := ix.CompactIdle(time.Now().Add(time.Hour), time.Minute, 1<<30); n != 0 {
					t.Fatalf("CompactIdle compacted %d accounts with fewer delta rows than asked", n)
				}
				if n := ix.CompactIdle(time.Now().Add(time.Hour), time.Minute, 1); n != 1 {
					t.Fatalf("CompactIdle compacted %d accounts, want 1", n)
				}
				a := ix.account(testAccount, false)
				a.mu.RLock()
				deltas := len(a.added) + len(a.removed)
				a.mu.RUnlock()
				if deltas != 0 {
					t.Fatalf("%d delta rows left after CompactIdle", deltas)
				}
			}
			var all []session.Record
			for _, rec := range current {
				all = append(all, rec)
			}
			if got := ix.Sessions(); got != len(all) {
				t.Fatalf("Sessions() = %d, want %d", got, len(all))
			}
			flows, zoned := 0, 0
			for i := 0; i < 600; i++ {
				q := randomQuery(r, w, span)
				if q.Flow() {
					flows++
				}
				if q.Zone != nil {
					zoned++
				}
				got, err := ix.Count(context.Background(), testAccount, q, make([]analytics.Counts, len(q.Bounds)-1))
				if err != nil {
					t.Fatal(err)
				}
				want := naiveCount(all, q)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("query %+v:\n got %v\nwant %v", q, got, want)
				}
			}
			if flows < 200 || zoned < 100 {
				t.Errorf("%d queries used the flow columns and %d a time zone: the generator no longer exercises them", flows, zoned)
			}
		})
	}
}

// testZones are zones whose calendars differ from UTC's in the ways the
// buckets must follow: daylight-saving time north and south, a 30-minute
// change, 30- and 45-minute offsets.
var testZones = []string{"America/New_York", "Europe/Athens", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata", "America/St_Johns"}

func randomQuery(r *rand.Rand, w *world, span int64) *analytics.IntervalQuery {
	spans := []pgtext.Interval{{Days: 1}, {Days: 7}, {Micros: 6 * pgtext.MicrosPerHour}, {Months: 1}, {Months: 1, Days: 3}}
	q := &analytics.IntervalQuery{Span: spans[r.Intn(len(spans))]}
	q.StartMicros = w.start - pgtext.MicrosPerDay + r.Int63n(span)
	if r.Intn(2) == 0 {
		q.StartMicros -= q.StartMicros % pgtext.MicrosPerDay
	}
	q.EndMicros = q.StartMicros + r.Int63n(span/2)
	if r.Intn(3) == 0 {
		q.DeskIDs = analytics.UUIDSet{Active: true, Values: []pgtext.UUID{w.desks[r.Intn(len(w.desks))], {9}}}
	}
	if r.Intn(4) == 0 {
		q.BrainParentIDs = analytics.UUIDSet{Active: true, Values: []pgtext.UUID{w.brains[r.Intn(len(w.brains))]}}
	}
	if r.Intn(4) == 0 {
		q.IntegrationIDs = analytics.UUIDSet{Active: true}
		if r.Intn(2) == 0 {
			q.IntegrationIDs.Values = w.integrations[:2]
		}
	}
	if r.Intn(4) == 0 {
		q.BrainVersions = analytics.IntSet{Active: true, Values: []int32{int32(r.Intn(6)), 99}}
	}
	if r.Intn(4) == 0 {
		q.Channels = analytics.TextSet{Active: true, Values: []string{w.channels[r.Intn(len(w.channels))]}}
	}
	if r.Intn(4) == 0 {
		q.AgentIDs = analytics.TextSet{Active: true, Values: []string{w.agents[r.Intn(len(w.agents))], w.agents[r.Intn(len(w.agents))]}}
	}
	if r.Intn(3) == 0 {
		q.IsTest = analytics.BoolFilter{Active: true, Value: r.Intn(2) == 0}
	}
	if r.Intn(2) == 0 {
		q.Columns = analytics.AllColumns(len(analytics.IntervalTable().Columns))
	} else if r.Intn(3) == 0 {
		q.Columns = analytics.ColumnSet(0).With(analytics.ColClosedInInterval)
	}
	if r.Intn(3) == 0 {
		z, err := pgtext.LoadZone(testZones[r.Intn(len(testZones))])
		if err != nil {
			panic(err)
		}
		q.Zone = z
	}
	if err := q.Plan(100000); err != nil {
		panic(err)
	}
	return q
}

// benchIndex builds an index of n sessions over one year, loaded as at
// start-up (everything in the main segment).
func benchIndex(b testing.TB, n int) (*Index, *world) {
	r := rand.New(rand.NewSource(1))
	w := newWorld(r)
	ix := New(Config{})
	l := ix.NewLoader()
	for i := 0; i < n; i++ {
		rec := w.record(r, i, 366*pgtext.MicrosPerDay)
		l.Add(&rec)
	}
	l.Finish()
	return ix, w
}

func planned(b testing.TB, q *analytics.IntervalQuery) *analytics.IntervalQuery {
	if err := q.Plan(10000); err != nil {
		b.Fatal(err)
	}
	return q
}

// BenchmarkCount: the targets of docs/performance.md, over one account of
// 1 M sessions in a year.
func BenchmarkCount(b *testing.B) {
	ix, w := benchIndex(b, 1_000_000)
	ctx := context.Background()
	cases := []struct {
		name string
		q    *analytics.IntervalQuery
	}{
		{"desk_10days_daily", &analytics.IntervalQuery{StartMicros: mustTS("2024-03-01"), EndMicros: mustTS("2024-03-10"), Span: pgtext.Interval{Days: 1},
			DeskIDs: analytics.UUIDSet{Active: true, Values: w.desks[:1]}}},
		{"all_year_daily", &analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 1}}},
		{"all_year_monthly", &analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Months: 1}}},
		{"year_daily_3_filters", &analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 1},
			DeskIDs:  analytics.UUIDSet{Active: true, Values: w.desks[:3]},
			Channels: analytics.TextSet{Active: true, Values: []string{"web", "whatsapp"}},
			IsTest:   analytics.BoolFilter{Active: true}}},
	}
	// The flow columns (SPEC 9.2), all five columns selected, in a named
	// zone (its calendar days; the engine counts by instants either way):
	// the year from the data's start, and ten days that follow two months
	// of history, which the backlog reads once.
	athens, err := pgtext.LoadZone("Europe/Athens")
	if err != nil {
		b.Fatal(err)
	}
	all := analytics.AllColumns(len(analytics.IntervalTable().Columns))
	cases = append(cases, []struct {
		name string
		q    *analytics.IntervalQuery
	}{
		{"flow_year_daily_athens", &analytics.IntervalQuery{StartMicros: mustTS("2023-12-31T22:00:00"), EndMicros: mustTS("2024-12-30T22:00:00"), Span: pgtext.Interval{Days: 1},
			Zone: athens, Columns: all}},
		{"flow_desk_10days_daily_athens", &analytics.IntervalQuery{StartMicros: mustTS("2024-02-29T22:00:00"), EndMicros: mustTS("2024-03-09T22:00:00"), Span: pgtext.Interval{Days: 1},
			DeskIDs: analytics.UUIDSet{Active: true, Values: w.desks[:1]}, Zone: athens, Columns: all}},
		// Hourly, where nearly every (one-hour) session ends in a later
		// bucket than it starts in: the flow loop's slow path, beside
		// the same buckets without the flow columns.
		{"month_hourly_athens", &analytics.IntervalQuery{StartMicros: mustTS("2024-02-29T22:00:00"), EndMicros: mustTS("2024-03-31T20:00:00"), Span: pgtext.Interval{Micros: pgtext.MicrosPerHour},
			Zone: athens}},
		{"flow_month_hourly_athens", &analytics.IntervalQuery{StartMicros: mustTS("2024-02-29T22:00:00"), EndMicros: mustTS("2024-03-31T20:00:00"), Span: pgtext.Interval{Micros: pgtext.MicrosPerHour},
			Zone: athens, Columns: all}},
		{"flow_year_daily_3_filters_athens", &analytics.IntervalQuery{StartMicros: mustTS("2023-12-31T22:00:00"), EndMicros: mustTS("2024-12-30T22:00:00"), Span: pgtext.Interval{Days: 1},
			DeskIDs:  analytics.UUIDSet{Active: true, Values: w.desks[:3]},
			Channels: analytics.TextSet{Active: true, Values: []string{"web", "whatsapp"}},
			IsTest:   analytics.BoolFilter{Active: true}, Zone: athens, Columns: all}},
	}...)
	for _, c := range cases {
		q := planned(b, c.q)
		dst := make([]analytics.Counts, len(q.Bounds)-1)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(dst)
				if _, err := ix.Count(ctx, testAccount, q, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestScanDoesNotAllocatePerSession(t *testing.T) {
	ix, w := benchIndex(t, 200_000)
	q := planned(t, &analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 1},
		DeskIDs: analytics.UUIDSet{Active: true, Values: w.desks[:2]}})
	dst := make([]analytics.Counts, len(q.Bounds)-1)
	for _, cols := range []analytics.ColumnSet{0, analytics.AllColumns(len(analytics.IntervalTable().Columns))} {
		q.Columns = cols
		allocs := testing.AllocsPerRun(20, func() {
			clear(dst)
			ix.Count(context.Background(), testAccount, q, dst)
		})
		// A few allocations per query (filter tables, the count slice)
		// are fine; one per session or per bucket is not.
		if allocs > 10 {
			t.Errorf("Count (flow columns: %v) made %.0f allocations for 200k sessions and %d buckets", q.Flow(), allocs, len(dst))
		}
	}
}

// TestMemoryPerSession checks the engine's footprint target: at most 64
// bytes per session.
func TestMemoryPerSession(t *testing.T) {
	const n = 500_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, _ := benchIndex(t, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSession := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per session", perSession)
	if perSession > 64 {
		t.Errorf("engine holds %.1f bytes per session, the target is 64", perSession)
	}
	runtime.KeepAlive(ix)
}
