package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
)

func rec(id string, updated int64, hasUpdated bool) Record {
	return Record{AccountID: pgtext.UUID{1}, SessionID: id, AgentIDs: []string{}, UpdatedMicros: updated, HasUpdated: hasUpdated}
}

func TestSupersedes(t *testing.T) {
	cases := []struct {
		incoming, stored Record
		want             bool
	}{
		{rec("a", 5, true), rec("a", 4, true), true},
		{rec("a", 5, true), rec("a", 5, true), true}, // equal replaces
		{rec("a", 4, true), rec("a", 5, true), false},
		{rec("a", 0, false), rec("a", 5, true), true}, // no updated_at replaces
		{rec("a", 1, true), rec("a", 0, false), true},
	}
	for i, c := range cases {
		if got := Supersedes(&c.incoming, &c.stored); got != c.want {
			t.Errorf("case %d: Supersedes = %v, want %v", i, got, c.want)
		}
	}
}

// TestFoldAppliesTheRuleInOrder: stored 7, then a record without
// updated_at (replaces), then 5 (replaces that), then 4 (ignored): the
// final row is the one with 5, though 5 < 7 — the rule is not
// associative. Each change carries the row it replaced.
func TestFoldAppliesTheRuleInOrder(t *testing.T) {
	stored7 := rec("x", 7, true)
	stored := map[Key]*Record{stored7.Key(): &stored7}
	batch := []Record{rec("x", 0, false), rec("y", 1, true), rec("x", 5, true), rec("x", 4, true), rec("y", 0, true)}
	changes, written, ignored := Fold(stored, batch)
	if ignored != 2 || len(changes) != 3 {
		t.Fatalf("changes %d, ignored %d; want 3 and 2", len(changes), ignored)
	}
	if changes[0].Old != &stored7 || changes[0].New != &batch[0] || changes[1].Old != nil || changes[2].Old != &batch[0] || changes[2].New != &batch[2] {
		t.Errorf("changes do not chain: %+v", changes)
	}
	if fmt.Sprint(written) != fmt.Sprint([]Key{batch[0].Key(), batch[1].Key()}) {
		t.Errorf("written %v, want x then y", written)
	}
	if got := stored[Key{pgtext.UUID{1}, "x"}]; got != &batch[2] || got.UpdatedMicros != 5 {
		t.Errorf("final row of x: %+v", got)
	}
	if got := stored[Key{pgtext.UUID{1}, "y"}]; got != &batch[1] {
		t.Errorf("final row of y: %+v", got)
	}
}

func TestBatchKeys(t *testing.T) {
	other := rec("a", 0, false)
	other.AccountID = pgtext.UUID{2}
	got := BatchKeys([]Record{rec("a", 0, false), rec("b", 0, false), rec("a", 1, true), other})
	want := []Key{{pgtext.UUID{1}, "a"}, {pgtext.UUID{1}, "b"}, {pgtext.UUID{2}, "a"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("BatchKeys = %v, want %v", got, want)
	}
}

func TestUnavailableIsTemporary(t *testing.T) {
	err := fmt.Errorf("count: %w: connection refused", ErrUnavailable)
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v: want both ErrUnavailable and ErrTemporary", err)
	}
	if errors.Is(fmt.Errorf("x: %w", ErrTemporary), ErrUnavailable) {
		t.Fatal("a temporary failure is not necessarily an unreachable database")
	}
	if errors.Is(errors.New("syntax error"), ErrTemporary) {
		t.Fatal("a plain error is permanent")
	}
}
