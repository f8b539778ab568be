// Package engine is Tally's in-memory columnar index of sessions and the
// aggregation of open_closed_sessions_interval_counts_v2 over it.
//
// Each account's sessions are kept in a main segment sorted by start time,
// stored column by column with every dimension dictionary-encoded, plus two
// small sorted delta segments: rows added since the last compaction and
// rows removed. A query counts main + added − removed; this is exact
// because counting looks only at column values, so removing any row equal
// to the old one is the same as removing the old one. That is also why the
// engine keeps no session ids: the store tells it the old row of every
// upsert (session.Change).
//
// One concern per file: dict.go (dictionaries: values to codes),
// segment.go (rows, columns, deltas, compaction), write.go (bulk load and
// applying changes), plan.go (a query's filters resolved to code tables)
// and scan.go (counting: the hot loops).
//
// The engine imports analytics (for the query types), session and pgtext
// only; it never imports a store.
package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
)

// Config tunes the index. The zero value is usable.
type Config struct {
	// CompactRows is the delta size (added + removed rows) above which an
	// account's deltas are merged into its main segment; 0 means 65536 or
	// an eighth of the main segment, whichever is larger.
	CompactRows int
}

// Index holds every account's sessions. It is safe for concurrent use:
// queries of one account run in parallel with each other and wait only for
// writes to the same account.
type Index struct {
	cfg      Config
	mu       sync.RWMutex // guards accounts
	accounts map[pgtext.UUID]*account
}

// account is the index of one account. mu guards every field.
type account struct {
	mu      sync.RWMutex
	d       *dicts
	main    columns
	added   []row // sorted by compareRows
	removed []row // sorted by compareRows

	lastWrite time.Time // of the last Apply that touched the account (idle.go)

	sum      atomic.Pointer[summary] // of main, when built (summary.go)
	building atomic.Bool             // a summary is being built
}

// New returns an empty index.
func New(cfg Config) *Index {
	return &Index{cfg: cfg, accounts: map[pgtext.UUID]*account{}}
}

func (ix *Index) account(id pgtext.UUID, create bool) *account {
	ix.mu.RLock()
	a := ix.accounts[id]
	ix.mu.RUnlock()
	if a != nil || !create {
		return a
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if a = ix.accounts[id]; a == nil {
		a = &account{d: newDicts()}
		ix.accounts[id] = a
	}
	return a
}

// Sessions returns the number of sessions held for all accounts.
func (ix *Index) Sessions() int {
	return ix.sum(func(a *account) int { return a.main.len() + len(a.added) - len(a.removed) })
}

// sum adds f over the accounts, each read under its lock.
func (ix *Index) sum(f func(*account) int) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total := 0
	for _, a := range ix.accounts {
		a.mu.RLock()
		total += f(a)
		a.mu.RUnlock()
	}
	return total
}
