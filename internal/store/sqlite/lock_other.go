//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// errLockHeld is never returned here: on systems without flock the data
// directory's lock file records the owner's pid but does not exclude a
// second process.
var errLockHeld = errors.New("lock held")

func flock(f *os.File) error   { return nil }
func funlock(f *os.File) error { return nil }

func isReadOnly(err error) bool { return errors.Is(err, os.ErrPermission) }
