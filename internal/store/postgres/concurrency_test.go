package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/testseed"
)

// The concurrency test of issue 10: 16 batches at once, 3 rounds, through
// two replicas (two Stores, each with its own pool) on one database, every
// batch touching the same 300 sessions of 3 accounts — new ones in the
// first round, stored ones after, in random order within each batch. It
// runs on PostgreSQL here and on Citus in citus_test.go.
//
// The final state must be exact whatever order the batches commit in, so
// the load is built to make it independent of that order: every record of
// a session carries a distinct updated_at, except in the one batch that
// holds the session's greatest updated_at, where a record without
// updated_at or with a smaller one may come first and two different
// records with the greatest may follow each other (the last wins), and
// except re-sends of identical records. The expected final row is then
// the last record with the greatest updated_at of that batch, whatever
// committed before or after. The sequential test below covers equal and
// missing updated_at across batches, where order decides.

const (
	loadSessions = 300
	loadAccounts = 3
	loadBatches  = 16
	loadRounds   = 3
)

// loadRecord makes a record of the load with varied content (agent ids
// with the characters an array literal must escape).
func loadRecord(r *rand.Rand, account pgtext.UUID, id string) session.Record {
	rec := session.Record{AccountID: account, SessionID: id, AgentIDs: []string{}, IsTest: r.Intn(5) == 0,
		StartMicros: 1_700_000_000_000_000 + r.Int63n(1_000_000_000_000)}
	if r.Intn(4) != 0 {
		rec.DeskID = pgtext.NullUUID{UUID: pgtext.UUID{0xde, byte(r.Intn(4))}, Valid: true}
	}
	if r.Intn(4) != 0 {
		rec.BrainParentID = pgtext.NullUUID{UUID: pgtext.UUID{0xb0, byte(r.Intn(3))}, Valid: true}
	}
	if r.Intn(4) != 0 {
		rec.IntegrationID = pgtext.NullUUID{UUID: pgtext.UUID{0x10, byte(r.Intn(3))}, Valid: true}
	}
	if r.Intn(4) != 0 {
		rec.BrainVersion = pgtext.NullInt4{Int32: int32(r.Intn(5) - 1), Valid: true}
	}
	if r.Intn(4) != 0 {
		rec.Channel = session.NullString{String: []string{"web", "whatsapp", "voice", `a "b",{c}\d`}[r.Intn(4)], Valid: true}
	}
	for n := r.Intn(4); n > 0; n-- {
		rec.AgentIDs = append(rec.AgentIDs, []string{"agent-1", "a,b", `q"uote`, `back\slash`, "{brace}", "NULL", "", "ünï"}[r.Intn(8)])
	}
	if r.Intn(3) != 0 {
		rec.EndMicros, rec.HasEnd = rec.StartMicros+r.Int63n(3_600_000_000), true
	}
	return rec
}

// concurrentLoad is the 48 batches, by round.
func concurrentLoad(seed int64) [][][]session.Record {
	r := rand.New(rand.NewSource(seed))
	accounts := make([]pgtext.UUID, loadAccounts)
	for i := range accounts {
		r.Read(accounts[i][:])
	}
	total := loadBatches * loadRounds
	batches := make([][]session.Record, total)
	for s := 0; s < loadSessions; s++ {
		account, id := accounts[s%loadAccounts], fmt.Sprintf("s%03d", s)
		// Distinct updated_at values, greatest last, handed out at random.
		values := r.Perm(4 * total)
		next := 0
		distinct := func() session.Record {
			rec := loadRecord(r, account, id)
			rec.UpdatedMicros, rec.HasUpdated = 1_700_000_000_000_000+int64(values[next])*1000, true
			next++
			return rec
		}
		top := r.Intn(total)
		greatest := loadRecord(r, account, id)
		greatest.UpdatedMicros, greatest.HasUpdated = 1_700_000_000_000_000+int64(4*total)*1000, true
		var sent []session.Record // distinct records already sent, for re-sends
		for b := range batches {
			var recs []session.Record
			if b == top {
				if r.Intn(3) == 0 { // no updated_at: replaces whatever is stored
					rec := loadRecord(r, account, id)
					recs = append(recs, rec)
				}
				if r.Intn(3) == 0 {
					recs = append(recs, distinct())
				}
				if r.Intn(3) == 0 { // equal updated_at, different content: replaced by the next
					rec := loadRecord(r, account, id)
					rec.UpdatedMicros, rec.HasUpdated = greatest.UpdatedMicros, true
					recs = append(recs, rec)
				}
				recs = append(recs, greatest)
				if r.Intn(4) == 0 { // older: ignored
					recs = append(recs, distinct())
				}
			} else {
				for n := 1 + r.Intn(2); n > 0; n-- {
					rec := distinct()
					recs = append(recs, rec)
					sent = append(sent, rec)
				}
				switch {
				case r.Intn(8) == 0 && len(sent) > 1: // a re-send of an older record
					recs = append(recs, sent[r.Intn(len(sent)-1)])
				case r.Intn(12) == 0: // a re-send of the final record: equal, identical
					recs = append(recs, greatest)
				}
			}
			batches[b] = append(batches[b], recs...)
		}
	}
	// Sessions in random order within each batch (a session's records
	// keep theirs).
	for b := range batches {
		batches[b] = shuffleSessions(r, batches[b])
	}
	rounds := make([][][]session.Record, loadRounds)
	for i := range rounds {
		rounds[i] = batches[i*loadBatches : (i+1)*loadBatches]
	}
	return rounds
}

// shuffleSessions reorders a batch by session, keeping each session's
// records in their order.
func shuffleSessions(r *rand.Rand, recs []session.Record) []session.Record {
	var order []session.Key
	by := map[session.Key][]session.Record{}
	for _, rec := range recs {
		k := rec.Key()
		if by[k] == nil {
			order = append(order, k)
		}
		by[k] = append(by[k], rec)
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	out := make([]session.Record, 0, len(recs))
	for _, k := range order {
		out = append(out, by[k]...)
	}
	return out
}

// expectedFinal computes the final row of every session from the batches
// alone, without session.Fold: the session's greatest updated_at M, and
// the last record carrying M in a batch that has one. It fails the test
// if the load breaks the premises that make this independent of commit
// order: those last records are identical in every batch, and a record
// without updated_at is followed by one with M in its batch.
func expectedFinal(t *testing.T, batches [][]session.Record) map[session.Key]session.Record {
	t.Helper()
	greatest := map[session.Key]int64{}
	for _, batch := range batches {
		for _, rec := range batch {
			if rec.HasUpdated && rec.UpdatedMicros > greatest[rec.Key()] {
				greatest[rec.Key()] = rec.UpdatedMicros
			}
		}
	}
	final := map[session.Key]session.Record{}
	for _, batch := range batches {
		last := map[session.Key]session.Record{}
		pending := map[session.Key]bool{} // a record without updated_at not yet followed by M
		for _, rec := range batch {
			k := rec.Key()
			switch {
			case !rec.HasUpdated:
				pending[k] = true
			case rec.UpdatedMicros == greatest[k]:
				last[k], pending[k] = rec, false
			}
		}
		for k, p := range pending {
			if p {
				t.Fatalf("the load is not order-independent: %v has a record without updated_at after its last greatest one", k)
			}
		}
		for k, rec := range last {
			if f, ok := final[k]; ok && !reflect.DeepEqual(f, rec) {
				t.Fatalf("the load is not order-independent: %v ends two batches with different records of the greatest updated_at", k)
			}
			final[k] = rec
		}
	}
	return final
}

// retryCounter is a slog handler counting the write path's retries.
type retryCounter struct{ n atomic.Int64 }

func (c *retryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *retryCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "ingest: retrying") {
		c.n.Add(1)
	}
	return nil
}
func (c *retryCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *retryCounter) WithGroup(string) slog.Handler      { return c }

// runConcurrentLoad sends the load through two replicas of url, opened
// with open, and checks the answers and the final state. It returns the
// number of failed batches and of retries.
func runConcurrentLoad(t *testing.T, url string, seed int64) (failures int, retries int64) {
	t.Helper()
	ctx := context.Background()
	counter := &retryCounter{}
	var replicas [2]*Store
	for i := range replicas {
		s, err := Open(ctx, Config{URL: url, PoolSize: 8, Logger: slog.New(counter)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		replicas[i] = s
	}
	rounds := concurrentLoad(seed)
	var all [][]session.Record
	var errs []error
	for round, batches := range rounds {
		all = append(all, batches...)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			start = make(chan struct{})
		)
		for i, batch := range batches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a, ign, err := replicas[i%2].Ingest(ctx, batch)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("round %d batch %d: %w", round+1, i, err))
				} else if a+ign != len(batch) {
					errs = append(errs, fmt.Errorf("round %d batch %d: accepted %d + ignored %d of %d records", round+1, i, a, ign, len(batch)))
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	t.Logf("%d batches of %d to %d records; %d failed; %d retries", len(all), minLen(all), maxLen(all), len(errs), counter.n.Load())
	for i, err := range errs {
		if i < 5 {
			t.Errorf("%v", err)
		}
	}
	checkFinal(t, replicas[0], expectedFinal(t, all))
	return len(errs), counter.n.Load()
}

func minLen(bs [][]session.Record) int {
	m := len(bs[0])
	for _, b := range bs {
		m = min(m, len(b))
	}
	return m
}

func maxLen(bs [][]session.Record) int {
	m := 0
	for _, b := range bs {
		m = max(m, len(b))
	}
	return m
}

// checkFinal compares every stored row with the expected one.
func checkFinal(t *testing.T, s *Store, want map[session.Key]session.Record) {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT account_id, session_id, desk_id, brain_parent_id, integration_id, brain_version, channel,
		agent_ids, is_test, start_time, end_time, updated_at FROM tally.sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[session.Key]session.Record{}
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			t.Fatal(err)
		}
		got[r.Key()] = normal(*r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d sessions stored, want %d", len(got), len(want))
	}
	wrong := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, normal(w)) {
			if wrong++; wrong <= 3 {
				t.Errorf("session %v:\n got %+v\nwant %+v", k, g, w)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d sessions differ from the updated_at rule", wrong, len(want))
	}
}

// normal zeroes the fields that mean nothing: times whose flag is false.
func normal(r session.Record) session.Record {
	if !r.HasEnd {
		r.EndMicros = 0
	}
	if !r.HasUpdated {
		r.UpdatedMicros = 0
	}
	return r
}

// TestConcurrentOverlappingBatches is the concurrency test on PostgreSQL.
// Writers take their locks in one order, so no batch fails and none even
// meets a deadlock that the write path's retry would hide.
func TestConcurrentOverlappingBatches(t *testing.T) {
	if failures, retries := runConcurrentLoad(t, pgtest.NewDatabase(t), testseed.Seed(t)); failures != 0 || retries != 0 {
		t.Errorf("%d of %d batches failed and %d retried, want 0 and 0", failures, loadBatches*loadRounds, retries)
	}
}

// runSequentialRule sends batches one after another, with few distinct
// updated_at values (many equal) and many records without one, across
// three accounts, and checks each answer and the final state against the
// rule of SPEC section 6 applied record by record here (not by
// session.Fold): a record replaces the stored session unless both carry
// updated_at and the record's is older.
func runSequentialRule(t *testing.T, url string, seed int64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewSource(seed))
	accounts := make([]pgtext.UUID, 3)
	for i := range accounts {
		r.Read(accounts[i][:])
	}
	model := map[session.Key]session.Record{}
	for b := 0; b < 40; b++ {
		batch := make([]session.Record, 1+r.Intn(80))
		for i := range batch {
			rec := loadRecord(r, accounts[r.Intn(3)], fmt.Sprintf("s%02d", r.Intn(60)))
			if r.Intn(10) < 7 {
				rec.UpdatedMicros, rec.HasUpdated = 1_700_000_000_000_000+int64(r.Intn(6)), true
			}
			batch[i] = rec
		}
		wantAccepted, wantIgnored := 0, 0
		for _, rec := range batch {
			old, ok := model[rec.Key()]
			if ok && rec.HasUpdated && old.HasUpdated && rec.UpdatedMicros < old.UpdatedMicros {
				wantIgnored++
				continue
			}
			wantAccepted++
			model[rec.Key()] = rec
		}
		a, ign, err := s.Ingest(ctx, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if a != wantAccepted || ign != wantIgnored {
			t.Errorf("batch %d: accepted %d, ignored %d; want %d and %d", b, a, ign, wantAccepted, wantIgnored)
		}
	}
	checkFinal(t, s, model)
}

// TestIngestFollowsTheRuleAcrossBatches is the sequential test on
// PostgreSQL.
func TestIngestFollowsTheRuleAcrossBatches(t *testing.T) {
	runSequentialRule(t, pgtest.NewDatabase(t), 11)
}
