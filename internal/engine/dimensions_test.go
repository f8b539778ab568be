package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// naiveDimensionCounts is session_dimension_counts written as plainly as
// possible: every record in range, every non-NULL value, each agent once
// per session.
func naiveDimensionCounts(recs []session.Record, q *analytics.DimensionQuery) []analytics.DimensionCount {
	type key struct{ dim, value string }
	n := map[key]int64{}
	for _, r := range recs {
		if r.StartMicros < q.StartMicros || r.StartMicros >= q.EndMicros {
			continue
		}
		for dim, u := range map[string]pgtext.NullUUID{analytics.DimDeskID: r.DeskID, analytics.DimBrainParentID: r.BrainParentID, analytics.DimIntegrationID: r.IntegrationID} {
			if u.Valid {
				n[key{dim, u.UUID.String()}]++
			}
		}
		if r.BrainVersion.Valid {
			n[key{analytics.DimBrainVersion, strconv.Itoa(int(r.BrainVersion.Int32))}]++
		}
		if r.Channel.Valid {
			n[key{analytics.DimChannel, r.Channel.String}]++
		}
		seen := map[string]bool{}
		for _, a := range r.AgentIDs {
			if !seen[a] {
				seen[a] = true
				n[key{analytics.DimAgentID, a}]++
			}
		}
		n[key{analytics.DimIsTest, strconv.FormatBool(r.IsTest)}]++
	}
	var out []analytics.DimensionCount
	for k, c := range n {
		out = append(out, analytics.DimensionCount{Dimension: k.dim, Value: k.value, Sessions: c})
	}
	analytics.SortDimensionCounts(out)
	return out
}

// dimensionRecord is a world record with more agents: none, several, some
// listed twice; and channels that sort differently by bytes and by case.
func (w *world) dimensionRecord(r *rand.Rand, i int, span int64) session.Record {
	rec := w.record(r, i, span)
	for n := r.Intn(4); n > 0; n-- {
		rec.AgentIDs = append(rec.AgentIDs, w.agents[r.Intn(len(w.agents))])
	}
	if len(rec.AgentIDs) > 0 && r.Intn(5) == 0 {
		rec.AgentIDs = append(rec.AgentIDs, rec.AgentIDs[0])
	}
	switch r.Intn(15) {
	case 0:
		rec.Channel = session.NullString{}
	case 1:
		rec.Channel.String = "Web"
	case 2:
		rec.BrainVersion = pgtext.NullInt4{Int32: -7, Valid: true}
	case 3:
		rec.BrainParentID = rec.DeskID // one uuid in two dimensions
	}
	return rec
}

// randomRange is a query range within or around the data: bounded,
// half-bounded, unbounded or empty.
func randomRange(r *rand.Rand, w *world, span int64) *analytics.DimensionQuery {
	q := &analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}
	lo := w.start - pgtext.MicrosPerDay + r.Int63n(span)
	if r.Intn(2) == 0 {
		lo -= lo % pgtext.MicrosPerDay
	}
	hi := lo + r.Int63n(span/2)
	switch r.Intn(6) {
	case 0:
		q.StartMicros = lo
	case 1:
		q.EndMicros = hi
	case 2:
	case 3:
		q.StartMicros, q.EndMicros = lo, lo
	default:
		q.StartMicros, q.EndMicros = lo, hi
	}
	return q
}

// indexWith builds an index of the records gen makes, in one of three
// modes: "loaded" at start-up (the main segment), "deltas" (batches of
// changes, never compacted) and "compacted" (batches, compacted often).
// In the batch modes a third of each batch re-sends an earlier session
// with new values, each change carrying the old record as the store
// would. It returns the index and the records it holds now.
func indexWith(mode string, r *rand.Rand, gen func(i int) session.Record) (*Index, []session.Record) {
	ix := New(Config{CompactRows: map[string]int{"deltas": 1 << 30, "compacted": 300}[mode]})
	current := map[string]session.Record{}
	if mode == "loaded" {
		l := ix.NewLoader()
		for i := 0; i < 4000; i++ {
			rec := gen(i)
			l.Add(&rec)
			current[rec.SessionID] = rec
		}
		l.Finish()
	} else {
		for b := 0; b < 50; b++ {
			var changes []session.Change
			for j := 0; j < 100; j++ {
				id := b*100 + j
				if b > 0 && j%3 == 0 {
					id = r.Intn(b * 100)
				}
				rec := gen(id)
				var old *session.Record
				if o, ok := current[rec.SessionID]; ok {
					old = &o
				}
				changes = append(changes, session.Change{Old: old, New: &rec})
				current[rec.SessionID] = rec
			}
			ix.Apply(changes)
		}
	}
	all := make([]session.Record, 0, len(current))
	for _, rec := range current {
		all = append(all, rec)
	}
	return ix, all
}

func TestDimensionCountsMatchNaive(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	w := newWorld(r)
	span := 40 * pgtext.MicrosPerDay
	for _, mode := range []string{"loaded", "deltas", "compacted"} {
		t.Run(mode, func(t *testing.T) {
			ix, all := indexWith(mode, r, func(i int) session.Record { return w.dimensionRecord(r, i, span) })
			if got := ix.Sessions(); got != len(all) {
				t.Fatalf("Sessions() = %d, want %d", got, len(all))
			}
			nonEmpty := 0
			for i := 0; i < 200; i++ {
				q := randomRange(r, w, span)
				got, err := ix.DimensionCounts(context.Background(), testAccount, q)
				if err != nil {
					t.Fatal(err)
				}
				analytics.SortDimensionCounts(got)
				want := naiveDimensionCounts(all, q)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("range [%d, %d):\n got %v\nwant %v", q.StartMicros, q.EndMicros, got, want)
				}
				if len(want) > 0 {
					nonEmpty++
				}
			}
			if nonEmpty < 100 {
				t.Errorf("only %d of 200 ranges held sessions", nonEmpty)
			}
		})
	}
	got, err := New(Config{}).DimensionCounts(context.Background(), testAccount, &analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64})
	if err != nil || len(got) != 0 {
		t.Errorf("an account with no sessions: %v %v", got, err)
	}
}

func TestDimensionCountsStopsWithContext(t *testing.T) {
	ix, _ := benchIndex(t, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.DimensionCounts(ctx, testAccount, &analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestDimensionCountsAllocations: the count allocates per query and per
// row of the answer, never per session.
func TestDimensionCountsAllocations(t *testing.T) {
	ix, _ := benchIndex(t, 200_000)
	q := &analytics.DimensionQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2025-01-01")}
	rows, _ := ix.DimensionCounts(context.Background(), testAccount, q)
	allocs := testing.AllocsPerRun(10, func() {
		ix.DimensionCounts(context.Background(), testAccount, q)
	})
	// The counters, the agents' counters, the growing answer and a string
	// per uuid or version value.
	if limit := float64(len(rows) + 20); allocs > limit {
		t.Errorf("DimensionCounts made %.0f allocations for 200k sessions and %d rows; the limit is %.0f", allocs, len(rows), limit)
	}
}

// BenchmarkDimensionCounts: one account of 1 M sessions in a year.
func BenchmarkDimensionCounts(b *testing.B) {
	ix, _ := benchIndex(b, 1_000_000)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    analytics.DimensionQuery
	}{
		{"all_time", analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}},
		{"year", analytics.DimensionQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2025-01-01")}},
		{"month", analytics.DimensionQuery{StartMicros: mustTS("2024-03-01"), EndMicros: mustTS("2024-04-01")}},
		{"day", analytics.DimensionQuery{StartMicros: mustTS("2024-03-01"), EndMicros: mustTS("2024-03-02")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ix.DimensionCounts(ctx, testAccount, &c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
