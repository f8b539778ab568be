package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

func record(i int) session.Record {
	return session.Record{
		AccountID:     pgtext.UUID{1},
		SessionID:     fmt.Sprintf("session-%d", i),
		DeskID:        pgtext.NullUUID{UUID: pgtext.UUID{2, byte(i % 7)}, Valid: true},
		BrainParentID: pgtext.NullUUID{UUID: pgtext.UUID{3, byte(i % 3)}, Valid: true},
		BrainVersion:  pgtext.NullInt4{Int32: int32(i % 5), Valid: true},
		Channel:       session.NullString{String: "web", Valid: true},
		AgentIDs:      []string{"agent-1"},
		StartMicros:   int64(i) * pgtext.MicrosPerMinute,
		EndMicros:     int64(i)*pgtext.MicrosPerMinute + 1,
		HasEnd:        i%3 != 0,
	}
}

func TestUpsertReportsChangesAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := record(1)
	a.UpdatedMicros, a.HasUpdated = 100, true
	changes, ignored, err := s.Upsert(ctx, []session.Record{a, record(2)})
	if err != nil || ignored != 0 || len(changes) != 2 || changes[0].Old != nil {
		t.Fatalf("first upsert: %v %d %+v", err, ignored, changes)
	}
	older := a
	older.UpdatedMicros = 99
	older.HasEnd = false
	newer := a
	newer.UpdatedMicros = 101
	newer.Channel = session.NullString{}
	changes, ignored, err = s.Upsert(ctx, []session.Record{older, newer})
	if err != nil || ignored != 1 || len(changes) != 1 {
		t.Fatalf("second upsert: %v ignored %d changes %d", err, ignored, len(changes))
	}
	if old := changes[0].Old; old == nil || old.Channel.String != "web" || old.UpdatedMicros != 100 || len(old.AgentIDs) != 1 {
		t.Fatalf("the change does not carry the replaced row: %+v", old)
	}
	s.Close()
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]*session.Record{}
	if err := s.Scan(ctx, func(r *session.Record) error { got[r.SessionID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a.SessionID].Channel.Valid || got[a.SessionID].UpdatedMicros != 101 {
		t.Fatalf("after reopen: %+v", got[a.SessionID])
	}
}

// BenchmarkUpsert measures durable ingestion in batches of 10k new
// sessions (each batch one fsynced transaction).
func BenchmarkUpsert(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 10000
	recs := make([]session.Record, batch)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range recs {
			recs[i] = record(n)
			n++
		}
		if _, _, err := s.Upsert(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sessions/s")
}

func TestGenerationChangesWithEveryWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Generation(ctx)
	if err != nil || first.Number != 0 || first.Token == ([16]byte{}) {
		t.Fatalf("new store: %+v, %v", first, err)
	}
	if _, _, err := s.Upsert(ctx, []session.Record{record(1), record(2)}); err != nil {
		t.Fatal(err)
	}
	second, _ := s.Generation(ctx)
	// A batch whose every record is older than the stored one changes
	// nothing, so it leaves the generation alone.
	newer := record(3)
	newer.UpdatedMicros, newer.HasUpdated = 10, true
	if _, _, err := s.Upsert(ctx, []session.Record{newer}); err != nil {
		t.Fatal(err)
	}
	third, _ := s.Generation(ctx)
	older := newer
	older.UpdatedMicros = 9
	if _, ign, err := s.Upsert(ctx, []session.Record{older}); err != nil || ign != 1 {
		t.Fatalf("older record: ignored %d, %v", ign, err)
	}
	last, err := s.Generation(ctx)
	if err != nil || last != third || third.Number != 2 || second.Number != 1 || first.Token == second.Token || second.Token == third.Token {
		t.Fatalf("generations %+v, %+v, %+v, then after an ignored record %+v (%v)", first, second, third, last, err)
	}
	s.Close()
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if g, err := s.Generation(ctx); err != nil || g != third {
		t.Fatalf("after reopening: %+v, %v; want %+v", g, err, third)
	}
}

// TestEncodeAgentsMatchesJSON: agent_ids written by encodeAgents read
// back equal, through encoding/json and through decodeAgents.
func TestEncodeAgentsMatchesJSON(t *testing.T) {
	for _, ids := range [][]string{{}, {"a"}, {"agent-1", "agent 2"}, {`q"uote`, `back\slash`, "é", "<b>&", "tab\t"}, {`","`}, {"a", `"`}, {`x","y`}} {
		got, err := encodeAgents(ids)
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := json.Unmarshal([]byte(got), &back); err != nil || !slices.Equal(back, ids) {
			t.Errorf("encodeAgents(%q) = %s, which reads back as %q (%v)", ids, got, back, err)
		}
		if mine, err := decodeAgents(got); err != nil || !slices.Equal(mine, ids) || mine == nil {
			t.Errorf("decodeAgents(%s) = %q, %v; want %q", got, mine, err, ids)
		}
	}
}

// TestScanAccount: Accounts lists every account with sessions in key
// order, and ScanAccount reads exactly one account's sessions.
func TestScanAccount(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Accounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: accounts %v, %v", got, err)
	}
	var recs []session.Record
	for i := range 300 {
		r := record(i)
		r.AccountID = pgtext.UUID{byte(9 - i%3), 0xff}
		recs = append(recs, r)
	}
	if _, _, err := s.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Accounts(ctx)
	want := []pgtext.UUID{{7, 0xff}, {8, 0xff}, {9, 0xff}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("accounts %v, %v; want %v", got, err, want)
	}
	for _, id := range want {
		n := 0
		err := s.ScanAccount(ctx, id, func(r *session.Record) error {
			if r.AccountID != id {
				t.Fatalf("ScanAccount(%s) read a session of %s", id, r.AccountID)
			}
			n++
			return nil
		})
		if err != nil || n != 100 {
			t.Fatalf("ScanAccount(%s): %d sessions, %v; want 100", id, n, err)
		}
	}
}
