package pgtext

import "strings"

// ParseTimestampZone reads a timestamp literal as ParseTimestamp does and
// also reports whether it carries its own zone: "Z" or a numeric offset
// such as "+02:00". Without one, ts is the wall-clock reading of the
// literal ("2024-03-10 02:30" gives 2024-03-10T02:30:00 as if UTC); with
// one, ts is the instant it names, in UTC. The errors are ParseTimestamp's.
func ParseTimestampZone(s string) (ts int64, hasZone bool, err error) {
	ts, err = ParseTimestamp(s)
	if err != nil {
		return 0, false, err
	}
	return ts, literalHasZone(s), nil
}

// literalHasZone reports whether a literal that ParseTimestamp accepted
// ends in a zone. Its date "YYYY-MM-DD" comes first, after optional
// blanks; past it, the only places a "+", "-", "Z" or "z" can appear are in
// the zone ("T" separates the time, and the time has only digits, ":" and
// ".").
func literalHasZone(s string) bool {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	for dashes := 0; i < len(s) && (isDigit(s[i]) || s[i] == '-' && dashes < 2); i++ {
		if s[i] == '-' {
			dashes++
		}
	}
	return strings.ContainsAny(s[i:], "+-Zz")
}

// ParseTimestamp reads a start_time or end_time literal of a query in zone
// z (SPEC 9.1) and returns the instant it names, in microseconds since
// 1970-01-01 UTC. A literal without a zone is a wall-clock time in z,
// converted as Instant converts it (a time skipped by a spring-forward
// change lands after the gap, a repeated one is the later instant); a
// literal with "Z" or an offset names its instant directly. In the zone
// UTC it returns what the package function ParseTimestamp returns. The
// errors are ParseTimestamp's *SyntaxError and *RangeError.
func (z *Zone) ParseTimestamp(s string) (int64, error) {
	ts, hasZone, err := ParseTimestampZone(s)
	if err != nil || hasZone {
		return ts, err
	}
	return z.Instant(ts)
}
