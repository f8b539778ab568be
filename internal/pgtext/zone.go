package pgtext

import (
	"fmt"
	"strings"
)

// Zone is a time zone of the IANA database that Tally ships (see
// ZoneDataVersion): the offsets from UTC it has used and will use, and the
// rule that continues them into the future. Its methods convert between
// instants (timestamp with time zone: microseconds since 1970-01-01 UTC)
// and wall-clock times (timestamp without time zone: microseconds since
// 1970-01-01 00:00 on the zone's clocks, read as if UTC), and add
// intervals on the zone's calendar, each as PostgreSQL 15 does with
// TimeZone set to the zone.
//
// A Zone is immutable and safe for concurrent use. LoadZone returns the
// same *Zone for every spelling of a name, so zones may be compared with ==.
type Zone struct {
	name string

	// The transition table that PostgreSQL's pg_next_dst_boundary and
	// localsub search. trans[i] (seconds since 1970 UTC) is when offset
	// offs[i] (seconds east of UTC) takes effect; first is in force before
	// trans[0]. It holds every transition of the zone's file and those of
	// its footer rule up to ruleFrom.
	first int32
	trans []int64
	offs  []int32
	// rule continues the table from ruleFrom on; nil when the offset stays
	// offs[len(offs)-1] forever.
	rule     *tzRule
	ruleFrom int64
	fixed    bool // no transitions and no rule: the offset is always first
}

// The table is precomputed up to this year; later instants evaluate the
// footer rule directly, which gives the same transitions.
const zoneTableEndYear = 2100

// utcZone is the zone "UTC": offset zero, no transitions.
var utcZone = &Zone{name: "UTC", fixed: true}

// UTC returns the zone "UTC", in which every method of Zone gives what the
// same arithmetic on timestamps without time zone gives.
func UTC() *Zone { return utcZone }

// Name returns the zone's canonical name, such as "America/New_York".
func (z *Zone) Name() string { return z.name }

// String returns Name.
func (z *Zone) String() string { return z.name }

// IsUTC reports whether z is the zone "UTC".
func (z *Zone) IsUTC() bool { return z == utcZone }

// maxZoneNameBytes bounds the names LoadZone looks up; the longest name in
// the database, "America/Argentina/ComodRivadavia", has 32 bytes.
const maxZoneNameBytes = 64

// LoadZone returns the zone with the given name: "UTC" or an Area/Location
// name of the IANA database, such as "Europe/Athens",
// "America/Argentina/Buenos_Aires" or "Etc/GMT-2". Names match
// case-insensitively, as in PostgreSQL ("europe/athens" is
// "Europe/Athens"), but exactly otherwise: no blanks are trimmed.
//
// PostgreSQL accepts more as a time zone, and Tally does not:
//   - abbreviations ("EST", "PST", "CEST"): several are ambiguous, and
//     PostgreSQL's AT TIME ZONE reads them as fixed offsets while SET
//     TimeZone reads the database, so "CET" means two things in one query;
//   - the database's names without a slash ("EST5EDT", "Japan", "GMT",
//     "CET"): backward-compatibility aliases, some of them abbreviations too;
//   - POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0", "<+03>-3") and numeric
//     offsets ("+02", "-5", "UTC+2"), whose sign PostgreSQL reads the POSIX
//     way (west positive), the opposite of ISO 8601;
//   - the "posix/" and "right/" trees of the host's zoneinfo.
//
// Any other name fails with a *ZoneError. Loaded zones are cached for the
// life of the process, so loading a canonical name again costs a map
// lookup and allocates nothing (another spelling also lower-cases it); the
// cache holds at most one zone per name of the database.
func LoadZone(name string) (*Zone, error) {
	if name == "UTC" {
		return utcZone, nil
	}
	if err := openZoneDB(); err != nil {
		return nil, &ZoneError{Input: name, Reason: err.Error()}
	}
	zoneDB.mu.RLock()
	z := zoneDB.zones[name]
	zoneDB.mu.RUnlock()
	if z != nil {
		return z, nil
	}
	if name == "" || len(name) > maxZoneNameBytes {
		return nil, newZoneError(name)
	}
	canon, ok := zoneDB.fold[strings.ToLower(name)]
	if !ok || !acceptedZoneName(canon) {
		return nil, newZoneError(name)
	}
	if canon == "UTC" {
		return utcZone, nil
	}
	zoneDB.mu.RLock()
	z = zoneDB.zones[canon]
	zoneDB.mu.RUnlock()
	if z != nil {
		return z, nil
	}
	f, err := readZoneFile(canon)
	if err != nil {
		return nil, err
	}
	z, err = newZone(canon, f)
	if err != nil {
		return nil, err
	}
	zoneDB.mu.Lock()
	defer zoneDB.mu.Unlock()
	if prev := zoneDB.zones[canon]; prev != nil {
		return prev, nil // loaded meanwhile by another goroutine
	}
	zoneDB.zones[canon] = z
	return z, nil
}

// newZone builds the lookup table of a zone from its file.
func newZone(name string, f tzFile) (*Zone, error) {
	z := &Zone{name: name}
	// Before the first transition PostgreSQL uses the lowest-numbered
	// standard-time type (pg_next_dst_boundary); localsub uses the
	// file's default type. In the files zic writes since 2018 both are
	// type 0, which TestZoneFilesFirstType checks for the whole database.
	z.first = f.offs[0]
	for i := range f.offs {
		if !f.isDST[i] {
			z.first = f.offs[i]
			break
		}
	}
	z.trans = append([]int64(nil), f.trans...)
	z.offs = make([]int32, len(f.types))
	for i, ty := range f.types {
		z.offs[i] = f.offs[ty]
	}
	if f.footer != "" {
		_, rule, err := parseTZRule(f.footer)
		if err != nil {
			return nil, fmt.Errorf("pgtext: zone %q: %w", name, err)
		}
		if rule != nil {
			// PostgreSQL's tzload appends the rule's transitions after
			// the file's last one (for a file without transitions, from
			// 1770 on, as tzparse starts 200 years before 1970).
			last, fromYear := int64(-1<<63), int64(1770)
			if n := len(z.trans); n > 0 {
				last = z.trans[n-1]
				fromYear, _, _ = civilFromDays(floorDiv(last, 86400))
				fromYear--
			}
			for y := fromYear; y < zoneTableEndYear; y++ {
				ats, offs, n := rule.yearEvents(y)
				for i := 0; i < n; i++ {
					if ats[i] <= last {
						continue
					}
					if k := len(z.trans); k > 0 && ats[i] <= z.trans[k-1] {
						return nil, fmt.Errorf("pgtext: zone %q: rule %q gives transitions out of order", name, f.footer)
					}
					z.trans = append(z.trans, ats[i])
					z.offs = append(z.offs, offs[i])
				}
			}
			z.rule = rule
			z.ruleFrom = daysFromCivil(zoneTableEndYear, 1, 1) * 86400
			if len(z.trans) > 0 && z.trans[len(z.trans)-1] >= z.ruleFrom {
				z.ruleFrom = z.trans[len(z.trans)-1] + 1
			}
		}
	}
	z.fixed = len(z.trans) == 0 && z.rule == nil
	return z, nil
}

// search returns the number of transitions at or before t.
func (z *Zone) search(t int64) int {
	lo, hi := 0, len(z.trans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if z.trans[m] <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// offsetAt returns the offset in force at t (seconds since 1970 UTC), as
// PostgreSQL's localsub finds it.
func (z *Zone) offsetAt(t int64) int32 {
	if z.fixed {
		return z.first
	}
	if z.rule != nil && t >= z.ruleFrom {
		return z.rule.offsetAt(t)
	}
	if i := z.search(t); i > 0 {
		return z.offs[i-1]
	}
	return z.first
}

// nextBoundary mirrors PostgreSQL's pg_next_dst_boundary: the offset in
// force at t and, when the zone has a transition after t (ok), the first
// one: its time and the offset it switches to. Transitions that keep the
// offset (a new abbreviation or DST flag) count, as they do there.
func (z *Zone) nextBoundary(t int64) (before int32, at int64, after int32, ok bool) {
	if z.fixed {
		return z.first, 0, 0, false
	}
	if z.rule != nil && t >= z.ruleFrom {
		return z.rule.next(t)
	}
	i := z.search(t)
	before = z.first
	if i > 0 {
		before = z.offs[i-1]
	}
	if i < len(z.trans) {
		return before, z.trans[i], z.offs[i], true
	}
	if z.rule != nil {
		if _, at, after, ok := z.rule.next(t); ok {
			return before, at, after, true
		}
	}
	return before, 0, 0, false
}

// wallOffset mirrors PostgreSQL's DetermineTimeZoneOffset: the offset
// (seconds east of UTC) with which the wall-clock time mytime (whole
// seconds since 1970-01-01 00:00 local) is read in z. A time in a
// spring-forward gap gets the offset before the change, a time in a
// fall-back overlap the offset after it.
func (z *Zone) wallOffset(mytime int64) int32 {
	// Transitions are assumed at least 48 hours apart and offsets below
	// 24 hours, so the first transition after mytime - 24h decides.
	before, boundary, after, ok := z.nextBoundary(mytime - 86400)
	if !ok {
		return before
	}
	beforeTime := mytime - int64(before)
	afterTime := mytime - int64(after)
	switch {
	case beforeTime < boundary && afterTime < boundary:
		return before
	case beforeTime > boundary && afterTime >= boundary:
		return after
	case beforeTime > afterTime: // in a gap: prefer the "before" reading
		return before
	}
	return after // in an overlap: prefer the "after" reading
}

// ZoneError reports a time zone name that Tally does not accept: neither
// "UTC" nor an Area/Location name of the database it ships (see LoadZone).
// Its message starts with PostgreSQL's wording and ends with an example
// of a name that works.
type ZoneError struct {
	Input  string // the name as given
	Reason string // why it is not accepted, and what is
}

func (e *ZoneError) Error() string {
	in := e.Input
	if len(in) > maxZoneNameBytes {
		in = in[:maxZoneNameBytes] + "..."
	}
	return fmt.Sprintf("time zone %q not recognized: %s", in, e.Reason)
}

const zoneExample = `use "UTC" or an IANA time zone name such as "Europe/Athens"`

func newZoneError(name string) *ZoneError {
	reason := "not in the IANA time zone database (release " + ZoneDataVersion() + ") that Tally ships; " + zoneExample
	lower := strings.ToLower(name)
	canon, known := zoneDB.fold[lower]
	switch {
	case name == "":
		reason = "the name is empty; " + zoneExample
	case len(name) > maxZoneNameBytes:
		reason = "the name is too long; " + zoneExample
	case lower == "utc" || lower == "gmt" || lower == "z" || lower == "zulu" || lower == "uct" || lower == "universal" || lower == "greenwich":
		reason = `use "UTC" for Coordinated Universal Time, or an IANA time zone name such as "Europe/Athens"`
	case known:
		reason = fmt.Sprintf("%q is a backward-compatibility alias of the IANA database, and Tally accepts only \"UTC\" and Area/Location names; use a name such as \"Europe/Athens\"", canon)
	case strings.ContainsAny(name, "0123456789") && !strings.Contains(name, "/"):
		reason = `numeric offsets and POSIX TZ strings are not accepted (their signs are ambiguous); use the IANA name of a place, such as "Europe/Athens", or "Etc/GMT-2" for a fixed UTC+02`
	case isAbbreviation(name):
		reason = "time zone abbreviations are not accepted (several are ambiguous and none follows daylight-saving time); use an IANA time zone name such as \"Europe/Athens\""
	}
	return &ZoneError{Input: name, Reason: reason}
}

// isAbbreviation reports whether s looks like a zone abbreviation: two to
// five letters, such as "PST" or "CEST".
func isAbbreviation(s string) bool {
	if len(s) < 2 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return true
}
