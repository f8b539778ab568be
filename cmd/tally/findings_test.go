package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/disktest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// The small findings of issue 9 (finding 11) that the CLI answers.

// TestKeyNamesAreSafeToPrint: tally keys list printed key names raw, so a
// name could rewrite the operator's terminal. New names with control
// characters are refused; one stored before that rule is printed escaped.
func TestKeyNamesAreSafeToPrint(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out, errb strings.Builder
	code := run(t.Context(), []string{"keys", "create", "--data-dir", dir, "--account", acct, "--name", "evil\x1b[2J"}, &out, &errb, env)
	if code != exitUsage || !strings.Contains(errb.String(), "--name") || !strings.Contains(errb.String(), "control character") {
		t.Fatalf("create with a control character: exit %d %q", code, errb.String())
	}
	// A key stored by an older Tally, whose name nothing checked.
	store, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	_, k, err := apikey.New(pgtext.UUID{7}, []apikey.Scope{apikey.Read}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.Name = "old\x1b[31mred\nFAKE ROW"
	if err := store.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	store.Close()
	out.Reset()
	if code := run(t.Context(), []string{"keys", "list", "--data-dir", dir}, &out, &errb, env); code != exitOK {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	if strings.ContainsAny(out.String(), "\x1b") || strings.Contains(out.String(), "\nFAKE ROW") || !strings.Contains(out.String(), `"old\x1b[31mred\nFAKE ROW"`) {
		t.Errorf("list printed a name raw:\n%s", out.String())
	}
}

// TestReadOnlyDataDirectory: serve on a read-only data directory said
// "unable to open database file (14)"; it says the directory is
// read-only, with its path.
func TestReadOnlyDataDirectory(t *testing.T) {
	dir := disktest.Tmpfs(t, 1<<20)
	disktest.Remount(t, dir, true)
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir},
		{"keys", "list", "--data-dir", dir},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), args, &out, &errb, func(string) string { return "" })
		if code != exitFailure || !strings.Contains(errb.String(), "data directory "+dir+" is read-only") {
			t.Errorf("tally %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
	}
}

// TestDamagedDatabaseAtStart: a damaged database said "database disk
// image is malformed (11)" without the file's path; it names the file and
// what to do.
func TestDamagedDatabaseAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "sessions.ndjson")
	var b strings.Builder
	for k := range 20 {
		b.Write(batchFor(k, 1000))
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	env := func(string) string { return "" }
	if code := run(t.Context(), []string{"import", "--data-dir", dir, file}, &out, &errb, env); code != exitOK {
		t.Fatalf("import: %d %s", code, errb.String())
	}
	db := filepath.Join(dir, sqlite.FileName)
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+16384; i++ {
		data[i] = 0x5a
	}
	if err := os.WriteFile(db, data, 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	code := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, &out, &errb, env)
	if code != exitFailure || !strings.Contains(errb.String(), "the database file "+db+" is damaged") || !strings.Contains(errb.String(), "backup") {
		t.Errorf("serve on a damaged database: exit %d\n%s", code, errb.String())
	}
}
