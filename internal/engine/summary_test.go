package engine

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// waitSummary returns the account's summary of its current main segment,
// waiting for the background build.
func waitSummary(t *testing.T, ix *Index, id pgtext.UUID) *summary {
	t.Helper()
	a := ix.account(id, false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.mu.RLock()
		s := a.summaryOf()
		a.mu.RUnlock()
		if s != nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("no summary after 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSummaryCountsBlocks checks the summary against the rows it
// describes: every complete block's flag counts and, for each dimension
// not skipped, its (code, flags) pairs.
func TestSummaryCountsBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	w := newWorld(r)
	for i := range 300 {
		w.agents = append(w.agents, fmt.Sprintf("more-%d", i))
	}
	ix := New(Config{})
	l := ix.NewLoader()
	const n = 100_000 // above inlineSummaryRows: built in the background
	for i := range n {
		rec := w.record(r, i, 30*pgtext.MicrosPerDay)
		l.Add(&rec)
	}
	l.Finish()
	s := waitSummary(t, ix, testAccount)
	a := ix.account(testAccount, false)
	c := &a.main
	if len(s.flags) != n/blockRows {
		t.Fatalf("%d blocks summarized, want %d", len(s.flags), n/blockRows)
	}
	skips := 0
	for b := range s.flags {
		var want [4]uint16
		for i := b * blockRows; i < (b+1)*blockRows; i++ {
			want[c.flags[i]&3]++
		}
		if s.flags[b] != want {
			t.Fatalf("block %d: flags %v, want %v", b, s.flags[b], want)
		}
		for d := range numDims {
			if s.skip[d][b] {
				skips++
				continue
			}
			wantPairs := map[[2]uint32]uint16{}
			for i := b * blockRows; i < (b+1)*blockRows; i++ {
				wantPairs[[2]uint32{c.dims[d][i], uint32(c.flags[i] & 3)}]++
			}
			got := map[[2]uint32]uint16{}
			for _, p := range s.pairs[d][s.off[d][b]:s.off[d][b+1]] {
				got[[2]uint32{p.code, uint32(p.flags)}] += p.n
			}
			if fmt.Sprint(got) != fmt.Sprint(wantPairs) {
				t.Fatalf("block %d dimension %d: pairs %v, want %v", b, d, got, wantPairs)
			}
		}
	}
	// search finds what sort.Search finds, before, inside and after the
	// data, on block edges and between equal starts.
	for i := range 2000 {
		var ts int64
		switch i % 4 {
		case 0:
			ts = c.start[r.Intn(n)]
		case 1:
			ts = c.start[r.Intn(n/blockRows)*blockRows]
		case 2:
			ts = c.start[0] - 1 + r.Int63n(c.start[n-1]-c.start[0]+3)
		case 3:
			ts = c.start[n-1] + int64(i%3) - 1
		}
		want := sort.Search(n, func(j int) bool { return c.start[j] >= ts })
		if got := s.search(c, ts); got != want {
			t.Fatalf("search(%d) = %d, want %d", ts, got, want)
		}
	}
	// The agent sets (330 agents) are too many for a block: that dimension
	// is skipped, the others are summarized.
	if skips == 0 || skips >= len(s.flags)*int(numDims)/2 {
		t.Errorf("%d of %d block dimensions skipped: the test no longer covers both cases", skips, len(s.flags)*int(numDims))
	}
}

// TestSummarizedCountMatchesNaive counts random queries, most with at most
// one dimension filter, which use the summary, a quarter over most of the
// data, which split it in two (scanColumns), on a dense account (about 3 000
// sessions a day, so whole blocks fit in hours and days), against the
// naive count: loaded, then with deltas (the summary still describes the
// main segment), then compacted (a new main segment, summarized again).
func TestSummarizedCountMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	w := newWorld(r)
	w.agents = w.agents[:3] // few agent sets: that dimension is summarized too
	span := 30 * pgtext.MicrosPerDay
	ix := New(Config{CompactRows: 30_000})
	current := map[string]session.Record{}
	l := ix.NewLoader()
	for i := range 90_000 {
		rec := w.record(r, i, span)
		varyEnd(r, &rec)
		current[rec.SessionID] = rec
		l.Add(&rec)
	}
	l.Finish()
	check := func(stage string, queries int) {
		t.Helper()
		var all []session.Record
		for _, rec := range current {
			all = append(all, rec)
		}
		used := 0
		for range queries {
			q := randomQuery(r, w, span)
			if r.Intn(5) > 0 { // else as generated: several filters, flow columns
				q.Columns = 0 // no flow columns: those never use the summary
				q.BrainParentIDs, q.IntegrationIDs, q.BrainVersions = analytics.UUIDSet{}, analytics.UUIDSet{}, analytics.IntSet{}
				if q.DeskIDs.Active && (q.Channels.Active || q.AgentIDs.Active) {
					q.Channels, q.AgentIDs = analytics.TextSet{}, analytics.TextSet{}
				}
				if q.Channels.Active {
					q.AgentIDs = analytics.TextSet{}
				}
			}
			switch r.Intn(4) {
			case 0:
				q.Span = pgtext.Interval{Micros: pgtext.MicrosPerHour}
				q.EndMicros = q.StartMicros + r.Int63n(3*pgtext.MicrosPerDay)
			case 1: // most of the data: scanColumns splits the range in two
				q.StartMicros = w.start - r.Int63n(2*pgtext.MicrosPerDay)
				q.EndMicros = w.start + span - r.Int63n(5*pgtext.MicrosPerDay)
			}
			if err := q.Plan(100000); err != nil {
				t.Fatal(err)
			}
			if fullBlocksInBuckets(ix, q) > 0 {
				used++
			}
			got, err := ix.Count(context.Background(), testAccount, q, make([]analytics.Counts, len(q.Bounds)-1))
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveCount(all, q); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: query %+v:\n got %v\nwant %v", stage, q, got, want)
			}
		}
		if used < queries/3 {
			t.Errorf("%s: only %d of %d queries had a whole block in a bucket", stage, used, queries)
		}
	}
	waitSummary(t, ix, testAccount)
	check("loaded", 150)

	apply := func(k int) {
		var changes []session.Change
		for j := range k {
			rec := w.record(r, r.Intn(120_000), span)
			varyEnd(r, &rec)
			var old *session.Record
			if o, ok := current[rec.SessionID]; ok {
				old = &o
			}
			changes = append(changes, session.Change{Old: old, New: &rec})
			current[rec.SessionID] = rec
			if j%1000 == 999 {
				ix.Apply(changes)
				changes = nil
			}
		}
		ix.Apply(changes)
	}
	apply(5_000)
	if a := ix.account(testAccount, false); len(a.added) == 0 || !a.sum.Load().describes(&a.main) {
		t.Fatal("the deltas were compacted, or the summary no longer describes the main segment")
	}
	check("deltas", 100)

	old := ix.account(testAccount, false).sum.Load()
	apply(30_000) // past CompactRows: a new main segment
	a := ix.account(testAccount, false)
	if old.describes(&a.main) {
		t.Fatal("the old summary describes the compacted segment")
	}
	check("compacted, summary being built", 50)
	waitSummary(t, ix, testAccount)
	check("compacted", 100)
}

// fullBlocksInBuckets is the number of complete blocks of the account's
// main segment that lie inside one of q's buckets.
func fullBlocksInBuckets(ix *Index, q *analytics.IntervalQuery) int {
	a := ix.account(testAccount, false)
	a.mu.RLock()
	defer a.mu.RUnlock()
	c, n := &a.main, 0
	for b := 0; (b+1)*blockRows <= c.len(); b++ {
		first, last := c.start[b*blockRows], c.start[(b+1)*blockRows-1]
		k := firstBucket(q.Bounds, first)
		if k >= 0 && k+1 < len(q.Bounds) && last < q.Bounds[k+1] {
			n++
		}
	}
	return n
}

// TestEstimateCountWithSummary: a query counted through the summary costs
// summarizedRows, less than its rows; one with two filters or a flow
// column costs its rows, as before.
func TestEstimateCountWithSummary(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	w := newWorld(r)
	ix := New(Config{})
	l := ix.NewLoader()
	const n = 100_000
	for i := range n {
		rec := w.record(r, i, 366*pgtext.MicrosPerDay)
		l.Add(&rec)
	}
	l.Finish()
	plan := func(q *analytics.IntervalQuery) *analytics.IntervalQuery {
		q.StartMicros, q.EndMicros = mustTS("2024-01-01"), mustTS("2024-12-30")
		q.Span = pgtext.Interval{Days: 7}
		if err := q.Plan(10000); err != nil {
			t.Fatal(err)
		}
		return q
	}
	estimate := func(q *analytics.IntervalQuery) analytics.Cost {
		c, err := ix.EstimateCount(t.Context(), testAccount, q)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	weekly := plan(&analytics.IntervalQuery{Channels: analytics.TextSet{Active: true, Values: w.channels[:2]}})
	if c := estimate(weekly); c.Rows != n {
		t.Errorf("before the summary is built: %d rows, want all %d", c.Rows, n)
	}
	waitSummary(t, ix, testAccount)
	if c, want := estimate(weekly), summarizedRows(n, len(weekly.Bounds)-1); c.Rows != want || want >= n/4 {
		t.Errorf("weekly over the year, one filter: %d rows, want %d (well under %d)", c.Rows, want, n)
	}
	// session_dimension_counts' estimate: bounds alone mean every row.
	if c := estimate(&analytics.IntervalQuery{Bounds: weekly.Bounds[:2:2]}); c.Rows == 0 || c.Rows != int64(rowsBetween(ix, weekly.Bounds[0], weekly.Bounds[1])) {
		t.Errorf("bounds without a span: %d rows, want the %d rows of the range", c.Rows, rowsBetween(ix, weekly.Bounds[0], weekly.Bounds[1]))
	}
	two := plan(&analytics.IntervalQuery{Channels: analytics.TextSet{Active: true, Values: w.channels[:2]}, DeskIDs: analytics.UUIDSet{Active: true, Values: w.desks[:1]}})
	flow := plan(&analytics.IntervalQuery{Columns: analytics.AllColumns(len(analytics.IntervalTable().Columns))})
	for name, q := range map[string]*analytics.IntervalQuery{"two filters": two, "flow columns": flow} {
		if c := estimate(q); c.Rows != n {
			t.Errorf("%s: %d rows, want all %d", name, c.Rows, n)
		}
	}
}

// bytes is the memory the summary holds.
func (s *summary) bytes() int {
	n := len(s.starts)*16 + len(s.flags)*8
	for d := range numDims {
		n += len(s.off[d])*4 + len(s.pairs[d])*8 + len(s.skip[d])
	}
	return n
}

// TestSummaryMemory checks the bound of summary.go, 12.3 bytes a session
// at most, on benchIndex's year of sessions, and logs what it takes.
func TestSummaryMemory(t *testing.T) {
	const n = 500_000
	ix, _ := benchIndex(t, n)
	s := waitSummary(t, ix, testAccount)
	perSession := float64(s.bytes()) / n
	t.Logf("summary: %.2f bytes per session", perSession)
	if perSession > 12.3 {
		t.Errorf("the summary holds %.2f bytes per session, more than the 12.3 summary.go promises", perSession)
	}
}

// rowsBetween counts the account's main-segment rows starting in [from, to).
func rowsBetween(ix *Index, from, to int64) int {
	n := 0
	for _, st := range ix.account(testAccount, false).main.start {
		if st >= from && st < to {
			n++
		}
	}
	return n
}
