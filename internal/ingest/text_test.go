package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tally-server/tally/internal/session"
)

// TestTextIsValidUTF8WithoutNUL: issue 9, finding 10 — invalid UTF-8 was
// replaced by U+FFFD, so five distinct session ids were accepted and one
// stored; NUL was stored by one backend and refused by the other. Each
// bad string is a problem naming the record, the field and the byte of
// the record where the bad text starts.
func TestTextIsValidUTF8WithoutNUL(t *testing.T) {
	const head = `{"start_time":"2024-01-08","session_id":`
	for _, c := range []struct {
		name, record, field string
		offset              int // of the problem in the record
	}{
		{"invalid byte", head + "\"ab\xffc\"}", "session_id", len(head) + 3},
		{"another invalid byte", head + "\"ab\xfec\"}", "session_id", len(head) + 3},
		{"truncated sequence", head + "\"\xc3\"}", "session_id", len(head) + 1},
		{"surrogate in UTF-8", head + "\"\xed\xa0\x80\"}", "session_id", len(head) + 1},
		{"overlong encoding", head + "\"\xc0\xaf\"}", "session_id", len(head) + 1},
		{"lone low surrogate escape", head + `"a\udc80"}`, "session_id", len(head) + 2},
		{"lone high surrogate escape", head + `"\ud800x"}`, "session_id", len(head) + 1},
		{"high surrogate then another high", head + `"\ud800\ud800"}`, "session_id", len(head) + 1},
		{"NUL escape", head + `"a\u0000"}`, "session_id", len(head) + 2},
		{"NUL in channel", head + `"a","channel":"w\u0000b"}`, "channel", len(head) + 16},
		{"invalid byte in an agent id", head + "\"a\",\"agent_ids\":[\"ok\",\"x\xff\"]}", "agent_ids", len(head) + 24},
		{"NUL in a timestamp", `{"session_id":"a","start_time":"2024-01-08\u0000"}`, "start_time", 42},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(`{"session_id":"fine","start_time":"2024-01-08"}`+"\n"+c.record), account, Config{})
			var be *BatchError
			if !errors.As(err, &be) || len(be.Problems) != 1 {
				t.Fatalf("%q: %v", c.record, err)
			}
			p := be.Problems[0]
			if p.Index != 1 || p.Field != c.field || !strings.Contains(p.Reason, fmt.Sprintf("at byte %d of the record", c.offset)) || !strings.Contains(p.Reason, "UTF-8 without NUL") {
				t.Errorf("%q: problem %+v, want record 1, field %s, byte %d", c.record, p, c.field, c.offset)
			}
		})
	}
	// Good text passes as sent, escaped or not.
	recs, err := Decode(strings.NewReader(head+`"\ud83d\ude00 é\u00e9 \"q\"","channel":"wéb","agent_ids":["ann\u2028"]}`), account, Config{})
	if err != nil || len(recs) != 1 || recs[0].SessionID != "😀 éé \"q\"" || recs[0].Channel.String != "wéb" || recs[0].AgentIDs[0] != "ann\u2028" {
		t.Fatalf("good text: %+v %v", recs, err)
	}
}

func TestCSVTextIsValidUTF8(t *testing.T) {
	csv := "session_id,start_time,channel\na,2024-01-08,web\nb,2024-01-08,w\xffb\n"
	err := ReadBatches(strings.NewReader(csv), FormatCSV, account, 10, func([]session.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "record 2") || !strings.Contains(err.Error(), "column channel is not valid UTF-8 (byte 0xFF at byte 1 of the cell)") {
		t.Errorf("CSV with invalid UTF-8: %v", err)
	}
	csv = "session_id,start_time\na\x00b,2024-01-08\n"
	err = ReadBatches(strings.NewReader(csv), FormatCSV, account, 10, func([]session.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "session_id") || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("CSV with NUL: %v", err)
	}
}

// FuzzReadBatchesCSV: any CSV file either loads or fails with an error; it
// never panics, and what it loads is valid text (tally import's parser).
func FuzzReadBatchesCSV(f *testing.F) {
	for _, s := range []string{
		"session_id,start_time\na,2024-01-08\n",
		"session_id,start_time,agent_ids,is_test,brain_version\na,2024-01-08,\"[\"\"x\"\"]\",t,3\nb,2024-01-09,\"{y,z}\",false,\n",
		"session_id,start_time,channel\n\"a\nb\",2024-01-08,w\xffb\n",
		"session_id\n", "", "\"", "session_id,start_time\na,2024-01-08,extra\n",
		"session_id,start_time,agent_ids\na,2024-01-08,\"{\"\"\\\\u0000\"\"}\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		err := ReadBatches(strings.NewReader(file), FormatCSV, account, 7, func(recs []session.Record) error {
			for _, r := range recs {
				for _, s := range append([]string{r.SessionID, r.Channel.String}, r.AgentIDs...) {
					if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
						t.Fatalf("text %q loaded from %q", s, file)
					}
				}
			}
			return nil
		})
		_ = err // any error is an answer; the property is no panic and valid text
	})
}
