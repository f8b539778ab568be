package main

import (
	"os"
	"testing"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/servertest"
)

// The tests of this package are the CLI's, those that run the built
// binary as a real process, and the whole-system differential tests
// against reference.sql on a real PostgreSQL; the HTTP API's own tests are
// in internal/server. Both run Tally through internal/servertest.

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

const acct = servertest.Account

var (
	rec      = servertest.Record
	mustJSON = servertest.MustJSON
)

const countQuery = `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08"}) { open_sessions } }`

// referenceSQL is reference.sql with the search path pinned to public, so
// its unqualified names never meet Tally's schema.
func referenceSQL(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.sql")
	if err != nil {
		t.Fatal(err)
	}
	return "SET search_path = public;\n" + string(b)
}
