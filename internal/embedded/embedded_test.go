package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/querytest"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
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
	q := &analytics.IntervalQuery{StartMicros: 1_704_067_200_000_000, EndMicros: 1_704_067_200_000_000 + pgtext.MicrosPerDay, Span: analytics.DefaultSpan}
	if err := q.Plan(10); err != nil {
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
				b, err := Open(context.Background(), Config{Dir: t.TempDir(), Engine: engine.Config{CompactRows: rows}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				return b
			})
		})
	}
}
