package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/store/postgres"
)

// BenchmarkPostgresCount runs the PostgreSQL backend's targets on 9 M
// sessions over 10 accounts (900 k each over 2024), next to reference.sql
// on the same rows. Loading takes a few minutes:
//
//	go test -run X -bench PostgresCount -benchtime 20x -timeout 60m ./cmd/tally/
func BenchmarkPostgresCount(b *testing.B) {
	const accounts, perAccount = 10, 900_000

	url := pgtest.NewDatabase(b)
	ctx := context.Background()
	store, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	desks := make([]pgtext.UUID, 8)
	for i := range desks {
		desks[i] = pgtext.UUID{0xde, byte(i)}
	}
	year := mustTS("2024-01-01")
	start := time.Now()
	// Generate in SQL: 9 M rows through COPY from Go would take longer
	// than the server takes to make them itself.
	_, err = conn.Exec(ctx, fmt.Sprintf(`INSERT INTO tally.sessions (account_id, session_id, desk_id, brain_parent_id, brain_version, channel, is_test, start_time, end_time)
		SELECT ('00000000-0000-0000-0000-0000000000' || lpad(a::text, 2, '0'))::uuid, g::text,
		       ('de0' || (g %% 8) || '0000-0000-0000-0000-000000000000')::uuid,
		       ('b0000000-0000-0000-0000-00000000000' || (g %% 4))::uuid, g %% 5,
		       (ARRAY['web','whatsapp','facebook','instagram','viber','voice'])[1 + g %% 6], g %% 20 = 0,
		       s, CASE WHEN g %% 10 <> 0 THEN s + interval '1 hour' END
		FROM generate_series(0, %d) a, generate_series(1, %d) g,
		     LATERAL (SELECT timestamp '2024-01-01' + (hashint4(g * 31 + a) & 2147483647) %% (366 * 86400) * interval '1 second' AS s) t`,
		accounts-1, perAccount))
	if err != nil {
		b.Fatal(err)
	}
	// FREEZE marks every page all-visible, as autovacuum eventually does
	// on a live database, so the counts are index-only scans.
	if _, err := conn.Exec(ctx, "VACUUM (FREEZE, ANALYZE) tally.sessions"); err != nil {
		b.Fatal(err)
	}
	var pages, visible int64
	conn.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = 'tally.sessions'::regclass`).Scan(&pages, &visible)
	b.Logf("loaded %d sessions in %s; %d of %d pages all-visible", accounts*perAccount, time.Since(start).Round(time.Second), visible, pages)
	// The plans of the year query, for the record (go test -v): its
	// counts by start, and its flow part, the sessions that end in the
	// range, through the (account_id, end_time) index.
	for _, q := range []string{
		`SELECT date_bin('1 day'::interval, start_time, '2024-01-01') AS b, count(end_time), count(*)
		FROM tally.sessions WHERE account_id = '00000000-0000-0000-0000-000000000003' AND start_time >= '2024-01-01' AND start_time < '2025-01-01' GROUP BY 1`,
		`SELECT date_bin('1 day'::interval, end_time, '2024-01-01') AS b, count(*)
		FROM tally.sessions WHERE account_id = '00000000-0000-0000-0000-000000000003' AND end_time >= '2024-01-01' AND end_time < '2025-01-01' GROUP BY 1`,
	} {
		rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			b.Log(line)
		}
		rows.Close()
	}
	account, _ := pgtext.ParseUUID("00000000-0000-0000-0000-000000000003")
	desk, _ := pgtext.ParseUUID("de030000-0000-0000-0000-000000000000")
	queries := []struct {
		name string
		q    analytics.IntervalQuery
	}{
		{"desk_10days_daily", analytics.IntervalQuery{StartMicros: mustTS("2024-03-01"), EndMicros: mustTS("2024-03-10"), Span: pgtext.Interval{Days: 1},
			DeskIDs: analytics.UUIDSet{Active: true, Values: []pgtext.UUID{desk}}}},
		{"year_daily", analytics.IntervalQuery{StartMicros: year, EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 1}}},
		{"year_monthly", analytics.IntervalQuery{StartMicros: year, EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Months: 1}}},
	}
	// The flow columns (SPEC 9.2), all five columns, on Athens' calendar
	// days: the year, and ten days after two months of history.
	athens, err := pgtext.LoadZone("Europe/Athens")
	if err != nil {
		b.Fatal(err)
	}
	all := analytics.AllColumns(len(analytics.IntervalTable().Columns))
	queries = append(queries, []struct {
		name string
		q    analytics.IntervalQuery
	}{
		{"year_daily_flow_athens", analytics.IntervalQuery{StartMicros: mustTS("2023-12-31T22:00:00"), EndMicros: mustTS("2024-12-30T22:00:00"), Span: pgtext.Interval{Days: 1},
			Zone: athens, Columns: all}},
		{"desk_10days_daily_flow_athens", analytics.IntervalQuery{StartMicros: mustTS("2024-02-29T22:00:00"), EndMicros: mustTS("2024-03-09T22:00:00"), Span: pgtext.Interval{Days: 1},
			DeskIDs: analytics.UUIDSet{Active: true, Values: []pgtext.UUID{desk}}, Zone: athens, Columns: all}},
	}...)
	for _, c := range queries {
		q := c.q
		if err := q.Plan(10000); err != nil {
			b.Fatal(err)
		}
		b.Run("tally/"+c.name, func(b *testing.B) {
			dst := make([]analytics.Counts, len(q.Bounds)-1)
			for b.Loop() {
				clear(dst)
				if _, err := store.Count(ctx, account, &q, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// reference.sql over the same rows (its own table, with the
	// (account_id, start_time) index it lacks, to be fair to it).
	ref := referenceSQL(b)
	if _, err := conn.Exec(ctx, ref); err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO public.sessions SELECT account_id, session_id, desk_id, brain_parent_id, brain_version, integration_id, channel, agent_ids, is_test, start_time, end_time FROM tally.sessions`,
		`CREATE INDEX ON public.sessions (account_id, start_time)`,
		`VACUUM ANALYZE public.sessions`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range queries[:2] {
		q := c.q
		var desks any
		if q.DeskIDs.Active {
			desks = "{" + q.DeskIDs.Values[0].String() + "}"
		}
		b.Run("reference/"+c.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := conn.Query(ctx, `SELECT * FROM public.open_closed_sessions_interval_counts_v2($1::uuid, $2::timestamp, $3::timestamp, $4::interval, NULL, $5::uuid[])`,
					account.String(), pgtext.FormatTimestamp(q.StartMicros), pgtext.FormatTimestamp(q.EndMicros), q.Span.String(), desks)
				if err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
		})
	}
}
