package engine

import (
	"slices"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Loader builds an index from a full scan of the store, faster than
// applying one change at a time. Add every record, then call Finish.
type Loader struct {
	ix   *Index
	rows map[pgtext.UUID][]row
}

// NewLoader starts a bulk load into ix, whose accounts it loads must be
// empty. Loaders of disjoint sets of accounts may run at once, each in
// one goroutine (a Loader itself is not safe for concurrent use).
func (ix *Index) NewLoader() *Loader {
	return &Loader{ix: ix, rows: map[pgtext.UUID][]row{}}
}

// Add adds one stored record.
func (l *Loader) Add(r *session.Record) {
	a := l.ix.account(r.AccountID, true)
	a.mu.Lock()
	enc := a.d.encode(r)
	a.mu.Unlock()
	l.rows[r.AccountID] = append(l.rows[r.AccountID], enc)
}

// Finish sorts what was added and makes it visible to queries.
func (l *Loader) Finish() {
	for id, rows := range l.rows {
		slices.SortFunc(rows, compareRows)
		a := l.ix.account(id, true)
		a.mu.Lock()
		var c columns
		c.grow(len(rows))
		for _, r := range rows {
			c.push(r)
		}
		a.setMainLocked(c)
		a.mu.Unlock()
		delete(l.rows, id)
	}
}

// setMainLocked makes c, sorted by compareRows, the account's main
// segment, as a bulk load or a snapshot builds it; anything derived from
// main is built here. a.mu must be held for writing (or a not yet
// shared).
func (a *account) setMainLocked(c columns) {
	a.main = c
}

// Apply brings the index up to date with changes the store has made
// durable, in the order the store made them.
func (ix *Index) Apply(changes []session.Change) {
	byAccount := map[pgtext.UUID][]session.Change{}
	for _, c := range changes {
		byAccount[c.New.AccountID] = append(byAccount[c.New.AccountID], c)
	}
	now := time.Now()
	for id, cs := range byAccount {
		a := ix.account(id, true)
		a.mu.Lock()
		a.lastWrite = now
		var add, rem []row
		for _, c := range cs {
			if c.Old != nil {
				rem = append(rem, a.d.encode(c.Old))
			}
			add = append(add, a.d.encode(c.New))
		}
		slices.SortFunc(add, compareRows)
		slices.SortFunc(rem, compareRows)
		a.added = mergeRows(a.added, add)
		a.removed = mergeRows(a.removed, rem)
		limit := ix.cfg.CompactRows
		if limit == 0 {
			limit = max(65536, a.main.len()/8)
		}
		if len(a.added)+len(a.removed) > limit {
			a.compactLocked()
		}
		a.mu.Unlock()
	}
}
