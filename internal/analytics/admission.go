package analytics

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Admission by cost (SPEC section 10: cheap queries stay cheap under load).
// A query's cost is known before it runs: the buckets of its answer, and
// the stored rows its backend reads when the backend can tell cheaply
// (CountEstimator). Queries that cost less than AdmissionConfig.HeavyCost
// run at once, always. Heavy ones run at most MaxHeavy at a time; the next
// MaxQueued wait their turn in arrival order, and any more are refused at
// once with *BusyError rather than left to time out. So however many
// year-long queries arrive, they hold at most MaxHeavy cores, and a
// ten-day dashboard query finds a core free.
//
// A heavy query holds its turn while the Source counts and then until its
// request's context ends, for at most renderAllowance per bucket more:
// turning thousands of buckets into JSON costs more than counting them,
// and that happens after Count returns, while the transport renders the
// answer (the HTTP handlers end the context once the answer is written).
// The allowance bounds the hold, so that a transport whose contexts
// outlive their answers cannot make its next call wait on its own turn.
// Further heavy calls with the same context (aliases, a batch) share its
// turn. A context that never ends (context.Background) holds the turn
// only during Count.

// Cost is what a query will take, known before it runs.
type Cost struct {
	Buckets int // rows of the answer
	// Rows is about how many stored rows the backend reads; -1 when the
	// backend cannot tell cheaply.
	Rows int64
}

// BucketWeight is what one bucket of an answer costs, in stored rows
// read: rendering a row of the answer as JSON took about 1 µs, counting a
// stored row about 1.5 ns (docs/performance.md).
const BucketWeight = 512

// Units is c in rows read: Rows (0 when unknown) plus BucketWeight per
// bucket.
func (c Cost) Units() int64 { return max(c.Rows, 0) + int64(c.Buckets)*BucketWeight }

// CountEstimator is a Source that can estimate a Count's cost without
// counting: a few binary searches in the engine, planner statistics in
// PostgreSQL. It is optional; a Source without it is judged by its
// buckets alone.
type CountEstimator interface {
	// EstimateCount returns the cost of Count(ctx, account, q, ...) for a
	// planned q. It must be cheap: it runs for every query.
	EstimateCount(ctx context.Context, account pgtext.UUID, q *IntervalQuery) (Cost, error)
}

// Defaults of AdmissionConfig.
const (
	DefaultHeavyCost = 1_000_000 // a year of 1 M sessions read, or 2 000 buckets
	DefaultMaxQueued = 64
)

// AdmissionConfig sets the budget of heavy queries. Zero values take the
// defaults (WithDefaults).
type AdmissionConfig struct {
	// HeavyCost is the cost (Cost.Units) from which a query is heavy;
	// default DefaultHeavyCost.
	HeavyCost int64
	// MaxHeavy is how many heavy queries run at once; default GOMAXPROCS
	// minus one (at least one), so one core is always left to the rest.
	MaxHeavy int
	// MaxQueued is how many heavy queries may wait for a turn; default
	// DefaultMaxQueued. Past it a heavy query is refused (*BusyError).
	MaxQueued int
	// Refused, when set, words a refusal for the transport that calls the
	// Source (GraphQL's wiring makes it a Hasura error naming the flag);
	// the error returned wraps both it and the *BusyError.
	Refused func(*BusyError) error
}

// WithDefaults returns c with every unset field at its default.
func (c AdmissionConfig) WithDefaults() AdmissionConfig {
	if c.HeavyCost <= 0 {
		c.HeavyCost = DefaultHeavyCost
	}
	if c.MaxHeavy <= 0 {
		c.MaxHeavy = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	return c
}

// BusyError is a heavy query refused because MaxHeavy are running and
// MaxQueued are waiting. It is temporary (session.ErrTemporary).
type BusyError struct {
	Cost      Cost
	Running   int // AdmissionConfig.MaxHeavy
	MaxQueued int
}

func (e *BusyError) Error() string {
	rows := ""
	if e.Cost.Rows >= 0 {
		rows = fmt.Sprintf(" over about %d stored rows", e.Cost.Rows)
	}
	return fmt.Sprintf("the server is busy with costly queries (%d running, %d waiting: the most --max-heavy-queued allows); this query (%d buckets%s) is costly too, so it was not queued: retry in a few seconds, or make it cheaper with a shorter range or a longer interval_span (queries cheaper than --heavy-query-cost never wait)",
		e.Running, e.MaxQueued, e.Cost.Buckets, rows)
}

// Is makes a refusal temporary.
func (e *BusyError) Is(target error) bool { return target == session.ErrTemporary }

// Admission is the budget of heavy queries of one process. It is safe for
// concurrent use.
type Admission struct {
	cfg      AdmissionConfig
	refusals atomic.Uint64

	mu      sync.Mutex // guards the fields below
	running int
	queue   []*turn                   // waiting, in arrival order
	turns   map[<-chan struct{}]*turn // by request context, granted or waiting
}

// turn is one request's claim on a heavy slot.
type turn struct {
	done    <-chan struct{} // the request context's
	granted chan struct{}   // closed when the turn is given
	ended   bool            // given back; guarded by Admission.mu
	timer   *time.Timer     // ends the turn after Count; guarded by Admission.mu
}

// renderAllowance is how long per bucket a turn is kept after Count
// returns, at most, for the answer to be rendered: about four times what
// rendering took (docs/performance.md), and never less than
// minRenderAllowance.
const (
	renderAllowance    = 4 * time.Microsecond
	minRenderAllowance = 5 * time.Millisecond
)

// NewAdmission returns an empty budget.
func NewAdmission(cfg AdmissionConfig) *Admission {
	return &Admission{cfg: cfg.WithDefaults(), turns: map[<-chan struct{}]*turn{}}
}

// Config is the budget's configuration, defaults applied.
func (a *Admission) Config() AdmissionConfig { return a.cfg }

// Running is how many heavy queries hold a turn.
func (a *Admission) Running() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// Queued is how many heavy queries wait for a turn.
func (a *Admission) Queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// Refusals is how many heavy queries have been refused.
func (a *Admission) Refusals() uint64 { return a.refusals.Load() }

// admit waits until a query of cost c may run for the request of ctx. A
// cheap query returns at once. A heavy one takes (or shares) its
// request's turn, which is given back when ctx ends; it waits while
// MaxHeavy turns are held, and fails with ctx's error if ctx ends first,
// or at once with *BusyError (worded by Refused) if MaxQueued already
// wait. ctx must end eventually (see the comment at the top): callers
// whose ctx has no Done channel use admitOnce.
func (a *Admission) admit(ctx context.Context, c Cost) (*turn, error) {
	if c.Units() < a.cfg.HeavyCost {
		return nil, nil
	}
	done := ctx.Done()
	a.mu.Lock()
	t := a.turns[done]
	if t == nil {
		t = &turn{done: done, granted: make(chan struct{})}
		switch {
		case a.running < a.cfg.MaxHeavy:
			a.running++
			close(t.granted)
		case len(a.queue) < a.cfg.MaxQueued:
			a.queue = append(a.queue, t)
		default:
			a.mu.Unlock()
			a.refusals.Add(1)
			return nil, a.refuse(&BusyError{Cost: c, Running: a.cfg.MaxHeavy, MaxQueued: a.cfg.MaxQueued})
		}
		a.turns[done] = t
		context.AfterFunc(ctx, func() { a.end(t) })
	}
	a.mu.Unlock()
	select {
	case <-t.granted:
		return t, nil
	case <-done:
		return nil, ctx.Err()
	}
}

// counted starts the end of t's hold, Count having returned: the turn
// ends with its context, or after the render allowance of c, whichever
// comes first.
func (a *Admission) counted(t *turn, c Cost) {
	if t == nil {
		return
	}
	d := max(time.Duration(c.Buckets)*renderAllowance, minRenderAllowance)
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.ended {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(d, func() { a.end(t) })
}

func (a *Admission) refuse(e *BusyError) error {
	if a.cfg.Refused == nil {
		return e
	}
	return &refusal{busy: e, worded: a.cfg.Refused(e)}
}

// refusal is a *BusyError with the transport's wording of it; its message
// is the wording's.
type refusal struct {
	busy   *BusyError
	worded error
}

func (r *refusal) Error() string   { return r.worded.Error() }
func (r *refusal) Unwrap() []error { return []error{r.worded, r.busy} }

// end gives back t's turn when its request ends: to the first waiting
// turn, or to the budget. A turn that was still waiting leaves the queue.
func (a *Admission) end(t *turn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.ended {
		return // by its timer and by its context, both
	}
	t.ended = true
	if t.timer != nil {
		t.timer.Stop()
	}
	if a.turns[t.done] == t {
		delete(a.turns, t.done)
	}
	select {
	case <-t.granted:
	default:
		for i, w := range a.queue {
			if w == t {
				a.queue = append(a.queue[:i], a.queue[i+1:]...)
				break
			}
		}
		return
	}
	if len(a.queue) > 0 {
		next := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		close(next.granted)
		return
	}
	a.running--
}

// admitOnce is admit for a context that never ends: the turn is held
// until the returned release is called.
func (a *Admission) admitOnce(ctx context.Context, c Cost) (release func(), err error) {
	cctx, cancel := context.WithCancel(ctx)
	if _, err := a.admit(cctx, c); err != nil {
		cancel()
		return nil, err
	}
	return cancel, nil
}

// enter admits a query of cost c for the request of ctx, and returns what
// to call once the query has counted: a cheap query at once, without
// calling ctx.Done (which may cost: a server's request context arms its
// timer on the first call); a heavy one after its turn (admit, or
// admitOnce for a ctx that never ends).
func (a *Admission) enter(ctx context.Context, c Cost) (counted func(), err error) {
	if c.Units() < a.cfg.HeavyCost {
		return noop, nil
	}
	if ctx.Done() == nil {
		return a.admitOnce(ctx, c)
	}
	t, err := a.admit(ctx, c)
	if err != nil {
		return nil, err
	}
	return func() { a.counted(t, c) }, nil
}

func noop() {}

// Source returns src with its queries admitted by this budget: Count
// estimates the query's cost (CountEstimator, else its buckets alone) and
// waits for its turn before it counts; DimensionCounts likewise, its cost
// being the rows in its range read once per dimension. Other methods of
// src are not reachable through the result; give them their own wrapper
// here when a Source method is added.
func (a *Admission) Source(src Source) Source {
	est, _ := src.(CountEstimator)
	return &admitted{src: src, est: est, a: a}
}

type admitted struct {
	src Source
	est CountEstimator // nil: buckets alone
	a   *Admission
}

func (s *admitted) Count(ctx context.Context, account pgtext.UUID, q *IntervalQuery, dst []Counts) ([]Counts, error) {
	c := Cost{Buckets: max(len(q.Bounds)-1, 0), Rows: -1}
	if s.est != nil {
		var err error
		if c, err = s.est.EstimateCount(ctx, account, q); err != nil {
			return nil, err
		}
	}
	counted, err := s.a.enter(ctx, c)
	if err != nil {
		return nil, err
	}
	defer counted()
	return s.src.Count(ctx, account, q, dst)
}

func (s *admitted) DimensionCounts(ctx context.Context, account pgtext.UUID, q *DimensionQuery) ([]DimensionCount, error) {
	c := Cost{Rows: -1}
	if s.est != nil {
		// Bounds without a span: the rows of the range, every one of
		// which DimensionCounts reads (see engine's summarized).
		rc, err := s.est.EstimateCount(ctx, account, &IntervalQuery{Bounds: []int64{q.StartMicros, q.EndMicros}})
		if err != nil {
			return nil, err
		}
		if rc.Rows > 0 {
			c.Rows = rc.Rows * int64(len(Dimensions))
		}
	}
	counted, err := s.a.enter(ctx, c)
	if err != nil {
		return nil, err
	}
	defer counted()
	return s.src.DimensionCounts(ctx, account, q)
}
