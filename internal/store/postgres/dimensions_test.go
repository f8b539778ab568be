package postgres

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
)

func mustTS(tb testing.TB, s string) int64 {
	tb.Helper()
	v, err := pgtext.ParseTimestamp(s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestDimensionCountsOfAClosedStore: a store that cannot reach its
// database answers with ErrUnavailable, which the server turns into 503.
func TestDimensionCountsOfAClosedStore(t *testing.T) {
	s, err := Open(context.Background(), Config{URL: pgtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	q := &analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}
	if _, err := s.DimensionCounts(context.Background(), pgtext.UUID{1}, q); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a closed store answered %v, want ErrUnavailable", err)
	}
}

// BenchmarkDimensionCounts: one account of 1 M sessions in 2024 (stored in
// time order, as they arrive), another of 200 k; the year, a month, a day
// and all time of the first. go test -v logs the plans.
func BenchmarkDimensionCounts(b *testing.B) {
	url := pgtest.NewDatabase(b)
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	for _, stmt := range []string{
		`INSERT INTO tally.sessions (account_id, session_id, desk_id, brain_parent_id, integration_id, brain_version, channel, agent_ids, is_test, start_time, end_time)
		SELECT a, g::text,
		       CASE WHEN g % 20 <> 0 THEN ('de0' || (h % 8) || '0000-0000-0000-0000-000000000000')::uuid END,
		       ('b0000000-0000-0000-0000-00000000000' || (h / 8 % 4))::uuid,
		       ('10000000-0000-0000-0000-00000000000' || (h / 32 % 6))::uuid, h / 192 % 6,
		       (ARRAY['web','whatsapp','facebook','instagram','viber','voice'])[1 + h / 1152 % 6],
		       CASE WHEN h % 3 = 0 THEN ARRAY['agent-' || (h / 7 % 30)] ELSE '{}' END,
		       g % 20 = 0, s, CASE WHEN g % 10 <> 0 THEN s + interval '1 hour' END
		FROM (VALUES ('00000000-0000-0000-0000-000000000001'::uuid, 1000000), ('00000000-0000-0000-0000-000000000002'::uuid, 200000)) acc(a, n),
		     generate_series(1, n) g,
		     LATERAL (SELECT hashint4(g) & 2147483647 AS h, timestamp '2024-01-01' + (g::float8 / n) * interval '366 days' AS s) t`,
		`VACUUM (FREEZE, ANALYZE) tally.sessions`,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded 1.2 M sessions in %s", time.Since(start).Round(time.Second))
	account := pgtext.UUID{15: 1}
	for _, c := range []struct {
		name string
		q    analytics.DimensionQuery
	}{
		{"all_time", analytics.DimensionQuery{StartMicros: math.MinInt64, EndMicros: math.MaxInt64}},
		{"year", analytics.DimensionQuery{StartMicros: mustTS(b, "2024-01-01"), EndMicros: mustTS(b, "2025-01-01")}},
		{"month", analytics.DimensionQuery{StartMicros: mustTS(b, "2024-03-01"), EndMicros: mustTS(b, "2024-04-01")}},
		{"day", analytics.DimensionQuery{StartMicros: mustTS(b, "2024-03-01"), EndMicros: mustTS(b, "2024-03-02")}},
	} {
		q := c.q
		rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+dimensionsSQL+" AND s.start_time >= $2 AND s.start_time < $3"+dimensionsGroup,
			pgtype.UUID{Bytes: account, Valid: true}, ts(max(q.StartMicros, mustTS(b, "2000-01-01"))), ts(min(q.EndMicros, mustTS(b, "2100-01-01"))))
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			b.Log(c.name, ": ", line)
		}
		rows.Close()
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.DimensionCounts(ctx, account, &q); err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.name == "year" {
			// The same on one connection: what splitting the range gains.
			s.parallel = 1
			b.Run(c.name+"_one_connection", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.DimensionCounts(ctx, account, &q); err != nil {
						b.Fatal(err)
					}
				}
			})
			s.parallel = 2
		}
	}
}
