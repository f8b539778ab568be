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

// ErrUnavailable is wrapped by backends when their database cannot be
// reached, so that GraphQL and HTTP can say so without knowing the
// backend.
var ErrUnavailable = errors.New("the database is unreachable")
