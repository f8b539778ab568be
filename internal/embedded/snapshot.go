package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// The engine's snapshot: Close writes the whole engine to SnapshotFile
// beside the store, tagged with the store's generation (sqlite.Generation:
// a counter and a random token that every writing batch replaces); Open
// loads it instead of rebuilding the engine from every stored session
// when, and only when, its tag equals the store's current generation. A
// snapshot that is missing, stale (the store was written after it: by a
// server that crashed, by tally import or tally demo, or restored from a
// backup), damaged or of another format is not used: Open logs why,
// removes it, and loads from the store as before. A snapshot never
// decides an answer on its own.

// SnapshotFile is the engine's snapshot in the data directory.
const SnapshotFile = "tally.snapshot"

// snapshotTag is what a snapshot of the engine at generation g carries.
func snapshotTag(g sqlite.Generation) []byte {
	tag := binary.LittleEndian.AppendUint64(nil, uint64(g.Number))
	return append(tag, g.Token[:]...)
}

// loadSnapshot replaces the empty engine with the snapshot in b.dir if it
// matches the store's generation g. It reports whether it did; a snapshot
// it could not use is removed.
func (b *Backend) loadSnapshot(g sqlite.Generation, cfg engine.Config) bool {
	path := filepath.Join(b.dir, SnapshotFile)
	os.Remove(path + ".tmp") // left by a Close that did not finish
	start := time.Now()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		b.log.Info("no engine snapshot; loading from the store", "snapshot", path)
		return false
	}
	reject := func(why string) bool {
		b.log.Warn("engine snapshot not used; loading from the store", "snapshot", path, "reason", why)
		b.removeSnapshot()
		return false
	}
	if err != nil {
		return reject(err.Error())
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return reject(err.Error())
	}
	ix, tag, err := engine.ReadSnapshot(f, fi.Size(), cfg)
	if err != nil {
		return reject(err.Error())
	}
	if want := snapshotTag(g); string(tag) != string(want) {
		return reject(fmt.Sprintf("it was written at another state of the store (the store is at generation %d; the snapshot's tag is %x, the store's %x)", g.Number, tag, want))
	}
	b.index = ix
	b.Source = ix
	b.log.Info("sessions loaded from the engine snapshot", "sessions", ix.Sessions(), "generation", g.Number, "took", time.Since(start).Round(time.Millisecond))
	return true
}

// writeSnapshotLocked writes the engine's snapshot, tagged with the
// store's current generation, to a temporary file, syncs it and renames
// it into place, so that a crash leaves either the old file or the new
// one. b.mu must be held, so that no batch lands between reading the
// generation and writing the engine.
func (b *Backend) writeSnapshotLocked(ctx context.Context) error {
	start := time.Now()
	g, err := b.store.Generation(ctx)
	if err != nil {
		return err
	}
	path := filepath.Join(b.dir, SnapshotFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("write the engine snapshot: %w", err)
	}
	err = b.index.WriteSnapshot(f, snapshotTag(g))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the engine snapshot %s: %w", path, err)
	}
	if d, err := os.Open(b.dir); err == nil {
		d.Sync()
		d.Close()
	}
	b.log.Info("engine snapshot written", "snapshot", path, "sessions", b.index.Sessions(), "generation", g.Number, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// removeSnapshot removes the snapshot, if any.
func (b *Backend) removeSnapshot() {
	path := filepath.Join(b.dir, SnapshotFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.log.Warn("could not remove the engine snapshot", "snapshot", path, "err", err)
	}
}
