package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Bulk is one transaction over many batches, for tally import: each
// batch is written as Upsert writes it and seen by the batches after it,
// and nothing is stored until Commit, which makes them all durable at
// once (one fsync). Rollback, or a failure anywhere, leaves the store as
// it was. While a Bulk is open it is the store's only writer: other
// writes wait for it (busy_timeout), so it suits a process that owns the
// data directory. Its changed pages wait in the write-ahead log until
// Commit: it needs about as much free disk as the rows it writes.
type Bulk struct {
	s       *Store
	tx      *sql.Tx
	changed bool
	done    bool

	// A batch's stored rows are read only for sessions that may be
	// stored: those of accounts that had sessions when the Bulk began,
	// and those the Bulk may have written before (written, a Bloom
	// filter of their key hashes, up to maxTracked of them; past that
	// every session is read).
	hadRows    map[pgtext.UUID]bool
	written    *keySet
	maxTracked int
}

// bulkTracked is how many written sessions a Bulk remembers, at about
// 1.5 bytes each: 32 M, 48 MiB.
const bulkTracked = 32 << 20

// BeginBulk starts a Bulk.
func (s *Store) BeginBulk(ctx context.Context) (*Bulk, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.noteWrite(fmt.Errorf("bulk: begin: %w", err))
	}
	return &Bulk{s: s, tx: tx, hadRows: map[pgtext.UUID]bool{}, written: &keySet{}, maxTracked: bulkTracked}, nil
}

// stored reads the stored rows of the batch's sessions that may be
// stored.
func (b *Bulk) stored(ctx context.Context, keys *Keys) (map[session.Key]*session.Record, error) {
	var read []session.Key
	var had bool
	for i, k := range keys.keys {
		// The keys are in account order: look an account up once.
		if i == 0 || k.Account != keys.keys[i-1].Account {
			var err error
			if had, err = b.accountHadRows(ctx, k.Account); err != nil {
				return nil, err
			}
		}
		if had || b.written == nil || b.written.has(keys.each[i]) {
			read = append(read, k)
		}
	}
	return readExisting(ctx, b.tx, b.s.selectFull, read)
}

// accountHadRows reports whether account had sessions when the Bulk
// began: asked of the store the first time, before the Bulk writes any.
func (b *Bulk) accountHadRows(ctx context.Context, account pgtext.UUID) (bool, error) {
	if had, seen := b.hadRows[account]; seen {
		return had, nil
	}
	var one int
	err := b.tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE account_id = ? LIMIT 1`, account[:]).Scan(&one)
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("bulk: look for the account's sessions: %w", err)
	}
	b.hadRows[account] = err == nil
	return err == nil, nil
}

// remember notes the keys a batch wrote.
func (b *Bulk) remember(keys *Keys) {
	if b.written == nil {
		return
	}
	for _, h := range keys.each {
		b.written.add(h)
	}
	if b.written.n > b.maxTracked {
		b.written = nil // too many to remember: read every session from now on
	}
}

// Upsert writes recs as Store.Upsert does, inside the Bulk; its result
// is Store.Upsert's had the Bulk's earlier batches been committed. keys
// are recs' (PrepareKeys, which may run beside the Bulk's writes), or nil
// to make them here. After an error the Bulk is rolled back and every
// later call fails.
func (b *Bulk) Upsert(ctx context.Context, recs []session.Record, keys *Keys) ([]session.Change, int, error) {
	if b.done {
		return nil, 0, fmt.Errorf("bulk: upsert after the end of the transaction")
	}
	if keys == nil {
		keys = b.s.PrepareKeys(recs)
	}
	keys.check(recs)
	current, err := b.stored(ctx, keys)
	if err == nil {
		var changes []session.Change
		var ignored int
		if changes, _, ignored, err = b.s.writeBatch(ctx, b.tx, current, recs, keys, false); err == nil {
			b.remember(keys)
			b.changed = b.changed || len(changes) > 0
			return changes, ignored, nil
		}
	}
	b.Rollback()
	return nil, 0, b.s.noteWrite(err)
}

// Commit stores every batch of the Bulk, durably when it returns nil.
func (b *Bulk) Commit(ctx context.Context) error {
	if b.done {
		return fmt.Errorf("bulk: commit after the end of the transaction")
	}
	b.done = true
	if b.changed {
		if _, err := b.tx.StmtContext(ctx, b.s.bumpGen).ExecContext(ctx); err != nil {
			b.tx.Rollback()
			return b.s.noteWrite(fmt.Errorf("bulk: raise the generation: %w", err))
		}
	}
	// Prefetches taken before the Bulk cannot be brought up to date by
	// the written log, which does not hold the Bulk's keys.
	b.s.written.forget()
	if err := b.tx.Commit(); err != nil {
		return b.s.noteWrite(fmt.Errorf("bulk: commit: %w", err))
	}
	return b.s.noteWrite(nil)
}

// Rollback ends the Bulk leaving the store as it was. It may be called
// after Commit or another Rollback, which it leaves alone.
func (b *Bulk) Rollback() {
	if !b.done {
		b.done = true
		b.tx.Rollback()
	}
}

// keySet is a Bloom filter of 64-bit key hashes that grows: a layer
// holds up to its capacity at 12 bits a key with 8 probes (about 0.3 %
// false positives), and a full layer is followed by one twice its size.
// has never misses an added hash; it says yes for others now and then.
type keySet struct {
	layers []bloomLayer
	n      int // hashes added
}

type bloomLayer struct {
	bits     []uint64
	n, limit int
}

const (
	bloomBitsPerKey = 12
	bloomProbes     = 8
	bloomFirst      = 1 << 16 // keys in the first layer
)

func (s *keySet) add(h uint64) {
	if len(s.layers) == 0 || s.layers[len(s.layers)-1].n >= s.layers[len(s.layers)-1].limit {
		limit := bloomFirst
		if len(s.layers) > 0 {
			limit = 2 * s.layers[len(s.layers)-1].limit
		}
		s.layers = append(s.layers, bloomLayer{bits: make([]uint64, limit*bloomBitsPerKey/64), limit: limit})
	}
	l := &s.layers[len(s.layers)-1]
	m := uint64(len(l.bits) * 64)
	h1, h2 := h&0xffffffff, h>>32|1
	for i := range uint64(bloomProbes) {
		b := (h1 + i*h2) % m
		l.bits[b/64] |= 1 << (b % 64)
	}
	l.n++
	s.n++
}

func (s *keySet) has(h uint64) bool {
	h1, h2 := h&0xffffffff, h>>32|1
	for li := range s.layers {
		l := &s.layers[li]
		m := uint64(len(l.bits) * 64)
		all := true
		for i := range uint64(bloomProbes) {
			b := (h1 + i*h2) % m
			if l.bits[b/64]&(1<<(b%64)) == 0 {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
