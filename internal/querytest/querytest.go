// Package querytest runs query-semantics scripts against any backend, as
// Prometheus's promqltest runs its scripts against any storage: each
// backend's tests call Run with a function that makes a fresh, empty
// backend, and every script of testdata/queries runs on one.
//
// A script is a sequence of commands separated by blank lines; lines
// starting with # are comments. Commands:
//
//	load [ACCOUNT]
//	{"session_id": "a", "start_time": "2024-01-08T10:00:00", ...}
//	...
//	=> accepted N ignored M
//
// ingests the NDJSON records (the lines up to the optional "=>" line or
// the blank line) as POST /v1/sessions would, through ingest.Decode and
// the backend's Ingest, for ACCOUNT (default DefaultAccount: records may
// omit account_id). The "=>" line checks Ingest's answer.
//
//	eval [ACCOUNT]
//	{ r: open_closed_sessions_interval_counts_v2(args: {...}) { ... } }
//	variables {"s": "2024-01-08"}
//	expect
//	{"data":{"r":[...]}}
//
// runs the GraphQL document (one or more lines, up to "variables" or
// "expect") with the optional variables (a JSON object on one line) as
// ACCOUNT, and compares the whole response body with the JSON after
// "expect" (blanks outside strings do not matter; key order does).
// Instead of a body, "expect error CODE PATH" followed by the message on
// the next line expects exactly one error.
//
// querytest is imported only by tests.
package querytest

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

//go:embed testdata/queries/*.txt
var scripts embed.FS

// DefaultAccount is the account of commands that name none.
const DefaultAccount = "d2be0283-9b53-4d7b-b77d-2650f3a1a99c"

// Backend is what the scripts need of a backend: it answers the
// catalogue's queries and takes batches.
type Backend interface {
	analytics.Source
	Ingest(ctx context.Context, recs []session.Record) (accepted, ignored int, err error)
}

// Run runs every script as a subtest of t, each on a backend newBackend
// makes (empty; the function registers its cleanup on the t it is given).
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Helper()
	names, err := fs.Glob(scripts, "testdata/queries/*.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, name := range names {
		text, err := scripts.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		cmds, err := parse(string(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Run(strings.TrimSuffix(path.Base(name), ".txt"), func(t *testing.T) {
			runScript(t, name, cmds, newBackend(t))
		})
	}
}

// command is one load or eval of a script.
type command struct {
	line    int    // where it starts, for messages
	kind    string // "load" or "eval"
	account pgtext.UUID
	body    string // NDJSON records, or the GraphQL document
	// load
	checkIngest       bool
	accepted, ignored int
	// eval
	variables json.RawMessage
	expect    []byte // a compacted JSON body
	errCode   string // or an error
	errPath   string
	errMsg    string
}

func parse(text string) ([]command, error) {
	var (
		cmds  []command
		block []string
		start int
	)
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		c, err := parseCommand(block)
		if err != nil {
			return fmt.Errorf("line %d: %w", start, err)
		}
		c.line = start
		cmds = append(cmds, c)
		block = nil
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if len(block) == 0 {
			start = n
		}
		block = append(block, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return cmds, sc.Err()
}

func parseCommand(block []string) (command, error) {
	var c command
	head := strings.Fields(block[0])
	c.kind = head[0]
	acct := DefaultAccount
	if len(head) > 1 {
		acct = head[1]
	}
	u, err := pgtext.ParseUUID(acct)
	if err != nil {
		return c, fmt.Errorf("account %q: %v", acct, err)
	}
	c.account = u
	rest := block[1:]
	switch c.kind {
	case "load":
		for i, line := range rest {
			if after, ok := strings.CutPrefix(line, "=>"); ok {
				if i != len(rest)-1 {
					return c, fmt.Errorf("the => line must end the load")
				}
				if _, err := fmt.Sscanf(after, " accepted %d ignored %d", &c.accepted, &c.ignored); err != nil {
					return c, fmt.Errorf("want \"=> accepted N ignored M\", got %q", line)
				}
				c.checkIngest = true
				rest = rest[:i]
				break
			}
		}
		c.body = strings.Join(rest, "\n")
		return c, nil
	case "eval":
		i := 0
		for i < len(rest) && !strings.HasPrefix(rest[i], "variables ") && !strings.HasPrefix(rest[i], "expect") {
			i++
		}
		c.body = strings.Join(rest[:i], "\n")
		if i < len(rest) && strings.HasPrefix(rest[i], "variables ") {
			c.variables = json.RawMessage(strings.TrimPrefix(rest[i], "variables "))
			if !json.Valid(c.variables) {
				return c, fmt.Errorf("variables are not JSON: %s", c.variables)
			}
			i++
		}
		if i >= len(rest) {
			return c, fmt.Errorf("eval without expect")
		}
		if f := strings.Fields(rest[i]); len(f) == 4 && f[1] == "error" {
			if i+2 != len(rest) {
				return c, fmt.Errorf("expect error takes the message on one line")
			}
			c.errCode, c.errPath, c.errMsg = f[2], f[3], rest[i+1]
			return c, nil
		}
		if rest[i] != "expect" {
			return c, fmt.Errorf("want \"expect\" or \"expect error CODE PATH\", got %q", rest[i])
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(strings.Join(rest[i+1:], "\n"))); err != nil {
			return c, fmt.Errorf("expected body: %v", err)
		}
		c.expect = buf.Bytes()
		return c, nil
	}
	return c, fmt.Errorf("unknown command %q", c.kind)
}

func runScript(t *testing.T, name string, cmds []command, b Backend) {
	ctx := context.Background()
	exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		where := fmt.Sprintf("%s:%d", name, c.line)
		switch c.kind {
		case "load":
			recs, err := ingest.Decode(strings.NewReader(c.body), pgtext.NullUUID{UUID: c.account, Valid: true}, ingest.Config{})
			if err != nil {
				t.Fatalf("%s: the records do not decode: %v", where, err)
			}
			accepted, ignored, err := b.Ingest(ctx, recs)
			if err != nil {
				t.Fatalf("%s: ingest: %v", where, err)
			}
			if c.checkIngest && (accepted != c.accepted || ignored != c.ignored) {
				t.Errorf("%s: accepted %d ignored %d, want accepted %d ignored %d", where, accepted, ignored, c.accepted, c.ignored)
			}
		case "eval":
			doc := c.body
			req := &graphql.Request{Query: &doc, Variables: c.variables}
			caller := graphql.Caller{Account: pgtext.NullUUID{UUID: c.account, Valid: true}}
			resp := exec.Execute(ctx, caller, req)
			got := resp.AppendJSON(nil)
			if c.expect != nil {
				if !bytes.Equal(got, c.expect) {
					t.Errorf("%s:\n%s\n got %s\nwant %s", where, c.body, got, c.expect)
				}
				continue
			}
			errs := resp.Errors()
			if len(errs) != 1 || errs[0].Code != c.errCode || errs[0].Path.String() != c.errPath || errs[0].Message != c.errMsg {
				t.Errorf("%s:\n%s\n got %s\nwant error %s at %s: %s", where, c.body, got, c.errCode, c.errPath, c.errMsg)
			}
		}
	}
}
