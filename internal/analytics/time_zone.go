package analytics

import (
	"fmt"

	"github.com/tally-server/tally/internal/pgtext"
)

// The time_zone argument of SPEC 9.1: an IANA zone name whose calendar the
// buckets follow, and on whose clocks start_time and end_time are read.

// readTimeZone reads the time_zone argument (v, not null) and re-reads
// start_time and end_time, already parsed as in UTC, on its clocks: a
// literal without a zone is a wall-clock time there (pgtext.Zone.Instant
// resolves times the clocks skip or repeat as PostgreSQL does); one with
// "Z" or an offset names its instant, which is what the UTC reading gave.
// "UTC" leaves q as it is, so the query is exactly SPEC section 2's.
// Queries without a time_zone never come here: they cost what they cost
// before the argument existed.
func (q *IntervalQuery) readTimeZone(args Args, v any) error {
	z, err := zoneArgument("time_zone", v)
	if err != nil {
		return err
	}
	if z.IsUTC() {
		return nil
	}
	for _, a := range [2]struct {
		name string
		ts   *int64
	}{{"start_time", &q.StartMicros}, {"end_time", &q.EndMicros}} {
		// The literal parsed before, so it parses again.
		wall, hasZone, err := pgtext.ParseTimestampZone(args.Get(a.name).(string))
		if err != nil {
			return literalError(a.name, err)
		}
		if hasZone {
			continue // an instant, read as such already
		}
		if *a.ts, err = z.Instant(wall); err != nil {
			return literalError(a.name, err)
		}
	}
	q.Zone = z
	return nil
}

// zoneArgument reads the value v (not null) of a time-zone argument arg of
// any function: the zone it names, or a parse error when v is no string
// and a data error quoting pgtext's message, which gives an example, when
// it names no zone Tally knows.
func zoneArgument(arg string, v any) (*pgtext.Zone, error) {
	name, ok := v.(string)
	if !ok {
		return nil, &ArgError{Arg: arg, Kind: KindParse, Reason: fmt.Sprintf(`A string is expected for type: String; argument %s takes an IANA time zone name such as "Europe/Athens", or "UTC", but found %s`, arg, JSONKind(v))}
	}
	z, err := pgtext.LoadZone(name)
	if err != nil {
		return nil, literalError(arg, err)
	}
	return z, nil
}
