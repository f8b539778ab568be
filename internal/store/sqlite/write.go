package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

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
// multi-row INSERT ... ON CONFLICT statements. UpsertPrefetched does the
// reading before the write.
//
// Its errors are classified (errors.go): a full disk is a *FullError, and
// failures that may pass wrap session.ErrTemporary. CheckWrite reports
// the last failure of the disk kind until a write succeeds.
func (s *Store) Upsert(ctx context.Context, recs []session.Record) (changes []session.Change, ignored int, err error) {
	defer func() { err = s.noteWrite(err) }()
	return s.upsert(ctx, recs, nil)
}

// UpsertPrefetched is Upsert for a batch whose stored rows p holds
// (Prefetch(ctx, recs)): only the rows that writes since p changed are
// read again. Its result is Upsert's. p is used up.
func (s *Store) UpsertPrefetched(ctx context.Context, recs []session.Record, p *Prefetched) (changes []session.Change, ignored int, err error) {
	defer func() { err = s.noteWrite(err) }()
	return s.upsert(ctx, recs, p)
}

const generationSQL = `SELECT generation FROM store_generation WHERE id = 1`

func (s *Store) upsert(ctx context.Context, recs []session.Record, p *Prefetched) ([]session.Change, int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("upsert: begin: %w", err)
	}
	defer tx.Rollback()
	var cur int64
	if err := tx.StmtContext(ctx, s.readGen).QueryRowContext(ctx).Scan(&cur); err != nil {
		return nil, 0, fmt.Errorf("upsert: read the generation: %w", err)
	}
	current, err := s.stored(ctx, tx, cur, recs, p)
	if err != nil {
		return nil, 0, err
	}
	var k *Keys
	if p != nil {
		k = &p.Keys
	}
	changes, hashes, ignored, err := s.writeBatch(ctx, tx, current, recs, k, true)
	if err != nil {
		return nil, 0, err
	}
	if len(changes) > 0 {
		if _, err := tx.StmtContext(ctx, s.bumpGen).ExecContext(ctx); err != nil {
			return nil, 0, fmt.Errorf("upsert: raise the generation: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		s.written.forget()
		return nil, 0, fmt.Errorf("upsert: commit: %w", err)
	}
	if len(changes) > 0 {
		s.written.record(cur, hashes)
	}
	return changes, ignored, nil
}

// writeBatch writes recs in tx, current holding the stored rows of their
// sessions (absent: new; p, when set, is the batch's Keys, whose sorted
// keys and hashes it reuses): it applies the rule and writes each
// session's final row. It returns the changes, the hashes of the keys
// written when logged is set (for the written log) and the ignored count;
// it neither raises the generation nor commits.
func (s *Store) writeBatch(ctx context.Context, tx *sql.Tx, current map[session.Key]*session.Record, recs []session.Record, p *Keys, logged bool) ([]session.Change, []uint64, int, error) {
	changes, order, ignored := session.Fold(current, recs)
	// Written in key order, the rows land on neighbouring B-tree pages:
	// fewer pages touched, split and written than in arrival order. A
	// prefetch has the batch's keys sorted and hashed already; when every
	// one is written (new sessions, the usual case) they are the order,
	// and the log takes all the batch's keys' hashes either way (more is
	// safe: it only re-reads).
	var hashes []uint64
	switch {
	case p != nil && len(order) == len(p.keys):
		order, hashes = p.keys, p.hashes
	case p != nil:
		slices.SortFunc(order, compareKeys)
		hashes = p.hashes
	default:
		slices.SortFunc(order, compareKeys)
		if logged && len(changes) > 0 {
			hashes = s.written.hashKeys(order)
		}
	}
	for len(order) > 0 {
		n := min(len(order), insertChunk)
		if err := s.insertRows(ctx, tx, order[:n], current); err != nil {
			return nil, nil, 0, err
		}
		order = order[n:]
	}
	return changes, hashes, ignored, nil
}

// Chunk sizes keep statements under SQLite's 32766 bound parameters.
const (
	selectChunk = 500
	insertChunk = 500 // 12 parameters a row
)

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

func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, keys []session.Key, current map[session.Key]*session.Record) error {
	args := make([]any, 0, len(keys)*12)
	for _, k := range keys {
		r := current[k]
		agents, err := encodeAgents(r.AgentIDs)
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
			nullInt(r.BrainVersion.Valid, int64(r.BrainVersion.Int32)), channel, agents, isTest, r.StartMicros,
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

// compareKeys orders keys as the sessions table's primary key does:
// account_id's bytes, then session_id's (SQLite compares TEXT with BINARY
// collation, that is bytewise).
func compareKeys(a, b session.Key) int {
	if c := bytes.Compare(a.Account[:], b.Account[:]); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// encodeAgents is agent_ids as the JSON array the column holds. Ids that
// need no escaping (the usual case) are written directly; others go
// through encoding/json.
func encodeAgents(ids []string) (string, error) {
	n := 2
	for _, id := range ids {
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				b, err := json.Marshal(ids)
				return string(b), err
			}
		}
		n += len(id) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	}
	b = append(b, ']')
	return string(b), nil
}

const bumpGenSQL = `UPDATE store_generation SET generation = generation + 1, token = randomblob(16) WHERE id = 1`

// Generation identifies the state of the stored sessions.
type Generation struct {
	// Number counts the Upserts that changed a session.
	Number int64
	// Token is random, new with each such Upsert (and at creation): two
	// reads with the same token saw the same sessions, even across copies
	// of the database and histories that diverged after a restore from
	// a backup. This holds as long as every write goes through Upsert
	// (the sessions table is Tally's: do not edit it by hand).
	Token [16]byte
}

// Generation returns the sessions' current generation.
func (s *Store) Generation(ctx context.Context) (Generation, error) {
	var g Generation
	var b []byte
	if err := s.db.QueryRowContext(ctx, `SELECT generation, token FROM store_generation WHERE id = 1`).Scan(&g.Number, &b); err != nil {
		return g, classify(s.path, fmt.Errorf("read the generation of %s: %w", s.path, err))
	}
	copy(g.Token[:], b)
	return g, nil
}
