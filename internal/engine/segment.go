package engine

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/session"
)

// The engine's columns: start (microseconds), one dictionary code per
// dimension, a flags byte, and end (microseconds; noEnd while open), which
// only the flow columns read (flow.go). The dimensions are listed once, here: a
// new one is a constant, a case of code (the code of a record's value)
// and a case of table (a query's filter on it as a code table); rows,
// segments, plans and scans handle every dimension alike.

// dim is a dictionary-encoded column. Rows sort by start, then by the
// dimensions in this order, then by flags.
type dim int

const (
	dimDesk dim = iota
	dimBrain
	dimIntegration
	dimVersion
	dimChannel
	dimAgents
	numDims
)

// code is the code of r's value of dimension i, interned when new.
func (d *dicts) code(i dim, r *session.Record) uint32 {
	switch i {
	case dimDesk:
		return d.uuid(r.DeskID)
	case dimBrain:
		return d.uuid(r.BrainParentID)
	case dimIntegration:
		return d.uuid(r.IntegrationID)
	case dimVersion:
		return d.version(r.BrainVersion)
	case dimChannel:
		return d.channel(r.Channel)
	case dimAgents:
		return d.agentSet(r.AgentIDs)
	}
	panic("engine: no dimension " + strconv.Itoa(int(i)))
}

// table resolves q's filter on dimension i: nil when it does not filter,
// else 1 at the codes that match (see filter).
func (d *dicts) table(i dim, q *analytics.IntervalQuery) []uint8 {
	switch i {
	case dimDesk:
		return codeTable(d.uuids, q.DeskIDs.Active, q.DeskIDs.Values)
	case dimBrain:
		return codeTable(d.uuids, q.BrainParentIDs.Active, q.BrainParentIDs.Values)
	case dimIntegration:
		return codeTable(d.uuids, q.IntegrationIDs.Active, q.IntegrationIDs.Values)
	case dimVersion:
		return codeTable(d.versions, q.BrainVersions.Active, q.BrainVersions.Values)
	case dimChannel:
		return codeTable(d.channels, q.Channels.Active, q.Channels.Values)
	case dimAgents:
		return d.agentsTable(q.AgentIDs)
	}
	panic("engine: no dimension " + strconv.Itoa(int(i)))
}

const (
	flagClosed = 1 << 0
	flagTest   = 1 << 1
)

// noEnd is the end of an open session: later than any bound, so "ended
// before b" is end < b whether the session is open or closed.
const noEnd = math.MaxInt64

// row is one session as the engine sees it: codes, not values. Code 0 is
// NULL in every dictionary.
type row struct {
	start int64
	dims  [numDims]uint32
	flags uint8
	end   int64 // noEnd when open (flags has no flagClosed)
}

// compareRows orders rows by start, then the dimensions, flags and end:
// rows that compare equal are the same for every count.
func compareRows(a, b row) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	for i := range a.dims {
		if c := cmp.Compare(a.dims[i], b.dims[i]); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.flags, b.flags); c != 0 {
		return c
	}
	return cmp.Compare(a.end, b.end)
}

// columns is a segment stored column by column, rows in compareRows order.
type columns struct {
	start []int64
	dims  [numDims][]uint32
	flags []uint8
	end   []int64
}

func (c *columns) len() int { return len(c.start) }

func (c *columns) at(i int) row {
	r := row{start: c.start[i], flags: c.flags[i], end: c.end[i]}
	for d := range c.dims {
		r.dims[d] = c.dims[d][i]
	}
	return r
}

func (c *columns) grow(n int) {
	c.start = slices.Grow(c.start, n)
	for d := range c.dims {
		c.dims[d] = slices.Grow(c.dims[d], n)
	}
	c.flags = slices.Grow(c.flags, n)
	c.end = slices.Grow(c.end, n)
}

func (c *columns) push(r row) {
	c.start = append(c.start, r.start)
	for d := range c.dims {
		c.dims[d] = append(c.dims[d], r.dims[d])
	}
	c.flags = append(c.flags, r.flags)
	c.end = append(c.end, r.end)
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
