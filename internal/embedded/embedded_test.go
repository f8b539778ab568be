package embedded

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/querytest"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
	"github.com/tally-server/tally/internal/testseed"
)

var account = pgtext.UUID{1}

func rec(id string, startHour int64, closed bool) session.Record {
	r := session.Record{AccountID: account, SessionID: id, AgentIDs: []string{}, StartMicros: 1_704_067_200_000_000 + startHour*pgtext.MicrosPerHour}
	if closed {
		r.EndMicros, r.HasEnd = r.StartMicros+1, true
	}
	return r
}

func counts(t *testing.T, b *Backend) []analytics.Counts {
	t.Helper()
	return countsBy(t, b, analytics.DefaultSpan, 1)
}

// countsBy is the open and closed sessions of account per span over days
// days from 2024-01-01.
func countsBy(t *testing.T, b *Backend, span pgtext.Interval, days int64) []analytics.Counts {
	t.Helper()
	q := &analytics.IntervalQuery{StartMicros: 1_704_067_200_000_000, EndMicros: 1_704_067_200_000_000 + days*pgtext.MicrosPerDay, Span: span}
	if err := q.Plan(100); err != nil {
		t.Fatal(err)
	}
	got, err := b.Count(context.Background(), account, q, make([]analytics.Counts, len(q.Bounds)-1))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestIngestIsVisibleAndDurable: a batch is answered by the engine at
// once, survives a reopen (the engine is rebuilt from the store), and the
// updated_at rule decides what replaces what.
func TestIngestIsVisibleAndDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	newer := rec("a", 1, true)
	newer.UpdatedMicros, newer.HasUpdated = 2, true
	older := rec("a", 1, false)
	older.UpdatedMicros, older.HasUpdated = 1, true
	if a, i, err := b.Ingest(ctx, []session.Record{rec("a", 1, false), newer, older, rec("b", 25, false)}); err != nil || a != 3 || i != 1 {
		t.Fatalf("ingest: accepted %d ignored %d, %v", a, i, err)
	}
	want := []analytics.Counts{{Open: 0, Closed: 1}, {Open: 1, Closed: 0}}
	if got := counts(t, b); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("counts %v, want %v", got, want)
	}
	if b.Sessions() != 2 || b.Health(ctx) != nil {
		t.Fatalf("sessions %d, health %v", b.Sessions(), b.Health(ctx))
	}
	b.Close()
	b, err = Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := counts(t, b); got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after reopen: counts %v, want %v", got, want)
	}
}

// TestPrepareRunsBeforeTheLoad: what Prepare writes to the store is in the
// engine when Open returns; a Prepare error fails Open.
func TestPrepareRunsBeforeTheLoad(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{Dir: t.TempDir(), Prepare: func(ctx context.Context, s *sqlite.Store) error {
		_, _, err := s.Upsert(ctx, []session.Record{rec("p", 2, false)})
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := counts(t, b); got[0].Open != 1 {
		t.Fatalf("counts %v: the prepared session is not loaded", got)
	}
	boom := errors.New("boom")
	if _, err := Open(ctx, Config{Dir: t.TempDir(), Prepare: func(context.Context, *sqlite.Store) error { return boom }}); !errors.Is(err, boom) {
		t.Fatalf("Open with a failing Prepare: %v", err)
	}
}

func TestKeysAreKeptByTheStore(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, k, err := apikey.New(account, []apikey.Scope{apikey.Read}, "k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := b.TouchKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := b.Key(ctx, k.ID)
	if err != nil || got == nil || got.LastUsedAt.IsZero() {
		t.Fatalf("key %+v, %v", got, err)
	}
	if ok, err := b.RevokeKey(ctx, k.ID, time.Now()); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	keys, err := b.Keys(ctx, pgtext.NullUUID{UUID: account, Valid: true})
	if err != nil || len(keys) != 1 || !keys[0].Revoked() {
		t.Fatalf("keys %+v, %v", keys, err)
	}
}

// TestQueryScripts runs the query scripts on the embedded backend, with
// writes kept in the engine's deltas and with a compaction after every
// write.
func TestQueryScripts(t *testing.T) {
	for name, rows := range map[string]int{"deltas": 1 << 30, "compacting": 1} {
		t.Run(name, func(t *testing.T) {
			querytest.Run(t, func(t *testing.T) querytest.Backend {
				b, err := Open(context.Background(), Config{Dir: t.TempDir(), Engine: engine.Config{CompactRows: rows}, IdleCompaction: -1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				return b
			})
		})
	}
}

// hourly is the open and closed sessions of account per hour over two
// days from 2024-01-01.
func hourly(t *testing.T, b *Backend) []analytics.Counts {
	t.Helper()
	return countsBy(t, b, pgtext.Interval{Micros: pgtext.MicrosPerHour}, 2)
}

// TestConcurrentIngestKeepsEngineAndStoreEqual: batches large enough to
// be prefetched, written at once by several clients over the same
// sessions (each read while others write), leave the engine answering
// exactly as an engine loaded afresh from the store: every change it
// applied removed the row the store really replaced.
func TestConcurrentIngestKeepsEngineAndStoreEqual(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	seed := testseed.Seed(t)
	const clients, batches = 4, 12
	errs := make(chan error, clients)
	for c := range clients {
		go func() {
			rng := rand.New(rand.NewSource(seed + int64(c)))
			for range batches {
				recs := make([]session.Record, prefetchMin+rng.Intn(300))
				for i := range recs {
					r := rec(fmt.Sprintf("s-%d", rng.Intn(1500)), int64(rng.Intn(48)), rng.Intn(2) == 0)
					if rng.Intn(10) < 7 {
						r.UpdatedMicros, r.HasUpdated = int64(rng.Intn(50)), true
					}
					recs[i] = r
				}
				if _, _, err := b.Ingest(ctx, recs); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	live, sessions := hourly(t, b), b.Sessions()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, SnapshotFile)); err != nil {
		t.Fatal(err)
	}
	b, err = Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if loaded := hourly(t, b); !equalCounts(live, loaded) || b.Sessions() != sessions {
		t.Fatalf("the engine after concurrent writes (%d sessions):\n%v\nloaded from the store (%d sessions):\n%v", sessions, live, b.Sessions(), loaded)
	}
}

// TestIdleAccountsAreCompacted: a backend merges an account's deltas once
// it has had no write for its IdleCompaction, and answers the same
// afterwards; with IdleCompaction negative it keeps them.
func TestIdleAccountsAreCompacted(t *testing.T) {
	ctx := context.Background()
	for _, idle := range []time.Duration{50 * time.Millisecond, -1} {
		b, err := Open(ctx, Config{Dir: t.TempDir(), IdleCompaction: idle, IdleMinRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Ingest(ctx, batch("s", 300)); err != nil {
			t.Fatal(err)
		}
		before := hourly(t, b)
		if b.index.DeltaRows() == 0 {
			t.Fatal("a fresh batch is not in the deltas")
		}
		deadline := time.Now().Add(10 * time.Second)
		for b.index.DeltaRows() > 0 && time.Now().Before(deadline) && idle > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if idle < 0 {
			time.Sleep(200 * time.Millisecond)
		}
		if left := b.index.DeltaRows(); (idle > 0) != (left == 0) {
			t.Errorf("IdleCompaction %v: %d delta rows left", idle, left)
		}
		if after := hourly(t, b); !equalCounts(before, after) {
			t.Errorf("IdleCompaction %v: counts changed from %v to %v", idle, before, after)
		}
		b.Close()
	}
}
