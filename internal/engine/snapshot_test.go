package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// snapshotIndex builds an index of two accounts through loads, changes
// and deltas (not compacted), with the records it holds.
func snapshotIndex(t *testing.T) (*Index, []session.Record, *world) {
	t.Helper()
	r := rand.New(rand.NewSource(3))
	w := newWorld(r)
	span := 60 * pgtext.MicrosPerDay
	ix := New(Config{CompactRows: 1 << 30})
	current := map[session.Key]session.Record{}
	l := ix.NewLoader()
	for i := range 3000 {
		rec := w.record(r, i, span)
		varyEnd(r, &rec)
		if i%3 == 0 {
			rec.AccountID = pgtext.UUID{7}
		}
		current[rec.Key()] = rec
		l.Add(&rec)
	}
	l.Finish()
	var changes []session.Change
	for i := range 500 {
		rec := w.record(r, 2500+i, span) // half replace loaded sessions, half are new
		rec.AgentIDs = append(rec.AgentIDs, fmt.Sprintf("new-agent-%d", i%7))
		rec.Channel = session.NullString{String: fmt.Sprintf("channel-%d", i%5), Valid: i%9 != 0}
		var old *session.Record
		if o, ok := current[rec.Key()]; ok {
			old = &o
		}
		n := rec
		changes = append(changes, session.Change{Old: old, New: &n})
		current[rec.Key()] = rec
	}
	ix.Apply(changes)
	var all []session.Record
	for _, rec := range current {
		all = append(all, rec)
	}
	return ix, all, w
}

func TestSnapshotRoundTrip(t *testing.T) {
	ix, all, w := snapshotIndex(t)
	var buf bytes.Buffer
	tag := []byte("store state 42")
	if err := ix.WriteSnapshot(&buf, tag); err != nil {
		t.Fatal(err)
	}
	back, gotTag, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if string(gotTag) != string(tag) {
		t.Fatalf("tag %q, want %q", gotTag, tag)
	}
	if back.Sessions() != len(all) {
		t.Fatalf("%d sessions read back, want %d", back.Sessions(), len(all))
	}
	for id, a := range ix.accounts {
		b := back.accounts[id]
		if b == nil || !reflect.DeepEqual(a.d, b.d) || !reflect.DeepEqual(a.main, b.main) {
			t.Fatalf("account %s differs after the round trip", id)
		}
	}
	// The index read back answers as the records say, and goes on taking
	// changes (its dictionaries were rebuilt, not just its columns).
	r := rand.New(rand.NewSource(4))
	span := 60 * pgtext.MicrosPerDay
	check := func(all []session.Record) {
		t.Helper()
		for range 200 {
			q := randomQuery(r, w, span)
			got, err := back.Count(context.Background(), testAccount, q, make([]analytics.Counts, len(q.Bounds)-1))
			if err != nil {
				t.Fatal(err)
			}
			var mine []session.Record
			for _, rec := range all {
				if rec.AccountID == testAccount {
					mine = append(mine, rec)
				}
			}
			if want := naiveCount(mine, q); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("query %+v:\n got %v\nwant %v", q, got, want)
			}
		}
	}
	check(all)
	extra := w.record(r, 99999, span)
	extra.AgentIDs = []string{"new-agent-3", "agent-1"}
	back.Apply([]session.Change{{New: &extra}})
	check(append(all, extra))
}

func TestSnapshotRefusesDamage(t *testing.T) {
	ix, _, _ := snapshotIndex(t)
	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf, []byte("tag")); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	read := func(b []byte) error {
		ix, _, err := ReadSnapshot(bytes.NewReader(b), int64(len(b)), Config{})
		if err == nil && ix == nil {
			t.Fatal("no index and no error")
		}
		return err
	}
	if err := read(good); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(5))
	cases := map[string][]byte{
		"empty":          {},
		"magic only":     []byte(snapshotMagic),
		"cut in half":    good[:len(good)/2],
		"checksum gone":  good[:len(good)-4],
		"a byte more":    append(bytes.Clone(good), 0),
		"another format": append([]byte("TALLYSNX"), good[8:]...),
	}
	for i := range 40 {
		b := bytes.Clone(good)
		b[r.Intn(len(b))] ^= byte(1 + r.Intn(255))
		cases[fmt.Sprintf("byte flipped %d", i)] = b
	}
	for name, b := range cases {
		err := read(b)
		var se *SnapshotError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v, want a *SnapshotError", name, err)
		}
	}
}
