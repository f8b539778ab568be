package main

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// BenchmarkEngineVsReference runs the targets of docs/performance.md on
// the same data in Tally's engine and in PostgreSQL's reference function
// (reference.sql as shipped, and with an (account_id, start_time) index
// added): one account with 1 M sessions over 2024.
//
//	go test -run XXX -bench EngineVsReference -benchtime 20x ./cmd/tally/
func BenchmarkEngineVsReference(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewSource(1))
	account := pgtext.UUID{0xac}
	desks := make([]pgtext.UUID, 8)
	for i := range desks {
		desks[i] = pgtext.UUID{0xde, byte(i)}
	}
	channels := []string{"web", "whatsapp", "facebook", "instagram", "viber", "voice"}
	year := mustTS("2024-01-01")
	recs := make([]session.Record, n)
	for i := range recs {
		recs[i] = session.Record{
			AccountID:     account,
			SessionID:     fmt.Sprint(i),
			DeskID:        pgtext.NullUUID{UUID: desks[r.Intn(len(desks))], Valid: true},
			BrainParentID: pgtext.NullUUID{UUID: pgtext.UUID{0xb0, byte(r.Intn(4))}, Valid: true},
			BrainVersion:  pgtext.NullInt4{Int32: int32(r.Intn(5)), Valid: true},
			Channel:       session.NullString{String: channels[r.Intn(len(channels))], Valid: true},
			AgentIDs:      []string{},
			IsTest:        r.Intn(20) == 0,
			StartMicros:   year + r.Int63n(366*pgtext.MicrosPerDay),
		}
		if r.Intn(10) != 0 {
			recs[i].EndMicros, recs[i].HasEnd = recs[i].StartMicros+pgtext.MicrosPerHour, true
		}
	}
	ix := engine.New(engine.Config{})
	l := ix.NewLoader()
	for i := range recs {
		l.Add(&recs[i])
	}
	l.Finish()

	queries := []struct {
		name string
		q    analytics.IntervalQuery
	}{
		{"desk_10days_daily", analytics.IntervalQuery{StartMicros: mustTS("2024-03-01"), EndMicros: mustTS("2024-03-10"), Span: pgtext.Interval{Days: 1},
			DeskIDs: analytics.UUIDSet{Active: true, Values: desks[:1]}}},
		{"year_daily", analytics.IntervalQuery{StartMicros: mustTS("2024-01-01"), EndMicros: mustTS("2024-12-31"), Span: pgtext.Interval{Days: 1}}},
	}
	for _, c := range queries {
		q := c.q
		if err := q.Plan(10000); err != nil {
			b.Fatal(err)
		}
		b.Run("engine/"+c.name, func(b *testing.B) {
			dst := make([]analytics.Counts, len(q.Bounds)-1)
			for b.Loop() {
				clear(dst)
				ix.Count(context.Background(), account, &q, dst)
			}
		})
	}

	srv := pgtest.Shared(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	ref := referenceSQL(b)
	if _, err := conn.Exec(ctx, ref); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	rows := make([][]any, n)
	for i, rc := range recs {
		var end any
		if rc.HasEnd {
			end = time.UnixMicro(rc.EndMicros).UTC()
		}
		rows[i] = []any{rc.AccountID.String(), rc.SessionID, rc.DeskID.UUID.String(), rc.BrainParentID.UUID.String(), rc.BrainVersion.Int32,
			rc.Channel.String, []string{}, rc.IsTest, time.UnixMicro(rc.StartMicros).UTC(), end}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"account_id", "session_id", "desk_id", "brain_parent_id", "brain_version", "channel", "agent_ids", "is_test", "start_time", "end_time"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE sessions"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d sessions into PostgreSQL in %s", n, time.Since(start).Round(time.Millisecond))
	runRef := func(variant string) {
		for _, c := range queries {
			q := c.q
			var desks any
			if q.DeskIDs.Active {
				desks = "{" + q.DeskIDs.Values[0].String() + "}"
			}
			b.Run("postgres_"+variant+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					rows, err := conn.Query(ctx, `SELECT * FROM open_closed_sessions_interval_counts_v2($1::uuid, $2::timestamp, $3::timestamp, $4::interval, NULL, $5::uuid[])`,
						account.String(), pgtext.FormatTimestamp(q.StartMicros), pgtext.FormatTimestamp(q.EndMicros), q.Span.String(), desks)
					if err != nil {
						b.Fatal(err)
					}
					rows.Close()
					if rows.Err() != nil {
						b.Fatal(rows.Err())
					}
				}
			})
		}
	}
	runRef("as_shipped")
	if _, err := conn.Exec(ctx, "CREATE INDEX ON sessions (account_id, start_time); ANALYZE sessions"); err != nil {
		b.Fatal(err)
	}
	runRef("with_start_index")
}
