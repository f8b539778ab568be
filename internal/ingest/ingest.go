// Package ingest decodes and validates a batch of sessions sent to
// POST /v1/sessions (NDJSON or a JSON array) into session.Records. A batch
// is all or nothing: Decode returns either every record valid or a
// *BatchError listing each bad record's index, field and reason.
//
// ingest knows no HTTP and no store; the server hands it a reader and
// passes the records on.
package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Limits on one record's fields. They are part of the API: see the
// ingestion section of docs/api.md.
const (
	MaxSessionIDBytes = 256
	MaxChannelBytes   = 64
	MaxAgentIDs       = 100
	MaxAgentIDBytes   = 128
)

// Config bounds a batch. The zero value uses the defaults (WithDefaults).
type Config struct {
	// MaxRecords is the most records one batch may hold (default 100000).
	MaxRecords int
	// MaxProblems is the most problems a BatchError lists (default 100).
	MaxProblems int
	// SizeHint is the body's length when known (an HTTP Content-Length),
	// else 0. An NDJSON body is read whole into a buffer of that size,
	// rather than one grown by doubling (which briefly holds twice the
	// body).
	SizeHint int64
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.MaxRecords <= 0 {
		c.MaxRecords = 100000
	}
	if c.MaxProblems <= 0 {
		c.MaxProblems = 100
	}
	return c
}

// Problem is one thing wrong with one record. Index is the record's
// 0-based position in the batch; Field is the JSON field, or "" when the
// record as a whole is wrong.
type Problem struct {
	Index  int    `json:"index"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// BatchError is a batch with invalid records; nothing of it may be written.
type BatchError struct {
	Problems []Problem
	// More counts problems found beyond those listed.
	More int
}

func (e *BatchError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid batch"
	}
	p := e.Problems[0]
	msg := fmt.Sprintf("record %d", p.Index)
	if p.Field != "" {
		msg += " field " + p.Field
	}
	msg += ": " + p.Reason
	if n := len(e.Problems) + e.More - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return msg
}

// TooManyError is a batch with more records than Config.MaxRecords.
type TooManyError struct{ Max int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("the batch has more than %d records, the limit per request (--max-ingest-records); split it into smaller batches", e.Max)
}

// SyntaxError is a body that is not NDJSON or a JSON array of objects.
type SyntaxError struct {
	Index  int   // the record being read when the syntax broke
	Line   int   // NDJSON: the 1-based line; 0 for a JSON array
	Offset int64 // JSON array: the byte offset
	Reason string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("near byte %d", e.Offset)
	if e.Line > 0 {
		where = fmt.Sprintf("on line %d", e.Line)
	}
	return fmt.Sprintf("body is not valid JSON %s (record %d): %s; send one JSON object per line (application/x-ndjson) or a JSON array of objects", where, e.Index, e.Reason)
}

// Decode reads a whole batch. When account is valid, records may omit
// account_id and must not name another account; otherwise every record
// needs account_id.
//
// An NDJSON body is read whole, cut into lines, and its lines are checked
// and decoded on every core (ndjson.go); the answer is the same as
// reading it line by line: the first syntax error in body order wins,
// then too many records, then the reader's error, then the records'
// problems in order.
func Decode(r io.Reader, account pgtext.NullUUID, cfg Config) ([]session.Record, error) {
	cfg = cfg.WithDefaults()
	if b, ok := r.(*bytes.Buffer); ok {
		// A body already in memory (ReadBatches) is decoded where it
		// is rather than copied; an array goes the usual way.
		data := b.Bytes()
		first := bytes.TrimLeft(data, " \t\r\n")
		if len(first) == 0 {
			b.Reset()
			return nil, nil
		}
		if first[0] != '[' {
			b.Next(len(data))
			return decodeNDJSONData(data, nil, account, cfg)
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if first != '[' {
		return decodeNDJSON(br, account, cfg)
	}
	var index int
	next, err := arrayReader(br, &index)
	if err != nil {
		return nil, err
	}
	return decodeStream(next, &index, account, cfg)
}

// decodeStream decodes the records next returns, one by one.
func decodeStream(next func() (json.RawMessage, error), index *int, account pgtext.NullUUID, cfg Config) ([]session.Record, error) {
	var (
		recs []session.Record
		berr = problemList{max: cfg.MaxProblems}
	)
	for {
		raw, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if *index >= cfg.MaxRecords {
			return nil, &TooManyError{Max: cfg.MaxRecords}
		}
		rec, problems := decodeRecord(raw, *index, account)
		berr.add(problems)
		if len(problems) == 0 && berr.empty() {
			recs = append(recs, rec)
		}
		*index++
	}
	if !berr.empty() {
		return nil, &berr.BatchError
	}
	return recs, nil
}

// problemList gathers a batch's problems in record order, listing the
// first max.
type problemList struct {
	BatchError
	max int
}

func (l *problemList) add(ps []Problem) {
	for _, p := range ps {
		if len(l.Problems) < l.max {
			l.Problems = append(l.Problems, p)
		} else {
			l.More++
		}
	}
}

func (l *problemList) empty() bool { return len(l.Problems) == 0 && l.More == 0 }

// arrayReader returns the elements of a JSON array one by one.
func arrayReader(br *bufio.Reader, index *int) (func() (json.RawMessage, error), error) {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil {
		return nil, syntaxOrRead(err, 0, dec.InputOffset())
	}
	return func() (json.RawMessage, error) {
		if !dec.More() {
			if _, err := dec.Token(); err != nil {
				return nil, syntaxOrRead(err, *index, dec.InputOffset())
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, &SyntaxError{Index: *index, Offset: dec.InputOffset(), Reason: "unexpected data after the closing ]"}
			}
			return nil, io.EOF
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, syntaxOrRead(err, *index, dec.InputOffset())
		}
		return raw, nil
	}, nil
}

func syntaxOrRead(err error, index int, offset int64) error {
	if isReadError(err) {
		return err
	}
	return &SyntaxError{Index: index, Offset: offset, Reason: err.Error()}
}

// readError marks errors from the underlying reader (a size limit, a
// broken gzip stream) that must not be reported as JSON syntax.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func isReadError(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

// ReaderErrors wraps r so that its errors reach Decode's caller unchanged
// instead of being reported as JSON syntax errors.
func ReaderErrors(r io.Reader) io.Reader { return errReader{r} }

type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, br.UnreadByte()
		}
	}
}

// fieldNames are the members a record may have, in the order of object.v.
var fieldNames = [...]string{"account_id", "session_id", "desk_id", "brain_parent_id", "integration_id",
	"brain_version", "channel", "agent_ids", "is_test", "start_time", "end_time", "updated_at"}

// fieldIndex is name's index in fieldNames, -1 when it is not a field.
// plainString returns the text of the JSON string v when it needs no
// decoding: quoted, printable ASCII without escapes.
func plainString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	body := v[1 : len(v)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return body, true
}

// fieldIndexBytes is fieldIndex(string(name)) without making the string.
func fieldIndexBytes(name []byte) int {
	for i, f := range fieldNames {
		if string(name) == f {
			return i
		}
	}
	return -1
}

func fieldIndex(name string) int {
	for i, f := range fieldNames {
		if f == name {
			return i
		}
	}
	return -1
}

// object is a record's known members, as raw JSON values (nil: absent).
type object struct {
	v [len(fieldNames)]json.RawMessage
}

// get is the member called name (one of fieldNames) and whether it is
// present.
func (o *object) get(name string) (json.RawMessage, bool) {
	v := o.v[fieldIndex(name)]
	return v, v != nil
}

// splitObject splits a JSON object (already known to be valid JSON) into
// its known members and the names of unknown ones, without decoding the
// values. It reports false when raw is not an object. Keys match exactly;
// the last of duplicate keys wins.
func splitObject(raw []byte) (*object, []string, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, nil, false
	}
	obj := new(object)
	var unknown []string
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return obj, nil, true
	}
	for i < len(raw) {
		kEnd := skipString(raw, i)
		// A plain key (the usual) is matched where it is; only an
		// unknown one is made a string.
		var f int
		if body, ok := plainString(raw[i:kEnd]); ok {
			if f = fieldIndexBytes(body); f < 0 {
				unknown = append(unknown, string(body))
			}
		} else {
			key, ok := unquote(raw[i:kEnd])
			if !ok {
				return nil, nil, false
			}
			if f = fieldIndex(key); f < 0 {
				unknown = append(unknown, key)
			}
		}
		i = skipSpace(raw, kEnd)
		i = skipSpace(raw, i+1) // the colon
		vEnd := skipValue(raw, i)
		if f >= 0 {
			obj.v[f] = raw[i:vEnd]
		}
		i = skipSpace(raw, vEnd)
		if i >= len(raw) || raw[i] == '}' {
			break
		}
		i = skipSpace(raw, i+1) // the comma
	}
	return obj, unknown, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// unquote decodes a JSON string value; false when v is not a string.
// Plain ASCII-safe strings are sliced directly; anything with escapes or
// non-ASCII bytes goes through encoding/json, which would replace invalid
// UTF-8 and lone surrogates: decodeRecord checks the text first
// (textProblem).
func unquote(v []byte) (string, bool) {
	if body, ok := plainString(v); ok {
		return string(body), true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func decodeRecord(raw json.RawMessage, index int, account pgtext.NullUUID) (session.Record, []Problem) {
	var rec session.Record
	var problems []Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, Problem{Index: index, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	obj, unknown, ok := splitObject(raw)
	if !ok {
		bad("", "a record must be a JSON object, got %s", jsonKind(raw))
		return rec, problems
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		bad(k, "unknown field; known fields are account_id, session_id, desk_id, brain_parent_id, integration_id, brain_version, channel, agent_ids, is_test, start_time, end_time, updated_at")
	}
	// goodText checks a field's strings as sent (text.go).
	goodText := func(field string, v json.RawMessage) bool {
		if off, why := textProblem(v); off >= 0 {
			bad(field, "has %s at byte %d of the record; text must be valid UTF-8 without NUL", why, offsetIn(raw, v)+off)
			return false
		}
		return true
	}
	str := func(field string, required bool) (string, bool) {
		v, ok := obj.get(field)
		if !ok || isNull(v) {
			if required {
				bad(field, "is required")
			}
			return "", false
		}
		if !goodText(field, v) {
			return "", false
		}
		s, ok := unquote(v)
		if !ok {
			bad(field, "must be a string, got %s", jsonKind(v))
			return "", false
		}
		return s, true
	}
	uuidField := func(field string) pgtext.NullUUID {
		// A plain string that is a UUID (the usual) is read where it
		// is; anything else takes the general path and its errors.
		if v, ok := obj.get(field); ok {
			if body, ok := plainString(v); ok {
				if u, err := pgtext.ParseUUIDBytes(body); err == nil {
					return pgtext.NullUUID{UUID: u, Valid: true}
				}
			}
		}
		s, ok := str(field, false)
		if !ok {
			return pgtext.NullUUID{}
		}
		u, err := pgtext.ParseUUID(s)
		if err != nil {
			bad(field, "%q is not a UUID; expected 32 hexadecimal digits such as \"d2be0283-9b53-4d7b-b77d-2650f3a1a99c\"", s)
			return pgtext.NullUUID{}
		}
		return pgtext.NullUUID{UUID: u, Valid: true}
	}
	tsField := func(field string, required bool) (int64, bool) {
		s, ok := str(field, required)
		if !ok {
			return 0, false
		}
		ts, err := pgtext.ParseTimestamp(s)
		if err != nil {
			bad(field, "%v", err)
			return 0, false
		}
		return ts, true
	}

	acc := uuidField("account_id")
	switch {
	case acc.Valid && account.Valid && acc.UUID != account.UUID:
		bad("account_id", "names account %s but this request may only write account %s", acc.UUID, account.UUID)
	case acc.Valid:
		rec.AccountID = acc.UUID
	case account.Valid:
		rec.AccountID = account.UUID
	default:
		if v, present := obj.get("account_id"); !present || isNull(v) {
			bad("account_id", "is required when the request does not name an account (send X-Moveo-Account-Id or use an API key)")
		}
	}
	if id, ok := str("session_id", true); ok {
		switch {
		case id == "":
			bad("session_id", "must not be empty")
		case len(id) > MaxSessionIDBytes:
			bad("session_id", "is %d bytes long; the limit is %d", len(id), MaxSessionIDBytes)
		default:
			rec.SessionID = id
		}
	}
	rec.DeskID = uuidField("desk_id")
	rec.BrainParentID = uuidField("brain_parent_id")
	rec.IntegrationID = uuidField("integration_id")
	if v, ok := obj.get("brain_version"); ok && !isNull(v) {
		var n json.Number
		if i, ok := plainInt32(v); ok {
			rec.BrainVersion = pgtext.NullInt4{Int32: i, Valid: true}
		} else if jsonKind(v) != "a number" {
			bad("brain_version", "must be an integer, got %s", jsonKind(v))
		} else if err := json.Unmarshal(v, &n); err != nil {
			bad("brain_version", "must be an integer, got %s", jsonKind(v))
		} else if i, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			bad("brain_version", "%s is not an integer between -2147483648 and 2147483647", n)
		} else {
			rec.BrainVersion = pgtext.NullInt4{Int32: int32(i), Valid: true}
		}
	}
	if ch, ok := str("channel", false); ok {
		if len(ch) > MaxChannelBytes {
			bad("channel", "is %d bytes long; the limit is %d", len(ch), MaxChannelBytes)
		} else {
			rec.Channel = session.NullString{String: ch, Valid: true}
		}
	}
	rec.AgentIDs = []string{}
	if v, ok := obj.get("agent_ids"); ok && !isNull(v) && goodText("agent_ids", v) {
		if ids, err := stringArray(v); err != nil {
			bad("agent_ids", "must be an array of strings, got %s", jsonKind(v))
		} else if len(ids) > MaxAgentIDs {
			bad("agent_ids", "has %d entries; the limit is %d", len(ids), MaxAgentIDs)
		} else {
			for i, id := range ids {
				switch {
				case id == nil:
					bad("agent_ids", "entry %d is null; entries must be strings", i)
				case *id == "" || len(*id) > MaxAgentIDBytes:
					bad("agent_ids", "entry %d must be 1 to %d bytes long", i, MaxAgentIDBytes)
				default:
					rec.AgentIDs = append(rec.AgentIDs, *id)
				}
			}
		}
	}
	if v, ok := obj.get("is_test"); ok && !isNull(v) {
		switch string(v) {
		case "true":
			rec.IsTest = true
		case "false":
		default:
			bad("is_test", "must be true or false, got %s", jsonKind(v))
		}
	}
	if ts, ok := tsField("start_time", true); ok {
		rec.StartMicros = ts
	}
	if ts, ok := tsField("end_time", false); ok {
		rec.EndMicros, rec.HasEnd = ts, true
		if _, ok := obj.get("start_time"); ok && ts < rec.StartMicros {
			bad("end_time", "%s is before start_time %s", pgtext.FormatTimestamp(ts), pgtext.FormatTimestamp(rec.StartMicros))
		}
	}
	if ts, ok := tsField("updated_at", false); ok {
		rec.UpdatedMicros, rec.HasUpdated = ts, true
	}
	return rec, problems
}

// plainInt32 reads v when it is an integer literal without sign, fraction
// or exponent other than a leading minus, within int32: the usual
// brain_version. Anything else is left to the general path.
func plainInt32(v []byte) (int32, bool) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 10 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 32)
	return int32(n), err == nil
}

// stringArray decodes agent_ids, a JSON array whose entries may be null.
// An array of plain strings (no escapes, ASCII: unquote's simple case)
// is read directly; anything else goes through encoding/json.
func stringArray(v []byte) ([]*string, error) {
	i := skipSpace(v, 0)
	if i < len(v) && v[i] == '[' {
		var out []*string
		i = skipSpace(v, i+1)
		if i < len(v) && v[i] == ']' && skipSpace(v, i+1) == len(v) {
			return []*string{}, nil
		}
		for i < len(v) && v[i] == '"' {
			end := skipString(v, i)
			s, ok := unquote(v[i:end])
			if !ok || bytes.IndexByte(v[i:end], '\\') >= 0 {
				break
			}
			out = append(out, &s)
			i = skipSpace(v, end)
			if i < len(v) && v[i] == ']' {
				if skipSpace(v, i+1) == len(v) {
					return out, nil
				}
				break
			}
			if i >= len(v) || v[i] != ',' {
				break
			}
			i = skipSpace(v, i+1)
		}
	}
	var ids []*string
	err := json.Unmarshal(v, &ids)
	return ids, err
}
