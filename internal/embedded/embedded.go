// Package embedded is Tally's default backend: sessions and API keys kept
// durably by the SQLite store in one data directory, and queries answered
// by the in-memory engine, rebuilt from the store at Open and kept equal
// to it on every write.
//
// Writes go to the store first; once a batch is durable the engine applies
// exactly the changes the store made, in the store's order (one mutex
// orders both). Queries never touch SQLite.
//
// embedded imports analytics, engine, sqlite, session, pgtext and apikey;
// nothing above it (GraphQL, HTTP) and no other backend.
package embedded

import (
	"cmp"
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// Config says where the backend lives and how it runs.
type Config struct {
	// Dir is the data directory (created if missing). Required.
	Dir string
	// Logger receives the load's progress; nil discards it.
	Logger *slog.Logger
	// Engine tunes the in-memory index (compaction).
	Engine engine.Config
	// Prepare, when set, runs on the opened store before the engine is
	// built from it: tally demo writes its data set here.
	Prepare func(ctx context.Context, store *sqlite.Store) error
	// IdleCompaction is how long an account must go without writes
	// before its deltas (IdleMinRows rows or more) are merged
	// (engine.Index.CompactIdle, checked every tenth of it, at most every
	// second): 0 means 2 s and 1 024 rows, negative never (tests that
	// want the deltas kept).
	IdleCompaction time.Duration
	IdleMinRows    int
}

// Backend is the store and the engine as one backend. It answers the
// catalogue's queries (analytics.Source, through the engine), takes
// batches (Ingest) and keeps API keys (through the store). It is safe for
// concurrent use.
type Backend struct {
	// Source is the engine: every query is answered from memory. New
	// Source methods (new catalogue functions) reach the backend through
	// it without a change here.
	analytics.Source

	// mu is the store's turn: one Upsert at a time. applyMu is the
	// engine's: a batch takes it before it gives up mu, so the engine
	// applies batches in the store's order while the next batch is
	// already being written. Both are taken in that order.
	mu      sync.Mutex
	applyMu sync.Mutex
	// writeFailed is set (under mu) when an Upsert fails: the store may
	// then hold a write the engine never applied (a commit that failed
	// to report), so Close writes no snapshot of this engine.
	writeFailed bool
	store       *sqlite.Store
	dir         string
	index       *engine.Index
	log         *slog.Logger
	feed        feed.Feed       // the change feed of live queries (changes.go)
	lock        *sqlite.DirLock // the data directory's, held until Close

	stopIdle, idleDone chan struct{} // of compactIdle, closed by Close and by it
	stopOnce           sync.Once
}

// Open takes the data directory's lock (sqlite.LockDir: a directory held
// by another process is a *sqlite.LockedError naming its pid), opens the
// store in cfg.Dir, runs cfg.Prepare, and builds the engine: from the
// engine's snapshot when it matches the store (snapshot.go), else from
// every stored session. The lock is held until Close.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := sqlite.LockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, cfg.Dir)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	fail := func(err error) (*Backend, error) {
		store.Close()
		lock.Unlock()
		return nil, err
	}
	if cfg.Prepare != nil {
		if err := cfg.Prepare(ctx, store); err != nil {
			return fail(err)
		}
	}
	b := &Backend{store: store, dir: cfg.Dir, index: engine.New(cfg.Engine), log: log, lock: lock}
	b.Source = b.index
	g, err := store.Generation(ctx)
	if err != nil {
		return fail(err)
	}
	if !b.loadSnapshot(g, cfg.Engine) {
		if err := b.load(ctx); err != nil {
			return fail(err)
		}
	}
	// A load leaves garbage of the size of the data (rows before they
	// became columns, read buffers): give it back to the operating
	// system now rather than carry it as resident memory.
	debug.FreeOSMemory()
	b.stopIdle = make(chan struct{})
	b.idleDone = make(chan struct{})
	idle, minRows := cfg.IdleCompaction, cfg.IdleMinRows
	if idle == 0 {
		idle, minRows = defaultIdle, defaultIdleMinRows
	}
	if idle > 0 {
		go b.compactIdle(idle, max(minRows, 1))
	} else {
		close(b.idleDone)
	}
	return b, nil
}

// By default, accounts left alone by writes for 2 s, with at least 1 024
// rows in deltas, are compacted (engine.Index.CompactIdle): after a burst
// of writes, queries soon run at the speed of a freshly loaded engine,
// without a restart.
const (
	defaultIdle        = 2 * time.Second
	defaultIdleMinRows = 1024
)

func (b *Backend) compactIdle(idle time.Duration, minRows int) {
	defer close(b.idleDone)
	t := time.NewTicker(min(idle/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-b.stopIdle:
			return
		case now := <-t.C:
			b.index.CompactIdle(now, idle, minRows)
		}
	}
}

// load rebuilds the engine from the store, logging progress. Accounts
// are loaded in parallel, one per core at a time, each with a loader of
// its own; within an account one goroutine reads the store (SQLite and
// the records) while another encodes the records into the engine.
func (b *Backend) load(ctx context.Context) error {
	start := time.Now()
	accounts, err := b.store.Accounts(ctx)
	if err != nil {
		return err
	}
	b.log.Info("loading sessions into memory", "accounts", len(accounts))
	queue := make(chan pgtext.UUID, len(accounts))
	for _, id := range accounts {
		queue <- id
	}
	close(queue)
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		loadErr error
		done    atomic.Int64
	)
	for range min(len(accounts), runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loader := b.index.NewLoader()
			for id := range queue {
				if err := b.loadAccount(ctx, id, loader, &done, start); err != nil {
					errMu.Lock()
					loadErr = cmp.Or(loadErr, err)
					errMu.Unlock()
					return
				}
			}
			loader.Finish()
		}()
	}
	wg.Wait()
	b.store.CloseReaders()
	if loadErr != nil {
		return loadErr
	}
	b.log.Info("sessions loaded", "sessions", done.Load(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// loadAccount reads one account's sessions into loader: this goroutine
// reads, another encodes, batch by batch. done counts the sessions loaded
// so far by every account, for the progress log.
func (b *Backend) loadAccount(ctx context.Context, id pgtext.UUID, loader *engine.Loader, done *atomic.Int64, start time.Time) error {
	const batch = 4096
	batches := make(chan []*session.Record, 4)
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		for recs := range batches {
			for _, r := range recs {
				loader.Add(r)
			}
			if n := done.Add(int64(len(recs))); n/1_000_000 != (n-int64(len(recs)))/1_000_000 {
				b.log.Info("loading sessions", "done", n/1_000_000*1_000_000, "took", time.Since(start).Round(time.Millisecond))
			}
		}
	}()
	recs := make([]*session.Record, 0, batch)
	err := b.store.ScanAccount(ctx, id, func(r *session.Record) error {
		recs = append(recs, r)
		if len(recs) == batch {
			batches <- recs
			recs = make([]*session.Record, 0, batch)
		}
		return nil
	})
	batches <- recs
	close(batches)
	<-encoded
	return err
}

// prefetchMin is the smallest batch whose stored rows Ingest reads before
// taking the writer: for fewer records a second transaction costs more
// than the read it moves.
const prefetchMin = 256

// Ingest writes recs atomically under the updated_at rule: the store makes
// the batch durable, then the engine applies exactly the changes the store
// made. It returns how many records were written and how many were
// ignored as older than the stored session; when it returns nil the batch
// is durable and visible to queries.
func (b *Backend) Ingest(ctx context.Context, recs []session.Record) (accepted, ignored int, err error) {
	// The batch's stored rows are read before its turn at the writer,
	// beside other batches' writes (sqlite.Store.Prefetch). A failed
	// prefetch is not the batch's failure: the write reads them itself.
	var pre *sqlite.Prefetched
	if len(recs) >= prefetchMin {
		pre, _ = b.store.Prefetch(ctx, recs)
	}
	b.mu.Lock()
	changes, ignored, err := b.store.UpsertPrefetched(ctx, recs, pre)
	if err != nil {
		b.writeFailed = true
		b.mu.Unlock()
		return 0, 0, err
	}
	b.applyMu.Lock()
	b.mu.Unlock()
	defer b.applyMu.Unlock()
	b.index.Apply(changes)
	// The change feed of live queries publishes here: under applyMu, so
	// its subscribers see the changes in the store's order.
	b.feed.Publish(feed.Event{Changes: feed.Summarize(changes)})
	return len(changes), ignored, nil
}

// Sessions is the number of sessions held.
func (b *Backend) Sessions() int { return b.index.Sessions() }

// Health reports whether the store answers and can write
// (sqlite.Store.CheckWrite: a full disk, a read-only directory).
func (b *Backend) Health(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return err
	}
	return b.store.CheckWrite(ctx)
}

// Store is the SQLite store, for tools that read the data directory.
// Writing to it directly bypasses the engine.
func (b *Backend) Store() *sqlite.Store { return b.store }

// Close writes the engine's snapshot (a failure to is logged: the next
// Open then loads from the store; after a failed write it writes none),
// closes the store and releases the data
// directory. The backend must not be used afterwards.
func (b *Backend) Close() error {
	b.stopOnce.Do(func() { close(b.stopIdle) })
	<-b.idleDone
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applyMu.Lock() // the batches the store has written are applied
	defer b.applyMu.Unlock()
	if b.writeFailed {
		b.removeSnapshot()
		b.log.Warn("a write to the store failed while serving, so the engine snapshot is not written; the next start loads from the store")
	} else if err := b.writeSnapshotLocked(context.Background()); err != nil {
		b.log.Warn("the engine snapshot was not written; the next start loads from the store", "err", err)
	}
	err := b.store.Close()
	if uerr := b.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// Key returns the API key with id, or nil when there is none.
func (b *Backend) Key(ctx context.Context, id string) (*apikey.Key, error) {
	return b.store.Key(ctx, id)
}

// Keys lists keys, of one account when account is valid, oldest first.
func (b *Backend) Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	return b.store.Keys(ctx, account)
}

// CreateKey stores a new key record.
func (b *Backend) CreateKey(ctx context.Context, k apikey.Key) error {
	return b.store.CreateKey(ctx, k)
}

// RevokeKey marks a key revoked; false when there is no such active key.
func (b *Backend) RevokeKey(ctx context.Context, id string, now time.Time) (bool, error) {
	return b.store.RevokeKey(ctx, id, now)
}

// TouchKey records that a key was used.
func (b *Backend) TouchKey(ctx context.Context, id string, at time.Time) error {
	return b.store.TouchKey(ctx, id, at)
}
