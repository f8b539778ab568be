package engine

import (
	"github.com/tally-server/tally/internal/analytics"
)

// filter is a query resolved to codes: tabs[d] is nil when dimension d
// does not filter, else a table indexed by code holding 1 where that code
// matches and 0 elsewhere. NULL (code 0) never matches an active filter.
// test[flags] is 1 when a row's flags pass the is_test filter.
type filter struct {
	tabs [numDims][]uint8
	test [4]uint8
	none bool // some filter matches nothing
	// sel[d][:nsel[d]] are the codes tabs[d] marks, in order, when they
	// are at most selMax (nsel[d] is 0 otherwise): a block summary then
	// looks them up instead of reading all its pairs (blockCounts).
	sel  [numDims][selMax]uint32
	nsel [numDims]uint8
}

const selMax = 8

// active lists the filter's column tables for the scan loop.
func (f *filter) active(c *columns) (cols [numDims][]uint32, tabs [numDims][]uint8, n int) {
	for d := range f.tabs {
		if f.tabs[d] != nil {
			cols[n], tabs[n] = c.dims[d], f.tabs[d]
			n++
		}
	}
	return cols, tabs, n
}

// pass reports whether a delta row passes the filter.
func (f *filter) pass(r *row) bool {
	if f.test[r.flags&3] != 1 {
		return false
	}
	for d, t := range f.tabs {
		if t != nil && t[r.dims[d]] != 1 {
			return false
		}
	}
	return true
}

// passAt reports whether row i of c passes the filter.
func (f *filter) passAt(c *columns, i int) bool {
	if f.test[c.flags[i]&3] != 1 {
		return false
	}
	for d, t := range f.tabs {
		if t != nil && t[c.dims[d][i]] != 1 {
			return false
		}
	}
	return true
}

// codeTable resolves a filter on a dictionary m: nil when inactive, else 1
// at the code of each value the dictionary knows.
func codeTable[K comparable](m map[K]uint32, active bool, values []K) []uint8 {
	if !active {
		return nil
	}
	t := make([]uint8, len(m)+1)
	for _, v := range values {
		if c, ok := m[v]; ok {
			t[c] = 1
		}
	}
	return t
}

// agentsTable marks the agent sets that overlap the query's agents.
func (d *dicts) agentsTable(set analytics.TextSet) []uint8 {
	if !set.Active {
		return nil
	}
	want := map[uint32]bool{}
	for _, v := range set.Values {
		if c, ok := d.agents[v]; ok {
			want[c] = true
		}
	}
	t := make([]uint8, len(d.members))
	if len(want) > 0 {
		for code, ms := range d.members {
			for _, m := range ms {
				if want[m] {
					t[code] = 1
					break
				}
			}
		}
	}
	return t
}

func (a *account) plan(q *analytics.IntervalQuery) filter {
	var f filter
	for i := range numDims {
		t := a.d.table(i, q)
		f.tabs[i] = t
		if t == nil {
			continue
		}
		n, found := 0, false
		for code, on := range t {
			if on != 1 {
				continue
			}
			found = true
			if n < selMax {
				f.sel[i][n] = uint32(code)
			}
			n++
		}
		if !found {
			f.none = true
		}
		if n <= selMax {
			f.nsel[i] = uint8(n)
		}
	}
	for fl := range f.test {
		if !q.IsTest.Active || (fl&flagTest != 0) == q.IsTest.Value {
			f.test[fl] = 1
		}
	}
	return f
}
