package ingest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tally-server/tally/internal/pgtext"
)

var account = pgtext.NullUUID{UUID: pgtext.UUID{1}, Valid: true}

func TestDecodeForms(t *testing.T) {
	one := `{"session_id":"a","start_time":"2024-01-08T10:00:00Z","agent_ids":null,"channel":"w\u00e9b","brain_version":3}`
	for _, body := range []string{
		one,
		one + "\n",
		"\n\n" + one + "\n\n",
		"[" + one + "]",
		" [ " + one + " ] ",
	} {
		recs, err := Decode(strings.NewReader(body), account, Config{})
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if len(recs) != 1 || recs[0].SessionID != "a" || recs[0].Channel.String != "wéb" || recs[0].AgentIDs == nil || !recs[0].BrainVersion.Valid || recs[0].AccountID != account.UUID {
			t.Fatalf("%q: %+v", body, recs)
		}
	}
	recs, err := Decode(strings.NewReader(""), account, Config{})
	if err != nil || len(recs) != 0 {
		t.Fatalf("empty body: %v %v", recs, err)
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		body  string
		field string
	}{
		{`{"session_id":"a"}`, "start_time"},
		{`{"session_id":"","start_time":"2024-01-08"}`, "session_id"},
		{`{"session_id":"a","start_time":"2024-01-08","Session_ID":"b"}`, "Session_ID"},
		{`{"session_id":"a","start_time":"2024-01-08","desk_id":5}`, "desk_id"},
		{`{"session_id":"a","start_time":"2024-01-08","brain_version":"3"}`, "brain_version"},
		{`{"session_id":"a","start_time":"2024-01-08","brain_version":3000000000}`, "brain_version"},
		{`{"session_id":"a","start_time":"2024-01-08","agent_ids":[1]}`, "agent_ids"},
		{`{"session_id":"a","start_time":"2024-01-08","is_test":1}`, "is_test"},
		{`{"session_id":"a","start_time":"2024-01-08","end_time":"2024-01-07"}`, "end_time"},
		{`{"session_id":"a","start_time":"2024-01-08","account_id":"00000000-0000-0000-0000-000000000002"}`, "account_id"},
		{`["a"]`, ""},
	}
	for _, tt := range tests {
		_, err := Decode(strings.NewReader(tt.body), account, Config{})
		var be *BatchError
		if !errors.As(err, &be) || be.Problems[0].Field != tt.field || be.Problems[0].Reason == "" {
			t.Errorf("%s: error %v, want a problem with field %q", tt.body, err, tt.field)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	body := strings.Repeat(`{"session_id":"a","start_time":"2024-01-08"}`+"\n", 11)
	var tm *TooManyError
	if _, err := Decode(strings.NewReader(body), account, Config{MaxRecords: 10}); !errors.As(err, &tm) {
		t.Errorf("11 records over a limit of 10: %v", err)
	}
	bad := strings.Repeat(`{"session_id":""}`+"\n", 50)
	_, err := Decode(strings.NewReader(bad), account, Config{MaxProblems: 5})
	var be *BatchError
	if !errors.As(err, &be) || len(be.Problems) != 5 || be.More != 95 {
		t.Errorf("problem cap: %+v", err)
	}
}

// FuzzDecode: any body either decodes or fails with a typed error; it
// never panics, and every decoded record satisfies the documented limits.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"session_id":"a","start_time":"2024-01-08"}`,
		`[{"session_id":"a","start_time":"2024-01-08","agent_ids":["x"],"end_time":null}]`,
		`{"session_id":"a\"b","start_time":"2024-01-08T10:00:00+02:00","desk_id":"{D2BE0283-9B53-4D7B-B77D-2650F3A1A99C}"}`,
		"{\"session_id\":\"a\",\n\"start_time\":\"2024-01-08\"}",
		`[1,{}]`, `{"a":{"b":[1,2,{"c":"]}"}]}}`, "", "[", "\xff",
		`{"session_id":"a\udc80","start_time":"2024-01-08"}`, `{"session_id":"\ud83d\ude00","start_time":"2024-01-08","channel":"\u0000"}`,
		"{\"session_id\":\"a\xff\",\"start_time\":\"2024-01-08\",\"agent_ids\":[\"\xc3\"]}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		recs, err := Decode(strings.NewReader(body), account, Config{MaxRecords: 50})
		if err != nil {
			var (
				be *BatchError
				se *SyntaxError
				tm *TooManyError
			)
			if !errors.As(err, &be) && !errors.As(err, &se) && !errors.As(err, &tm) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		for _, r := range recs {
			if r.SessionID == "" || len(r.SessionID) > MaxSessionIDBytes || r.AgentIDs == nil || (r.HasEnd && r.EndMicros < r.StartMicros) {
				t.Fatalf("invalid record accepted: %+v", r)
			}
			// Text is kept as sent: valid UTF-8 without NUL, never
			// repaired into U+FFFD unless the client sent U+FFFD.
			for _, s := range append([]string{r.SessionID, r.Channel.String}, r.AgentIDs...) {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || (strings.ContainsRune(s, utf8.RuneError) && !strings.Contains(body, "\ufffd") && !strings.Contains(body, "\uFFFD") && !strings.Contains(body, "\xef\xbf\xbd")) {
					t.Fatalf("text %q accepted from %q", s, body)
				}
			}
		}
	})
}

// TestSpellingsOfKeysAndUUIDs: keys and UUIDs read where they are (plain
// strings) and through the general path (escapes, other spellings) give
// the same record; unknown keys are named decoded either way.
func TestSpellingsOfKeysAndUUIDs(t *testing.T) {
	const desk = "d2be0283-9b53-4d7b-b77d-2650f3a1a99c"
	plain := `{"session_id":"a","start_time":"2024-01-08","desk_id":"` + desk + `"}`
	want, err := Decode(strings.NewReader(plain), account, Config{})
	if err != nil || len(want) != 1 || !want[0].DeskID.Valid {
		t.Fatalf("%s: %v %v", plain, want, err)
	}
	for _, body := range []string{
		`{"session\u005fid":"a","start_time":"2024-01-08","desk_id":"` + desk + `"}`,
		`{"session_id":"a","start_time":"2024-01-08","desk_id":"D2BE0283-9B53-4D7B-B77D-2650F3A1A99C"}`,
		`{"session_id":"a","start_time":"2024-01-08","desk_id":"{d2be02839b534d7bb77d2650f3a1a99c}"}`,
		`{"session_id":"a","start_time":"2024-01-08","desk_id":"d2be0283-9b53-4d7b-b77d-2650f3a1a99\u0063"}`,
	} {
		got, err := Decode(strings.NewReader(body), account, Config{})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", body, got, err, want)
		}
	}
	for _, c := range []struct{ body, field string }{
		{`{"session_id":"a","start_time":"2024-01-08","colour":1}`, "colour"},
		{`{"session_id":"a","start_time":"2024-01-08","col\u006fur":1}`, "colour"},
		{`{"session_id":"a","start_time":"2024-01-08","desk_id":"not-a-uuid"}`, "desk_id"},
		{`{"session_id":"a","start_time":"2024-01-08","desk_id":"` + desk + `0"}`, "desk_id"},
	} {
		_, err := Decode(strings.NewReader(c.body), account, Config{})
		var be *BatchError
		if !errors.As(err, &be) || len(be.Problems) != 1 || be.Problems[0].Field != c.field {
			t.Errorf("%s: %v, want one problem with field %q", c.body, err, c.field)
		}
	}
}
