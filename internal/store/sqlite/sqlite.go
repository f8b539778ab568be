// Package sqlite is Tally's embedded store: sessions kept durably in one
// SQLite database (modernc.org/sqlite, no cgo) inside the data directory,
// in WAL mode with synchronous=FULL so that a committed batch survives a
// crash or power loss. It upserts by (account_id, session_id) under the
// updated_at rule and reports every change so the engine can follow.
//
// sqlite imports session and pgtext only; it never imports the engine.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
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
}

// Store is the embedded store. Its methods are safe for concurrent use;
// writes are serialised by SQLite.
type Store struct {
	db         *sql.DB
	path       string
	insertFull *sql.Stmt // upsert of insertChunk rows
}

// Open opens (creating if needed) the database in dir and brings its
// schema up to date.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single
	// connection keeps prepared statements and the page cache warm.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.insertFull, err = db.PrepareContext(ctx, insertSQL(insertChunk)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: prepare: %w", path, err)
	}
	return s, nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.insertFull.Close()
	return s.db.Close()
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

const columnList = `desk_id, brain_parent_id, integration_id, brain_version, channel, agent_ids, is_test, start_time, end_time, updated_at`

func uuidArg(u pgtext.NullUUID) any {
	if !u.Valid {
		return nil
	}
	return u.UUID[:]
}

func nullInt(valid bool, v int64) any {
	if !valid {
		return nil
	}
	return v
}

// Upsert writes recs in one transaction, in order. A record replaces the
// stored session with the same (account_id, session_id) unless both carry
// updated_at and the stored one is newer, in which case it is ignored. When
// Upsert returns nil the batch is durable; the changes it returns are what
// was written, in order, for the engine to apply. On error nothing is
// written.
//
// The batch's existing rows are read with a few IN queries, the rule is
// applied in memory, and only each session's final row is written, with
// multi-row INSERT ... ON CONFLICT statements.
func (s *Store) Upsert(ctx context.Context, recs []session.Record) ([]session.Change, int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("upsert: begin: %w", err)
	}
	defer tx.Rollback()
	current, err := readExisting(ctx, tx, recs)
	if err != nil {
		return nil, 0, err
	}
	changes := make([]session.Change, 0, len(recs))
	var order []sessionKey // keys to write, in first-seen order
	written := map[sessionKey]bool{}
	ignored := 0
	for i := range recs {
		r := &recs[i]
		k := sessionKey{r.AccountID, r.SessionID}
		old := current[k]
		if old != nil && !session.Supersedes(r, old) {
			ignored++
			continue
		}
		changes = append(changes, session.Change{Old: old, New: r})
		current[k] = r
		if !written[k] {
			written[k] = true
			order = append(order, k)
		}
	}
	for len(order) > 0 {
		n := min(len(order), insertChunk)
		if err := s.insertRows(ctx, tx, order[:n], current); err != nil {
			return nil, 0, err
		}
		order = order[n:]
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("upsert: commit: %w", err)
	}
	return changes, ignored, nil
}

type sessionKey struct {
	account pgtext.UUID
	id      string
}

// Chunk sizes keep statements under SQLite's 32766 bound parameters.
const (
	selectChunk = 500
	insertChunk = 500 // 12 parameters a row
)

// readExisting loads the stored rows of the batch's sessions.
func readExisting(ctx context.Context, tx *sql.Tx, recs []session.Record) (map[sessionKey]*session.Record, error) {
	byAccount := map[pgtext.UUID][]string{}
	seen := map[sessionKey]bool{}
	for i := range recs {
		k := sessionKey{recs[i].AccountID, recs[i].SessionID}
		if !seen[k] {
			seen[k] = true
			byAccount[k.account] = append(byAccount[k.account], k.id)
		}
	}
	out := make(map[sessionKey]*session.Record, len(seen))
	for account, ids := range byAccount {
		for len(ids) > 0 {
			n := min(len(ids), selectChunk)
			args := make([]any, 0, n+1)
			args = append(args, account[:])
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			q := `SELECT session_id, ` + columnList + ` FROM sessions WHERE account_id = ? AND session_id IN (?` + strings.Repeat(",?", n-1) + `)`
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, fmt.Errorf("upsert: read existing sessions: %w", err)
			}
			var id string
			var v rowValues
			dest := append([]any{&id}, v.targets()...)
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return nil, fmt.Errorf("upsert: read existing sessions: %w", err)
				}
				r, err := v.record(account, id)
				if err != nil {
					rows.Close()
					return nil, fmt.Errorf("upsert: %w", err)
				}
				out[sessionKey{account, id}] = r
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("upsert: read existing sessions: %w", err)
			}
			ids = ids[n:]
		}
	}
	return out, nil
}

const upsertTail = ` ON CONFLICT (account_id, session_id) DO UPDATE SET desk_id = excluded.desk_id, brain_parent_id = excluded.brain_parent_id,
	integration_id = excluded.integration_id, brain_version = excluded.brain_version, channel = excluded.channel,
	agent_ids = excluded.agent_ids, is_test = excluded.is_test, start_time = excluded.start_time,
	end_time = excluded.end_time, updated_at = excluded.updated_at`

// insertSQL is the upsert statement for n rows.
func insertSQL(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO sessions (account_id, session_id, ` + columnList + `) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	q.WriteString(upsertTail)
	return q.String()
}

func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, keys []sessionKey, current map[sessionKey]*session.Record) error {
	args := make([]any, 0, len(keys)*12)
	for _, k := range keys {
		r := current[k]
		agents, err := json.Marshal(r.AgentIDs)
		if err != nil {
			return fmt.Errorf("upsert: encode agent_ids: %w", err)
		}
		var channel any
		if r.Channel.Valid {
			channel = r.Channel.String
		}
		isTest := 0
		if r.IsTest {
			isTest = 1
		}
		args = append(args, r.AccountID[:], r.SessionID, uuidArg(r.DeskID), uuidArg(r.BrainParentID), uuidArg(r.IntegrationID),
			nullInt(r.BrainVersion.Valid, int64(r.BrainVersion.Int32)), channel, string(agents), isTest, r.StartMicros,
			nullInt(r.HasEnd, r.EndMicros), nullInt(r.HasUpdated, r.UpdatedMicros))
	}
	var err error
	if len(keys) == insertChunk {
		// Full chunks reuse one prepared statement: parsing a 500-row
		// statement costs as much as binding it.
		_, err = tx.StmtContext(ctx, s.insertFull).ExecContext(ctx, args...)
	} else {
		_, err = tx.ExecContext(ctx, insertSQL(len(keys)), args...)
	}
	if err != nil {
		return fmt.Errorf("upsert: write sessions: %w", err)
	}
	return nil
}

// rowValues receives one row of columnList.
type rowValues struct {
	desk, brain, integ []byte
	version            sql.NullInt64
	channel            sql.NullString
	agents             string
	isTest             int
	start              int64
	end, updated       sql.NullInt64
}

func (v *rowValues) targets() []any {
	return []any{&v.desk, &v.brain, &v.integ, &v.version, &v.channel, &v.agents, &v.isTest, &v.start, &v.end, &v.updated}
}

func (v *rowValues) record(account pgtext.UUID, id string) (*session.Record, error) {
	r := &session.Record{
		AccountID:     account,
		SessionID:     id,
		DeskID:        blobUUID(v.desk),
		BrainParentID: blobUUID(v.brain),
		IntegrationID: blobUUID(v.integ),
		BrainVersion:  pgtext.NullInt4{Int32: int32(v.version.Int64), Valid: v.version.Valid},
		Channel:       session.NullString{String: v.channel.String, Valid: v.channel.Valid},
		IsTest:        v.isTest != 0,
		StartMicros:   v.start,
		EndMicros:     v.end.Int64,
		HasEnd:        v.end.Valid,
		UpdatedMicros: v.updated.Int64,
		HasUpdated:    v.updated.Valid,
	}
	if err := json.Unmarshal([]byte(v.agents), &r.AgentIDs); err != nil {
		return nil, fmt.Errorf("session %q: agent_ids: %w", id, err)
	}
	if r.AgentIDs == nil {
		r.AgentIDs = []string{}
	}
	return r, nil
}

func blobUUID(b []byte) pgtext.NullUUID {
	if len(b) != 16 {
		return pgtext.NullUUID{}
	}
	var u pgtext.NullUUID
	copy(u.UUID[:], b)
	u.Valid = true
	return u
}

// Count returns the number of stored sessions.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n)
	return n, err
}

// Scan calls fn for every stored session, in no particular order. The
// record passed to fn is fn's to keep.
func (s *Store) Scan(ctx context.Context, fn func(*session.Record) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, session_id, `+columnList+` FROM sessions`)
	if err != nil {
		return fmt.Errorf("scan sessions: %w", err)
	}
	defer rows.Close()
	var acc []byte
	var id string
	var v rowValues
	dest := append([]any{&acc, &id}, v.targets()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("scan sessions: %w", err)
		}
		var account pgtext.UUID
		copy(account[:], acc)
		rec, err := v.record(account, id)
		if err != nil {
			return fmt.Errorf("scan sessions: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan sessions: %w", err)
	}
	return nil
}

// CreateKey stores a new key record.
func (s *Store) CreateKey(ctx context.Context, k apikey.Key) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, hash, scopes, name, created_at) VALUES (?,?,?,?,?,?)`,
		k.ID, k.Account[:], k.Hash[:], apikey.FormatScopes(k.Scopes), k.Name, k.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

const keyColumns = `id, account_id, hash, scopes, name, created_at, last_used_at, revoked_at`

func scanKey(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	var (
		k               apikey.Key
		acc, hash       []byte
		scopes          string
		created         int64
		lastUsed, revok sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &acc, &hash, &scopes, &k.Name, &created, &lastUsed, &revok); err != nil {
		return k, err
	}
	copy(k.Account[:], acc)
	copy(k.Hash[:], hash)
	var err error
	if k.Scopes, err = apikey.ParseScopes(scopes); err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if lastUsed.Valid {
		k.LastUsedAt = time.UnixMicro(lastUsed.Int64).UTC()
	}
	if revok.Valid {
		k.RevokedAt = time.UnixMicro(revok.Int64).UTC()
	}
	return k, nil
}

// Key returns the key with id, or nil when there is none.
func (s *Store) Key(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return &k, nil
}

// Keys lists keys, of one account when account is valid, oldest first.
func (s *Store) Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys`
	var args []any
	if account.Valid {
		q += ` WHERE account_id = ?`
		args = append(args, account.UUID[:])
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked; it reports false when there is no such
// active key.
func (s *Store) RevokeKey(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now.UnixMicro(), id)
	if err != nil {
		return false, fmt.Errorf("revoke key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// TouchKey records that a key was used.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("touch key: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.path, err)
	}
	return nil
}
