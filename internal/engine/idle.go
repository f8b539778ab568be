package engine

import "time"

// Compacting accounts that writes have left alone. Apply merges an
// account's deltas into its main segment only once they outgrow an eighth
// of it, so that under a steady stream of writes each row is merged a
// bounded number of times. Until then queries read the delta rows one by
// one, next to the main segment's block summaries: after a burst of
// writes (an import, a backfill, a busy hour) an account can keep up to
// an eighth of its rows in deltas for as long as it is quiet, and its long
// queries cost several times what they cost once merged. CompactIdle
// merges them when the account has been quiet for a while, and starts its
// summary's build, so that queries are fast again without a restart.

// CompactIdle merges the deltas of every account that has at least
// minRows delta rows and no write since idle before now, and starts the
// build of its main segment's summary. It returns how many accounts it
// compacted. It holds one account's write lock at a time, for the merge
// (a few milliseconds per million rows); the summary is built without it.
func (ix *Index) CompactIdle(now time.Time, idle time.Duration, minRows int) int {
	ix.mu.RLock()
	accounts := make([]*account, 0, len(ix.accounts))
	for _, a := range ix.accounts {
		accounts = append(accounts, a)
	}
	ix.mu.RUnlock()
	n := 0
	for _, a := range accounts {
		a.mu.RLock()
		due := len(a.added)+len(a.removed) >= minRows && now.Sub(a.lastWrite) >= idle
		a.mu.RUnlock()
		if !due {
			continue
		}
		a.mu.Lock()
		// Checked again: a write may have come between the locks.
		if len(a.added)+len(a.removed) >= minRows && now.Sub(a.lastWrite) >= idle {
			a.compactLocked()
			n++
		}
		a.mu.Unlock()
		a.mu.RLock()
		a.summaryOf() // starts the build; queries use it once it is done
		a.mu.RUnlock()
	}
	return n
}

// DeltaRows is how many rows all accounts hold in deltas (added and
// removed): what compaction would merge.
func (ix *Index) DeltaRows() int {
	return ix.sum(func(a *account) int { return len(a.added) + len(a.removed) })
}
