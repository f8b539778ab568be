package sqlite

import "syscall"

// stRdonly is statfs's flag of a read-only mount (ST_RDONLY in
// <sys/statvfs.h>).
const stRdonly = 1

// diskSpace returns the bytes an unprivileged writer may still use on
// dir's file system and whether it is mounted read-only.
func diskSpace(dir string) (free int64, readOnly bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return int64(st.Bavail) * int64(st.Bsize), st.Flags&stRdonly != 0, nil
}
