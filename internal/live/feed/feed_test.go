package feed

import (
	"reflect"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

func TestSummarize(t *testing.T) {
	a, b := pgtext.UUID{1}, pgtext.UUID{2}
	rec := func(acc pgtext.UUID, start int64, end ...int64) *session.Record {
		r := &session.Record{AccountID: acc, StartMicros: start}
		if len(end) > 0 {
			r.EndMicros, r.HasEnd = end[0], true
		}
		return r
	}
	got := Summarize([]session.Change{
		{New: rec(a, 500)},                           // a new open session
		{Old: rec(b, 100, 900), New: rec(b, 300)},    // reopened: the old row's times count
		{Old: rec(a, 700), New: rec(a, 700, 2000)},   // closed: its end counts
		{Old: rec(a, 50, 60), New: rec(a, 400, 450)}, // moved: both rows count
	})
	want := []Change{{Account: a, From: 50, To: 2000}, {Account: b, From: 100, To: 900}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if Summarize(nil) != nil {
		t.Fatal("no changes should summarize to nothing")
	}
}

func TestFeed(t *testing.T) {
	var f Feed
	var got []Event
	cancel := f.Subscribe(func(e Event) { got = append(got, e) })
	f.Publish(Event{})                             // nothing: dropped
	f.Publish(Event{Changes: []Change{{From: 1}}}) // delivered, At set
	f.Publish(Event{All: true})
	cancel()
	f.Publish(Event{All: true})
	if len(got) != 2 || got[0].At.IsZero() || !got[1].All {
		t.Fatalf("got %+v", got)
	}
}
