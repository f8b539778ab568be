package postgres

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

func TestChangePayloads(t *testing.T) {
	var changes []feed.Change
	for i := range 500 {
		changes = append(changes, feed.Change{Account: pgtext.UUID{byte(i), byte(i >> 8), 7}, From: -int64(i) * 1e12, To: int64(i) * 1e12})
	}
	payloads := encodeChanges(changes)
	if len(payloads) < 2 {
		t.Fatalf("500 accounts fit in %d notification", len(payloads))
	}
	var back []feed.Change
	for _, p := range payloads {
		if len(p) > maxPayload {
			t.Fatalf("payload of %d bytes, limit %d", len(p), maxPayload)
		}
		got, err := decodeChanges(p)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, got...)
	}
	if !reflect.DeepEqual(back, changes) {
		t.Fatal("payloads do not decode to the changes")
	}
	for _, bad := range []string{"", "x 1 2", "d2be0283-9b53-4d7b-b77d-2650f3a1a99c 1", "d2be0283-9b53-4d7b-b77d-2650f3a1a99c one 2"} {
		if _, err := decodeChanges(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// TestListenerHearsEveryStore: a write through one store reaches the
// listener of another on the same database once it commits, with the
// accounts and times it changed; a batch that changes nothing sends
// nothing; a lost listening connection comes back with an All event.
func TestListenerHearsEveryStore(t *testing.T) {
	url := pgtest.NewDatabase(t)
	writer, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	l := NewListener(reader)
	l.Retry = 10 * time.Millisecond
	events := make(chan feed.Event, 16)
	l.Subscribe(func(e feed.Event) { events <- e })
	stop := l.Start()
	defer stop()
	next := func() feed.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return feed.Event{}
	}
	if e := next(); !e.All {
		t.Fatalf("listening starts with %+v, want All", e)
	}
	a, b := pgtext.UUID{0xa}, pgtext.UUID{0xb}
	recs := []session.Record{
		{AccountID: a, SessionID: "1", StartMicros: 1000, AgentIDs: []string{}},
		{AccountID: a, SessionID: "2", StartMicros: 500, EndMicros: 3000, HasEnd: true, AgentIDs: []string{}},
		{AccountID: b, SessionID: "1", StartMicros: 7000, AgentIDs: []string{}},
	}
	if _, _, err := writer.Ingest(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	want := []feed.Change{{Account: a, From: 500, To: 3000}, {Account: b, From: 7000, To: 7000}}
	if e := next(); !reflect.DeepEqual(e.Changes, want) || e.At.IsZero() {
		t.Fatalf("event %+v, want %+v", e, want)
	}
	// Older updated_at: ignored, nothing changes, nothing is sent.
	recs[0].UpdatedMicros, recs[0].HasUpdated = 5, true
	writer.Ingest(context.Background(), recs[:1])
	recs[0].UpdatedMicros = 1
	if acc, _, err := writer.Ingest(context.Background(), recs[:1]); err != nil || acc != 0 {
		t.Fatalf("older record accepted: %d %v", acc, err)
	}
	if e := next(); len(e.Changes) != 1 || e.Changes[0].Account != a {
		t.Fatalf("the newer record: %+v", e)
	}
	select {
	case e := <-events:
		t.Fatalf("an ignored record notified %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
	// Cut the listening connection: it comes back with All.
	if _, err := writer.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE query = $1`, fmt.Sprintf("LISTEN %s", NotifyChannel)); err != nil {
		t.Fatal(err)
	}
	if e := next(); !e.All {
		t.Fatalf("after the cut: %+v, want All", e)
	}
}
