package sqlite

import (
	"errors"
	"fmt"

	"github.com/tally-server/tally/internal/session"
)

// What SQLite's failures mean to a client and to an operator. SQLite
// reports a result code with each error (sqlite3.h, "Result and Error
// Codes"); its primary code, the low byte, says what kind of failure it
// was:
//
//   - SQLITE_BUSY, SQLITE_LOCKED (another connection holds the database
//     past busy_timeout) and SQLITE_IOERR (the operating system failed a
//     read or write) may pass by themselves: they wrap
//     session.ErrTemporary, so a batch is answered 503 with Retry-After.
//   - SQLITE_FULL (the disk is full) may pass too, once space is freed:
//     *FullError, also temporary.
//   - SQLITE_READONLY, and SQLITE_CANTOPEN on a directory Tally may not
//     write: *ReadOnlyError, permanent until an operator acts.
//   - SQLITE_CORRUPT and SQLITE_NOTADB: *CorruptError, permanent, naming
//     the file and what to do.
//
// Anything else is returned as it is.

// SQLite's primary result codes that Tally tells apart.
const (
	codeBusy     = 5
	codeLocked   = 6
	codeReadOnly = 8
	codeIOErr    = 10
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeNotADB   = 26
)

// resultCode is the primary result code of a SQLite error in err's chain,
// or 0.
func resultCode(err error) int {
	var se interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// FullError is a write that failed because the disk holding the database
// is full (SQLITE_FULL, or too little space left for the health check).
// It is temporary: it passes when space is freed.
type FullError struct {
	Path string // the database file
	// FreeBytes is the space left, when the health check measured it;
	// -1 when SQLite reported the failure.
	FreeBytes int64
	Err       error
}

func (e *FullError) Error() string {
	if e.FreeBytes >= 0 {
		return fmt.Sprintf("the disk holding %s is full (%d bytes free, less than the %d Tally needs to write safely); free space there", e.Path, e.FreeBytes, MinFreeBytes)
	}
	return fmt.Sprintf("the disk holding %s is full (%v); free space there", e.Path, e.Err)
}

func (e *FullError) Unwrap() error { return e.Err }

// Is makes a full disk temporary: errors.Is(err, session.ErrTemporary).
func (e *FullError) Is(target error) bool { return target == session.ErrTemporary }

// CorruptError is a database file SQLite cannot read as a database.
type CorruptError struct {
	Path string // the database file
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the database file %s is damaged (%v): stop Tally, move %s and its -wal and -shm files aside, and restore them from a backup (or rebuild the file with the sqlite3 shell's .recover command); with no file there Tally starts an empty store", e.Path, e.Err, e.Path)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// temporaryError is a SQLite failure that may pass by itself.
type temporaryError struct{ err error }

func (e *temporaryError) Error() string        { return e.err.Error() }
func (e *temporaryError) Unwrap() error        { return e.err }
func (e *temporaryError) Is(target error) bool { return target == session.ErrTemporary }

// classify wraps a SQLite error on the database at path with what it
// means (see above); nil and unknown errors are returned unchanged.
func classify(path string, err error) error {
	if err == nil {
		return nil
	}
	var (
		fe *FullError
		ce *CorruptError
		re *ReadOnlyError
	)
	if errors.As(err, &fe) || errors.As(err, &ce) || errors.As(err, &re) || errors.Is(err, session.ErrTemporary) {
		return err // already classified
	}
	switch resultCode(err) {
	case codeBusy, codeLocked, codeIOErr:
		return &temporaryError{err}
	case codeFull:
		return &FullError{Path: path, FreeBytes: -1, Err: err}
	case codeReadOnly:
		return &ReadOnlyError{Path: path, File: true, Err: err}
	case codeCorrupt, codeNotADB:
		return &CorruptError{Path: path, Err: err}
	}
	return err
}
