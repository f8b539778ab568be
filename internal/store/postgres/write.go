package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

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

// Ingest writes recs atomically: one transaction that locks the batch's
// stored rows, applies the updated_at rule in order in memory
// (session.Fold: the rule is not associative, so a batch's duplicates
// cannot be folded in SQL alone), then COPYs each
// session's final row into a temporary table and writes them set-wise: one
// UPDATE for the sessions that were stored (locked, so decided), one
// INSERT ... ON CONFLICT DO UPDATE ... WHERE for new ones, whose WHERE
// applies the rule against a replica that inserted the same session
// meanwhile. It returns only after COMMIT.
func (s *Store) Ingest(ctx context.Context, recs []session.Record) (int, int, error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	accepted, ignored := 0, 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		current, err := lockExisting(ctx, tx, recs)
		if err != nil {
			return err
		}
		existed := make(map[session.Key]bool, len(current))
		for k := range current {
			existed[k] = true
		}
		changes, order, ign := session.Fold(current, recs)
		accepted, ignored = len(changes), ign
		if len(order) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE tally_incoming ON COMMIT DROP AS SELECT *, false AS existed FROM tally.sessions WITH NO DATA`); err != nil {
			return fmt.Errorf("create temporary table: %w", err)
		}
		rows := make([][]any, len(order))
		for i, k := range order {
			r := current[k]
			var channel pgtype.Text
			if r.Channel.Valid {
				channel = pgtype.Text{String: r.Channel.String, Valid: true}
			}
			rows[i] = []any{pgtype.UUID{Bytes: r.AccountID, Valid: true}, r.SessionID, optUUID(r.DeskID), optUUID(r.BrainParentID), optUUID(r.IntegrationID),
				pgtype.Int4{Int32: r.BrainVersion.Int32, Valid: r.BrainVersion.Valid}, channel, r.AgentIDs, r.IsTest,
				ts(r.StartMicros), optTS(r.HasEnd, r.EndMicros), optTS(r.HasUpdated, r.UpdatedMicros), existed[k]}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tally_incoming"}, append(sessionColumns, "existed"), pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy sessions: %w", err)
		}
		// Sessions that were stored are locked: their final rows were
		// decided above and replace them as they are.
		if len(existed) == 0 {
			// nothing to update
		} else if _, err := tx.Exec(ctx, `UPDATE tally.sessions s SET desk_id = i.desk_id, brain_parent_id = i.brain_parent_id,
			  integration_id = i.integration_id, brain_version = i.brain_version, channel = i.channel, agent_ids = i.agent_ids,
			  is_test = i.is_test, start_time = i.start_time, end_time = i.end_time, updated_at = i.updated_at
			FROM tally_incoming i WHERE i.existed AND s.account_id = i.account_id AND s.session_id = i.session_id`); err != nil {
			return fmt.Errorf("update sessions: %w", err)
		}
		// New sessions: a replica may have inserted the same one since the
		// lock; the WHERE applies the rule against it.
		if _, err := tx.Exec(ctx, `INSERT INTO tally.sessions SELECT `+strings.Join(sessionColumns, ", ")+` FROM tally_incoming WHERE NOT existed
			ON CONFLICT (account_id, session_id) DO UPDATE SET desk_id = excluded.desk_id, brain_parent_id = excluded.brain_parent_id,
			  integration_id = excluded.integration_id, brain_version = excluded.brain_version, channel = excluded.channel,
			  agent_ids = excluded.agent_ids, is_test = excluded.is_test, start_time = excluded.start_time,
			  end_time = excluded.end_time, updated_at = excluded.updated_at
			WHERE excluded.updated_at IS NULL OR tally.sessions.updated_at IS NULL OR excluded.updated_at >= tally.sessions.updated_at`); err != nil {
			return fmt.Errorf("upsert sessions: %w", err)
		}
		return notifyChanges(ctx, tx, changes) // live queries of every replica (notify.go)
	})
	if err != nil {
		return 0, 0, unavailable("ingest", err)
	}
	return accepted, ignored, nil
}

var sessionColumns = []string{"account_id", "session_id", "desk_id", "brain_parent_id", "integration_id", "brain_version", "channel", "agent_ids", "is_test", "start_time", "end_time", "updated_at"}

// lockExisting reads and locks the stored rows of the batch's sessions.
func lockExisting(ctx context.Context, tx pgx.Tx, recs []session.Record) (map[session.Key]*session.Record, error) {
	keys := session.BatchKeys(recs)
	accounts := make([]pgtype.UUID, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		accounts[i], ids[i] = pgtype.UUID{Bytes: k.Account, Valid: true}, k.ID
	}
	rows, err := tx.Query(ctx, `SELECT s.account_id, s.session_id, s.desk_id, s.brain_parent_id, s.integration_id, s.brain_version, s.channel,
			s.agent_ids, s.is_test, s.start_time, s.end_time, s.updated_at
		FROM tally.sessions s JOIN unnest($1::uuid[], $2::text[]) AS k(account_id, session_id)
		  ON s.account_id = k.account_id AND s.session_id = k.session_id
		ORDER BY s.account_id, s.session_id
		FOR UPDATE OF s`, accounts, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored sessions: %w", err)
	}
	defer rows.Close()
	out := make(map[session.Key]*session.Record, len(keys))
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("read stored sessions: %w", err)
		}
		out[r.Key()] = r
	}
	return out, rows.Err()
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
