package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/disktest"
	"github.com/tally-server/tally/internal/session"
)

func TestLockDirExcludesASecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want this pid %d", b, err, os.Getpid())
	}
	// The lock is per open file: a second holder in this very process is
	// refused as another process would be.
	_, err = LockDir(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || le.Dir != dir {
		t.Fatalf("second LockDir: %v", err)
	}
	for _, want := range []string{dir, "pid " + strconv.Itoa(os.Getpid()), "--data-dir", LockFileName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l2.Unlock()
}

func TestReadOnlyDataDirectorySaysSo(t *testing.T) {
	dir := readOnlyDir(t)
	_, err := LockDir(dir)
	var re *ReadOnlyError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("LockDir on a read-only directory: %v", err)
	}
	// tally keys opens the store without the lock: Open says the same.
	_, err = Open(t.Context(), dir)
	if !errors.As(err, &re) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Open on a read-only directory: %v", err)
	}
}

// readOnlyDir is an empty directory this process cannot write: a
// read-only tmpfs when running as root (root ignores permissions), a
// directory without write permission otherwise.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	dir := disktest.Tmpfs(t, 1<<20)
	disktest.Remount(t, dir, true)
	return dir
}

// TestCopyTo: a copy made while the store is open holds what it held.
func TestCopyTo(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Upsert(ctx, []session.Record{record(1), record(2)}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := s.CopyTo(ctx, dir); err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Count(ctx); err != nil || n != 2 {
		t.Fatalf("the copy holds %d sessions (%v), want 2", n, err)
	}
}
