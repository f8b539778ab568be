package engine

import (
	"fmt"
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

// TestEstimateCountChargesSkippedBlocks: a query counted through the
// summary costs about a sixteenth of its rows, but blocks with too many
// distinct values of the filtered dimension are not summarized and are
// read row by row; the estimate charges their rows. (Found in review: a
// year weekly query on one of 330 agents read every row and was
// estimated at a tenth of them, so it passed as cheap.)
func TestEstimateCountChargesSkippedBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	w := newWorld(r)
	ix := New(Config{})
	l := ix.NewLoader()
	const n = 40000
	for i := range n {
		rec := w.record(r, i, 366*pgtext.MicrosPerDay)
		rec.AgentIDs = []string{fmt.Sprint("agent-", r.Intn(330))}
		l.Add(&rec)
	}
	l.Finish()
	year := func(set func(q *analytics.IntervalQuery)) *analytics.IntervalQuery {
		q := &analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 7}}
		set(q)
		if err := q.Plan(10000); err != nil {
			t.Fatal(err)
		}
		return q
	}
	agent := year(func(q *analytics.IntervalQuery) {
		q.AgentIDs = analytics.TextSet{Active: true, Values: []string{"agent-7"}}
	})
	desk := year(func(q *analytics.IntervalQuery) { q.DeskIDs = analytics.UUIDSet{Active: true, Values: w.desks[:1]} })
	// The first Count builds the summary (inline at this size).
	if _, err := ix.Count(t.Context(), testAccount, desk, make([]analytics.Counts, len(desk.Bounds)-1)); err != nil {
		t.Fatal(err)
	}
	a, err := ix.EstimateCount(t.Context(), testAccount, agent)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rows < n*9/10 {
		t.Errorf("one agent of 330 over the year: estimated %d rows, but about %d are read", a.Rows, n)
	}
	d, err := ix.EstimateCount(t.Context(), testAccount, desk)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows > n/4 {
		t.Errorf("one desk of 8 over the year: estimated %d rows; the summary reads far fewer than %d", d.Rows, n)
	}
}
