// Package disktest gives tests real file systems that fail the way disks
// do: a small tmpfs that fills up, or one remounted read-only, so the
// store's and the server's answers to a full disk or a read-only data
// directory are checked against the operating system's own errors, not
// fakes. Mounting needs root (CAP_SYS_ADMIN); without it the tests that
// need a mount skip, unless TALLY_REQUIRE_MOUNT=1 makes them fail.
//
// disktest is imported only by tests.
package disktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of sizeBytes on a new temporary directory and
// returns it; it is unmounted when the test ends.
func Tmpfs(t testing.TB, sizeBytes int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", sizeBytes), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("TALLY_REQUIRE_MOUNT") == "1" {
			t.Fatalf("mount a tmpfs: %v: %s", err, out)
		}
		t.Skipf("this test needs to mount a tmpfs (root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Lazy: a server under test may still hold files open.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Remount makes the tmpfs at dir read-only, or writable again.
func Remount(t testing.TB, dir string, readOnly bool) {
	t.Helper()
	mode := "remount,rw"
	if readOnly {
		mode = "remount,ro"
	}
	if out, err := exec.Command("mount", "-o", mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -o %s %s: %v: %s", mode, dir, err, out)
	}
}

// Fill writes a file in dir until the file system is full and returns its
// path; removing it frees the space again.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
}
