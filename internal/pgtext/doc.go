// Package pgtext reads and writes the PostgreSQL text forms that Tally's
// clients send — timestamp, interval and one-dimensional array literals — and
// does PostgreSQL's timestamp + interval arithmetic, so that a query
// answered by Tally means exactly what it would mean to a Hasura deployment
// over PostgreSQL.
//
// Timestamps are int64 microseconds since 1970-01-01 00:00:00 UTC, the unit
// the engine works in; time.Time never crosses this package's boundary.
// Every parser returns *SyntaxError or *RangeError values that carry the
// input, the type and the reason, so callers can say precisely what was
// wrong. The behaviour mirrors PostgreSQL 15 (datetime.c, arrayfuncs.c,
// uuid.c, numutils.c); the differential tests in this package compare it
// with a running server.
//
// pgtext imports nothing from Tally: it knows no GraphQL, HTTP or storage.
package pgtext
