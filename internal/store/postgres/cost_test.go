package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
)

// TestEstimateCount: the estimate from planner statistics is near the
// rows a query reads: by account (the most common values) and by range
// (start_time's histogram), and it has no rows before ANALYZE.
func TestEstimateCount(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: pgtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big, small := pgtext.UUID{1}, pgtext.UUID{2}
	// big: 40 000 sessions evenly over 2024; small: 4 000.
	for _, a := range []struct {
		id pgtext.UUID
		n  int
	}{{big, 40000}, {small, 4000}} {
		if _, err := s.pool.Exec(ctx, `INSERT INTO tally.sessions (account_id, session_id, start_time)
			SELECT $1, 's' || i, timestamp '2024-01-01' + (i * (366 * 86400.0 / $2)) * interval '1 second' FROM generate_series(0, $2 - 1) i`, a.id, a.n); err != nil {
			t.Fatal(err)
		}
	}
	year := query(t, "2024-01-01", "2024-12-31", pgtext.Interval{Micros: pgtext.MicrosPerHour})
	tenDays := query(t, "2024-06-01", "2024-06-10", pgtext.Interval{Days: 1})
	tenDaysBacklog := query(t, "2024-06-01", "2024-06-10", pgtext.Interval{Days: 1})
	tenDaysBacklog.Columns = analytics.ColumnSet(1) << analytics.ColOpenAtEnd

	if c, err := s.EstimateCount(ctx, big, year); err != nil || c.Rows != -1 || c.Buckets != len(year.Bounds)-1 {
		t.Fatalf("before ANALYZE: %+v %v", c, err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE tally.sessions`); err != nil {
		t.Fatal(err)
	}
	s.stats = tableStats{} // forget the cached "not analysed"
	for _, c := range []struct {
		name    string
		account pgtext.UUID
		q       *analytics.IntervalQuery
		want    float64
	}{
		{"big account, year", big, year, 40000},
		{"big account, ten days", big, tenDays, 40000 * 10 / 366.0},
		{"big account, ten days with the backlog", big, tenDaysBacklog, 40000 * 161 / 366.0}, // every session before June 10
		{"small account, year", small, year, 4000},
		{"unknown account, year", pgtext.UUID{3}, year, 22000}, // the average account
	} {
		got, err := s.EstimateCount(ctx, c.account, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if r := float64(got.Rows) / c.want; r < 0.7 || r > 1.3 {
			t.Errorf("%s: estimated %d rows, want about %.0f", c.name, got.Rows, c.want)
		}
	}
}

func query(t *testing.T, from, to string, span pgtext.Interval) *analytics.IntervalQuery {
	t.Helper()
	q := &analytics.IntervalQuery{Span: span}
	q.StartMicros, _ = pgtext.ParseTimestamp(from)
	q.EndMicros, _ = pgtext.ParseTimestamp(to)
	if err := q.Plan(10000); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestHealthSaysReadOnly: a database that answers but refuses writes
// fails the health check with the reason.
func TestHealthSaysReadOnly(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Health(ctx); err != nil {
		t.Fatalf("a writable database: %v", err)
	}
	var db string
	s.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
	if _, err := s.pool.Exec(ctx, `ALTER DATABASE "`+db+`" SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	s.pool.Reset() // new connections take the setting
	if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a read-only database: %v", err)
	}
}
