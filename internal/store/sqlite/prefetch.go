package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/tally-server/tally/internal/session"
)

// Reading a batch's stored rows before its write. Upsert reads them inside
// its transaction, which runs on the one writer while every other batch
// waits; Prefetch reads them beforehand on a read-only connection, beside
// the write of another batch (on another core), and UpsertPrefetched then
// re-reads, inside its transaction, only the rows that writes committed
// since the prefetch changed. The store knows those from writtenLog, a
// record of the keys each of the last generations wrote.

// Keys is a batch's distinct keys in the order the table keeps them, and
// their hashes: what writing the batch needs besides its stored rows,
// made beforehand, off the writer's turn (PrepareKeys, Prefetch).
type Keys struct {
	n      int           // records in the batch, to catch a mix-up
	keys   []session.Key // distinct, in the table's key order (compareKeys)
	each   []uint64      // the hash of each of keys (writtenLog.hash)
	hashes []uint64      // the same hashes, sorted
}

// PrepareKeys makes recs' Keys, for Bulk.Upsert.
func (s *Store) PrepareKeys(recs []session.Record) *Keys {
	k := &Keys{n: len(recs), keys: session.BatchKeys(recs)}
	slices.SortFunc(k.keys, compareKeys)
	k.each = make([]uint64, len(k.keys))
	for i, key := range k.keys {
		k.each[i] = s.written.hash(key)
	}
	k.hashes = slices.Clone(k.each)
	slices.Sort(k.hashes)
	return k
}

func (k *Keys) check(recs []session.Record) {
	if k.n != len(recs) {
		panic("sqlite: a batch written with another batch's Keys")
	}
}

// Prefetched is the stored rows of one batch's sessions as one snapshot of
// the store held them, and the generation of that snapshot. It is made by
// Prefetch and used once, by UpsertPrefetched with the same records.
type Prefetched struct {
	Keys
	gen  int64
	rows map[session.Key]*session.Record
}

// prefetchConns is how many batches Prefetch reads at once; the pool's
// page caches are prefetchCacheKiB each.
const (
	prefetchConns    = 2
	prefetchCacheKiB = 16384
)

// Prefetch reads the stored rows of recs' sessions on a read-only
// connection, in one snapshot, without waiting for the writer. Its result
// is for UpsertPrefetched(ctx, recs, p) and nothing else; it holds no
// lock or transaction once Prefetch returns. A failure to prefetch loses
// nothing: Upsert reads the rows itself.
func (s *Store) Prefetch(ctx context.Context, recs []session.Record) (*Prefetched, error) {
	db, sel, err := s.prefetchPool()
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, classify(s.path, fmt.Errorf("prefetch: begin: %w", err))
	}
	defer tx.Rollback()
	// In WAL mode a read transaction's snapshot is taken by its first
	// read: the generation and the rows below are of one state.
	// What the write would otherwise do in the writer's turn is done
	// here: the keys put in the order they are written in, and hashed.
	p := &Prefetched{Keys: *s.PrepareKeys(recs)}
	if err := tx.QueryRowContext(ctx, generationSQL).Scan(&p.gen); err != nil {
		return nil, classify(s.path, fmt.Errorf("prefetch: read the generation: %w", err))
	}
	if p.rows, err = readExisting(ctx, tx, sel, p.keys); err != nil {
		return nil, classify(s.path, fmt.Errorf("prefetch: %w", err))
	}
	return p, nil
}

// prefetchPool opens the read-only pool of Prefetch on first use.
func (s *Store) prefetchPool() (*sql.DB, *sql.Stmt, error) {
	s.prefetchMu.Lock()
	defer s.prefetchMu.Unlock()
	if s.prefetchDB == nil {
		db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(10000)&_pragma=cache_size(-%d)", s.path, prefetchCacheKiB))
		if err != nil {
			return nil, nil, classify(s.path, fmt.Errorf("open %s for prefetching: %w", s.path, err))
		}
		db.SetMaxOpenConns(prefetchConns)
		db.SetMaxIdleConns(prefetchConns)
		sel, err := db.Prepare(selectSQL(selectChunk))
		if err != nil {
			db.Close()
			return nil, nil, classify(s.path, fmt.Errorf("open %s for prefetching: prepare: %w", s.path, err))
		}
		s.prefetchDB, s.prefetchSel = db, sel
	}
	return s.prefetchDB, s.prefetchSel, nil
}

func (s *Store) closePrefetch() {
	s.prefetchMu.Lock()
	defer s.prefetchMu.Unlock()
	if s.prefetchDB != nil {
		s.prefetchSel.Close()
		s.prefetchDB.Close()
		s.prefetchDB, s.prefetchSel = nil, nil
	}
}

// stored is the stored rows of recs' sessions as the write transaction tx
// sees them, the store being at generation cur: p's rows brought up to
// date when writtenLog covers the generations since p's, otherwise read
// in full.
func (s *Store) stored(ctx context.Context, tx *sql.Tx, cur int64, recs []session.Record, p *Prefetched) (map[session.Key]*session.Record, error) {
	if p == nil {
		return readExisting(ctx, tx, s.selectFull, session.BatchKeys(recs))
	}
	p.check(recs)
	stale, ok := s.written.since(p.gen, cur, p.keys, p.hashes)
	if !ok {
		return readExisting(ctx, tx, s.selectFull, p.keys)
	}
	rows := p.rows
	p.rows = nil // used once: Fold updates it in place
	if len(stale) > 0 {
		fresh, err := readExisting(ctx, tx, s.selectFull, stale)
		if err != nil {
			return nil, err
		}
		for _, k := range stale {
			if r := fresh[k]; r != nil {
				rows[k] = r
			} else {
				delete(rows, k)
			}
		}
	}
	return rows, nil
}

// writtenLog records which sessions each of the last few generations
// wrote, as hashes of their keys (a collision only re-reads a row). It
// covers the generations after top-len(entries) up to top, and only
// while ok: a write whose outcome is unknown (a failed commit) ends it
// until the next write starts it again.
type writtenLog struct {
	mu      sync.Mutex
	seed    maphash.Seed
	ok      bool
	top     int64      // the generation the last entry made
	entries [][]uint64 // sorted hashes; the last made generation top
	hashes  int        // in all entries
}

// The log keeps at most this many generations and hashes; a prefetch
// older than that is read again in full.
const (
	writtenLogEntries = 32
	writtenLogHashes  = 1 << 20
)

func newWrittenLog() *writtenLog { return &writtenLog{seed: maphash.MakeSeed()} }

func (l *writtenLog) hash(k session.Key) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.Write(k.Account[:])
	h.WriteString(k.ID)
	return h.Sum64()
}

// hashes is the sorted hashes of keys.
func (l *writtenLog) hashKeys(keys []session.Key) []uint64 {
	out := make([]uint64, len(keys))
	for i, k := range keys {
		out[i] = l.hash(k)
	}
	slices.Sort(out)
	return out
}

// since returns the keys among keys (whose sorted hashes are hashes) that
// the generations after gen up to cur may have written, and false when
// the log cannot tell (it does not reach back to gen, or the store is not
// at the generation it last saw).
func (l *writtenLog) since(gen, cur int64, keys []session.Key, hashes []uint64) ([]session.Key, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen == cur {
		return nil, true // nothing was committed in between
	}
	if !l.ok || cur != l.top || gen > cur || cur-gen > int64(len(l.entries)) {
		return nil, false
	}
	// Both sides are sorted: one merge per generation finds the common
	// hashes, and only when there are some are the keys hashed again.
	var common map[uint64]bool
	for _, e := range l.entries[len(l.entries)-int(cur-gen):] {
		for i, j := 0, 0; i < len(hashes) && j < len(e); {
			switch {
			case hashes[i] < e[j]:
				i++
			case hashes[i] > e[j]:
				j++
			default:
				if common == nil {
					common = map[uint64]bool{}
				}
				common[hashes[i]] = true
				i++
				j++
			}
		}
	}
	if common == nil {
		return nil, true
	}
	var stale []session.Key
	for _, k := range keys {
		if common[l.hash(k)] {
			stale = append(stale, k)
		}
	}
	return stale, true
}

// record notes that the write that raised the generation from cur to cur+1
// wrote the sessions whose sorted key hashes are hashes.
func (l *writtenLog) record(cur int64, hashes []uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ok || l.top != cur {
		l.entries, l.hashes = l.entries[:0], 0
	}
	l.entries = append(l.entries, hashes)
	l.hashes += len(hashes)
	l.top, l.ok = cur+1, true
	for len(l.entries) > 1 && (len(l.entries) > writtenLogEntries || l.hashes > writtenLogHashes) {
		l.hashes -= len(l.entries[0])
		l.entries[0] = nil
		l.entries = l.entries[1:]
	}
}

// forget ends the log: the store's state after a failed commit is not
// known.
func (l *writtenLog) forget() {
	l.mu.Lock()
	l.ok = false
	l.mu.Unlock()
}
