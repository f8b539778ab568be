package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/querytest"
	"github.com/tally-server/tally/internal/session"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// TestReplicasMigrateTogether: several replicas starting at once on an
// empty database all succeed, and the schema is migrated exactly once.
func TestReplicasMigrateTogether(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), Config{URL: url, PoolSize: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var applied int
	s.pool.QueryRow(context.Background(), `SELECT count(*) FROM tally.schema_migrations`).Scan(&applied)
	if v, _ := s.Version(context.Background()); v != len(migrations) || applied != len(migrations) {
		t.Errorf("version %d with %d rows, want %d", v, applied, len(migrations))
	}
}

func rec(id string, upd int64, hasUpd, closed bool) session.Record {
	r := session.Record{AccountID: pgtext.UUID{1}, SessionID: id, AgentIDs: []string{}, StartMicros: 1_700_000_000_000_000}
	r.UpdatedMicros, r.HasUpdated = upd, hasUpd
	if closed {
		r.EndMicros, r.HasEnd = r.StartMicros+1, true
	}
	return r
}

// TestIngestAppliesTheRuleInOrder covers the case that makes the rule
// non-associative: stored updated_at 7, then a record without updated_at
// (replaces), then one with 5 (replaces the one without) — the end state
// has updated_at 5, not the stored 7.
func TestIngestAppliesTheRuleInOrder(t *testing.T) {
	s, err := Open(context.Background(), Config{URL: pgtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if a, i, err := s.Ingest(ctx, []session.Record{rec("x", 7, true, false)}); err != nil || a != 1 || i != 0 {
		t.Fatalf("first: %d %d %v", a, i, err)
	}
	a, i, err := s.Ingest(ctx, []session.Record{rec("x", 0, false, false), rec("x", 5, true, true), rec("x", 4, true, false)})
	if err != nil || a != 2 || i != 1 {
		t.Fatalf("batch: accepted %d ignored %d %v", a, i, err)
	}
	row := s.pool.QueryRow(ctx, `SELECT account_id, session_id, desk_id, brain_parent_id, integration_id, brain_version, channel,
		agent_ids, is_test, start_time, end_time, updated_at FROM tally.sessions`)
	got, err := scanSession(row)
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasUpdated || got.UpdatedMicros != 5 || !got.HasEnd {
		t.Fatalf("stored %+v, want updated_at 5 and closed", got)
	}
}

func TestCountEmptyFilterAndUnreachable(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Ingest(ctx, []session.Record{rec("a", 0, false, true)})
	q := &analytics.IntervalQuery{StartMicros: 1_699_999_200_000_000, EndMicros: 1_700_000_000_000_000, Span: analytics.DefaultSpan,
		DeskIDs: analytics.UUIDSet{Active: true}}
	if err := q.Plan(100); err != nil {
		t.Fatal(err)
	}
	got, err := s.Count(ctx, pgtext.UUID{1}, q, make([]analytics.Counts, len(q.Bounds)-1))
	if err != nil || got[0] != (analytics.Counts{}) {
		t.Fatalf("empty desk list: %v %v", got, err)
	}
	q.DeskIDs = analytics.UUIDSet{}
	got, err = s.Count(ctx, pgtext.UUID{1}, q, make([]analytics.Counts, len(q.Bounds)-1))
	if err != nil || got[0].Closed != 1 {
		t.Fatalf("no filter: %v %v", got, err)
	}
	s.Close()
	// A closed pool stands in for a database that went away.
	if _, err := s.Count(ctx, pgtext.UUID{1}, q, make([]analytics.Counts, 1)); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("count on a lost database: %v, want ErrUnavailable", err)
	}
	free, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	nowhere := fmt.Sprintf("postgres://tally@127.0.0.1:%d/x?sslmode=disable", free)
	if _, err := Open(ctx, Config{URL: nowhere}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("open on a wrong port: %v, want ErrUnavailable", err)
	}
	if _, err := Open(ctx, Config{URL: strings.Replace(url, "tally@", "nobody@", 1)}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("open as an unknown user: %v, want a permanent error", err)
	}
}

// TestQueryScripts runs the query scripts on the PostgreSQL backend, each
// on a new database.
func TestQueryScripts(t *testing.T) {
	querytest.Run(t, func(t *testing.T) querytest.Backend {
		s, err := Open(context.Background(), Config{URL: pgtest.NewDatabase(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

// TestConnectWaitsOnlyForAnUnreachableDatabase: Connect retries while the
// database is unreachable until its context ends, and returns a permanent
// error at once.
func TestConnectWaitsOnlyForAnUnreachableDatabase(t *testing.T) {
	free, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := Connect(ctx, Config{URL: fmt.Sprintf("postgres://tally@127.0.0.1:%d/x?sslmode=disable", free)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect to nowhere: %v, want the context's deadline", err)
	}
	url := pgtest.NewDatabase(t)
	if _, err := Connect(context.Background(), Config{URL: strings.Replace(url, "tally@", "nobody@", 1)}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Connect as an unknown user: %v, want a permanent error", err)
	}
	s, err := Connect(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
