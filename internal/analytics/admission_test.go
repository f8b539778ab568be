package analytics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// gateSource counts heavy queries (more than one bucket) only when the
// test lets them through, and records how many were counting at once.
type gateSource struct {
	gate            chan struct{} // a heavy Count takes one value to finish
	counting, most  atomic.Int32
	cheap, finished atomic.Int32
}

func newGate() *gateSource { return &gateSource{gate: make(chan struct{})} }

func (g *gateSource) Count(ctx context.Context, account pgtext.UUID, q *IntervalQuery, dst []Counts) ([]Counts, error) {
	if len(q.Bounds) <= 2 {
		g.cheap.Add(1)
		return dst, nil
	}
	n := g.counting.Add(1)
	defer g.counting.Add(-1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.gate:
		g.finished.Add(1)
		return dst, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DimensionCounts is heavy (its estimate is seven dimensions of a
// million rows) and waits for the gate like a heavy Count.
func (g *gateSource) DimensionCounts(ctx context.Context, account pgtext.UUID, q *DimensionQuery) ([]DimensionCount, error) {
	g.counting.Add(1)
	defer g.counting.Add(-1)
	select {
	case <-g.gate:
		g.finished.Add(1)
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// EstimateCount: a million rows a bucket.
func (g *gateSource) EstimateCount(ctx context.Context, account pgtext.UUID, q *IntervalQuery) (Cost, error) {
	return Cost{Buckets: len(q.Bounds) - 1, Rows: int64(len(q.Bounds)-1) * 1_000_000}, nil
}

var (
	heavyQuery = &IntervalQuery{Bounds: []int64{0, 1, 2, 3}}
	cheapQuery = &IntervalQuery{Bounds: []int64{0, 1}}
)

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAdmissionBoundsHeavyQueries: issue 9, finding 8 — with fifty
// year-long queries in flight nothing stopped them from taking every core,
// and a ten-day query waited behind them. Here 32 heavy requests arrive at
// once: MaxHeavy count at a time, MaxQueued wait, the rest are refused at
// once with an error naming the flag, and a cheap query runs at once all
// along.
func TestAdmissionBoundsHeavyQueries(t *testing.T) {
	g := newGate()
	a := NewAdmission(AdmissionConfig{MaxHeavy: 2, MaxQueued: 5, HeavyCost: 2_000_000})
	src := a.Source(g)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused []error
		cancels []context.CancelFunc
	)
	for range 32 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel() // the request's answer is written
			if _, err := src.Count(ctx, pgtext.UUID{}, heavyQuery, make([]Counts, 3)); err != nil {
				mu.Lock()
				refused = append(refused, err)
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "2 heavy queries count, 5 wait and 25 are refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return g.counting.Load() == 2 && a.Queued() == 5 && len(refused) == 25
	})
	for _, err := range refused {
		var be *BusyError
		if !errors.As(err, &be) || !errors.Is(err, session.ErrTemporary) || !strings.Contains(err.Error(), "--max-heavy-queued") {
			t.Fatalf("a refusal: %v", err)
		}
	}
	// A cheap query does not wait for any of them.
	if _, err := src.Count(context.Background(), pgtext.UUID{}, cheapQuery, make([]Counts, 1)); err != nil || g.cheap.Load() != 1 {
		t.Fatalf("a cheap query while the heavy ones wait: %v", err)
	}
	for range 7 {
		g.gate <- struct{}{}
	}
	wg.Wait()
	if g.most.Load() != 2 || g.finished.Load() != 7 || a.Refusals() != 25 {
		t.Errorf("%d counted at once (want 2), %d finished (want 7), %d refused (want 25)", g.most.Load(), g.finished.Load(), a.Refusals())
	}
	waitFor(t, "every turn is given back", func() bool { return a.Running() == 0 && a.Queued() == 0 })
	for _, c := range cancels {
		c()
	}
}

// TestAdmissionTurns: a turn is shared by the calls of one request,
// handed on in arrival order, and given up by a request that leaves while
// it waits.
func TestAdmissionTurns(t *testing.T) {
	g := newGate()
	a := NewAdmission(AdmissionConfig{MaxHeavy: 1, MaxQueued: 8, HeavyCost: 2_000_000})
	src := a.Source(g)
	count := func(ctx context.Context) <-chan error {
		errc := make(chan error, 1)
		go func() {
			_, err := src.Count(ctx, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
			errc <- err
		}()
		return errc
	}
	first, endFirst := context.WithCancel(context.Background())
	a1 := count(first)
	waitFor(t, "the first request counts", func() bool { return g.counting.Load() == 1 })

	second, endSecond := context.WithCancel(context.Background())
	b := count(second)
	waitFor(t, "the second request waits", func() bool { return a.Queued() == 1 })
	leaving, leave := context.WithCancel(context.Background())
	c := count(leaving)
	waitFor(t, "a third request waits", func() bool { return a.Queued() == 2 })
	leave()
	if err := <-c; !errors.Is(err, context.Canceled) {
		t.Fatalf("a request that left while it waited: %v", err)
	}
	waitFor(t, "it leaves the queue", func() bool { return a.Queued() == 1 })

	// The first request's second call shares its turn: it counts beside
	// the first call although the budget is one.
	a2 := count(first)
	waitFor(t, "the first request's second call counts", func() bool { return g.counting.Load() == 2 })
	g.gate <- struct{}{}
	g.gate <- struct{}{}
	if err := <-a1; err != nil {
		t.Fatal(err)
	}
	if err := <-a2; err != nil {
		t.Fatal(err)
	}
	// The turn passes to the second request when the first ends.
	endFirst()
	waitFor(t, "the second request counts", func() bool { return g.counting.Load() == 1 && a.Queued() == 0 })
	g.gate <- struct{}{}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
	endSecond()
	waitFor(t, "the budget is free", func() bool { return a.Running() == 0 })
}

// TestAdmissionHoldIsBounded: a request whose context outlives its answer
// keeps its turn only for the render allowance after Count, so another
// request (or its own next call with another context) is not stuck
// behind it.
func TestAdmissionHoldIsBounded(t *testing.T) {
	g := newGate()
	a := NewAdmission(AdmissionConfig{MaxHeavy: 1, HeavyCost: 2_000_000})
	src := a.Source(g)
	forever, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 2)
	go func() {
		_, err := src.Count(forever, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
		done <- err
	}()
	g.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	other, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		_, err := src.Count(other, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
		done <- err
	}()
	g.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatalf("a request behind one whose context never ended: %v", err)
	}
	// Without a Done channel the turn is held only during Count.
	go func() {
		_, err := src.Count(context.Background(), pgtext.UUID{}, heavyQuery, make([]Counts, 3))
		done <- err
	}()
	g.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the budget is free", func() bool { return a.Running() == 0 })
}

func TestAdmissionRefusalWording(t *testing.T) {
	worded := errors.New("worded for the transport")
	a := NewAdmission(AdmissionConfig{MaxHeavy: 1, MaxQueued: 1, Refused: func(*BusyError) error { return worded }})
	g := newGate()
	src := a.Source(g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Count(ctx, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
	go src.Count(ctx, pgtext.UUID{1}, heavyQuery, make([]Counts, 3)) // the same request: no second turn
	waitFor(t, "one heavy query counts", func() bool { return a.Running() == 1 })
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	go src.Count(other, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
	waitFor(t, "one waits", func() bool { return a.Queued() == 1 })
	_, err := src.Count(context.Background(), pgtext.UUID{}, heavyQuery, make([]Counts, 3))
	var be *BusyError
	if !errors.Is(err, worded) || !errors.As(err, &be) || err.Error() != worded.Error() || be.MaxQueued != 1 {
		t.Errorf("a refusal worded by the transport: %v", err)
	}
}

// TestAdmissionDimensionCounts: session_dimension_counts over a large
// range is a heavy query too (a year took PostgreSQL over a second): it
// waits for a turn held by a heavy Count, and then counts.
func TestAdmissionDimensionCounts(t *testing.T) {
	g := newGate()
	a := NewAdmission(AdmissionConfig{MaxHeavy: 1, HeavyCost: 2_000_000})
	src := a.Source(g)
	first, endFirst := context.WithCancel(context.Background())
	counted := make(chan error, 1)
	go func() {
		_, err := src.Count(first, pgtext.UUID{}, heavyQuery, make([]Counts, 3))
		counted <- err
	}()
	waitFor(t, "the heavy Count counts", func() bool { return g.counting.Load() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dims := make(chan error, 1)
	go func() {
		_, err := src.DimensionCounts(ctx, pgtext.UUID{}, &DimensionQuery{StartMicros: 0, EndMicros: 10})
		dims <- err
	}()
	waitFor(t, "the dimension counts wait", func() bool { return a.Queued() == 1 && g.counting.Load() == 1 })
	g.gate <- struct{}{}
	if err := <-counted; err != nil {
		t.Fatal(err)
	}
	endFirst()
	waitFor(t, "the dimension counts run", func() bool { return a.Queued() == 0 && g.counting.Load() == 1 })
	g.gate <- struct{}{}
	if err := <-dims; err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, "the budget is free", func() bool { return a.Running() == 0 })
}
