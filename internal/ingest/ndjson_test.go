package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// lineByLine is the reference Decode of an NDJSON body: one line read,
// checked and decoded at a time, stopping at the first error, as Decode
// did before it decoded in parallel. TestParallelDecodeAnswersAsLineByLine
// holds Decode to it.
func lineByLine(r io.Reader, cfg Config) (recsOut []any, errOut error) {
	cfg = cfg.WithDefaults()
	br := bufio.NewReader(r)
	index, line := 0, 0
	next := func() (json.RawMessage, error) {
		for {
			b, err := br.ReadBytes('\n')
			if err != nil && err != io.EOF {
				return nil, err
			}
			if len(b) > 0 {
				line++
			}
			b = bytes.TrimSpace(b)
			if len(b) == 0 {
				if err == io.EOF {
					return nil, io.EOF
				}
				continue
			}
			if !json.Valid(b) {
				var raw json.RawMessage
				reason := "not a JSON value"
				if uerr := json.Unmarshal(b, &raw); uerr != nil {
					reason = uerr.Error()
				}
				return nil, &SyntaxError{Index: index, Line: line, Reason: reason}
			}
			return b, nil
		}
	}
	recs, err := decodeStream(next, &index, account, cfg)
	for _, r := range recs {
		recsOut = append(recsOut, r)
	}
	return recsOut, err
}

// failAfter reads r, then fails with err instead of io.EOF.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestParallelDecodeAnswersAsLineByLine(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	good := func(i int) string {
		return fmt.Sprintf(`{"session_id":"s%d","start_time":"2024-01-%02dT10:00:00Z","agent_ids":["a%d","b"],"brain_version":%d,"is_test":%v,"channel":"web"}`, i, 1+i%28, i%3, i%5, i%2 == 0)
	}
	readFailure := errors.New("the connection broke")
	for trial := range 60 {
		n := 1 + rnd.Intn(3*parallelMin)
		var lines []string
		for i := range n {
			l := good(i)
			switch rnd.Intn(400) {
			case 0:
				l = `{"session_id":"","start_time":"2024-01-08"}` // two problems
			case 1:
				l = `{"session_id":"x","start_time":"2024-01-08","agent_ids":[1]}`
			case 2:
				if trial%3 == 0 {
					l = `{"session_id": broken`
				}
			case 3:
				l = ""
			}
			lines = append(lines, l)
		}
		body := strings.Join(lines, "\n")
		if trial%2 == 0 {
			body += "\n"
		}
		cfg := Config{MaxRecords: 1 + rnd.Intn(4*parallelMin), MaxProblems: 1 + rnd.Intn(5)}
		reader := func() io.Reader { return strings.NewReader(body) }
		if trial%5 == 4 {
			cut := len(body) * (1 + rnd.Intn(9)) / 10
			reader = func() io.Reader { return &failAfter{strings.NewReader(body[:cut]), readFailure} }
		}
		wantRecs, wantErr := lineByLine(reader(), cfg)
		recs, err := Decode(reader(), account, cfg)
		var gotRecs []any
		for _, r := range recs {
			gotRecs = append(gotRecs, r)
		}
		if !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(gotRecs, wantRecs) {
			t.Fatalf("trial %d (%d lines, %+v): parallel decode gave %d records and %v; line by line %d records and %v", trial, n, cfg, len(gotRecs), err, len(wantRecs), wantErr)
		}
		if trial%5 != 4 {
			// A body in a bytes.Buffer is decoded in place: the same
			// answer, and the buffer is read to its end.
			buf := bytes.NewBufferString(body)
			inPlace, err := Decode(buf, account, cfg)
			if !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(inPlace, recs) || buf.Len() != 0 {
				t.Fatalf("trial %d: from a bytes.Buffer %d records and %v (%d bytes left); from a reader %d records and %v", trial, len(inPlace), err, buf.Len(), len(recs), wantErr)
			}
		}
	}
}

// TestReadBatchesKeepsEveryBatch: the records of every batch of a file
// stay as decoded after later batches are read (ReadBatches reuses one
// buffer), and are the records of the whole file decoded at once.
func TestReadBatchesKeepsEveryBatch(t *testing.T) {
	var file strings.Builder
	for i := range 50 {
		fmt.Fprintf(&file, "{\"session_id\":\"session-%d-%s\",\"start_time\":\"2024-01-%02dT10:00:00Z\",\"agent_ids\":[\"agent-%d\"],\"channel\":\"ch-%d\"}\n", i, strings.Repeat("x", i), 1+i%28, i, i)
	}
	var got []session.Record
	batches := 0
	if err := ReadBatches(strings.NewReader(file.String()), FormatNDJSON, account, 7, func(recs []session.Record) error {
		got = append(got, recs...)
		batches++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, err := Decode(strings.NewReader(file.String()), account, Config{MaxRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	if batches != 8 || !reflect.DeepEqual(got, want) {
		t.Fatalf("%d batches; records equal to the whole file's: %v", batches, reflect.DeepEqual(got, want))
	}
}

// FuzzFastPaths: the direct readers of agent_ids and brain_version agree
// with encoding/json on every valid JSON value they accept.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{`[]`, ` [ ] `, `["a","b"]`, `["a", null]`, `["a\"b"]`, `[ "x" , "y" ]`, `["é"]`, `[1]`, `"a"`, `3`, `-7`, `2147483648`, `1.0`, `1e3`, `-`, `00`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !json.Valid([]byte(v)) {
			return
		}
		got, err := stringArray([]byte(v))
		var want []*string
		wantErr := json.Unmarshal([]byte(v), &want)
		if (err == nil) != (wantErr == nil) || (err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0)) {
			t.Fatalf("stringArray(%s) = %v, %v; encoding/json: %v, %v", v, got, err, want, wantErr)
		}
		if n, ok := plainInt32([]byte(v)); ok {
			var num int32
			if err := json.Unmarshal([]byte(v), &num); err != nil || num != n {
				t.Fatalf("plainInt32(%s) = %d; encoding/json: %d, %v", v, n, num, err)
			}
		}
	})
}

// FuzzValidJSON: validJSON agrees with encoding/json's Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]} `, `{"a":}`, `[1,]`, `01`, `-`, `1.`, `1e`, `"\x"`, `"\u12"`, "\"\x01\"", `{"a" 1}`, `[`, `nul`, `"é"`, "\"\xff\"", `{"a":1,}`, `[]]`, strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}

// TestSizeHintReadsTheBodyOnce: with the body's length known, an NDJSON
// body is read into one buffer of its size instead of one grown by
// doubling, which allocated about twice the body on the way (found in
// review: the server's body budget counts the body once).
func TestSizeHintReadsTheBodyOnce(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, `{"account_id":"d2be0283-9b53-4d7b-b77d-2650f3a1a99c","session_id":"s%d","start_time":"2024-01-08T10:00:00","channel":"web"}`+"\n", i)
	}
	body := b.String()
	allocated := func(cfg Config) uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Decode(strings.NewReader(body), pgtext.NullUUID{}, cfg); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	without := allocated(Config{})
	with := allocated(Config{SizeHint: int64(len(body))})
	if without-with < uint64(len(body))/2 {
		t.Errorf("decoding %d bytes allocated %d with the size hint and %d without; the hint should save about the body's size", len(body), with, without)
	}
}
