// Package engine is Tally's in-memory columnar index of sessions and the
// aggregation of open_closed_sessions_interval_counts_v2 over it.
//
// Each account's sessions are kept in a main segment sorted by start time,
// stored column by column with every dimension dictionary-encoded, plus two
// small sorted delta segments: rows added since the last compaction and
// rows removed. A query counts main + added − removed; this is exact
// because counting looks only at column values, so removing any row equal
// to the old one is the same as removing the old one. That is also why the
// engine keeps no session ids: the store tells it the old row of every
// upsert (session.Change).
//
// The engine imports analytics (for the query types), session and pgtext
// only; it never imports a store.
package engine

import (
	"cmp"
	"context"
	"encoding/binary"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

const (
	flagClosed = 1 << 0
	flagTest   = 1 << 1
)

// row is one session as the engine sees it: codes, not values. Code 0 is
// NULL in every dictionary.
type row struct {
	start   int64
	desk    uint32
	brain   uint32
	integ   uint32
	version uint32
	channel uint32
	agents  uint32
	flags   uint8
}

func compareRows(a, b row) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.desk, b.desk); c != 0 {
		return c
	}
	if c := cmp.Compare(a.brain, b.brain); c != 0 {
		return c
	}
	if c := cmp.Compare(a.integ, b.integ); c != 0 {
		return c
	}
	if c := cmp.Compare(a.version, b.version); c != 0 {
		return c
	}
	if c := cmp.Compare(a.channel, b.channel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.agents, b.agents); c != 0 {
		return c
	}
	return cmp.Compare(a.flags, b.flags)
}

// columns is a segment stored column by column, rows in compareRows order.
type columns struct {
	start   []int64
	desk    []uint32
	brain   []uint32
	integ   []uint32
	version []uint32
	channel []uint32
	agents  []uint32
	flags   []uint8
}

func (c *columns) len() int { return len(c.start) }

func (c *columns) at(i int) row {
	return row{c.start[i], c.desk[i], c.brain[i], c.integ[i], c.version[i], c.channel[i], c.agents[i], c.flags[i]}
}

func (c *columns) grow(n int) {
	c.start = slices.Grow(c.start, n)
	c.desk = slices.Grow(c.desk, n)
	c.brain = slices.Grow(c.brain, n)
	c.integ = slices.Grow(c.integ, n)
	c.version = slices.Grow(c.version, n)
	c.channel = slices.Grow(c.channel, n)
	c.agents = slices.Grow(c.agents, n)
	c.flags = slices.Grow(c.flags, n)
}

func (c *columns) push(r row) {
	c.start = append(c.start, r.start)
	c.desk = append(c.desk, r.desk)
	c.brain = append(c.brain, r.brain)
	c.integ = append(c.integ, r.integ)
	c.version = append(c.version, r.version)
	c.channel = append(c.channel, r.channel)
	c.agents = append(c.agents, r.agents)
	c.flags = append(c.flags, r.flags)
}

// dicts map values to codes (1-based; 0 is NULL) for one account.
type dicts struct {
	uuids    map[pgtext.UUID]uint32
	versions map[int32]uint32
	channels map[string]uint32
	agents   map[string]uint32 // agent id → agent code
	sets     map[string]uint32 // canonical agent set → set code
	members  [][]uint32        // set code → sorted agent codes; members[0] is the empty set
}

func newDicts() *dicts {
	return &dicts{
		uuids:    map[pgtext.UUID]uint32{},
		versions: map[int32]uint32{},
		channels: map[string]uint32{},
		agents:   map[string]uint32{},
		sets:     map[string]uint32{"": 0},
		members:  [][]uint32{nil},
	}
}

// intern returns k's code in m, giving it the next code (1-based) when new.
func intern[K comparable](m map[K]uint32, k K) uint32 {
	c, ok := m[k]
	if !ok {
		c = uint32(len(m) + 1)
		m[k] = c
	}
	return c
}

func (d *dicts) uuid(u pgtext.NullUUID) uint32 {
	if !u.Valid {
		return 0
	}
	return intern(d.uuids, u.UUID)
}

func (d *dicts) version(v pgtext.NullInt4) uint32 {
	if !v.Valid {
		return 0
	}
	return intern(d.versions, v.Int32)
}

func (d *dicts) channel(s session.NullString) uint32 {
	if !s.Valid {
		return 0
	}
	if c, ok := d.channels[s.String]; ok {
		return c
	}
	// Clone so the dictionary does not pin the request's memory.
	return intern(d.channels, strings.Clone(s.String))
}

func (d *dicts) agentSet(ids []string) uint32 {
	if len(ids) == 0 {
		return 0
	}
	codes := make([]uint32, 0, len(ids))
	for _, id := range ids {
		c, ok := d.agents[id]
		if !ok {
			c = intern(d.agents, strings.Clone(id))
		}
		codes = append(codes, c)
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	key := make([]byte, 0, 4*len(codes))
	for _, c := range codes {
		key = binary.LittleEndian.AppendUint32(key, c)
	}
	k := string(key)
	c, ok := d.sets[k]
	if !ok {
		c = uint32(len(d.members))
		d.sets[k] = c
		d.members = append(d.members, codes)
	}
	return c
}

func (d *dicts) encode(r *session.Record) row {
	out := row{
		start:   r.StartMicros,
		desk:    d.uuid(r.DeskID),
		brain:   d.uuid(r.BrainParentID),
		integ:   d.uuid(r.IntegrationID),
		version: d.version(r.BrainVersion),
		channel: d.channel(r.Channel),
		agents:  d.agentSet(r.AgentIDs),
	}
	if r.HasEnd {
		out.flags |= flagClosed
	}
	if r.IsTest {
		out.flags |= flagTest
	}
	return out
}

// account is the index of one account. mu guards every field.
type account struct {
	mu      sync.RWMutex
	d       *dicts
	main    columns
	added   []row // sorted by compareRows
	removed []row // sorted by compareRows
}

// Config tunes the index. The zero value is usable.
type Config struct {
	// CompactRows is the delta size (added + removed rows) above which an
	// account's deltas are merged into its main segment; 0 means 65536 or
	// an eighth of the main segment, whichever is larger.
	CompactRows int
}

// Index holds every account's sessions. It is safe for concurrent use:
// queries of one account run in parallel with each other and wait only for
// writes to the same account.
type Index struct {
	cfg      Config
	mu       sync.RWMutex // guards accounts
	accounts map[pgtext.UUID]*account
}

// New returns an empty index.
func New(cfg Config) *Index {
	return &Index{cfg: cfg, accounts: map[pgtext.UUID]*account{}}
}

func (ix *Index) account(id pgtext.UUID, create bool) *account {
	ix.mu.RLock()
	a := ix.accounts[id]
	ix.mu.RUnlock()
	if a != nil || !create {
		return a
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if a = ix.accounts[id]; a == nil {
		a = &account{d: newDicts()}
		ix.accounts[id] = a
	}
	return a
}

// Loader builds an index from a full scan of the store, faster than
// applying one change at a time. Add every record, then call Finish.
type Loader struct {
	ix   *Index
	rows map[pgtext.UUID][]row
}

// NewLoader starts a bulk load into ix, which must be empty.
func (ix *Index) NewLoader() *Loader {
	return &Loader{ix: ix, rows: map[pgtext.UUID][]row{}}
}

// Add adds one stored record.
func (l *Loader) Add(r *session.Record) {
	a := l.ix.account(r.AccountID, true)
	a.mu.Lock()
	enc := a.d.encode(r)
	a.mu.Unlock()
	l.rows[r.AccountID] = append(l.rows[r.AccountID], enc)
}

// Finish sorts what was added and makes it visible to queries.
func (l *Loader) Finish() {
	for id, rows := range l.rows {
		slices.SortFunc(rows, compareRows)
		a := l.ix.account(id, true)
		a.mu.Lock()
		var c columns
		c.grow(len(rows))
		for _, r := range rows {
			c.push(r)
		}
		a.main = c
		a.mu.Unlock()
		delete(l.rows, id)
	}
}

// Apply brings the index up to date with changes the store has made
// durable, in the order the store made them.
func (ix *Index) Apply(changes []session.Change) {
	byAccount := map[pgtext.UUID][]session.Change{}
	for _, c := range changes {
		byAccount[c.New.AccountID] = append(byAccount[c.New.AccountID], c)
	}
	for id, cs := range byAccount {
		a := ix.account(id, true)
		a.mu.Lock()
		var add, rem []row
		for _, c := range cs {
			if c.Old != nil {
				rem = append(rem, a.d.encode(c.Old))
			}
			add = append(add, a.d.encode(c.New))
		}
		slices.SortFunc(add, compareRows)
		slices.SortFunc(rem, compareRows)
		a.added = mergeRows(a.added, add)
		a.removed = mergeRows(a.removed, rem)
		limit := ix.cfg.CompactRows
		if limit == 0 {
			limit = max(65536, a.main.len()/8)
		}
		if len(a.added)+len(a.removed) > limit {
			a.compactLocked()
		}
		a.mu.Unlock()
	}
}

func mergeRows(a, b []row) []row {
	if len(b) == 0 {
		return a
	}
	out := make([]row, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if compareRows(a[i], b[j]) <= 0 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// compactLocked merges the deltas into main: main + added − removed, where
// each removed row cancels one equal row. a.mu must be held for writing.
func (a *account) compactLocked() {
	var out columns
	out.grow(a.main.len() + len(a.added) - len(a.removed))
	i, j, k := 0, 0, 0
	n := a.main.len()
	for i < n || j < len(a.added) {
		var r row
		if j >= len(a.added) || (i < n && compareRows(a.main.at(i), a.added[j]) <= 0) {
			r = a.main.at(i)
			i++
		} else {
			r = a.added[j]
			j++
		}
		for k < len(a.removed) && compareRows(a.removed[k], r) < 0 {
			k++ // a removal with no matching row: cannot happen if the store is consistent
		}
		if k < len(a.removed) && compareRows(a.removed[k], r) == 0 {
			k++
			continue
		}
		out.push(r)
	}
	a.main = out
	a.added = nil
	a.removed = nil
}

// Sessions returns the number of sessions held for all accounts.
func (ix *Index) Sessions() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total := 0
	for _, a := range ix.accounts {
		a.mu.RLock()
		total += a.main.len() + len(a.added) - len(a.removed)
		a.mu.RUnlock()
	}
	return total
}

// filter is a query resolved to codes: a nil table does not filter; a
// table indexed by code holds 1 where that code matches and 0 elsewhere.
// NULL (code 0) never matches an active filter. test[flags] is 1 when a
// row's flags pass the is_test filter.
type filter struct {
	desk, brain, integ, version, channel, agents []uint8
	test                                         [4]uint8
	none                                         bool // some filter matches nothing
}

// active lists the filter's column tables for the scan loop.
func (f *filter) active(c *columns) (cols [6][]uint32, tabs [6][]uint8, n int) {
	for _, p := range []struct {
		col []uint32
		tab []uint8
	}{{c.desk, f.desk}, {c.brain, f.brain}, {c.integ, f.integ}, {c.version, f.version}, {c.channel, f.channel}, {c.agents, f.agents}} {
		if p.tab != nil {
			cols[n], tabs[n] = p.col, p.tab
			n++
		}
	}
	return cols, tabs, n
}

func uuidTable(d *dicts, set analytics.UUIDSet) []uint8 {
	if !set.Active {
		return nil
	}
	t := make([]uint8, len(d.uuids)+1)
	for _, u := range set.Values {
		if c, ok := d.uuids[u]; ok {
			t[c] = 1
		}
	}
	return t
}

func anySet(t []uint8) bool { return slices.Contains(t, 1) }

func (a *account) plan(q *analytics.IntervalQuery) filter {
	d := a.d
	var f filter
	f.desk = uuidTable(d, q.DeskIDs)
	f.brain = uuidTable(d, q.BrainParentIDs)
	f.integ = uuidTable(d, q.IntegrationIDs)
	if q.BrainVersions.Active {
		f.version = make([]uint8, len(d.versions)+1)
		for _, v := range q.BrainVersions.Values {
			if c, ok := d.versions[v]; ok {
				f.version[c] = 1
			}
		}
	}
	if q.Channels.Active {
		f.channel = make([]uint8, len(d.channels)+1)
		for _, v := range q.Channels.Values {
			if c, ok := d.channels[v]; ok {
				f.channel[c] = 1
			}
		}
	}
	if q.AgentIDs.Active {
		want := map[uint32]bool{}
		for _, v := range q.AgentIDs.Values {
			if c, ok := d.agents[v]; ok {
				want[c] = true
			}
		}
		f.agents = make([]uint8, len(d.members))
		if len(want) > 0 {
			for code, ms := range d.members {
				for _, m := range ms {
					if want[m] {
						f.agents[code] = 1
						break
					}
				}
			}
		}
	}
	for fl := range f.test {
		if !q.IsTest.Active || (fl&flagTest != 0) == q.IsTest.Value {
			f.test[fl] = 1
		}
	}
	for _, t := range [][]uint8{f.desk, f.brain, f.integ, f.version, f.channel, f.agents} {
		if t != nil && !anySet(t) {
			f.none = true
		}
	}
	return f
}

// Count answers q (whose Bounds are planned) for one account: dst[k] gets
// the counts of bucket k. dst must have len(q.Bounds)-1 elements, zeroed;
// it is returned. An account with no sessions gives all zeros.
func (ix *Index) Count(ctx context.Context, accountID pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := ix.account(accountID, false)
	if a == nil || len(q.Bounds) < 2 {
		return dst, nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	f := a.plan(q)
	if f.none {
		return dst, nil
	}
	if err := scanColumns(ctx, &a.main, q.Bounds, &f, dst); err != nil {
		return nil, err
	}
	scanRows(a.added, q.Bounds, &f, dst, 1)
	scanRows(a.removed, q.Bounds, &f, dst, -1)
	return dst, nil
}

// checkEvery is how many rows the scan covers between context checks.
const checkEvery = 1 << 16

// scanColumns adds the open/closed counts of c's rows within the bounds to
// dst. Rows are sorted by start, so the bucket is found by walking the
// boundaries, which works for month spans as well as fixed ones and costs
// one comparison per row.
func scanColumns(ctx context.Context, c *columns, bounds []int64, f *filter, dst []analytics.Counts) error {
	lo := sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[0] })
	hi := sort.Search(len(c.start), func(i int) bool { return c.start[i] >= bounds[len(bounds)-1] })
	cols, tabs, n := f.active(c)
	for from := lo; from < hi; from += checkEvery {
		to := min(from+checkEvery, hi)
		switch n {
		case 0:
			scanNoFilter(c.start[from:to], c.flags[from:to], bounds, &f.test, dst)
		case 1:
			scanOneFilter(c.start[from:to], c.flags[from:to], cols[0][from:to], tabs[0], bounds, &f.test, dst)
		default:
			var sub [6][]uint32
			for j := 0; j < n; j++ {
				sub[j] = cols[j][from:to]
			}
			scanFilters(c.start[from:to], c.flags[from:to], sub[:n], tabs[:n], bounds, &f.test, dst)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// The scan loops keep the current bucket's counts in registers and write
// them out when the bucket changes: incrementing a counter in memory for
// every row would chain each row's store to the next row's load. Filters
// are table look-ups ANDed into a 0/1 mask, so no branch depends on the
// data except the bucket walk, which is predictable.

func firstBucket(bounds []int64, s int64) int {
	return sort.Search(len(bounds), func(i int) bool { return bounds[i] > s }) - 1
}

func scanNoFilter(start []int64, flags []uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
	k := firstBucket(bounds, start[0])
	next := bounds[k+1]
	var total, closed int64
	for i, s := range start {
		if s >= next {
			dst[k].Closed += closed
			dst[k].Open += total - closed
			total, closed = 0, 0
			for s >= next {
				k++
				next = bounds[k+1]
			}
		}
		fl := flags[i] & 3
		m := int64(test[fl])
		total += m
		closed += m & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

func scanOneFilter(start []int64, flags []uint8, col []uint32, tab []uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
	col = col[:len(start)]
	flags = flags[:len(start)]
	k := firstBucket(bounds, start[0])
	next := bounds[k+1]
	var total, closed int64
	for i, s := range start {
		if s >= next {
			dst[k].Closed += closed
			dst[k].Open += total - closed
			total, closed = 0, 0
			for s >= next {
				k++
				next = bounds[k+1]
			}
		}
		fl := flags[i] & 3
		m := int64(test[fl] & tab[col[i]])
		total += m
		closed += m & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

func scanFilters(start []int64, flags []uint8, cols [][]uint32, tabs [][]uint8, bounds []int64, test *[4]uint8, dst []analytics.Counts) {
	if len(start) == 0 {
		return
	}
	k := firstBucket(bounds, start[0])
	next := bounds[k+1]
	var total, closed int64
	for i, s := range start {
		if s >= next {
			dst[k].Closed += closed
			dst[k].Open += total - closed
			total, closed = 0, 0
			for s >= next {
				k++
				next = bounds[k+1]
			}
		}
		fl := flags[i] & 3
		m := test[fl]
		for j, col := range cols {
			m &= tabs[j][col[i]]
		}
		total += int64(m)
		closed += int64(m) & int64(fl)
	}
	dst[k].Closed += closed
	dst[k].Open += total - closed
}

// pass reports whether a delta row passes the filter.
func (f *filter) pass(r *row) bool {
	return f.test[r.flags&3] == 1 &&
		(f.desk == nil || f.desk[r.desk] == 1) &&
		(f.brain == nil || f.brain[r.brain] == 1) &&
		(f.integ == nil || f.integ[r.integ] == 1) &&
		(f.version == nil || f.version[r.version] == 1) &&
		(f.channel == nil || f.channel[r.channel] == 1) &&
		(f.agents == nil || f.agents[r.agents] == 1)
}

// scanRows is scanColumns for a delta segment, adding sign per row.
func scanRows(rows []row, bounds []int64, f *filter, dst []analytics.Counts, sign int64) {
	if len(rows) == 0 {
		return
	}
	lo := sort.Search(len(rows), func(i int) bool { return rows[i].start >= bounds[0] })
	hi := sort.Search(len(rows), func(i int) bool { return rows[i].start >= bounds[len(bounds)-1] })
	k := 0
	for i := lo; i < hi; i++ {
		r := &rows[i]
		for r.start >= bounds[k+1] {
			k++
		}
		if !f.pass(r) {
			continue
		}
		if r.flags&flagClosed != 0 {
			dst[k].Closed += sign
		} else {
			dst[k].Open += sign
		}
	}
}
