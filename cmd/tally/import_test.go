package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
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
