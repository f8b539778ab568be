package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

const columnList = `desk_id, brain_parent_id, integration_id, brain_version, channel, agent_ids, is_test, start_time, end_time, updated_at`

// readExisting loads the stored rows of keys (distinct).
// selectFull is the prepared selectSQL(selectChunk).
func readExisting(ctx context.Context, tx *sql.Tx, selectFull *sql.Stmt, keys []session.Key) (map[session.Key]*session.Record, error) {
	byAccount := map[pgtext.UUID][]string{}
	for _, k := range keys {
		byAccount[k.Account] = append(byAccount[k.Account], k.ID)
	}
	out := make(map[session.Key]*session.Record, len(keys))
	for account, ids := range byAccount {
		for len(ids) > 0 {
			n := min(len(ids), selectChunk)
			args := make([]any, 0, n+1)
			args = append(args, account[:])
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			var rows *sql.Rows
			var err error
			if n == selectChunk {
				rows, err = tx.StmtContext(ctx, selectFull).QueryContext(ctx, args...)
			} else {
				rows, err = tx.QueryContext(ctx, selectSQL(n), args...)
			}
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
				out[session.Key{Account: account, ID: id}] = r
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

// selectSQL reads the stored rows of n sessions of one account.
func selectSQL(n int) string {
	return `SELECT session_id, ` + columnList + ` FROM sessions WHERE account_id = ? AND session_id IN (?` + strings.Repeat(",?", n-1) + `)`
}

// rowValues receives one row of columnList. The UUID columns are read
// as sql.RawBytes (no copy): record copies them before the next row.
type rowValues struct {
	desk, brain, integ sql.RawBytes
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
	agents, err := decodeAgents(v.agents)
	if err != nil {
		return nil, fmt.Errorf("session %q: agent_ids: %w", id, err)
	}
	r.AgentIDs = agents
	return r, nil
}

// decodeAgents reads the agent_ids column: a JSON array of strings, never
// nil. Arrays as encodeAgents writes plain ids (no escapes, printable
// ASCII) are split directly; others go through encoding/json.
func decodeAgents(s string) ([]string, error) {
	if s == "[]" || s == "null" {
		return []string{}, nil
	}
	if len(s) >= 4 && strings.HasPrefix(s, `["`) && strings.HasSuffix(s, `"]`) {
		inner := s[2 : len(s)-2]
		plain := true
		for i := 0; i < len(inner) && plain; i++ {
			c := inner[i]
			plain = c >= 0x20 && c < 0x7f && c != '\\'
		}
		if plain {
			ids := strings.Split(inner, `","`)
			for _, id := range ids {
				if strings.IndexByte(id, '"') >= 0 {
					plain = false // a quote outside the separators: not this simple form
				}
			}
			if plain {
				return ids, nil
			}
		}
	}
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
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

// Scan calls fn for every stored session, in no particular order. The
// record passed to fn is fn's to keep. SQLite's failures are classified
// (a damaged file is a *CorruptError naming it); fn's error is returned
// as it is.
func (s *Store) Scan(ctx context.Context, fn func(*session.Record) error) error {
	var fnErr error
	err := s.scan(ctx, func(r *session.Record) error {
		fnErr = fn(r)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return classify(s.path, err)
	}
	return err
}

// Accounts returns the accounts that have stored sessions, in key order:
// one B-tree seek per account, not a scan of the sessions.
func (s *Store) Accounts(ctx context.Context) ([]pgtext.UUID, error) {
	var out []pgtext.UUID
	after := []byte{}
	for {
		var acc []byte
		err := s.db.QueryRowContext(ctx, `SELECT account_id FROM sessions WHERE account_id > ? ORDER BY account_id LIMIT 1`, after).Scan(&acc)
		if err == sql.ErrNoRows {
			return out, nil
		}
		if err != nil {
			return nil, classify(s.path, fmt.Errorf("list the accounts of %s: %w", s.path, err))
		}
		var id pgtext.UUID
		copy(id[:], acc)
		out = append(out, id)
		after = acc
	}
}

// ScanAccount calls fn for every stored session of account, as Scan does.
// It reads on a read-only connection of its own, so scans of different
// accounts run in parallel with each other (and with writes, which they
// do not see once begun). CloseReaders closes those connections (and
// frees their page caches) when the scans are done.
func (s *Store) ScanAccount(ctx context.Context, account pgtext.UUID, fn func(*session.Record) error) error {
	s.readersMu.Lock()
	if s.readers == nil {
		var err error
		if s.readers, err = sql.Open("sqlite", "file:"+s.path+"?mode=ro&_pragma=busy_timeout(10000)"); err != nil {
			s.readersMu.Unlock()
			return classify(s.path, fmt.Errorf("open %s for reading: %w", s.path, err))
		}
	}
	readers := s.readers
	s.readersMu.Unlock()
	var fnErr error
	err := s.scanRows(ctx, readers, `WHERE account_id = ?`, []any{account[:]}, func(r *session.Record) error {
		fnErr = fn(r)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return classify(s.path, err)
	}
	return err
}

// CloseReaders closes the read-only connections of ScanAccount (a later
// ScanAccount opens new ones). No ScanAccount may be running.
func (s *Store) CloseReaders() {
	s.readersMu.Lock()
	defer s.readersMu.Unlock()
	if s.readers != nil {
		s.readers.Close()
		s.readers = nil
	}
}

func (s *Store) scan(ctx context.Context, fn func(*session.Record) error) error {
	return s.scanRows(ctx, s.db, "", nil, fn)
}

// scanRows reads the sessions that where (a WHERE clause, or "") selects.
func (s *Store) scanRows(ctx context.Context, db *sql.DB, where string, args []any, fn func(*session.Record) error) error {
	rows, err := db.QueryContext(ctx, `SELECT account_id, session_id, `+columnList+` FROM sessions `+where, args...)
	if err != nil {
		return fmt.Errorf("scan sessions: %w", err)
	}
	defer rows.Close()
	var acc sql.RawBytes
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
