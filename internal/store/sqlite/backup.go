package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// CopyTo writes a consistent copy of the database as the database file of
// the data directory dir (created if needed; it must not hold one yet),
// with SQLite's VACUUM INTO, while the store stays open and in use: a
// backup, or the data of a second store (a data directory has one owner,
// so two processes never share one).
func (s *Store) CopyTo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("copy %s: %w", s.path, err)
	}
	dst := filepath.Join(dir, FileName)
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return classify(s.path, fmt.Errorf("copy %s to %s: %w", s.path, dst, err))
	}
	return nil
}
