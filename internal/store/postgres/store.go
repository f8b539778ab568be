// Package postgres is Tally's PostgreSQL backend: sessions and API keys in
// a schema "tally" of an existing PostgreSQL database, written in bulk and
// aggregated in SQL, so that any number of stateless Tally replicas can
// serve one database (or a Citus cluster: every table is keyed by
// account_id first).
//
// It satisfies the same interfaces as the embedded mode — the server's
// Ingester and KeyManager, auth's KeyStore, analytics' Source — and
// imports only analytics, session, pgtext and apikey. It never imports the
// engine.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tally-server/tally/internal/session"
)

// Config configures the store. Zero values take the defaults
// (WithDefaults).
type Config struct {
	// URL is a PostgreSQL connection URL (postgres://user:pass@host/db).
	URL string
	// PoolSize is the most connections this replica opens (default 10).
	PoolSize int
	// Parallel is how many connections one long query may use at once
	// (default 2; 1 disables splitting).
	Parallel int
	// WriteAttempts is how many times a write batch is tried when it
	// fails with a serialization failure or deadlock (default 5; 1 does
	// not retry). Tally's own writers never deadlock each other
	// (write.go); other writers of the tables still may.
	WriteAttempts int
	// Logger receives migrations and retries; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.PoolSize <= 0 {
		c.PoolSize = 10
	}
	if c.Parallel <= 0 {
		c.Parallel = 2
	}
	if c.WriteAttempts <= 0 {
		c.WriteAttempts = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Store is the PostgreSQL backend. It is safe for concurrent use.
type Store struct {
	pool          *pgxpool.Pool
	log           *slog.Logger
	parallel      int
	writeAttempts int
	stats         tableStats // planner statistics for EstimateCount (cost.go)
}

// migrations are applied in order under an advisory lock; the index is the
// version - 1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE tally.sessions (
		account_id      uuid      NOT NULL,
		session_id      text      NOT NULL,
		desk_id         uuid,
		brain_parent_id uuid,
		integration_id  uuid,
		brain_version   int,
		channel         text,
		agent_ids       text[]    NOT NULL DEFAULT '{}',
		is_test         boolean   NOT NULL DEFAULT false,
		start_time      timestamp NOT NULL,
		end_time        timestamp,
		updated_at      timestamp,
		PRIMARY KEY (account_id, session_id)
	);
	-- Time range scans of one account; end_time included so that unfiltered
	-- counts are index-only scans.
	CREATE INDEX sessions_account_start ON tally.sessions (account_id, start_time) INCLUDE (end_time);
	-- The most common filter: one or a few desks.
	CREATE INDEX sessions_account_desk_start ON tally.sessions (account_id, desk_id, start_time) INCLUDE (end_time);
	CREATE TABLE tally.api_keys (
		account_id   uuid        NOT NULL,
		id           text        NOT NULL,
		hash         bytea       NOT NULL,
		scopes       text        NOT NULL,
		name         text        NOT NULL,
		created_at   timestamptz NOT NULL,
		last_used_at timestamptz,
		revoked_at   timestamptz,
		PRIMARY KEY (account_id, id)
	);
	CREATE INDEX api_keys_id ON tally.api_keys (id);`,
	// Counts are index-only scans only on pages the visibility map marks
	// all-visible; with a stale map every row costs a heap fetch (measured:
	// 66 ms against 360 ms for a year of 900k sessions). Vacuum after 2% new
	// rows instead of the default 20%.
	`ALTER TABLE tally.sessions SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05)`,
	// The flow columns (count.go): sessions that end in a range of one
	// account, and the backlog at a bucket's start (sessions ended after it,
	// or still open: end_time IS NULL, which a btree index also finds), as
	// index-only scans.
	`CREATE INDEX sessions_account_end ON tally.sessions (account_id, end_time) INCLUDE (start_time)`,
}

// ErrUnavailable wraps errors that mean the database cannot be reached.
var ErrUnavailable = session.ErrUnavailable

// Open connects and brings the schema up to date. It fails at once when
// the database is unreachable (an error wrapping ErrUnavailable); Connect
// retries.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pc.MaxConns = int32(cfg.PoolSize)
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	// Tally's queries are short index scans: JIT compilation costs more
	// than it saves on them and makes latency jumpy.
	pc.ConnConfig.RuntimeParams["jit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Store{pool: pool, log: cfg.Logger, parallel: cfg.Parallel, writeAttempts: cfg.WriteAttempts}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Connect is Open, retrying with backoff (0.5 s doubling to 30 s) while
// the database is unreachable or refuses for a while (too many
// connections, starting up), so that Tally and its database can start in
// any order. Other errors — a wrong URL, password or schema — will not
// fix themselves and are returned at once, as is ctx's error when it ends.
func Connect(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.WithDefaults().Logger
	delay := 500 * time.Millisecond
	for {
		store, err := Open(ctx, cfg)
		if err == nil {
			return store, nil
		}
		if !errors.Is(err, session.ErrTemporary) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("PostgreSQL is unreachable; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Health reports whether the database answers and would take a write
// (what /healthz asks; health.go).
func (s *Store) Health(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	return s.checkWrite(ctx)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// migrationLock is the advisory lock key that serialises migrations of
// replicas starting together.
func migrationLock() int64 {
	h := fnv.New64a()
	h.Write([]byte("tally schema migrations"))
	return int64(h.Sum64())
}

// Migrate applies pending migrations. Replicas may call it concurrently:
// it holds a session advisory lock while it works.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return unavailable("migrate", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock()); err != nil {
		return unavailable("migrate: lock", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS tally;
		CREATE TABLE IF NOT EXISTS tally.schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM tally.schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("migrate: the database schema version %d is newer than this Tally (%d); upgrade Tally", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO tally.schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		s.log.Info("database migrated", "version", v)
	}
	return nil
}

// Version returns the schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM tally.schema_migrations`).Scan(&v)
	return v, err
}
