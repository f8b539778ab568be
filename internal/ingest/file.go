package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// File formats ReadBatches reads.
const (
	FormatNDJSON = "ndjson" // one session object per line; blank lines are skipped
	FormatCSV    = "csv"    // a header row naming the fields, then one session per row
)

// ReadBatches reads a file of sessions (tally import) and calls fn with
// each batch of at most batch records, decoded through the same
// validation as POST /v1/sessions (Decode with account). In CSV an empty
// cell is null, brain_version a number, is_test true/t/1 or false, and
// agent_ids a JSON array or a PostgreSQL array literal. Problems name
// their line (NDJSON) or row (CSV), counting from 1 after the header; fn's
// error stops the reading and is returned.
func ReadBatches(r io.Reader, format string, account pgtext.NullUUID, batch int, fn func([]session.Record) error) error {
	var next func() ([]byte, error)
	switch format {
	case FormatCSV:
		cr := csv.NewReader(bufio.NewReader(r))
		header, err := cr.Read()
		if err != nil {
			return fmt.Errorf("reading the CSV header: %w", err)
		}
		next = func() ([]byte, error) {
			row, err := cr.Read()
			if err != nil {
				return nil, err
			}
			return csvRecord(header, row)
		}
	default:
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		next = func() ([]byte, error) {
			for sc.Scan() {
				// The line is valid until the next Scan: the loop
				// below copies it into the batch before that.
				if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
					return line, nil
				}
			}
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
	}
	line := 0
	// One buffer serves every batch: the records decoded from it hold
	// copies of its bytes, never the bytes themselves.
	var buf bytes.Buffer
	for {
		buf.Reset()
		first := line
		n := 0
		for n < batch {
			rec, err := next()
			if err == io.EOF {
				break
			}
			line++
			if err != nil {
				return fmt.Errorf("record %d: %w", line, err)
			}
			buf.Write(rec)
			buf.WriteByte('\n')
			n++
		}
		if n == 0 {
			return nil
		}
		recs, err := Decode(&buf, account, Config{MaxRecords: batch, SizeHint: int64(buf.Len())})
		if err != nil {
			var be *BatchError
			if errors.As(err, &be) {
				var b strings.Builder
				for _, p := range be.Problems {
					fmt.Fprintf(&b, "\n  record %d: %s: %s", first+p.Index+1, p.Field, p.Reason)
				}
				return fmt.Errorf("invalid records:%s", b.String())
			}
			return err
		}
		if err := fn(recs); err != nil {
			return err
		}
	}
}

// csvRecord turns a CSV row into the JSON object ingest reads.
func csvRecord(header, row []string) ([]byte, error) {
	obj := map[string]any{}
	for i, name := range header {
		if i >= len(row) || row[i] == "" {
			continue
		}
		v := row[i]
		// encoding/json would replace invalid UTF-8 below: refuse it
		// here (NUL reaches Decode as \u0000, which refuses it).
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("column %s is not valid UTF-8 (byte 0x%02X at byte %d of the cell); text must be valid UTF-8 without NUL", name, v[invalidAt(v)], invalidAt(v))
		}
		switch name {
		case "brain_version":
			obj[name] = json.Number(v)
		case "is_test":
			obj[name] = strings.EqualFold(v, "true") || v == "1" || strings.EqualFold(v, "t")
		case "agent_ids":
			var ids []string
			if strings.HasPrefix(v, "[") {
				if err := json.Unmarshal([]byte(v), &ids); err != nil {
					return nil, fmt.Errorf("agent_ids: %w", err)
				}
			} else {
				els, err := pgtext.ParseArray(v)
				if err != nil {
					return nil, fmt.Errorf("agent_ids: %w", err)
				}
				for _, e := range els {
					if e != nil {
						ids = append(ids, *e)
					}
				}
			}
			obj[name] = ids
		default:
			obj[name] = v
		}
	}
	return json.Marshal(obj)
}

// invalidAt is the offset of the first byte of s that is not valid UTF-8.
func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}
