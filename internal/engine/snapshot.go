package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"

	"github.com/tally-server/tally/internal/pgtext"
)

// A snapshot is the whole index in one file, so that a restart reads
// columns instead of rebuilding them from every stored session. The
// engine knows nothing of stores: the caller passes a tag naming the
// store state the index equals (embedded uses the store's write token)
// and, at load, accepts the snapshot only when the tag still matches.
//
// Layout, little-endian throughout:
//
//	magic "TALLYSNP", format version u32, numDims u32, tag (u32 length, bytes)
//	accounts u32, then for each account:
//	  id [16]byte
//	  uuids      u32 n, n × [16]byte             (code i+1 is entry i)
//	  versions   u32 n, n × i32
//	  channels   u32 n, n × (u32 length, bytes)
//	  agents     u32 n, n × (u32 length, bytes)
//	  agent sets u32 n, n × (u32 k, k × u32)     (set code i is entry i; entry 0 is empty)
//	  rows       u64 n, then the columns: n × i64 start, numDims × n × u32,
//	             n × u8 flags, n × i64 end
//	CRC-32C of every byte before it, u32
//
// Each account is written compacted (main only, no deltas).

// snapshotVersion covers the file's layout and what its rows mean: bump
// it when either changes (a column, a flag, how a record becomes a row or
// a dictionary code), so that a snapshot written by another build is
// refused and the index is loaded from the store instead.
const (
	snapshotMagic   = "TALLYSNP"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotError is a snapshot that cannot be used: damaged, cut short,
// of another format, or not what its header says. The index it was read
// into must be discarded.
type SnapshotError struct {
	Reason string
}

func (e *SnapshotError) Error() string { return "engine snapshot: " + e.Reason }

// WriteSnapshot writes the whole index to w, tagged with tag. Each
// account is compacted first (under its write lock), then written under
// its read lock; the caller keeps writes out while it runs if the
// snapshot must equal one store state (embedded holds its write mutex).
func (ix *Index) WriteSnapshot(w io.Writer, tag []byte) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	e := &snapWriter{w: bw}
	e.bytes([]byte(snapshotMagic))
	e.u32(snapshotVersion)
	e.u32(uint32(numDims))
	e.u32(uint32(len(tag)))
	e.bytes(tag)

	ix.mu.RLock()
	ids := make([]pgtext.UUID, 0, len(ix.accounts))
	accounts := make([]*account, 0, len(ix.accounts))
	for id, a := range ix.accounts {
		ids = append(ids, id)
		accounts = append(accounts, a)
	}
	ix.mu.RUnlock()
	e.u32(uint32(len(ids)))
	for i, a := range accounts {
		a.mu.Lock()
		if len(a.added) > 0 || len(a.removed) > 0 {
			a.compactLocked()
		}
		a.mu.Unlock()
		a.mu.RLock()
		e.bytes(ids[i][:])
		e.account(a)
		a.mu.RUnlock()
	}
	if e.err != nil {
		return fmt.Errorf("write engine snapshot: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write engine snapshot: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("write engine snapshot: %w", err)
	}
	return nil
}

// snapWriter writes little-endian values, keeping the first error.
type snapWriter struct {
	w   *bufio.Writer
	buf [8]byte
	err error
}

func (e *snapWriter) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *snapWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.bytes(e.buf[:4])
}

func (e *snapWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.bytes(e.buf[:8])
}

func (e *snapWriter) str(s string) {
	e.u32(uint32(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// inverse lists m's keys by code: entry i has code i+1.
func inverse[K comparable](m map[K]uint32) []K {
	out := make([]K, len(m))
	for k, c := range m {
		out[c-1] = k
	}
	return out
}

func (e *snapWriter) account(a *account) {
	d := a.d
	uuids := inverse(d.uuids)
	e.u32(uint32(len(uuids)))
	for _, u := range uuids {
		e.bytes(u[:])
	}
	versions := inverse(d.versions)
	e.u32(uint32(len(versions)))
	for _, v := range versions {
		e.u32(uint32(v))
	}
	for _, m := range []map[string]uint32{d.channels, d.agents} {
		names := inverse(m)
		e.u32(uint32(len(names)))
		for _, s := range names {
			e.str(s)
		}
	}
	e.u32(uint32(len(d.members)))
	for _, set := range d.members {
		e.u32(uint32(len(set)))
		for _, c := range set {
			e.u32(c)
		}
	}
	c := &a.main
	e.u64(uint64(c.len()))
	for _, v := range c.start {
		e.u64(uint64(v))
	}
	for i := range c.dims {
		for _, v := range c.dims[i] {
			e.u32(v)
		}
	}
	e.bytes(c.flags)
	for _, v := range c.end {
		e.u64(uint64(v))
	}
}

// ReadSnapshot reads a snapshot written by WriteSnapshot into a new index
// with cfg, and returns it with its tag. size is the snapshot's length in
// bytes: no count in the file may claim more than the bytes left, so a
// damaged length cannot make it allocate without bound. A snapshot that
// is damaged, cut short or of another format is a *SnapshotError; errors
// of r are returned wrapped. Either way the index is nil.
func ReadSnapshot(r io.Reader, size int64, cfg Config) (*Index, []byte, error) {
	crc := crc32.New(castagnoli)
	d := &snapReader{r: bufio.NewReaderSize(r, 1<<20), crc: crc, left: size - 4}
	ix, tag := d.index(cfg)
	if d.err == nil {
		want := crc.Sum32()
		var sum [4]byte
		if _, err := io.ReadFull(d.r, sum[:]); err != nil {
			d.fail(err)
		} else if got := binary.LittleEndian.Uint32(sum[:]); got != want {
			d.err = &SnapshotError{Reason: fmt.Sprintf("checksum %08x, expected %08x: the file is damaged", got, want)}
		} else if _, err := d.r.ReadByte(); err != io.EOF {
			d.err = &SnapshotError{Reason: "data after the checksum"}
		}
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	return ix, tag, nil
}

// snapReader reads little-endian values, keeping the first error; left
// is the number of bytes still expected before the checksum.
type snapReader struct {
	r    *bufio.Reader
	crc  hash.Hash32
	left int64
	buf  []byte
	err  error
}

func (d *snapReader) fail(err error) {
	if d.err != nil {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		d.err = &SnapshotError{Reason: "the file ends early"}
		return
	}
	d.err = fmt.Errorf("read engine snapshot: %w", err)
}

// next returns the next n bytes, valid until the following call.
func (d *snapReader) next(n int64) []byte {
	if d.err != nil {
		return nil
	}
	if n > d.left {
		d.err = &SnapshotError{Reason: fmt.Sprintf("a length of %d bytes runs past the end of the file", n)}
		return nil
	}
	if int64(cap(d.buf)) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(err)
		return nil
	}
	d.crc.Write(b)
	d.left -= n
	return b
}

// count reads a u32 count of items of at least each bytes apiece.
func (d *snapReader) count(each int64) int {
	b := d.next(4)
	if b == nil {
		return 0
	}
	n := int64(binary.LittleEndian.Uint32(b))
	if n*each > d.left {
		d.err = &SnapshotError{Reason: fmt.Sprintf("a count of %d runs past the end of the file", n)}
		return 0
	}
	return int(n)
}

func (d *snapReader) u32() uint32 {
	if b := d.next(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *snapReader) str() string {
	return string(d.next(int64(d.count(1))))
}

// chunkRows is how many column values are read at a time.
const chunkRows = 1 << 14

func readInts[T int64 | uint32](d *snapReader, n int, put func([]byte) T) []T {
	out := make([]T, n)
	var zero T
	size := int64(binary.Size(zero))
	for i := 0; i < n && d.err == nil; i += chunkRows {
		k := min(chunkRows, n-i)
		b := d.next(int64(k) * size)
		for j := 0; j < k && b != nil; j++ {
			out[i+j] = put(b[int64(j)*size:])
		}
	}
	return out
}

func getI64(b []byte) int64  { return int64(binary.LittleEndian.Uint64(b)) }
func getU32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func (d *snapReader) index(cfg Config) (*Index, []byte) {
	if m := d.next(int64(len(snapshotMagic))); d.err == nil && string(m) != snapshotMagic {
		d.err = &SnapshotError{Reason: "not an engine snapshot (wrong magic)"}
	}
	if v := d.u32(); d.err == nil && v != snapshotVersion {
		d.err = &SnapshotError{Reason: fmt.Sprintf("format version %d; this Tally reads %d", v, snapshotVersion)}
	}
	if n := d.u32(); d.err == nil && n != uint32(numDims) {
		d.err = &SnapshotError{Reason: fmt.Sprintf("%d dimensions; this Tally has %d", n, numDims)}
	}
	tag := slices.Clone(d.next(int64(d.count(1))))
	ix := New(cfg)
	accounts := d.count(16 + 5*4 + 8)
	for range accounts {
		var id pgtext.UUID
		copy(id[:], d.next(16))
		a := d.account()
		if d.err != nil {
			return nil, nil
		}
		if ix.accounts[id] != nil {
			d.err = &SnapshotError{Reason: fmt.Sprintf("account %s appears twice", id)}
			return nil, nil
		}
		ix.accounts[id] = a
	}
	return ix, tag
}

func (d *snapReader) account() *account {
	dd := newDicts()
	for i := range d.count(16) {
		var u pgtext.UUID
		copy(u[:], d.next(16))
		dd.uuids[u] = uint32(i + 1)
	}
	for i := range d.count(4) {
		dd.versions[int32(d.u32())] = uint32(i + 1)
	}
	for _, m := range []map[string]uint32{dd.channels, dd.agents} {
		for i := range d.count(4) {
			m[d.str()] = uint32(i + 1)
		}
	}
	sets := d.count(4)
	dd.members = make([][]uint32, 0, sets)
	for i := range sets {
		k := d.count(4)
		codes := readInts(d, k, getU32)
		if i == 0 {
			if k != 0 {
				d.err = &SnapshotError{Reason: "agent set 0 is not the empty set"}
			}
			codes = nil // as newDicts has it
		}
		if i > 0 {
			key := make([]byte, 0, 4*len(codes))
			for _, c := range codes {
				key = binary.LittleEndian.AppendUint32(key, c)
			}
			dd.sets[string(key)] = uint32(i)
		}
		dd.members = append(dd.members, codes)
	}
	b := d.next(8)
	if d.err != nil {
		return nil
	}
	n64 := binary.LittleEndian.Uint64(b)
	if int64(n64) < 0 || int64(n64)*(8+4*int64(numDims)+1+8) > d.left {
		d.err = &SnapshotError{Reason: fmt.Sprintf("%d rows run past the end of the file", n64)}
		return nil
	}
	n := int(n64)
	var c columns
	c.start = readInts(d, n, getI64)
	for i := range c.dims {
		c.dims[i] = readInts(d, n, getU32)
	}
	c.flags = slices.Clone(d.next(int64(n)))
	if c.flags == nil {
		c.flags = []uint8{}
	}
	c.end = readInts(d, n, getI64)
	if d.err != nil {
		return nil
	}
	// The checksum guards against damage; this guards the scans, which
	// index code tables by these codes, against a snapshot that is
	// consistent but wrong.
	for i := range c.dims {
		limit := uint32(dd.size(dim(i)))
		for _, code := range c.dims[i] {
			if code >= limit {
				d.err = &SnapshotError{Reason: fmt.Sprintf("code %d of dimension %d is not in its dictionary of %d", code, i, limit)}
				return nil
			}
		}
	}
	a := &account{d: dd}
	a.setMainLocked(c)
	return a
}
