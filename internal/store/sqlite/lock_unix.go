//go:build unix

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld is flock's answer when another open file holds the lock.
var errLockHeld = errors.New("lock held")

// flock takes f's exclusive lock without waiting.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLockHeld
		}
		return err
	}
}

func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// isReadOnly reports whether err says a path cannot be written: a
// read-only file system or a permission refused.
func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission)
}
