package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tally-server/tally/internal/session"
)

// MinFreeBytes is the free space on the data directory's file system
// below which CheckWrite reports the disk full: a batch's journal needs
// room before SQLite can commit it, and a check that only writes one row
// would pass on a disk that refuses every real batch.
const MinFreeBytes = 1 << 20

// How long CheckWrite trusts its last probe: a passing one for
// probeOKFor, a failing one (or after a failed write) for probeFailFor,
// so a /healthz polled often costs at most one tiny commit every few
// seconds, and recovery is seen within a second.
const (
	probeOKFor   = 5 * time.Second
	probeFailFor = time.Second
)

// CheckWrite reports whether the store can write, for /healthz (SPEC
// section 8: 503 with the reason when the store cannot write). It checks
// the data directory's file system (read-only, or less than MinFreeBytes
// free: *ReadOnlyError, *FullError) and commits one row to a probe
// table; the result is reused for a few seconds. A write that failed for
// a reason of the disk kind (full, read-only, I/O error, damage) is
// reported until a later write or probe succeeds. Safe for concurrent
// use.
func (s *Store) CheckWrite(ctx context.Context) error {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	ttl := probeOKFor
	if s.probeErr != nil || s.writeErr != nil {
		ttl = probeFailFor
	}
	if s.probeAt.IsZero() || time.Since(s.probeAt) >= ttl {
		s.probeErr = s.probe(ctx)
		s.probeAt = time.Now()
		if s.probeErr == nil {
			s.writeErr = nil
		}
	}
	if s.probeErr != nil {
		return s.probeErr
	}
	return s.writeErr
}

// probe checks the file system, then writes the probe row.
func (s *Store) probe(ctx context.Context) error {
	free, readOnly, err := diskSpace(s.dir)
	switch {
	case err != nil:
		return fmt.Errorf("check the disk of %s: %w", s.dir, err)
	case readOnly:
		return &ReadOnlyError{Path: s.dir, Err: errors.New("the file system is mounted read-only")}
	case free >= 0 && free < MinFreeBytes:
		return &FullError{Path: s.path, FreeBytes: free}
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixMicro())
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("write check of %s: %w (the store is busy)", s.path, err)
		}
		return classify(s.path, fmt.Errorf("write check of %s: %w", s.path, err))
	}
	return nil
}

// noteWrite classifies a write's error and remembers the failures that
// mean the store cannot write, for CheckWrite; a success forgets them.
func (s *Store) noteWrite(err error) error {
	err = classify(s.path, err)
	var (
		fe *FullError
		re *ReadOnlyError
		ce *CorruptError
	)
	disk := errors.As(err, &fe) || errors.As(err, &re) || errors.As(err, &ce) || (errors.Is(err, session.ErrTemporary) && resultCode(err) == codeIOErr)
	if err == nil || disk {
		s.probeMu.Lock()
		s.writeErr = err
		s.probeMu.Unlock()
	}
	return err
}
