package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/testseed"
)

// TestCitus runs the write path's tests on a real Citus cluster (a
// coordinator and two workers; skipped when Citus is not installed, see
// pgtest.StartCitus), each on Tally's schema made by Open and distributed
// as docs/scale-out.md says.
func TestCitus(t *testing.T) {
	c := pgtest.StartCitus(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// fresh drops Tally's schema (with its shards) and makes it again.
	fresh := func(t *testing.T) {
		t.Helper()
		if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS tally CASCADE`); err != nil {
			t.Fatal(err)
		}
		openStore(t, Config{URL: c.URL}).Close()
		c.Distribute(t)
	}
	t.Run("distributed", func(t *testing.T) {
		fresh(t)
		rows, _ := admin.Query(ctx, `SELECT 'tally.' || c.relname || ':' || p.partmethod::text FROM pg_dist_partition p
			JOIN pg_class c ON c.oid = p.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tally' ORDER BY 1`)
		kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(kinds) != 3 || kinds[0] != "tally.api_keys:n" || kinds[1] != "tally.schema_migrations:n" || kinds[2] != "tally.sessions:h" {
			t.Fatalf("Citus tables %v (%v), want api_keys and schema_migrations as reference tables (n), sessions distributed by hash (h)", kinds, err)
		}
	})
	t.Run("concurrent overlapping batches", func(t *testing.T) {
		fresh(t)
		if failures, retries := runConcurrentLoad(t, c.URL, testseed.Seed(t)); failures != 0 || retries != 0 {
			t.Errorf("%d of %d batches failed and %d retried, want 0 and 0", failures, loadBatches*loadRounds, retries)
		}
	})
	t.Run("the rule across batches", func(t *testing.T) {
		fresh(t)
		runSequentialRule(t, c.URL, 11)
	})
	t.Run("a permanent error is not temporary", func(t *testing.T) {
		fresh(t)
		// What the write path did before issue 10: FOR UPDATE across
		// shards, which Citus refuses.
		tx, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		_, err = tx.Exec(ctx, `SELECT 1 FROM tally.sessions WHERE session_id = ANY('{a,b}') FOR UPDATE`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "0A000" {
			t.Fatalf("FOR UPDATE across shards: %v, want SQLSTATE 0A000", err)
		}
		if err := classify(ctx, "ingest", err); classOf(err) != permanent {
			t.Errorf("%v is %s, want permanent", err, classOf(err))
		}
	})
	t.Run("a batch spanning workers is atomic", func(t *testing.T) {
		fresh(t)
		s := openStore(t, Config{URL: c.URL})
		if _, err := admin.Exec(ctx, `ALTER TABLE tally.sessions ADD CONSTRAINT no_forbidden CHECK (channel IS DISTINCT FROM 'forbidden')`); err != nil {
			t.Fatal(err)
		}
		// Accounts on both workers, the last one's session refused.
		batch := accountsOnWorkers(t, admin, c)
		batch[len(batch)-1].Channel = session.NullString{String: "forbidden", Valid: true}
		_, _, err := s.Ingest(ctx, batch)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || classOf(err) != permanent {
			t.Fatalf("%v, want a permanent 23514", err)
		}
		var n int
		admin.QueryRow(ctx, `SELECT count(*) FROM tally.sessions`).Scan(&n)
		if n != 0 {
			t.Errorf("%d sessions stored after a failed batch spanning workers, want 0", n)
		}
		batch[len(batch)-1].Channel = session.NullString{}
		if a, _, err := s.Ingest(ctx, batch); err != nil || a != len(batch) {
			t.Fatalf("%d %v", a, err)
		}
	})
	t.Run("keys in a reference table", func(t *testing.T) {
		fresh(t)
		s := openStore(t, Config{URL: c.URL})
		account := pgtext.UUID{7}
		plain, k, err := apikey.New(account, []apikey.Scope{apikey.Read, apikey.Write}, "ci", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, k.ID)
		if err != nil || got == nil || !got.Matches(plain) {
			t.Fatalf("Key: %+v %v", got, err)
		}
		if err := s.TouchKey(ctx, k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		keys, err := s.Keys(ctx, pgtext.NullUUID{UUID: account, Valid: true})
		if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
			t.Fatalf("Keys: %+v %v", keys, err)
		}
		if ok, err := s.RevokeKey(ctx, k.ID, time.Now()); !ok || err != nil {
			t.Fatalf("RevokeKey: %v %v", ok, err)
		}
	})
	t.Run("a later migration", func(t *testing.T) {
		fresh(t)
		saved := migrations
		defer func() { migrations = saved }()
		migrations = append(migrations[:len(migrations):len(migrations)], `ALTER TABLE tally.sessions ADD COLUMN citus_test int`)
		s := openStore(t, Config{URL: c.URL})
		if v, err := s.Version(ctx); err != nil || v != len(migrations) {
			t.Fatalf("version %d %v, want %d", v, err, len(migrations))
		}
		// The column reached the shards on the workers.
		var shards int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM run_command_on_shards('tally.sessions', $$SELECT citus_test FROM %s LIMIT 0$$) WHERE success`).Scan(&shards); err != nil || shards == 0 {
			t.Fatalf("shards with the new column: %d %v", shards, err)
		}
	})
}

// accountsOnWorkers returns one record for each of two accounts whose
// shards are on different workers.
func accountsOnWorkers(t *testing.T, admin *pgx.Conn, c *pgtest.Citus) []session.Record {
	t.Helper()
	byPort := map[int]pgtext.UUID{}
	for i := 0; len(byPort) < 2 && i < 256; i++ {
		account := pgtext.UUID{byte(i), 0xac}
		var port int
		err := admin.QueryRow(context.Background(), `SELECT nodeport FROM citus_shards
			WHERE shardid = get_shard_id_for_distribution_column('tally.sessions', $1::uuid)`, account.String()).Scan(&port)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byPort[port]; !ok {
			byPort[port] = account
		}
	}
	if len(byPort) < 2 {
		t.Fatal("no two accounts on different workers")
	}
	var out []session.Record
	for _, w := range c.Workers {
		r := rec("spanning", 1, true, false)
		r.AccountID = byPort[w.Port]
		out = append(out, r)
	}
	return out
}
