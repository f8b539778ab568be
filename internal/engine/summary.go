package engine

import (
	"context"
	"slices"
	"sort"

	"github.com/tally-server/tally/internal/analytics"
)

// Block summaries: exact counts of fixed blocks of the main segment, so
// that a scan adds a whole block that falls inside one bucket in a few
// steps instead of reading its rows.
//
// The main segment is cut into blocks of blockRows consecutive rows (by
// index, so a block covers whatever time its rows span). For each block
// the summary holds the number of rows per flags value (closed, test) and,
// per dimension, the number of rows per (code, flags) pair present in the
// block. A query with at most one dimension filter (plus is_test) counts a
// block that starts and ends inside one bucket as
//
//	Σ over the block's (code, flags) pairs of n × tab[code] × test[flags]
//
// which is exactly what reading its rows adds, since the scan looks at
// nothing else. A block that straddles one bucket bound is split there:
// the smaller side is read and the other is the block's counts minus it.
// Rows of blocks that hold two bounds or more, or the range's ends, and
// blocks whose dimension has too many distinct pairs to be worth
// summarizing (more than maxBlockPairs), are read row by row as before;
// so are the deltas. Queries with two or more dimension filters,
// and the flow columns, do not use summaries.
//
// A summary describes one main segment, which is never modified once
// published (Loader.Finish and compaction replace it whole): it records
// the segment's first element and length, and is used only while they
// are the account's. A stale or missing summary is rebuilt off the query
// path (small segments inline), and queries scan rows until it is ready.
//
// Memory: 78 bytes per block (its first and last start, its flag counts,
// offsets, skip marks and counts of skipped blocks) and 8 per (code,
// flags) pair per dimension: at most (78 + 6 × maxBlockPairs × 8) /
// blockRows = 12.3 bytes a session; 4.4 on the engine's benchmark data
// (TestSummaryMemory).

const (
	blockRows     = 256
	maxBlockPairs = blockRows / 4
	// inlineSummaryRows is the largest main segment whose summary is
	// built by the query that finds it missing, rather than in the
	// background.
	inlineSummaryRows = 1 << 16
)

// pair is the number of rows of a block with one code and flags value.
type pair struct {
	code  uint32
	n     uint16
	flags uint8
}

// summary holds the block counts of one main segment.
type summary struct {
	first *int64 // &start[0] of the segment summarized
	n     int    // its length
	// starts[b] is the first and last start of block b, side by side:
	// reading them from the start column costs two cache misses a block.
	starts [][2]int64
	flags  [][4]uint16
	// The pairs of dimension d in block b are pairs[d][off[d][b]:off[d][b+1]],
	// unless skip[d][b]: then the block is not summarized for d.
	off   [numDims][]uint32
	pairs [numDims][]pair
	skip  [numDims][]bool
	// skipped[d][b] is how many of blocks 0 to b-1 are not summarized for
	// d: what the cost estimate needs to charge their rows (cost.go).
	skipped [numDims][]uint32
}

// skippedRows is how many rows of blocks lo/blockRows to hi/blockRows
// (the blocks holding rows lo to hi-1) dimension d reads row by row
// because they are not summarized for it; 0 when d < 0.
func (s *summary) skippedRows(d, lo, hi int) int64 {
	if d < 0 || hi <= lo {
		return 0
	}
	sk := s.skipped[d]
	b0, b1 := min(lo/blockRows, len(sk)-1), min((hi-1)/blockRows+1, len(sk)-1)
	return int64(sk[b1]-sk[b0]) * blockRows
}

// describes reports whether s summarizes c.
func (s *summary) describes(c *columns) bool {
	return s != nil && len(c.start) > 0 && s.first == &c.start[0] && s.n == len(c.start)
}

// buildSummary summarizes c's complete blocks; rows after the last
// complete block are always read row by row. sizes[d] bounds the codes of
// dimension d in c (dicts.size).
func buildSummary(c *columns, sizes [numDims]int) *summary {
	nb := len(c.start) / blockRows
	s := &summary{first: &c.start[0], n: len(c.start), starts: make([][2]int64, nb), flags: make([][4]uint16, nb)}
	for b := range nb {
		s.starts[b] = [2]int64{c.start[b*blockRows], c.start[(b+1)*blockRows-1]}
		for _, fl := range c.flags[b*blockRows : (b+1)*blockRows] {
			s.flags[b][fl&3]++
		}
	}
	for d := range numDims {
		// counts[code<<2|flags] for the block at hand; touched lists the
		// keys set, to emit and clear them.
		counts := make([]uint16, 4*sizes[d])
		touched := make([]uint32, 0, blockRows)
		off := make([]uint32, 1, nb+1)
		skip := make([]bool, nb)
		skipped := make([]uint32, 1, nb+1)
		var pairs []pair
		col := c.dims[d]
		for b := range nb {
			for i := b * blockRows; i < (b+1)*blockRows; i++ {
				key := col[i]<<2 | uint32(c.flags[i]&3)
				if counts[key] == 0 {
					touched = append(touched, key)
				}
				counts[key]++
			}
			if len(touched) <= maxBlockPairs {
				// In key order, so that blockCounts can search a code.
				slices.Sort(touched)
				for _, key := range touched {
					pairs = append(pairs, pair{code: key >> 2, flags: uint8(key & 3), n: counts[key]})
				}
			} else {
				skip[b] = true
			}
			n := skipped[b]
			if skip[b] {
				n++
			}
			skipped = append(skipped, n)
			off = append(off, uint32(len(pairs)))
			for _, key := range touched {
				counts[key] = 0
			}
			touched = touched[:0]
		}
		s.off[d], s.pairs[d], s.skip[d], s.skipped[d] = off, pairs, skip, skipped
	}
	return s
}

// summaryOf returns a's summary of its main segment, or nil while there is
// none (one is then being built). a.mu must be held for reading.
func (a *account) summaryOf() *summary {
	c := &a.main
	if c.len() < blockRows {
		return nil
	}
	s := a.sum.Load()
	if s.describes(c) {
		return s
	}
	var sizes [numDims]int
	for d := range numDims {
		sizes[d] = a.d.size(dim(d))
	}
	if c.len() <= inlineSummaryRows {
		s = buildSummary(c, sizes)
		a.sum.Store(s)
		return s
	}
	if a.building.CompareAndSwap(false, true) {
		// The segment's slices are never written once published, so the
		// build reads them without the lock.
		cols := *c
		go func() {
			// A panic here would end the process; the summary is an
			// optimisation, so one that cannot be built is done without:
			// building stays set, and queries read rows.
			defer func() {
				if recover() == nil {
					a.building.Store(false)
				}
			}()
			a.sum.Store(buildSummary(&cols, sizes))
		}()
	}
	return nil
}

// blockCounts is what block b adds to a bucket when all its rows are in
// it: rows passing the filter (dimension d, or none when d < 0) and the
// closed ones among them; false when the block is not summarized for d.
func (s *summary) blockCounts(b, d int, f *filter) (total, closed int64, ok bool) {
	if d < 0 {
		for fl, n := range s.flags[b] {
			m := int64(f.test[fl]) * int64(n)
			total += m
			closed += m & -int64(fl&flagClosed)
		}
		return total, closed, true
	}
	if s.skip[d][b] {
		return 0, 0, false
	}
	ps := s.pairs[d][s.off[d][b]:s.off[d][b+1]]
	if n := f.nsel[d]; n > 0 {
		// A few codes: find each among the block's pairs, which are in
		// (code, flags) order, rather than read them all.
		for _, code := range f.sel[d][:n] {
			i, j := 0, len(ps)
			for i < j {
				h := int(uint(i+j) >> 1)
				if ps[h].code < code {
					i = h + 1
				} else {
					j = h
				}
			}
			for ; i < len(ps) && ps[i].code == code; i++ {
				m := int64(f.test[ps[i].flags]) * int64(ps[i].n)
				total += m
				closed += m & -int64(ps[i].flags&flagClosed)
			}
		}
		return total, closed, true
	}
	tab := f.tabs[d]
	for _, p := range ps {
		m := int64(f.test[p.flags]&tab[p.code]) * int64(p.n)
		total += m
		closed += m & -int64(p.flags&flagClosed)
	}
	return total, closed, true
}

// scanSummarized is scanColumns for a query with at most one dimension
// filter (dim d, or d < 0 for none) over a summarized segment. A complete
// block inside one bucket is added from the summary. One that straddles a
// single bound is split there: the smaller side is read,
// and the other side is the block's counts minus it, so on average a
// quarter of such a block is read. The other rows of [lo, hi) are read.
func scanSummarized(ctx context.Context, c *columns, s *summary, d int, lo, hi int, bounds []int64, f *filter, dst []analytics.Counts) error {
	var col []uint32
	var tab []uint8
	if d >= 0 {
		col, tab = c.dims[d], f.tabs[d]
	}
	// rows reads rows [from, to) into out, whose element 0 is the bucket
	// starting at bs[0].
	rows := func(from, to int, bs []int64, out []analytics.Counts) {
		if d < 0 {
			scanNoFilter(c.start[from:to], c.flags[from:to], bs, &f.test, out)
		} else {
			scanOneFilter(c.start[from:to], c.flags[from:to], col[from:to], tab, bs, &f.test, out)
		}
	}
	k := 0
	pending := lo // rows from here to the block at hand are still to be read
	b := (lo + blockRows - 1) / blockRows
	for ; (b+1)*blockRows <= hi && b < len(s.flags); b++ {
		from, last := b*blockRows, (b+1)*blockRows-1
		first, lastStart := s.starts[b][0], s.starts[b][1]
		for first >= bounds[k+1] {
			k++
		}
		inOne := lastStart < bounds[k+1]
		if !inOne && (k+2 >= len(bounds) || lastStart >= bounds[k+2]) {
			continue // two bounds or more inside the block: read it
		}
		total, closed, ok := s.blockCounts(b, d, f)
		if !ok {
			continue
		}
		if pending < from {
			rows(pending, from, bounds, dst)
		}
		pending = last + 1
		if inOne {
			dst[k].Closed += closed
			dst[k].Open += total - closed
		} else {
			// Walk to the bound from the block's end nearer to it in
			// time: no binary search, whose probes miss the cache.
			bound := bounds[k+1]
			split := from
			if bound-first <= lastStart-bound {
				for c.start[split] < bound {
					split++
				}
			} else {
				split = last + 1
				for c.start[split-1] >= bound {
					split--
				}
			}
			var part [1]analytics.Counts
			read, rest := k, k+1 // the side read, the side that is the rest
			if split-from <= last+1-split {
				rows(from, split, bounds[k:k+2], part[:])
			} else {
				rows(split, last+1, bounds[k+1:k+3], part[:])
				read, rest = k+1, k
			}
			dst[read].Closed += part[0].Closed
			dst[read].Open += part[0].Open
			dst[rest].Closed += closed - part[0].Closed
			dst[rest].Open += (total - closed) - part[0].Open
			k++
		}
		if b%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if pending < hi {
		rows(pending, hi, bounds, dst)
	}
	return ctx.Err()
}

// search is the index of c's first row whose start is t or later, as
// sort.Search over c.start finds it, but searching the blocks' last
// starts first (contiguous) and then one block's rows: fewer cache misses
// than probing a column of a million starts.
func (s *summary) search(c *columns, t int64) int {
	b := sort.Search(len(s.starts), func(i int) bool { return s.starts[i][1] >= t })
	from, to := b*blockRows, len(c.start)
	if b < len(s.starts) {
		to = from + blockRows
	}
	return from + sort.Search(to-from, func(i int) bool { return c.start[from+i] >= t })
}
