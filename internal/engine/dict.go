package engine

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

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

// encode turns a record into the row the engine keeps.
func (d *dicts) encode(r *session.Record) row {
	out := row{start: r.StartMicros, end: noEnd}
	for i := range numDims {
		out.dims[i] = d.code(i, r)
	}
	if r.HasEnd {
		out.flags |= flagClosed
		out.end = r.EndMicros
	}
	if r.IsTest {
		out.flags |= flagTest
	}
	return out
}
