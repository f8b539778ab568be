package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/session"
)

// damaged stores n sessions in a new directory, then damages its database
// file as how says.
func damaged(t *testing.T, how string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var recs []session.Record
	for i := range 20000 {
		recs = append(recs, record(i))
	}
	if _, _, err := s.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	s.Close() // checkpoints the WAL into the file
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch how {
	case "pages":
		for i := len(b) / 2; i < len(b)/2+16384; i++ {
			b[i] = 0x5a
		}
	case "header":
		copy(b, strings.Repeat("not a database ", 10))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDamagedDatabaseNamesTheFile: issue 9, finding 11 — a damaged file
// said "database disk image is malformed (11)" without its path.
func TestDamagedDatabaseNamesTheFile(t *testing.T) {
	for _, how := range []string{"pages", "header"} {
		t.Run(how, func(t *testing.T) {
			dir := damaged(t, how)
			// What the embedded backend does at start: open, count, load.
			s, err := Open(t.Context(), dir)
			if err == nil {
				defer s.Close()
				if _, err = s.Count(t.Context()); err == nil {
					err = s.Scan(t.Context(), func(*session.Record) error { return nil })
				}
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("a damaged database: %v (%T)", err, err)
			}
			path := filepath.Join(dir, FileName)
			for _, want := range []string{path, "damaged", "backup", ".recover"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
		})
	}
}

// TestFullDatabaseIsTemporary: SQLITE_FULL (here from max_page_count, the
// same result code a full disk gives) is a *FullError, temporary, and
// nothing of the batch is written.
func TestFullDatabaseIsTemporary(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.db.ExecContext(ctx, `PRAGMA max_page_count = 40`); err != nil {
		t.Fatal(err)
	}
	var recs []session.Record
	for i := range 5000 {
		recs = append(recs, record(i))
	}
	_, _, err = s.Upsert(ctx, recs)
	var fe *FullError
	if !errors.As(err, &fe) || !errors.Is(err, session.ErrTemporary) || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "full") {
		t.Fatalf("a full database: %v (%T)", err, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("after a failed batch: %d sessions (%v)", n, err)
	}
	// A batch that fits still goes in.
	if _, _, err := s.Upsert(ctx, recs[:1]); err != nil {
		t.Fatalf("a small batch after the failure: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		code      int
		temporary bool
		kind      string
	}{
		{codeBusy, true, ""}, {codeLocked, true, ""}, {codeIOErr | 3<<8, true, ""},
		{codeFull, true, "*sqlite.FullError"}, {codeReadOnly, false, "*sqlite.ReadOnlyError"},
		{codeCorrupt, false, "*sqlite.CorruptError"}, {codeNotADB, false, "*sqlite.CorruptError"},
		{1, false, "*sqlite.codeError"},
	} {
		err := classify("/data/tally.db", fmt.Errorf("upsert: %w", &codeError{c.code}))
		if errors.Is(err, session.ErrTemporary) != c.temporary {
			t.Errorf("code %d: temporary %v, want %v", c.code, !c.temporary, c.temporary)
		}
		var ce *codeError
		if !errors.As(err, &ce) {
			t.Errorf("code %d: the cause is lost: %v", c.code, err)
		}
		if got := fmt.Sprintf("%T", err); c.kind != "" && got != c.kind && !(c.kind == "*sqlite.codeError" && got == "*fmt.wrapError") {
			t.Errorf("code %d: %s, want %s", c.code, got, c.kind)
		}
	}
	if classify("x", nil) != nil {
		t.Error("nil is not nil")
	}
}

// codeError stands for modernc.org/sqlite's error: a message and a result
// code.
type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("sqlite error (%d)", e.code) }
func (e *codeError) Code() int     { return e.code }

// TestReadOnlyStoreFailsItsWriteCheck: a store whose writes SQLite refuses
// as read-only (query_only gives the SQLITE_READONLY a read-only file
// does) fails writes with *ReadOnlyError, permanent, and CheckWrite says
// so until writes work again.
func TestReadOnlyStoreFailsItsWriteCheck(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckWrite(ctx); err != nil {
		t.Fatalf("a new store: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA query_only = ON`); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Upsert(ctx, []session.Record{record(1)})
	var re *ReadOnlyError
	if !errors.As(err, &re) || errors.Is(err, session.ErrTemporary) || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("a write to a read-only store: %v (%T)", err, err)
	}
	// Reported at once, although the last probe passed moments ago.
	if err := s.CheckWrite(ctx); !errors.As(err, &re) {
		t.Fatalf("CheckWrite after a read-only failure: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA query_only = OFF`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Upsert(ctx, []session.Record{record(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWrite(ctx); err != nil {
		t.Fatalf("CheckWrite once a write succeeded: %v", err)
	}
}
