package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
	"github.com/tally-server/tally/internal/testseed"
)

func TestImportNDJSONAndCSV(t *testing.T) {
	dir := t.TempDir()
	ndjson := filepath.Join(dir, "s.ndjson")
	os.WriteFile(ndjson, []byte(rec("a", `,"end_time":"2024-01-08T11:00:00"`)+"\n\n"+rec("b", "")+"\n"), 0o644)
	csvPath := filepath.Join(dir, "s.csv")
	os.WriteFile(csvPath, []byte("session_id,start_time,end_time,channel,agent_ids,is_test,brain_version\n"+
		"c,2024-01-08 12:00,,web,\"{x,y}\",false,3\n"+
		"d,2024-01-08 13:00,2024-01-08 14:00,,\"[\"\"z\"\"]\",true,\n"), 0o644)
	data := filepath.Join(dir, "data")
	for _, f := range []string{ndjson, csvPath} {
		var out, errb strings.Builder
		if code := run(t.Context(), []string{"import", "--data-dir", data, "--account", acct, f}, &out, &errb, func(string) string { return "" }); code != exitOK {
			t.Fatalf("import %s: exit %d: %s", f, code, errb.String())
		}
	}
	// A file with one bad record writes nothing.
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(rec("e", "")+"\n"+rec("f", `,"desk_id":"nope"`)+"\n"), 0o644)
	var out, errb strings.Builder
	if code := run(t.Context(), []string{"import", "--data-dir", data, bad}, &out, &errb, func(string) string { return "" }); code != exitFailure {
		t.Fatalf("bad import: exit %d", code)
	}
	if !strings.Contains(errb.String(), "record 2: desk_id") || !strings.Contains(errb.String(), "nothing was written") {
		t.Errorf("bad import stderr: %s", errb.String())
	}
	s := servertest.Start(t, servertest.Options{Dir: data})
	r := s.Query(t, acct, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08"}) { open_sessions closed_sessions } }`, nil)
	if got := string(r.Data["r"]); got != `[{"open_sessions":2,"closed_sessions":2}]` {
		t.Fatalf("after import: %s", got)
	}
	r = s.Query(t, acct, `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08", agent_ids: "{y}", brain_versions: "{3}"}) { open_sessions closed_sessions } }`, nil)
	if got := string(r.Data["r"]); got != `[{"open_sessions":1,"closed_sessions":0}]` {
		t.Fatalf("CSV array and number columns: %s", got)
	}
}

// TestImportAnswersAsSerialUpserts: an import whose batches meet each
// other's sessions (each batch's stored rows are read while the one
// before it is written) stores what writing its batches one after
// another stores.
func TestImportAnswersAsSerialUpserts(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	var file strings.Builder
	for range 3*importBatch + 500 {
		fmt.Fprintf(&file, `{"account_id":%q,"session_id":"s%d","start_time":"2024-01-%02dT10:00:00","channel":"c%d"`, acct, rng.Intn(6000), 1+rng.Intn(28), rng.Intn(3))
		if rng.Intn(10) < 7 {
			fmt.Fprintf(&file, `,"updated_at":"2024-02-01T00:00:%02d"`, rng.Intn(60))
		}
		file.WriteString("}\n")
	}
	path := filepath.Join(dir, "s.ndjson")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	imported := filepath.Join(dir, "imported")
	var out, errb strings.Builder
	if code := run(ctx, []string{"import", "--data-dir", imported, path}, &out, &errb, func(string) string { return "" }); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	serial, err := sqlite.Open(ctx, filepath.Join(dir, "serial"))
	if err != nil {
		t.Fatal(err)
	}
	defer serial.Close()
	if err := ingest.ReadBatches(strings.NewReader(file.String()), ingest.FormatNDJSON, pgtext.NullUUID{}, importBatch, func(b []session.Record) error {
		_, _, err := serial.Upsert(ctx, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, imported)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rows := func(s *sqlite.Store) []string {
		var out []string
		if err := s.Scan(ctx, func(r *session.Record) error { out = append(out, fmt.Sprintf("%+v", *r)); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	if got, want := rows(store), rows(serial); !slices.Equal(got, want) {
		t.Fatalf("the import stored %d rows unlike the %d of serial upserts", len(got), len(want))
	}
}

// TestImportWritesNothingUnlessAllIsValid: an invalid record after
// batches that were already written (in the import's one transaction)
// leaves the store as it was, and is named by its line.
func TestImportWritesNothingUnlessAllIsValid(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var good, bad strings.Builder
	for i := range 100 {
		fmt.Fprintf(&good, `{"account_id":%q,"session_id":"before-%d","start_time":"2024-01-08T10:00:00"}`+"\n", acct, i)
	}
	for i := range 2*importBatch + 500 {
		if i == 2*importBatch+100 {
			fmt.Fprintf(&bad, `{"account_id":%q,"session_id":"x","start_time":"not a time"}`+"\n", acct)
			continue
		}
		fmt.Fprintf(&bad, `{"account_id":%q,"session_id":"s%d","start_time":"2024-01-09T10:00:00"}`+"\n", acct, i)
	}
	goodPath, badPath := filepath.Join(dir, "good.ndjson"), filepath.Join(dir, "bad.ndjson")
	os.WriteFile(goodPath, []byte(good.String()), 0o644)
	os.WriteFile(badPath, []byte(bad.String()), 0o644)
	var out, errb strings.Builder
	if code := run(ctx, []string{"import", "--data-dir", data, goodPath}, &out, &errb, func(string) string { return "" }); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"import", "--data-dir", data, badPath}, &out, &errb, func(string) string { return "" }); code != exitFailure {
		t.Fatalf("bad import: exit %d", code)
	}
	if msg := errb.String(); !strings.Contains(msg, fmt.Sprintf("record %d: start_time", 2*importBatch+101)) || !strings.Contains(msg, "nothing was written") {
		t.Errorf("bad import stderr: %s", msg)
	}
	store, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := store.Count(ctx); err != nil || n != 100 {
		t.Fatalf("%d sessions stored after the failed import, want the 100 from before (%v)", n, err)
	}
}
