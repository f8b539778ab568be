package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// One process owns a data directory (SPEC section 10): tally serve, tally
// demo and tally import take an exclusive lock on a file in it for their
// whole life, so that two writers never keep two engines over one store
// (their counts drift apart: each applies only its own changes). The lock
// is the operating system's (flock on Unix), so it goes away with the
// process, kill -9 included; the file stays, holding the last owner's pid.
// tally keys does not take it: key changes made on the data directory
// while a server runs are the documented way to manage keys offline.

// LockFileName is the lock file inside the data directory.
const LockFileName = "tally.lock"

// DirLock is a held lock on a data directory. Release it with Unlock.
type DirLock struct {
	f   *os.File
	dir string
}

// LockedError is a data directory held by another process.
type LockedError struct {
	Dir string
	// PID is the holder's process id as it wrote it in the lock file, or
	// 0 when the file does not say (the holder is still starting).
	PID  int
	Path string // the lock file
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	return fmt.Sprintf("the data directory %s is in use by %s: one Tally (serve, demo or import) at a time owns it; stop that process first, or use another --data-dir (the lock is %s)", e.Dir, holder, e.Path)
}

// ReadOnlyError is a data directory, or a file in it, that Tally cannot
// write: a read-only file system or missing permissions.
type ReadOnlyError struct {
	Path string // the directory or file
	File bool   // Path is a file in the data directory, not the directory
	Err  error  // the operating system's or SQLite's error
}

func (e *ReadOnlyError) Error() string {
	what := "the data directory"
	if e.File {
		what = "the file"
	}
	return fmt.Sprintf("%s %s is read-only (%v): Tally writes its database, journal and lock file in the data directory; make it writable or choose another --data-dir", what, e.Path, e.Err)
}

func (e *ReadOnlyError) Unwrap() error { return e.Err }

// LockDir creates dir if needed and takes its lock for this process,
// writing the process id into the lock file. It fails with *LockedError
// when another process holds it, and *ReadOnlyError when the directory
// cannot be written. The lock is per open file, so a second LockDir of the
// same directory fails even within one process.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		if isReadOnly(err) {
			return nil, &ReadOnlyError{Path: dir, Err: err}
		}
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		if isReadOnly(err) {
			return nil, &ReadOnlyError{Path: dir, Err: err}
		}
		return nil, fmt.Errorf("open the lock file %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, &LockedError{Dir: dir, PID: holderPID(path), Path: path}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		funlock(f)
		f.Close()
		if isReadOnly(err) {
			return nil, &ReadOnlyError{Path: path, File: true, Err: err}
		}
		return nil, fmt.Errorf("write the lock file %s: %w", path, err)
	}
	return &DirLock{f: f, dir: dir}, nil
}

// holderPID reads the pid the holder wrote. A holder that has just taken
// the lock may not have written it yet, so an empty file is read again a
// few times.
func holderPID(path string) int {
	for range 20 {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// Dir is the locked directory.
func (l *DirLock) Dir() string { return l.dir }

// Unlock releases the lock. The file stays, with the pid of its last
// owner, for the next one to take.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := funlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
