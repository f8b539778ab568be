// Package session holds the values every other part of Tally shares about
// stored sessions: a Record, the Change a write makes, the updated_at rule
// and the error a backend returns when its database is away. It is a leaf:
// it imports only pgtext, and ingestion, the engine, the stores, analytics
// and HTTP all import it, as Prometheus keeps model/labels apart from tsdb
// and promql. The queries over sessions are in package analytics.
package session

import (
	"errors"

	"github.com/tally-server/tally/internal/pgtext"
)

// Record is one conversation session as stored. Times are microseconds
// since 1970-01-01 UTC.
type Record struct {
	AccountID     pgtext.UUID
	SessionID     string
	DeskID        pgtext.NullUUID
	BrainParentID pgtext.NullUUID
	IntegrationID pgtext.NullUUID
	BrainVersion  pgtext.NullInt4
	Channel       NullString
	AgentIDs      []string // never nil once validated; may be empty
	IsTest        bool
	StartMicros   int64
	EndMicros     int64 // meaningful only when HasEnd
	HasEnd        bool
	UpdatedMicros int64 // meaningful only when HasUpdated
	HasUpdated    bool
}

// NullString is a text value that may be SQL NULL.
type NullString struct {
	String string
	Valid  bool
}

// Change is the effect of one accepted record on the stored data: Old is
// the row it replaced (nil for a new session) and New the row now stored.
// The engine applies changes to stay equal to the store.
type Change struct {
	Old *Record
	New *Record
}

// Supersedes reports whether an incoming record replaces the stored one
// under the updated_at rule of SPEC section 6: it does unless both carry
// updated_at and the incoming one is older.
func Supersedes(incoming, stored *Record) bool {
	if incoming.HasUpdated && stored.HasUpdated {
		return incoming.UpdatedMicros >= stored.UpdatedMicros
	}
	return true
}

// Key identifies a stored session: sessions are upserted by (account_id,
// session_id).
type Key struct {
	Account pgtext.UUID
	ID      string
}

// Key is r's key.
func (r *Record) Key() Key { return Key{r.AccountID, r.SessionID} }

// BatchKeys are the distinct keys of recs, in first-seen order: the stored
// rows a store reads before Fold.
func BatchKeys(recs []Record) []Key {
	seen := make(map[Key]bool, len(recs))
	out := make([]Key, 0, len(recs))
	for i := range recs {
		k := recs[i].Key()
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Fold applies a batch to the stored rows of its sessions under the
// updated_at rule, record by record in order (the rule is not
// associative: stored 7, then a record without updated_at, then one with
// 5, ends at 5 — so a batch cannot be folded pairwise or in SQL alone).
//
// stored holds the row of each of the batch's sessions that is stored
// (absent: a new session); Fold updates it in place to the final rows,
// which point into recs. It returns the changes (every accepted record,
// in order, with the row it replaced: what the engine applies), the keys
// whose row changed in first-write order (what the store writes:
// stored[key] for each), and how many records were ignored as older than
// the row they met.
func Fold(stored map[Key]*Record, recs []Record) (changes []Change, written []Key, ignored int) {
	changes = make([]Change, 0, len(recs))
	seen := make(map[Key]bool, len(recs))
	for i := range recs {
		r := &recs[i]
		k := r.Key()
		old := stored[k]
		if old != nil && !Supersedes(r, old) {
			ignored++
			continue
		}
		changes = append(changes, Change{Old: old, New: r})
		stored[k] = r
		if !seen[k] {
			seen[k] = true
			written = append(written, k)
		}
	}
	return changes, written, ignored
}

// ErrTemporary is wrapped by backends around a failure that may pass by
// itself: the database unreachable (ErrUnavailable), a lock or statement
// timeout, a serialization failure or deadlock that persists after the
// backend's own retries, a full disk. HTTP answers such a failure of a
// write with 503 and Retry-After, so clients retry it; any other backend
// error is permanent (a bug, a misconfiguration, data the database
// refuses) and is answered 500, so clients do not retry it forever.
var ErrTemporary = errors.New("temporary failure")

// ErrUnavailable is wrapped by backends when their database cannot be
// reached, so that GraphQL and HTTP can say so without knowing the
// backend. It is temporary: errors.Is(ErrUnavailable, ErrTemporary).
var ErrUnavailable error = &temporaryError{"the database is unreachable"}

// temporaryError is a sentinel that is also ErrTemporary.
type temporaryError struct{ msg string }

func (e *temporaryError) Error() string        { return e.msg }
func (e *temporaryError) Is(target error) bool { return target == ErrTemporary }
