// Package feed is the change feed of live queries: what an acknowledged
// write changed — which accounts, and the span of time the rows it
// replaced and wrote cover — published by the backend that made the write
// and read by the live hub, which re-runs only the live queries the write
// may have changed.
//
// The embedded backend publishes from Ingest, after the engine applied the
// batch and under the mutex that orders writes; the PostgreSQL store sends
// the same facts with NOTIFY inside the write's transaction and every
// replica's listener publishes them. feed imports session and pgtext only,
// so that backends publish without knowing GraphQL or the hub.
package feed

import (
	"sync"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Change is what one write did to one account's sessions.
type Change struct {
	Account pgtext.UUID
	// From and To are the earliest and the latest of the start_time and
	// end_time of every row the write replaced or wrote for the account,
	// in microseconds since 1970-01-01 UTC (instants, as sessions are
	// stored).
	From, To int64
}

// Event is what subscribers receive: the changes of one acknowledged
// write, or All after a gap in the feed.
type Event struct {
	// Changes has at most one entry per account.
	Changes []Change
	// All means any account may have changed: the feed missed writes (its
	// PostgreSQL connection was lost), so every live query must run again.
	All bool
	// At is when the write was acknowledged (embedded) or its
	// notification arrived (PostgreSQL), or when the gap ended: push
	// latency is measured from it.
	At time.Time
}

// Summarize reduces the changes of one write to one Change per account,
// in the order accounts first appear.
func Summarize(changes []session.Change) []Change {
	var out []Change
	index := map[pgtext.UUID]int{}
	widen := func(r *session.Record) {
		if r == nil {
			return
		}
		i, ok := index[r.AccountID]
		if !ok {
			i = len(out)
			index[r.AccountID] = i
			out = append(out, Change{Account: r.AccountID, From: r.StartMicros, To: r.StartMicros})
		}
		c := &out[i]
		c.From = min(c.From, r.StartMicros)
		c.To = max(c.To, r.StartMicros)
		if r.HasEnd {
			c.From = min(c.From, r.EndMicros)
			c.To = max(c.To, r.EndMicros)
		}
	}
	for _, ch := range changes {
		widen(ch.Old)
		widen(ch.New)
	}
	return out
}

// Source is a backend's change feed.
type Source interface {
	// Subscribe calls fn with every event from now on, until cancel is
	// called. fn is called from the writer's goroutine, possibly under
	// the backend's write lock: it must return at once (record and hand
	// the work to another goroutine).
	Subscribe(fn func(Event)) (cancel func())
}

// Feed fans events out to its subscribers. The zero value is ready; it is
// safe for concurrent use.
type Feed struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Event)
}

// Subscribe implements Source.
func (f *Feed) Subscribe(fn func(Event)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]func(Event){}
	}
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// Publish hands e to every subscriber, in the caller's goroutine; a zero
// At is set to now. An event with no changes and not All is dropped.
func (f *Feed) Publish(e Event) {
	if len(e.Changes) == 0 && !e.All {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, fn := range f.subs {
		fn(e)
	}
}
