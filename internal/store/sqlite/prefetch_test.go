package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/testseed"
)

// twoStores opens two empty stores, closed at the test's end, and a
// random source whose seed the test logs.
func twoStores(t *testing.T) (*rand.Rand, *Store, *Store) {
	t.Helper()
	seed := testseed.Seed(t)
	var s [2]*Store
	for i := range s {
		var err error
		if s[i], err = Open(context.Background(), t.TempDir()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s[i].Close() })
	}
	return rand.New(rand.NewSource(seed)), s[0], s[1]
}

// randomBatch is n records over a small key space (so that batches meet
// each other's sessions), with updated_at often set, sometimes not.
func randomBatch(rng *rand.Rand, n int) []session.Record {
	out := make([]session.Record, n)
	for i := range out {
		r := record(rng.Intn(10000))
		r.AccountID = pgtext.UUID{byte(1 + rng.Intn(2))}
		r.SessionID = fmt.Sprintf("s-%d", rng.Intn(700))
		r.Channel = session.NullString{String: []string{"web", "voice", "email"}[rng.Intn(3)], Valid: rng.Intn(4) != 0}
		if rng.Intn(10) < 7 {
			r.UpdatedMicros, r.HasUpdated = int64(rng.Intn(60)), true
		}
		out[i] = r
	}
	return out
}

func recordString(r *session.Record) string {
	if r == nil {
		return "<none>"
	}
	return fmt.Sprintf("%+v", *r)
}

func changesString(changes []session.Change, ignored int) string {
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "%s -> %s\n", recordString(c.Old), recordString(c.New))
	}
	fmt.Fprintf(&b, "ignored %d", ignored)
	return b.String()
}

func storedRows(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	if err := s.Scan(context.Background(), func(r *session.Record) error {
		out = append(out, recordString(r))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestPrefetchedUpsertAnswersAsUpsert: batches prefetched before other
// batches that touch their sessions are written, then written with
// UpsertPrefetched, give the changes (old and new rows: what the engine
// applies), the ignored counts and the stored rows of the same batches
// written one after another with Upsert. So do prefetches older than the
// log reaches, and prefetches across a failed commit's forgotten log.
func TestPrefetchedUpsertAnswersAsUpsert(t *testing.T) {
	ctx := context.Background()
	rng, a, b := twoStores(t)
	serial := func(what string, recs []session.Record) string {
		t.Helper()
		changes, ignored, err := b.Upsert(ctx, recs)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return changesString(changes, ignored)
	}
	both := func(what string, recs []session.Record) {
		t.Helper()
		want := serial(what, recs)
		changes, ignored, err := a.Upsert(ctx, recs)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := changesString(changes, ignored); got != want {
			t.Fatalf("%s: Upsert differs between two stores:\n%s\nwant\n%s", what, got, want)
		}
	}
	prefetch := func(recs []session.Record) *Prefetched {
		t.Helper()
		p, err := a.Prefetch(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(what string, recs []session.Record, p *Prefetched) {
		t.Helper()
		want := serial(what, recs)
		changes, ignored, err := a.UpsertPrefetched(ctx, recs, p)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := changesString(changes, ignored); got != want {
			t.Fatalf("%s: UpsertPrefetched:\n%s\nwant (Upsert in order)\n%s", what, got, want)
		}
	}
	for round := range 40 {
		// Several batches prefetched, then written in order: each but
		// the first was read before the ones ahead of it were written.
		var recs [][]session.Record
		var pre []*Prefetched
		for range 1 + rng.Intn(4) {
			r := randomBatch(rng, 1+rng.Intn(300))
			recs, pre = append(recs, r), append(pre, prefetch(r))
		}
		for i := range recs {
			check(fmt.Sprintf("round %d, batch %d of %d", round, i, len(recs)), recs[i], pre[i])
		}
		switch round % 10 {
		case 3: // a prefetch older than the log reaches
			r := randomBatch(rng, 200)
			p := prefetch(r)
			for i := range writtenLogEntries + 2 {
				both(fmt.Sprintf("round %d, write %d in between", round, i), randomBatch(rng, 20))
			}
			check(fmt.Sprintf("round %d, after the log's reach", round), r, p)
		case 7: // a failed commit forgets the log
			r := randomBatch(rng, 200)
			p := prefetch(r)
			both(fmt.Sprintf("round %d, write in between", round), randomBatch(rng, 200))
			a.written.forget()
			check(fmt.Sprintf("round %d, after forget", round), r, p)
		}
	}
	if got, want := storedRows(t, a), storedRows(t, b); !slices.Equal(got, want) {
		t.Fatalf("stored rows differ: %d against %d rows", len(got), len(want))
	}
}

// TestWrittenLogReach: the log names the sessions written since a
// generation it reaches, and refuses generations it does not (too old,
// or a store at another generation than its last write).
func TestWrittenLogReach(t *testing.T) {
	l := newWrittenLog()
	key := func(id string) session.Key { return session.Key{Account: pgtext.UUID{1}, ID: id} }
	all := []session.Key{key("a"), key("b"), key("c")}
	slices.SortFunc(all, func(x, y session.Key) int { return cmp.Compare(l.hash(x), l.hash(y)) })
	hashes := l.hashKeys(all)
	if _, ok := l.since(4, 5, all, hashes); ok {
		t.Fatal("an empty log claims to reach generation 4")
	}
	if stale, ok := l.since(5, 5, all, hashes); !ok || len(stale) != 0 {
		t.Fatalf("nothing written since 5: %v %v", stale, ok)
	}
	l.record(5, l.hashKeys([]session.Key{key("a")}))
	l.record(6, l.hashKeys([]session.Key{key("c")}))
	for _, c := range []struct {
		gen, cur int64
		want     []session.Key
		ok       bool
	}{
		{5, 7, []session.Key{key("a"), key("c")}, true},
		{6, 7, []session.Key{key("c")}, true},
		{7, 7, nil, true},
		{4, 7, nil, false}, // before the log starts
		{5, 8, nil, false}, // the store moved on without the log
	} {
		stale, ok := l.since(c.gen, c.cur, all, hashes)
		slices.SortFunc(stale, compareKeys)
		if ok != c.ok || !slices.Equal(stale, c.want) {
			t.Errorf("since(%d, %d) = %v, %v; want %v, %v", c.gen, c.cur, stale, ok, c.want, c.ok)
		}
	}
	l.record(9, l.hashKeys([]session.Key{key("b")})) // a gap: the log restarts at 9
	if _, ok := l.since(6, 10, all, hashes); ok {
		t.Fatal("the log reaches across a gap")
	}
	if stale, ok := l.since(9, 10, all, hashes); !ok || !slices.Equal(stale, []session.Key{key("b")}) {
		t.Fatalf("since(9, 10) = %v, %v", stale, ok)
	}
	l.forget()
	if _, ok := l.since(9, 10, all, hashes); ok {
		t.Fatal("a forgotten log still answers")
	}
	for g := int64(10); g < 10+writtenLogEntries+5; g++ {
		l.record(g, l.hashKeys(all[:1]))
	}
	top := int64(10 + writtenLogEntries + 5)
	if _, ok := l.since(top-writtenLogEntries, top, all, hashes); !ok {
		t.Fatal("the log does not keep its last entries")
	}
	if _, ok := l.since(top-writtenLogEntries-1, top, all, hashes); ok {
		t.Fatal("the log keeps more entries than its bound")
	}
}

// TestBulkAnswersAsUpserts: batches written in one Bulk (over accounts
// that had sessions before it and accounts that had none, meeting each
// other's sessions, with the memory of written sessions full half way)
// give the changes and ignored counts of the same batches upserted one by
// one, and the same rows once committed; a rolled-back Bulk leaves the
// rows and the generation as they were.
func TestBulkAnswersAsUpserts(t *testing.T) {
	ctx := context.Background()
	rng, a, b := twoStores(t)
	// Account 1 has sessions before the Bulk; account 2 gets its first
	// ones in the Bulk, where batches also name accounts 3 and 4.
	before := randomBatch(rng, 300)
	for i := range before {
		before[i].AccountID = pgtext.UUID{1}
	}
	for _, s := range []*Store{a, b} {
		if _, _, err := s.Upsert(ctx, before); err != nil {
			t.Fatal(err)
		}
	}
	batch := func() []session.Record {
		recs := randomBatch(rng, 1+rng.Intn(300))
		for i := range recs {
			recs[i].AccountID = pgtext.UUID{byte(1 + rng.Intn(4))}
		}
		return recs
	}
	rowsBefore, genBefore := storedRows(t, a), generation(t, a)
	rolledBack, err := a.BeginBulk(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := rolledBack.Upsert(ctx, batch(), nil); err != nil {
			t.Fatal(err)
		}
	}
	rolledBack.Rollback()
	if !slices.Equal(storedRows(t, a), rowsBefore) || generation(t, a) != genBefore {
		t.Fatal("a rolled-back Bulk changed the store")
	}

	bulk, err := a.BeginBulk(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bulk.maxTracked = 1000 // full half way: every session is read after that
	for i := range 30 {
		recs := batch()
		keys := a.PrepareKeys(recs)
		if i%3 == 0 {
			keys = nil
		}
		changes, ignored, err := bulk.Upsert(ctx, recs, keys)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges, wantIgnored, err := b.Upsert(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := changesString(changes, ignored), changesString(wantChanges, wantIgnored); got != want {
			t.Fatalf("batch %d in the Bulk:\n%s\nwant (Upsert)\n%s", i, got, want)
		}
	}
	if bulk.written != nil {
		t.Fatal("the memory of written sessions never filled: the test misses the path that reads every session")
	}
	if err := bulk.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := storedRows(t, a), storedRows(t, b); !slices.Equal(got, want) {
		t.Fatalf("stored rows differ after Commit: %d against %d", len(got), len(want))
	}
	if generation(t, a) != genBefore+1 {
		t.Fatalf("generation %d after the Bulk, want %d", generation(t, a), genBefore+1)
	}
}

func generation(t *testing.T, s *Store) int64 {
	t.Helper()
	g, err := s.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g.Number
}

// TestKeySetNeverMisses: every hash added to a keySet is found, through
// several layers, and few others are.
func TestKeySetNeverMisses(t *testing.T) {
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	var s keySet
	added := make([]uint64, 3*bloomFirst+1234)
	for i := range added {
		added[i] = rng.Uint64()
		s.add(added[i])
	}
	if len(s.layers) < 2 || s.n != len(added) {
		t.Fatalf("%d layers, %d hashes", len(s.layers), s.n)
	}
	for _, h := range added {
		if !s.has(h) {
			t.Fatalf("%x was added and is not found", h)
		}
	}
	false_ := 0
	for range 100000 {
		if s.has(rng.Uint64()) {
			false_++
		}
	}
	if false_ > 2000 {
		t.Fatalf("%d of 100 000 hashes never added are found", false_)
	}
}
