// Package sqlite is Tally's embedded store: sessions kept durably in one
// SQLite database (modernc.org/sqlite, no cgo) inside the data directory,
// in WAL mode with synchronous=FULL so that a committed batch survives a
// crash or power loss. It upserts by (account_id, session_id) under the
// updated_at rule and reports every change so the engine can follow.
//
// sqlite imports session, pgtext and apikey only; it never imports the
// engine. internal/embedded puts the two together.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database file inside the data directory.
const FileName = "tally.db"

// migrations are applied in order; the index is the schema version - 1.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE sessions (
		account_id      BLOB    NOT NULL,
		session_id      TEXT    NOT NULL,
		desk_id         BLOB,
		brain_parent_id BLOB,
		integration_id  BLOB,
		brain_version   INTEGER,
		channel         TEXT,
		agent_ids       TEXT    NOT NULL, -- JSON array of strings
		is_test         INTEGER NOT NULL,
		start_time      INTEGER NOT NULL, -- microseconds since 1970 UTC
		end_time        INTEGER,
		updated_at      INTEGER,
		PRIMARY KEY (account_id, session_id)
	) WITHOUT ROWID`,
	`CREATE TABLE api_keys (
		id           TEXT    NOT NULL PRIMARY KEY,
		account_id   BLOB    NOT NULL,
		hash         BLOB    NOT NULL, -- SHA-256 of the key; the key itself is never stored
		scopes       TEXT    NOT NULL,
		name         TEXT    NOT NULL,
		created_at   INTEGER NOT NULL, -- microseconds since 1970 UTC
		last_used_at INTEGER,
		revoked_at   INTEGER
	)`,
	// One row, rewritten by CheckWrite to prove that the store can write.
	`CREATE TABLE write_probe (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		at INTEGER NOT NULL -- microseconds since 1970 UTC
	)`,
	// One row: the sessions' generation (Generation), which every
	// writing Upsert raises and gives a new random token in its own
	// transaction, so that a file derived from the sessions (the engine's
	// snapshot) can tell whether it still equals them. A later migration
	// that changes rows of sessions must raise it too.
	`CREATE TABLE store_generation (
		id         INTEGER PRIMARY KEY CHECK (id = 1),
		generation INTEGER NOT NULL,
		token      BLOB    NOT NULL
	);
	INSERT INTO store_generation (id, generation, token) VALUES (1, 0, randomblob(16))`,
}

// Store is the embedded store. Its methods are safe for concurrent use;
// writes are serialised by SQLite.
type Store struct {
	db         *sql.DB
	dir, path  string
	insertFull *sql.Stmt // upsert of insertChunk rows
	selectFull *sql.Stmt // read of selectChunk rows of one account (readExisting)
	bumpGen    *sql.Stmt // raises the generation (Generation)
	readGen    *sql.Stmt // reads its number
	written    *writtenLog

	prefetchMu  sync.Mutex // guards the two below
	prefetchDB  *sql.DB    // the read-only pool of Prefetch; nil until used
	prefetchSel *sql.Stmt  // selectSQL(selectChunk) on it

	readersMu sync.Mutex // guards readers
	readers   *sql.DB    // the read-only pool of ScanAccount; nil until used

	probeMu  sync.Mutex // guards the fields below (see CheckWrite)
	writeErr error      // the last write's failure of the disk kind; nil after a success
	probeAt  time.Time  // when CheckWrite last probed
	probeErr error      // what it found
}

// Open opens (creating if needed) the database in dir and brings its
// schema up to date. A directory or file Tally may not write is a
// *ReadOnlyError, a damaged database a *CorruptError, both naming the
// path. Open does not lock dir: the processes that keep an engine over
// the store take LockDir first.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		if isReadOnly(err) {
			return nil, &ReadOnlyError{Path: dir, Err: err}
		}
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	// synchronous(FULL) makes every commit fsync the WAL: a batch is
	// durable when Upsert returns. The page cache (cache_size, in KiB when
	// negative) is raised from SQLite's 2 MiB so that the B-tree's inner
	// pages stay cached as the table grows to millions of rows; the WAL is
	// checkpointed every 4096 pages (16 MiB) rather than 1000, so the
	// checkpoint's fsync of the database file is paid less often.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)" +
		"&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(4096)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single
	// connection keeps prepared statements and the page cache warm.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, dir: dir, path: path, written: newWrittenLog()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, s.openError(err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.insertFull, insertSQL(insertChunk)}, {&s.selectFull, selectSQL(selectChunk)}, {&s.bumpGen, bumpGenSQL}, {&s.readGen, generationSQL}} {
		if *p.stmt, err = db.PrepareContext(ctx, p.sql); err != nil {
			s.closeStmts()
			db.Close()
			return nil, s.openError(fmt.Errorf("open %s: prepare: %w", path, err))
		}
	}
	return s, nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.closeStmts()
	s.CloseReaders()
	s.closePrefetch()
	return s.db.Close()
}

func (s *Store) closeStmts() {
	for _, st := range []*sql.Stmt{s.insertFull, s.selectFull, s.bumpGen, s.readGen} {
		if st != nil {
			st.Close()
		}
	}
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate %s: read version: %w", s.path, err)
	}
	if have > len(migrations) {
		return fmt.Errorf("migrate %s: database schema version %d is newer than this Tally (%d); upgrade Tally", s.path, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s to %d: %w", s.path, v, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s to %d: %w", s.path, v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s to %d: %w", s.path, v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s to %d: %w", s.path, v, err)
		}
	}
	return nil
}

// openError classifies a failure to open the database: SQLite says only
// "unable to open database file" when the directory is read-only, so that
// case is told apart by trying to write there.
func (s *Store) openError(err error) error {
	if resultCode(err) == codeCantOpen {
		if werr := dirWritable(s.dir); werr != nil {
			return &ReadOnlyError{Path: s.dir, Err: werr}
		}
		return fmt.Errorf("cannot open the database file %s: %w", s.path, err)
	}
	return classify(s.path, err)
}

// dirWritable tries to create and remove a file in dir.
func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".tally-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Count returns the number of stored sessions.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n)
	if err != nil {
		return 0, classify(s.path, fmt.Errorf("count sessions in %s: %w", s.path, err))
	}
	return n, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return classify(s.path, fmt.Errorf("ping %s: %w", s.path, err))
	}
	return nil
}
