package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// The write path. A batch is one READ COMMITTED transaction in three
// steps; each is one statement per account, accounts in byte order of
// their uuid, sent together in one round trip (a pipeline):
//
//  1. insertNew: INSERT the batch's sessions of the account, in byte order
//     of session_id, ON CONFLICT DO NOTHING. A new session is inserted
//     with the row the batch alone gives it (its records folded by the
//     updated_at rule); RETURNING names the inserted ones, so the others
//     are the stored ones.
//  2. lockStored: SELECT ... FOR UPDATE the stored ones, in byte order of
//     session_id, one primary-key probe each. READ COMMITTED returns the
//     latest row after any wait, and the lock keeps it so.
//  3. session.Fold over the whole batch from the stored rows, then
//     updateStored: one UPDATE of the stored sessions whose row changed.
//
// Why no deadlock between Tally's writers, on PostgreSQL or across Citus's
// workers: a writer waits in step 1 only for another's insert of the same
// session (or for an UPDATE of it in step 3, which waits for nothing), in
// step 2 only for another's row lock (taken in its step 2, kept through
// step 3), and never in step 3, which touches only rows it holds. Inserts
// are taken in one global order (account, then session id), and so are
// row locks; a writer in step 2 never waits for one in step 1, because
// rows another writer inserted but did not commit are invisible to it
// and a writer in step 1 holds no row lock. So every chain of waits runs
// through increasing keys within a step, or from step 1 to step 2 and 3,
// and never closes into a cycle. Per-key advisory locks would give one
// order too, but take one lock-table entry per session: a batch of
// 100 000 sessions fails with "out of shared memory" on a default
// configuration (docs/scale-out.md has the figures).
//
// Why Citus accepts it: every statement names one account, the
// distribution column, so each is routed to one shard; no statement locks
// rows with FOR UPDATE across shards. A batch spanning accounts is one
// distributed transaction (two-phase commit across workers).

// sessionParams are the columns of a session after account_id, in the
// order of the statements' array parameters $2...
var sessionParams = []string{"session_id", "desk_id", "brain_parent_id", "integration_id", "brain_version", "channel", "agent_ids", "is_test", "start_time", "end_time", "updated_at"}

// paramColumns names the parameters $1... of insertNewSQL and
// updateStoredSQL, for errors about a value.
var paramColumns = append([]string{"account_id"}, sessionParams...)

const unnestParams = `unnest($2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int4[], $7::text[], $8::text[], $9::bool[], $10::timestamp[], $11::timestamp[], $12::timestamp[])`

// agent_ids travel as the text of an array (unnest would flatten an array
// of arrays): u.agent_ids::text[] reads it back.
var insertNewSQL = `INSERT INTO tally.sessions AS s (account_id, ` + strings.Join(sessionParams, ", ") + `)
	SELECT $1::uuid, u.session_id, u.desk_id, u.brain_parent_id, u.integration_id, u.brain_version, u.channel, u.agent_ids::text[],
	       u.is_test, u.start_time, u.end_time, u.updated_at
	FROM ` + unnestParams + ` WITH ORDINALITY AS u(` + strings.Join(sessionParams, ", ") + `, ord)
	ORDER BY u.ord
	ON CONFLICT (account_id, session_id) DO NOTHING
	RETURNING s.session_id`

// lockStoredSQL locks in the order of $2, one primary-key probe per
// session: the LATERAL subquery with FOR UPDATE cannot be flattened into
// a join, which would read all of the account's rows (= ANY($2) of 10 000
// ids read all 100 000 rows of a test account, 112 ms against 31 ms).
const lockStoredSQL = `SELECT s.account_id, s.session_id, s.desk_id, s.brain_parent_id, s.integration_id, s.brain_version, s.channel,
	  s.agent_ids, s.is_test, s.start_time, s.end_time, s.updated_at
	FROM unnest($2::text[]) AS k(session_id)
	CROSS JOIN LATERAL (SELECT * FROM tally.sessions s WHERE s.account_id = $1 AND s.session_id = k.session_id FOR UPDATE) s`

// The cast of agent_ids is made in a CTE: Citus refuses a STABLE function
// (array_in) applied to a column in an UPDATE's SET, and pushes the whole
// statement, CTE included, to the account's shard.
var updateStoredSQL = `WITH u AS MATERIALIZED (
	  SELECT ` + strings.Join(sessionParams[:6], ", ") + `, agent_ids::text[] AS agent_ids, ` + strings.Join(sessionParams[7:], ", ") + `
	  FROM ` + unnestParams + ` AS u(` + strings.Join(sessionParams, ", ") + `))
	UPDATE tally.sessions AS s SET desk_id = u.desk_id, brain_parent_id = u.brain_parent_id, integration_id = u.integration_id,
	  brain_version = u.brain_version, channel = u.channel, agent_ids = u.agent_ids, is_test = u.is_test,
	  start_time = u.start_time, end_time = u.end_time, updated_at = u.updated_at
	FROM u WHERE s.account_id = $1 AND s.session_id = u.session_id`

// accountWrite is one account's part of a batch.
type accountWrite struct {
	account pgtext.UUID
	ids     []string          // its sessions, in byte order
	rows    []*session.Record // the row each gets if it is new, in the same order
	stored  []string          // after step 1: the ids that were stored, in order
}

// Ingest writes recs atomically under the updated_at rule (session.Fold,
// in batch order) and returns only after COMMIT. A serialization failure
// or deadlock is retried up to Config.WriteAttempts times in all, after
// a short random pause; errors are classified as errors.go says.
func (s *Store) Ingest(ctx context.Context, recs []session.Record) (int, int, error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	plan := planWrite(recs)
	for attempt := 1; ; attempt++ {
		accepted, ignored, err := s.ingestOnce(ctx, plan, recs)
		if err == nil {
			return accepted, ignored, nil
		}
		if !retryable(err) || attempt >= s.writeAttempts || ctx.Err() != nil {
			return 0, 0, classify(ctx, "ingest", err)
		}
		// 10 ms, 20 ms, 40 ms ... each with up to as much again at
		// random, so that writers that met do not meet again in step.
		pause := (10 * time.Millisecond) << (attempt - 1)
		pause += rand.N(pause)
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		s.log.Warn("ingest: retrying the batch", "sqlstate", pgErr.Code, "err", pgErr.Message, "attempt", attempt, "in", pause, "records", len(recs))
		select {
		case <-ctx.Done():
			return 0, 0, classify(ctx, "ingest", err)
		case <-time.After(pause):
		}
	}
}

// planWrite groups the batch's sessions by account in the global lock
// order, each with the row it gets when it is new.
func planWrite(recs []session.Record) []*accountWrite {
	alone := make(map[session.Key]*session.Record)
	session.Fold(alone, recs)
	keys := make([]session.Key, 0, len(alone))
	for k := range alone {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b session.Key) int {
		if c := bytes.Compare(a.Account[:], b.Account[:]); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var plan []*accountWrite
	for _, k := range keys {
		if len(plan) == 0 || plan[len(plan)-1].account != k.Account {
			plan = append(plan, &accountWrite{account: k.Account})
		}
		w := plan[len(plan)-1]
		w.ids = append(w.ids, k.ID)
		w.rows = append(w.rows, alone[k])
	}
	return plan
}

func (s *Store) ingestOnce(ctx context.Context, plan []*accountWrite, recs []session.Record) (accepted, ignored int, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if err := insertNew(ctx, tx, plan); err != nil {
			return err
		}
		stored, err := lockStored(ctx, tx, plan)
		if err != nil {
			return err
		}
		changes, written, ign := session.Fold(stored, recs)
		accepted, ignored = len(changes), ign
		if err := updateStored(ctx, tx, plan, stored, written); err != nil {
			return err
		}
		// The change feed of live queries sends its NOTIFY here: inside
		// the transaction, so it is delivered at COMMIT (notify.go).
		return notifyChanges(ctx, tx, changes)
	})
	return accepted, ignored, err
}

// insertNew is step 1: it inserts the new sessions, account by account,
// and records which were stored.
func insertNew(ctx context.Context, tx pgx.Tx, plan []*accountWrite) error {
	b := &pgx.Batch{}
	for _, w := range plan {
		b.Queue(insertNewSQL, sessionArgs(w.account, w.rows)...)
	}
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	for _, w := range plan {
		rows, err := res.Query()
		if err != nil {
			return dataError(fmt.Errorf("insert sessions: %w", err), w.account.String(), paramColumns)
		}
		inserted := make(map[string]bool, len(w.ids))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("insert sessions: %w", err)
			}
			inserted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dataError(fmt.Errorf("insert sessions: %w", err), w.account.String(), paramColumns)
		}
		w.stored = w.stored[:0]
		for _, id := range w.ids {
			if !inserted[id] {
				w.stored = append(w.stored, id)
			}
		}
	}
	return res.Close()
}

// lockStored is step 2: it locks and reads the stored rows of the batch's
// stored sessions.
func lockStored(ctx context.Context, tx pgx.Tx, plan []*accountWrite) (map[session.Key]*session.Record, error) {
	stored := make(map[session.Key]*session.Record)
	b := &pgx.Batch{}
	for _, w := range plan {
		if len(w.stored) > 0 {
			b.Queue(lockStoredSQL, pgtype.UUID{Bytes: w.account, Valid: true}, w.stored)
		}
	}
	if b.Len() == 0 {
		return stored, nil
	}
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	for _, w := range plan {
		if len(w.stored) == 0 {
			continue
		}
		rows, err := res.Query()
		if err != nil {
			return nil, fmt.Errorf("lock stored sessions: %w", err)
		}
		for rows.Next() {
			r, err := scanSession(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("lock stored sessions: %w", err)
			}
			stored[r.Key()] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("lock stored sessions: %w", err)
		}
	}
	return stored, res.Close()
}

// updateStored is step 3: the final rows of the stored sessions that the
// batch changed (new sessions were written whole in step 1).
func updateStored(ctx context.Context, tx pgx.Tx, plan []*accountWrite, final map[session.Key]*session.Record, written []session.Key) error {
	changed := make(map[session.Key]bool, len(written))
	for _, k := range written {
		changed[k] = true
	}
	// The rows are found by their primary key, one probe each: with an
	// accurate count of the batch's rows the planner prefers to hash all
	// of the account's rows, which costs more PostgreSQL CPU (235 ms
	// against 198 ms for 10 000 of 100 000, BenchmarkIngest) and grows
	// with the account. For this transaction only; Citus's workers plan
	// their shard's statement themselves.
	b := &pgx.Batch{}
	b.Queue(`SET LOCAL enable_hashjoin = off`)
	b.Queue(`SET LOCAL enable_mergejoin = off`)
	var queued []pgtext.UUID
	for _, w := range plan {
		var rows []*session.Record
		for _, id := range w.stored {
			if k := (session.Key{Account: w.account, ID: id}); changed[k] {
				rows = append(rows, final[k])
			}
		}
		if len(rows) > 0 {
			b.Queue(updateStoredSQL, sessionArgs(w.account, rows)...)
			queued = append(queued, w.account)
		}
	}
	if len(queued) == 0 {
		return nil
	}
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	for range 2 {
		if _, err := res.Exec(); err != nil {
			return err
		}
	}
	for _, a := range queued {
		if _, err := res.Exec(); err != nil {
			return dataError(fmt.Errorf("update sessions: %w", err), a.String(), paramColumns)
		}
	}
	return res.Close()
}

// sessionArgs are the parameters of insertNewSQL and updateStoredSQL:
// the account, then one array per column of rows (all of that account).
func sessionArgs(account pgtext.UUID, rows []*session.Record) []any {
	n := len(rows)
	var (
		ids                  = make([]string, n)
		desks, brains, integ = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		versions             = make([]pgtype.Int4, n)
		channels             = make([]pgtype.Text, n)
		agents               = make([]string, n)
		tests                = make([]bool, n)
		starts, ends, upds   = make([]pgtype.Timestamp, n), make([]pgtype.Timestamp, n), make([]pgtype.Timestamp, n)
	)
	for i, r := range rows {
		ids[i] = r.SessionID
		desks[i], brains[i], integ[i] = optUUID(r.DeskID), optUUID(r.BrainParentID), optUUID(r.IntegrationID)
		versions[i] = pgtype.Int4{Int32: r.BrainVersion.Int32, Valid: r.BrainVersion.Valid}
		channels[i] = pgtype.Text{String: r.Channel.String, Valid: r.Channel.Valid}
		agents[i] = arrayLiteral(r.AgentIDs)
		tests[i] = r.IsTest
		starts[i], ends[i], upds[i] = ts(r.StartMicros), optTS(r.HasEnd, r.EndMicros), optTS(r.HasUpdated, r.UpdatedMicros)
	}
	return []any{pgtype.UUID{Bytes: account, Valid: true}, ids, desks, brains, integ, versions, channels, agents, tests, starts, ends, upds}
}

// arrayLiteral writes a text array as PostgreSQL reads it back
// (array_in): every element quoted, '\' and '"' escaped.
func arrayLiteral(elems []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(e); j++ {
			if e[j] == '"' || e[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func ts(micros int64) pgtype.Timestamp {
	return pgtype.Timestamp{Time: time.UnixMicro(micros).UTC(), Valid: true}
}

func optTS(valid bool, micros int64) pgtype.Timestamp {
	if !valid {
		return pgtype.Timestamp{}
	}
	return ts(micros)
}

func optUUID(u pgtext.NullUUID) pgtype.UUID {
	return pgtype.UUID{Bytes: u.UUID, Valid: u.Valid}
}

func scanSession(row pgx.Row) (*session.Record, error) {
	var (
		acc, desk, brain, integ pgtype.UUID
		version                 pgtype.Int4
		channel                 pgtype.Text
		start, end, updated     pgtype.Timestamp
		r                       session.Record
	)
	if err := row.Scan(&acc, &r.SessionID, &desk, &brain, &integ, &version, &channel, &r.AgentIDs, &r.IsTest, &start, &end, &updated); err != nil {
		return nil, err
	}
	r.AccountID = acc.Bytes
	r.DeskID = pgtext.NullUUID{UUID: desk.Bytes, Valid: desk.Valid}
	r.BrainParentID = pgtext.NullUUID{UUID: brain.Bytes, Valid: brain.Valid}
	r.IntegrationID = pgtext.NullUUID{UUID: integ.Bytes, Valid: integ.Valid}
	r.BrainVersion = pgtext.NullInt4{Int32: version.Int32, Valid: version.Valid}
	r.Channel = session.NullString{String: channel.String, Valid: channel.Valid}
	r.StartMicros = start.Time.UnixMicro()
	r.EndMicros, r.HasEnd = end.Time.UnixMicro(), end.Valid
	r.UpdatedMicros, r.HasUpdated = updated.Time.UnixMicro(), updated.Valid
	if r.AgentIDs == nil {
		r.AgentIDs = []string{}
	}
	return &r, nil
}
