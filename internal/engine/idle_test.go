package engine

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// TestCompactIdleUnderQueries: queries running while writes add deltas
// and CompactIdle merges them keep answering what the sessions written so
// far give (run with -race to check the locking).
func TestCompactIdleUnderQueries(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	w := newWorld(r)
	ix := New(Config{CompactRows: 1 << 30}) // only CompactIdle merges
	span := 30 * pgtext.MicrosPerDay
	q := &analytics.IntervalQuery{StartMicros: w.start, EndMicros: w.start + span, Span: pgtext.Interval{Days: 1}}
	if err := q.Plan(1000); err != nil {
		t.Fatal(err)
	}
	total := func() int64 {
		got, err := ix.Count(context.Background(), testAccount, q, make([]analytics.Counts, len(q.Bounds)-1))
		if err != nil {
			t.Error(err)
			return -1
		}
		var n int64
		for _, c := range got {
			n += c.Open + c.Closed
		}
		return n
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := int64(0) // sessions applied, all inside the range
	// until runs f in a goroutine until stop is closed or f says false.
	until := func(f func() bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !f() {
					return
				}
			}
		}()
	}
	for range 2 {
		until(func() bool {
			mu.Lock()
			before := written
			mu.Unlock()
			if n := total(); n < before {
				t.Errorf("a query counted %d sessions after %d were written", n, before)
				return false
			}
			return true
		})
	}
	until(func() bool { ix.CompactIdle(time.Now().Add(time.Hour), time.Minute, 1); return true })
	for b := range 60 {
		var changes []session.Change
		for i := range 100 {
			rec := w.record(r, b*100+i, span)
			changes = append(changes, session.Change{New: &rec})
		}
		mu.Lock()
		ix.Apply(changes)
		written += int64(len(changes))
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	if n := total(); n != written {
		t.Fatalf("%d sessions counted, %d written", n, written)
	}
}
