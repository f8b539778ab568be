package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"runtime"
	"sync"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// parallelMin is the fewest records worth spreading over cores: below it
// the goroutines cost more than they save.
const parallelMin = 1024

// ndjsonLine is one non-blank line of an NDJSON body.
type ndjsonLine struct {
	b    []byte
	line int // 1-based
}

// decodeNDJSON reads the rest of br as NDJSON. It reads the body whole
// (the server bounds it), keeps at most cfg.MaxRecords+1 non-blank lines,
// then checks and decodes them in parallel chunks. What it returns is
// what reading line by line would return (see Decode).
func decodeNDJSON(br *bufio.Reader, account pgtext.NullUUID, cfg Config) ([]session.Record, error) {
	var body bytes.Buffer
	if cfg.SizeHint > 0 {
		body.Grow(int(min(cfg.SizeHint, 1<<30)) + bytes.MinRead)
	}
	_, readErr := body.ReadFrom(br)
	return decodeNDJSONData(body.Bytes(), readErr, account, cfg)
}

// decodeNDJSONData is decodeNDJSON over a body read whole (data), the
// reader having failed with readErr after it (nil: the body is complete).
func decodeNDJSONData(data []byte, readErr error, account pgtext.NullUUID, cfg Config) ([]session.Record, error) {
	var lines []ndjsonLine
	n := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			if readErr != nil {
				break // a line cut short by the reader's error is no record
			}
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		n++
		if l = bytes.TrimSpace(l); len(l) > 0 {
			lines = append(lines, ndjsonLine{l, n})
			if len(lines) > cfg.MaxRecords {
				break // one too many: an error unless a line before is not JSON
			}
		}
	}
	tooMany := len(lines) > cfg.MaxRecords

	recs := make([]session.Record, len(lines))
	parts := splitChunks(len(lines))
	results := make([]chunkResult, len(parts))
	var (
		wg       sync.WaitGroup
		panicMu  sync.Mutex
		panicked any
	)
	for c, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic is handed to the caller's goroutine, where the
			// line-by-line decoder would have raised it (net/http
			// recovers it there) instead of ending the process.
			defer func() {
				if p := recover(); p != nil {
					panicMu.Lock()
					panicked = p
					panicMu.Unlock()
				}
			}()
			results[c] = decodeChunk(lines, recs, p[0], p[1], cfg.MaxRecords, account)
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}

	for _, r := range results {
		if r.syntax != nil {
			return nil, r.syntax
		}
	}
	if tooMany {
		return nil, &TooManyError{Max: cfg.MaxRecords}
	}
	if readErr != nil {
		return nil, readErr
	}
	berr := problemList{max: cfg.MaxProblems}
	for _, r := range results {
		berr.add(r.problems)
	}
	if !berr.empty() {
		return nil, &berr.BatchError
	}
	return recs, nil
}

// splitChunks cuts n lines into one [from, to) range per core.
func splitChunks(n int) [][2]int {
	w := runtime.GOMAXPROCS(0)
	if n < parallelMin || w < 2 {
		return [][2]int{{0, n}}
	}
	var out [][2]int
	for c := range w {
		out = append(out, [2]int{n * c / w, n * (c + 1) / w})
	}
	return out
}

// chunkResult is what decoding one chunk found: its first syntax error
// (after which it stops), and the problems of its records in order.
type chunkResult struct {
	syntax   *SyntaxError
	problems []Problem
}

// decodeChunk checks and decodes lines[from:to] into recs[from:to]. The
// line at index max, if any, is only checked: it is past the limit.
func decodeChunk(lines []ndjsonLine, recs []session.Record, from, to, max int, account pgtext.NullUUID) chunkResult {
	var res chunkResult
	for i := from; i < to; i++ {
		l := lines[i]
		if !validJSON(l.b) {
			var raw json.RawMessage
			reason := "not a JSON value"
			if uerr := json.Unmarshal(l.b, &raw); uerr != nil {
				reason = uerr.Error()
			}
			res.syntax = &SyntaxError{Index: i, Line: l.line, Reason: reason}
			return res
		}
		if i >= max {
			continue
		}
		var problems []Problem
		recs[i], problems = decodeRecord(l.b, i, account)
		res.problems = append(res.problems, problems...)
	}
	return res
}
