//go:build !linux

package sqlite

// diskSpace is unknown (-1) on systems other than Linux: CheckWrite then
// relies on its probe write and on the last write's error.
func diskSpace(dir string) (free int64, readOnly bool, err error) { return -1, false, nil }
