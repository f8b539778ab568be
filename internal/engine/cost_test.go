package engine

import (
	"math"
	"math/rand"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// TestEstimateCount: the estimate is the buckets and exactly the rows the
// scan reads: the account's rows starting in the range, in the main
// segment and both deltas, whatever the filters; with a flow column, also
// every row started before the range.
func TestEstimateCount(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	w := newWorld(r)
	ix := New(Config{CompactRows: 1 << 30}) // keep the deltas
	var recs []session.Record
	l := ix.NewLoader()
	for i := range 20000 {
		rec := w.record(r, i, 366*pgtext.MicrosPerDay)
		recs = append(recs, rec)
		l.Add(&rec)
	}
	l.Finish()
	// Replace 300 sessions (a removed and an added row each) and add 200.
	var changes []session.Change
	for i := range 500 {
		rec := w.record(r, 20000+i, 366*pgtext.MicrosPerDay)
		c := session.Change{New: &rec}
		if i < 300 {
			c.Old = &recs[i]
		}
		changes = append(changes, c)
	}
	ix.Apply(changes)
	inRange := func(from, to int64) int64 {
		n := int64(0)
		for _, rec := range recs {
			if rec.StartMicros >= from && rec.StartMicros < to {
				n++
			}
		}
		for _, c := range changes {
			for _, rec := range []*session.Record{c.Old, c.New} {
				if rec != nil && rec.StartMicros >= from && rec.StartMicros < to {
					n++
				}
			}
		}
		return n
	}
	for _, c := range []struct{ from, to string }{{"2024-01-01", "2024-12-31"}, {"2024-06-01", "2024-06-10"}, {"2023-01-01", "2023-02-01"}} {
		q := &analytics.IntervalQuery{StartMicros: mustTS(c.from), EndMicros: mustTS(c.to), Span: pgtext.Interval{Days: 1}, DeskIDs: analytics.UUIDSet{Active: true, Values: w.desks[:1]}}
		if err := q.Plan(10000); err != nil {
			t.Fatal(err)
		}
		got, err := ix.EstimateCount(t.Context(), testAccount, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := inRange(q.Bounds[0], q.Bounds[len(q.Bounds)-1]); got.Rows != want || got.Buckets != len(q.Bounds)-1 {
			t.Errorf("%s to %s: %+v, want %d rows and %d buckets", c.from, c.to, got, want, len(q.Bounds)-1)
		}
		// The backlog reads every row started before the range too.
		q.Columns = analytics.ColumnSet(1) << analytics.ColOpenAtEnd
		got, err = ix.EstimateCount(t.Context(), testAccount, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := inRange(math.MinInt64, q.Bounds[len(q.Bounds)-1]); got.Rows != want {
			t.Errorf("%s to %s with open_at_end: %d rows, want %d", c.from, c.to, got.Rows, want)
		}
	}
	if got, _ := ix.EstimateCount(t.Context(), pgtext.UUID{9}, &analytics.IntervalQuery{Bounds: []int64{0, 1}}); got.Rows != 0 || got.Buckets != 1 {
		t.Errorf("an account without sessions: %+v", got)
	}
}
