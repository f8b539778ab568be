package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// openLogged opens dir with its log in a buffer.
func openLogged(t *testing.T, dir string) (*Backend, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	b, err := Open(context.Background(), Config{Dir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b, &log
}

// batch is n sessions starting at hour 0, 1, ...; every third is closed.
func batch(prefix string, n int) []session.Record {
	var out []session.Record
	for i := range n {
		out = append(out, rec(fmt.Sprintf("%s%d", prefix, i), int64(i%24), i%3 == 0))
	}
	return out
}

func equalCounts(a, b []analytics.Counts) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestSnapshotIsUsedOnlyWhenItMatchesTheStore: Close writes the snapshot
// and the next Open loads it; a snapshot that is stale (the store written
// after it, as tally import or a crashed server leaves it), damaged or
// missing is not used: the engine is loaded from the store and answers
// as the store says, and the unusable file is removed.
func TestSnapshotIsUsedOnlyWhenItMatchesTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snap := filepath.Join(dir, SnapshotFile)
	b, _ := openLogged(t, dir)
	if _, _, err := b.Ingest(ctx, batch("a", 100)); err != nil {
		t.Fatal(err)
	}
	// Replace some sessions so that the engine holds deltas when Close
	// writes it.
	again := batch("a", 10)
	for i := range again {
		again[i].HasEnd = false
	}
	if _, _, err := b.Ingest(ctx, again); err != nil {
		t.Fatal(err)
	}
	want := counts(t, b)
	b.Close()
	if _, err := os.Stat(snap); err != nil {
		t.Fatalf("Close wrote no snapshot: %v", err)
	}

	// Matching: loaded from the snapshot, same answers.
	b, log := openLogged(t, dir)
	if !strings.Contains(log.String(), "sessions loaded from the engine snapshot") {
		t.Fatalf("the matching snapshot was not used:\n%s", log)
	}
	if got := counts(t, b); !equalCounts(got, want) || b.Sessions() != 100 {
		t.Fatalf("from the snapshot: %v (%d sessions), want %v (100)", got, b.Sessions(), want)
	}
	b.Close()

	// Stale: the store is written behind the snapshot's back.
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Upsert(ctx, batch("b", 30)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, log = openLogged(t, dir)
	if !strings.Contains(log.String(), "engine snapshot not used") || !strings.Contains(log.String(), "another state of the store") {
		t.Fatalf("a stale snapshot was not refused:\n%s", log)
	}
	stale := counts(t, b)
	if equalCounts(stale, want) || b.Sessions() != 130 {
		t.Fatalf("after the store was written: %v (%d sessions); the 30 new sessions are missing", stale, b.Sessions())
	}
	if _, err := os.Stat(snap); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale snapshot was not removed: %v", err)
	}
	b.Close()
	want = stale

	// Damaged: a byte changed in the middle.
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(snap, data, 0o640); err != nil {
		t.Fatal(err)
	}
	b, log = openLogged(t, dir)
	if !strings.Contains(log.String(), "engine snapshot not used") {
		t.Fatalf("a damaged snapshot was not refused:\n%s", log)
	}
	if got := counts(t, b); !equalCounts(got, want) || b.Sessions() != 130 {
		t.Fatalf("after a damaged snapshot: %v (%d sessions), want %v (130)", got, b.Sessions(), want)
	}
	b.Close()

	// Missing.
	if err := os.Remove(snap); err != nil {
		t.Fatal(err)
	}
	b, log = openLogged(t, dir)
	defer b.Close()
	if !strings.Contains(log.String(), "no engine snapshot") {
		t.Fatalf("a missing snapshot was not noticed:\n%s", log)
	}
	if got := counts(t, b); !equalCounts(got, want) || b.Sessions() != 130 {
		t.Fatalf("without a snapshot: %v (%d sessions), want %v (130)", got, b.Sessions(), want)
	}
}

// TestSnapshotOfAnotherStoreIsRefused: a snapshot copied beside another
// store with as many writes is not used (the generation's token differs).
func TestSnapshotOfAnotherStoreIsRefused(t *testing.T) {
	ctx := context.Background()
	one, two := t.TempDir(), t.TempDir()
	for i, dir := range []string{one, two} {
		b, _ := openLogged(t, dir)
		if _, _, err := b.Ingest(ctx, batch(fmt.Sprint("x", i), 10+i)); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	data, err := os.ReadFile(filepath.Join(one, SnapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(two, SnapshotFile), data, 0o640); err != nil {
		t.Fatal(err)
	}
	b, log := openLogged(t, two)
	defer b.Close()
	if !strings.Contains(log.String(), "another state of the store") || b.Sessions() != 11 {
		t.Fatalf("another store's snapshot: %d sessions, log:\n%s", b.Sessions(), log)
	}
}

// BenchmarkOpen: a cold start over 200 000 stored sessions of four
// accounts, from the store alone and from the snapshot (sessions/s of
// the load).
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	const n = 200_000
	for i := 0; i < n; i += 10_000 {
		recs := batch(fmt.Sprintf("s%d-", i), 10_000)
		for j := range recs {
			recs[j].AccountID = pgtext.UUID{byte(1 + i/10_000%4)}
			recs[j].AgentIDs = []string{fmt.Sprint("agent-", j%7)}
			recs[j].StartMicros += int64(i+j) * 1_000_000
		}
		if _, _, err := s.Upsert(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for _, from := range []string{"store", "snapshot"} {
		b.Run(from, func(b *testing.B) {
			for b.Loop() {
				if from == "store" {
					os.Remove(filepath.Join(dir, SnapshotFile))
				}
				be, err := Open(ctx, Config{Dir: dir})
				if err != nil || be.Sessions() != n {
					b.Fatal(err)
				}
				b.StopTimer()
				be.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// TestNoSnapshotAfterAFailedWrite: once a write has failed, the store may
// hold what the engine never applied, so Close writes no snapshot (and
// removes the one the engine was loaded from).
func TestNoSnapshotAfterAFailedWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, _ := openLogged(t, dir)
	if _, _, err := b.Ingest(ctx, batch("a", 20)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, _ = openLogged(t, dir)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := b.Ingest(cancelled, batch("b", 5)); err == nil {
		t.Fatal("a batch with a cancelled context was written")
	}
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, SnapshotFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a snapshot is there after a failed write: %v", err)
	}
	b, log := openLogged(t, dir)
	defer b.Close()
	if !strings.Contains(log.String(), "no engine snapshot") || b.Sessions() != 20 {
		t.Fatalf("%d sessions, log:\n%s", b.Sessions(), log)
	}
}
