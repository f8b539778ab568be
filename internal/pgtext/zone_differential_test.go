package pgtext

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/testseed"
)

// The differential tests of this file compare Zone with PostgreSQL 15:
// `timestamptz AT TIME ZONE z`, `timestamp AT TIME ZONE z`, `timestamptz
// + interval` and generate_series with TimeZone = z.
//
// PostgreSQL reads the host's zone database (Debian builds it with
// --with-system-tzdata), Tally the one it ships. Where the two releases
// disagree, the differences are listed in zoneDeviations with the reason;
// TestZoneDataAgreesWithPostgres finds them, and the other tests draw their
// cases outside them.

// zoneHelperSQL defines functions that report an error instead of raising
// it, so thousands of cases are checked in one statement.
const zoneHelperSQL = `
SET statement_timeout = '120s';
CREATE OR REPLACE FUNCTION tz_wall(z text, t timestamptz, OUT v timestamp, OUT err text) AS $$
BEGIN v := t AT TIME ZONE z; EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION tz_instant(z text, w timestamp, OUT v timestamptz, OUT err text) AS $$
BEGIN v := w AT TIME ZONE z; EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION tz_add(z text, t timestamptz, iv interval, OUT v timestamptz, OUT err text) AS $$
BEGIN PERFORM set_config('TimeZone', z, true); v := t + iv;
EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
-- The buckets as open_closed_sessions_interval_counts_ext computes them.
CREATE OR REPLACE FUNCTION tz_series(z text, s timestamp, e timestamp, st interval,
  OUT lo timestamptz[], OUT hi timestamptz[], OUT wall timestamp[], OUT err text) AS $$
BEGIN
  PERFORM set_config('TimeZone', z, true);
  SELECT array_agg(g ORDER BY n), array_agg(g + st ORDER BY n), array_agg(g AT TIME ZONE z ORDER BY n)
    INTO lo, hi, wall
    FROM generate_series(s AT TIME ZONE z, e AT TIME ZONE z, st) WITH ORDINALITY AS x(g, n);
EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
`

func connectZones(t *testing.T) *pgx.Conn {
	t.Helper()
	conn := connect(t)
	if _, err := conn.Exec(context.Background(), zoneHelperSQL); err != nil {
		t.Fatalf("zone helpers: %v", err)
	}
	return conn
}

// zoneDeviation is a zone and a span of years in which the host's zone
// database (read by PostgreSQL) and Tally's differ.
type zoneDeviation struct {
	zone     string
	from, to int // years, inclusive
	reason   string
}

// zoneDeviations are the known differences between the zone database of
// the test machine's PostgreSQL (Debian 12's tzdata 2025b) and Tally's
// (IANA 2025c, as Go 1.26 ships it), found by
// TestZoneDataAgreesWithPostgres from 1900 to 2100. They are differences
// of data, not of arithmetic, and all lie before the era the random cases
// are drawn from. A host with another release may show fewer (the test
// logs those) or more (the test fails, naming them; they belong here with
// their reason).
var zoneDeviations = []zoneDeviation{
	// Release 2025c changed past timestamps of Baja California: there it
	// follows the US daylight-saving dates of 1953 and 1961-1975
	// (including the emergency daylight time of January 1974 and February
	// 1975), which 2025b does not. The four names are one zone.
	{"America/Tijuana", 1953, 1975, "tzdata 2025c corrected Baja California's daylight-saving history; the host has 2025b"},
	{"America/Ensenada", 1953, 1975, "link to America/Tijuana (see there)"},
	{"America/Santa_Isabel", 1953, 1975, "link to America/Tijuana (see there)"},
	{"Mexico/BajaNorte", 1953, 1975, "link to America/Tijuana (see there)"},
}

// zoneDeviationFor returns the deviation covering zone in year y, if any.
func zoneDeviationFor(zone string, y int) *zoneDeviation {
	for i := range zoneDeviations {
		d := &zoneDeviations[i]
		if d.zone == zone && y >= d.from && y <= d.to {
			return d
		}
	}
	return nil
}

// The era the random cases are drawn from: daylight-saving changes from
// 1990 to 2037, as the issue asks.
const zoneTestFrom, zoneTestTo = 1990, 2037

// diffZones are the zones of the random cases: the half-hour, 45-minute
// and DST-shifting zones of issue 12, southern-hemisphere and negative
// DST, zones that changed their rules, skipped a day or moved at midnight.
var diffZones = []string{
	"UTC", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe", "America/St_Johns",
	"America/New_York", "Europe/Athens", "Asia/Kathmandu", "Europe/Moscow", "America/Sao_Paulo",
	"Australia/Sydney", "Pacific/Auckland", "America/Santiago", "Europe/Dublin", "Africa/Casablanca",
	"Pacific/Apia", "Pacific/Kiritimati", "America/Havana", "Asia/Tehran", "America/Nuuk",
	"Antarctica/Troll", "Africa/Cairo", "America/Mexico_City", "Europe/London", "America/Asuncion",
	"Europe/Lisbon", "Asia/Pyongyang", "America/Caracas", "America/Los_Angeles", "Australia/Adelaide",
}

func yearOf(micros int64) int {
	y, _, _ := civilFromDays(floorDiv(micros, MicrosPerDay))
	return int(y)
}

func utcTime(micros int64) time.Time { return time.UnixMicro(micros).UTC() }

// The era TestZoneDataAgreesWithPostgres compares the zone databases in.
const zoneSweepFrom, zoneSweepTo = 1900, 2100

// TestZoneDataAgreesWithPostgres reads every zone Tally accepts at one
// second before, at and after each of its transitions from 1900 to 2100,
// and at noon UTC on January 15th and July 15th of each year, with `AT
// TIME ZONE` on PostgreSQL, and reports the zones and years where the two
// databases disagree that zoneDeviations does not list.
func TestZoneDataAgreesWithPostgres(t *testing.T) {
	conn := connectZones(t)
	lo := mustCivil(zoneSweepFrom, 1, 1) * MicrosPerDay
	hi := mustCivil(zoneSweepTo+1, 1, 1) * MicrosPerDay
	names := ZoneNames()
	sort.Strings(names)
	var zs []string
	var ats []time.Time
	for _, name := range names {
		z := mustZone(t, name)
		for _, tr := range z.trans {
			if m := tr * MicrosPerSecond; m >= lo && m < hi {
				for _, d := range []int64{-1, 0, 1} {
					zs = append(zs, name)
					ats = append(ats, utcTime(m+d*MicrosPerSecond))
				}
			}
		}
		for y := int64(zoneSweepFrom); y <= zoneSweepTo; y++ {
			for _, mon := range []int64{1, 7} {
				zs = append(zs, name)
				ats = append(ats, utcTime(mustCivil(y, mon, 15)*MicrosPerDay+12*MicrosPerHour))
			}
		}
	}
	type key struct {
		zone string
		year int
	}
	bad := map[key]string{}
	unknown := map[string]string{}
	var v pgtype.Timestamp
	var perr *string
	eachRow(t, conn, len(zs), len(zs), []any{&v, &perr}, func(i int) int {
		name, at := zs[i], ats[i].UnixMicro()
		if perr != nil {
			unknown[name] = *perr
			return 0
		}
		got, err := mustZone(t, name).Wall(at)
		if err != nil {
			t.Fatal(err)
		}
		if want := v.Time.UnixMicro(); got != want {
			k := key{name, yearOf(at)}
			if _, seen := bad[k]; !seen {
				bad[k] = fmt.Sprintf("at %sZ Tally reads %s, PostgreSQL %s", FormatTimestamp(at), FormatTimestamp(got), FormatTimestamp(want))
			}
		}
		return 0 // reported below, by zone and year
	}, `SELECT x.v, x.err FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY u(z, t, n), LATERAL tz_wall(u.z, u.t) x ORDER BY u.n`, zs, ats)
	for name, e := range unknown {
		if zoneDeviationFor(name, zoneSweepFrom) == nil {
			t.Errorf("%s: PostgreSQL does not know the zone (%s); list it in zoneDeviations", name, e)
		}
	}
	keys := make([]key, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].zone != keys[b].zone {
			return keys[a].zone < keys[b].zone
		}
		return keys[a].year < keys[b].year
	})
	for _, k := range keys {
		if zoneDeviationFor(k.zone, k.year) == nil {
			t.Errorf("%s in %d: the zone databases disagree (%s); if it is a difference of releases, list it in zoneDeviations", k.zone, k.year, bad[k])
		}
	}
	for _, d := range zoneDeviations {
		seen := false
		for k := range bad {
			seen = seen || (k.zone == d.zone && k.year >= d.from && k.year <= d.to)
		}
		_, missing := unknown[d.zone]
		if !seen && !missing {
			t.Logf("deviation %s %d-%d not observed on this host (%s)", d.zone, d.from, d.to, hostZoneRelease())
		}
	}
	t.Logf("%d probes over %d zones; host zone database %s, Tally's %s; %d zone-years differ", len(zs), len(names), hostZoneRelease(), ZoneDataVersion(), len(bad))
}

// hostZoneRelease reads the release of the host's zone database, which
// PostgreSQL uses, from its tzdata.zi.
func hostZoneRelease() string {
	b, err := os.ReadFile("/usr/share/zoneinfo/tzdata.zi")
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimPrefix(line, "# version ")
}

// zoneCases draws the instants of the random cases: within two hours of a
// transition of the zone, around a month end on its clocks, or anywhere in
// the era; outside the zone's deviations.
type zoneCases struct {
	rng   *rand.Rand
	trans map[string][]int64 // zone → transitions in the era (µs), outside deviations
}

func newZoneCases(t *testing.T) *zoneCases {
	c := &zoneCases{rng: rand.New(rand.NewSource(testseed.Seed(t))), trans: map[string][]int64{}}
	lo := mustCivil(zoneTestFrom, 1, 1) * MicrosPerDay
	hi := mustCivil(zoneTestTo+1, 1, 1) * MicrosPerDay
	for _, name := range diffZones {
		for _, tr := range mustZone(t, name).trans {
			m := tr * MicrosPerSecond
			if m >= lo && m < hi && zoneDeviationFor(name, yearOf(m)) == nil {
				c.trans[name] = append(c.trans[name], m)
			}
		}
	}
	return c
}

// zone picks a zone of diffZones.
func (c *zoneCases) zone() string { return diffZones[c.rng.Intn(len(diffZones))] }

// jitter is a random offset within ±2 hours: whole minutes, whole seconds
// or any microsecond.
func (c *zoneCases) jitter() int64 {
	switch c.rng.Intn(3) {
	case 0:
		return (c.rng.Int63n(241) - 120) * MicrosPerMinute
	case 1:
		return (c.rng.Int63n(14401) - 7200) * MicrosPerSecond
	}
	return c.rng.Int63n(4*MicrosPerHour+1) - 2*MicrosPerHour
}

// instant returns an instant for zone: near a transition, near a month
// end, or anywhere in the era; never in a deviation.
func (c *zoneCases) instant(t *testing.T, zone string) int64 {
	z := mustZone(t, zone)
	for {
		var m int64
		switch tr := c.trans[zone]; {
		case len(tr) > 0 && c.rng.Intn(2) == 0:
			m = tr[c.rng.Intn(len(tr))] + c.jitter()
		case c.rng.Intn(2) == 0:
			y, mo := int64(zoneTestFrom+c.rng.Intn(zoneTestTo-zoneTestFrom+1)), int64(1+c.rng.Intn(12))
			wall := mustCivil(y, mo, DaysInMonth(y, mo))*MicrosPerDay + MicrosPerDay + c.jitter()
			m, _ = z.Instant(wall)
		default:
			lo := mustCivil(zoneTestFrom, 1, 1) * MicrosPerDay
			m = lo + c.rng.Int63n(mustCivil(zoneTestTo+1, 1, 1)*MicrosPerDay-lo)
		}
		if y := yearOf(m); y >= zoneTestFrom && y <= zoneTestTo && zoneDeviationFor(zone, y) == nil && zoneDeviationFor(zone, y+1) == nil && zoneDeviationFor(zone, y-1) == nil {
			return m
		}
	}
}

// wall returns a wall-clock time for zone: on its clocks near a
// transition (so in gaps and overlaps), near a month end, or anywhere.
func (c *zoneCases) wall(t *testing.T, zone string) int64 {
	z := mustZone(t, zone)
	m := c.instant(t, zone)
	if tr := c.trans[zone]; len(tr) > 0 && c.rng.Intn(2) == 0 {
		// The two readings of the transition's instant, before and after.
		at := tr[c.rng.Intn(len(tr))]
		off := z.Offset(at - MicrosPerSecond)
		if c.rng.Intn(2) == 0 {
			off = z.Offset(at)
		}
		return at + int64(off)*MicrosPerSecond + c.jitter()
	}
	w, _ := z.Wall(m)
	return w
}

// diffIntervals are the interval forms of the cases: calendar days and
// months, mixed, sub-day, and "24 hours" next to "1 day".
var diffIntervals = []string{
	"1 day", "24 hours", "1 mon", "1 mon 2 days 03:00", "1 hour", "15 minutes", "90 secs", "1 week",
	"1 year", "2 days", "1 day 01:00", "1 day -1 hour", "-1 day", "-1 mon", "-24 hours", "12:30",
	"3 mons -2 days", "1 mon -24 hours", "1 day 00:00:00.000001", "00:00:00.5", "7 days", "2 mons",
}

func (c *zoneCases) interval(t *testing.T) Interval {
	if c.rng.Intn(3) > 0 {
		iv, err := ParseInterval(diffIntervals[c.rng.Intn(len(diffIntervals))])
		if err != nil {
			t.Fatal(err)
		}
		return iv
	}
	return Interval{
		Months: int32(c.rng.Intn(61) - 30),
		Days:   int32(c.rng.Intn(121) - 60),
		Micros: c.rng.Int63n(6*MicrosPerDay) - 3*MicrosPerDay,
	}
}

func pgInterval(iv Interval) pgtype.Interval {
	return pgtype.Interval{Months: iv.Months, Days: iv.Days, Microseconds: iv.Micros, Valid: true}
}

// eachRow runs a differential query that returns one row per case, in
// case order, scans each row into dest and calls check with the case's
// index; check returns the number of mismatches it reported. The test
// stops after maxFailures mismatches, and fails unless there were n rows.
func eachRow(t *testing.T, conn *pgx.Conn, n, maxFailures int, dest []any, check func(i int) int, sql string, args ...any) {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i, failures := 0, 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		failures += check(i)
		i++
		if failures > maxFailures {
			t.Fatal("too many failures")
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("compared %d of %d", i, n)
	}
}

// TestZoneConversionsMatchPostgres compares Wall with `timestamptz AT TIME
// ZONE z` and Instant with `timestamp AT TIME ZONE z`.
func TestZoneConversionsMatchPostgres(t *testing.T) {
	conn := connectZones(t)
	c := newZoneCases(t)
	const n = 12000
	zs := make([]string, n)
	ats := make([]time.Time, n)
	walls := make([]time.Time, n)
	for i := range zs {
		zs[i] = c.zone()
		ats[i] = utcTime(c.instant(t, zs[i]))
		walls[i] = utcTime(c.wall(t, zs[i]))
	}
	moved := 0
	var w pgtype.Timestamp
	var in pgtype.Timestamptz
	var werr, ierr *string
	eachRow(t, conn, n, 20, []any{&w, &werr, &in, &ierr}, func(i int) int {
		z, at, wall := mustZone(t, zs[i]), ats[i].UnixMicro(), walls[i].UnixMicro()
		if werr != nil || ierr != nil {
			t.Fatalf("%s: PostgreSQL failed: %v %v", z, werr, ierr)
		}
		failures := 0
		if got, err := z.Wall(at); err != nil || got != w.Time.UnixMicro() {
			failures++
			t.Errorf("%sZ AT TIME ZONE %s: Tally %s (%v), PostgreSQL %s", FormatTimestamp(at), z, FormatTimestamp(got), err, FormatTimestamp(w.Time.UnixMicro()))
		}
		got, err := z.Instant(wall)
		if want := in.Time.UnixMicro(); err != nil || got != want {
			failures++
			t.Errorf("%s AT TIME ZONE %s: Tally %sZ (%v), PostgreSQL %sZ", FormatTimestamp(wall), z, FormatTimestamp(got), err, FormatTimestamp(want))
		}
		if back, _ := z.Wall(got); back != wall {
			moved++ // a wall-clock time in a gap
		}
		return failures
	}, `
		SELECT a.v, a.err, b.v, b.err
		FROM unnest($1::text[], $2::timestamptz[], $3::timestamp[]) WITH ORDINALITY u(z, t, w, n),
		     LATERAL tz_wall(u.z, u.t) a, LATERAL tz_instant(u.z, u.w) b
		ORDER BY u.n`, zs, ats, walls)
	if moved < n/200 {
		t.Errorf("only %d of %d wall-clock times fell in a gap: the generator misses the transitions", moved, n)
	}
	t.Logf("%d instants and %d wall-clock times over %d zones; %d wall-clock times fell in a gap", n, n, len(diffZones), moved)
}

// TestZoneAddIntervalMatchesPostgres compares AddInterval with
// `timestamptz + interval` under SET TimeZone.
func TestZoneAddIntervalMatchesPostgres(t *testing.T) {
	conn := connectZones(t)
	c := newZoneCases(t)
	const n = 15000
	zs := make([]string, n)
	ats := make([]time.Time, n)
	ivs := make([]Interval, n)
	pivs := make([]pgtype.Interval, n)
	for i := range zs {
		zs[i] = c.zone()
		ats[i] = utcTime(c.instant(t, zs[i]))
		ivs[i] = c.interval(t)
		pivs[i] = pgInterval(ivs[i])
	}
	var v pgtype.Timestamptz
	var perr *string
	eachRow(t, conn, n, 20, []any{&v, &perr}, func(i int) int {
		z, at, iv := mustZone(t, zs[i]), ats[i].UnixMicro(), ivs[i]
		got, err := z.AddInterval(at, iv)
		switch {
		case perr != nil || err != nil:
			if (perr == nil) != (err == nil) {
				t.Errorf("%sZ + %s in %s: Tally %v, PostgreSQL %v", FormatTimestamp(at), iv, z, err, perr)
				return 1
			}
		case got != v.Time.UnixMicro():
			t.Errorf("%sZ + %s in %s: Tally %sZ, PostgreSQL %sZ", FormatTimestamp(at), iv, z, FormatTimestamp(got), FormatTimestamp(v.Time.UnixMicro()))
			return 1
		}
		return 0
	}, `
		SELECT x.v, x.err FROM unnest($1::text[], $2::timestamptz[], $3::interval[]) WITH ORDINALITY u(z, t, iv, n),
		     LATERAL tz_add(u.z, u.t, u.iv) x ORDER BY u.n`, zs, ats, pivs)
}

// TestZoneAddIntervalRangeMatchesPostgres compares the range errors: sums
// that leave PostgreSQL's range of timestamp with time zone, or come close.
func TestZoneAddIntervalRangeMatchesPostgres(t *testing.T) {
	conn := connectZones(t)
	var zs []string
	var ats []time.Time
	var ivs []Interval
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Kiritimati"} {
		for _, at := range []string{"0001-01-01", "9999-12-31 23:59:59", "2024-01-31"} {
			for _, iv := range []Interval{
				{Months: 2147483647}, {Months: -2147483648}, {Months: 3400000}, {Months: -60000}, {Months: -58000},
				{Days: 2147483647}, {Days: -2147483648}, {Days: 100000000}, {Days: -1000000}, {Days: -2500000},
				{Micros: 9223372036854775807}, {Micros: -9223372036854775807}, {Micros: 9000000000000000000}, {Micros: -100000000000000000},
				{Months: 3000000, Days: 30000000, Micros: 1000000000000000000},
			} {
				zs = append(zs, zone)
				ats = append(ats, utcTime(ts(t, at)))
				ivs = append(ivs, iv)
			}
		}
	}
	pivs := make([]pgtype.Interval, len(ivs))
	for i, iv := range ivs {
		pivs[i] = pgInterval(iv)
	}
	errs := 0
	var perr *string
	var micros pgtype.Numeric
	eachRow(t, conn, len(zs), 20, []any{&perr, &micros}, func(i int) int {
		z, at, iv := mustZone(t, zs[i]), ats[i].UnixMicro(), ivs[i]
		got, err := z.AddInterval(at, iv)
		if perr != nil {
			errs++
			if err == nil {
				t.Errorf("%sZ + %s in %s: Tally %s, PostgreSQL %s", FormatTimestamp(at), iv, z, FormatTimestamp(got), *perr)
				return 1
			}
			return 0
		}
		want, convErr := micros.Int64Value()
		if err != nil {
			// PostgreSQL's range ends 30 years past what Tally can hold.
			if convErr == nil && want.Int64 <= maxInstant {
				t.Errorf("%sZ + %s in %s: Tally %v, PostgreSQL %d µs", FormatTimestamp(at), iv, z, err, want.Int64)
				return 1
			}
			return 0
		}
		if got != want.Int64 {
			t.Errorf("%sZ + %s in %s: Tally %d µs, PostgreSQL %d µs", FormatTimestamp(at), iv, z, got, want.Int64)
			return 1
		}
		return 0
	}, `
		SELECT x.err, extract(epoch FROM x.v)::numeric * 1000000 FROM unnest($1::text[], $2::timestamptz[], $3::interval[]) WITH ORDINALITY u(z, t, iv, n),
		     LATERAL tz_add(u.z, u.t, u.iv) x ORDER BY u.n`, zs, ats, pivs)
	if errs < len(zs)/4 {
		t.Errorf("only %d of %d cases left the range: the cases have drifted", errs, len(zs))
	}
}

// diffSteps are the interval_span forms of the series cases: positive, so
// that PostgreSQL's generate_series ends.
var diffSteps = []string{
	"1 day", "24 hours", "1 hour", "30 minutes", "15 minutes", "1 mon", "1 week", "1 mon 2 days 03:00",
	"1 day 01:00", "1 year", "2 days", "12 hours", "23 hours", "25 hours", "3 mons", "1 day -1 hour", "45 minutes",
}

// TestZoneSeriesMatchesPostgres compares AppendSeries with the buckets of
// open_closed_sessions_interval_counts_ext: generate_series(start AT TIME
// ZONE z, end AT TIME ZONE z, step) under SET TimeZone = z, each bucket's
// end (g + step) and its start on the zone's clocks (g AT TIME ZONE z).
func TestZoneSeriesMatchesPostgres(t *testing.T) {
	conn := connectZones(t)
	c := newZoneCases(t)
	const n = 1500
	zs := make([]string, n)
	starts := make([]time.Time, n)
	ends := make([]time.Time, n)
	steps := make([]Interval, n)
	psteps := make([]pgtype.Interval, n)
	for i := range zs {
		zs[i] = c.zone()
		step, err := ParseInterval(diffSteps[c.rng.Intn(len(diffSteps))])
		if err != nil {
			t.Fatal(err)
		}
		s := c.wall(t, zs[i])
		if c.rng.Intn(2) == 0 {
			s -= floorMod(s, MicrosPerDay) // midnight, the common case
		}
		// Up to 40 steps of the span's nominal length, sometimes a
		// reversed range (an empty series).
		nominal := int64(step.Months)*30*MicrosPerDay + int64(step.Days)*MicrosPerDay + step.Micros
		e := s + c.rng.Int63n(40)*nominal + c.rng.Int63n(nominal)
		if c.rng.Intn(40) == 0 {
			e = s - c.rng.Int63n(2*MicrosPerDay) - 1
		}
		starts[i], ends[i], steps[i], psteps[i] = utcTime(s), utcTime(e), step, pgInterval(step)
	}
	buckets, empty := 0, 0
	var bounds, walls []int64
	var lo, hi []pgtype.Timestamptz
	var pw []pgtype.Timestamp
	var perr *string
	eachRow(t, conn, n, 5, []any{&lo, &hi, &pw, &perr}, func(i int) int {
		z, sw, ew, step := mustZone(t, zs[i]), starts[i].UnixMicro(), ends[i].UnixMicro(), steps[i]
		if perr != nil {
			t.Fatalf("%s %s..%s by %s: PostgreSQL failed: %s", z, FormatTimestamp(sw), FormatTimestamp(ew), step, *perr)
		}
		start, err1 := z.Instant(sw)
		end, err2 := z.Instant(ew)
		var err error
		bounds, walls, err = z.AppendSeries(bounds[:0], walls[:0], start, end, step, 10000)
		if err1 != nil || err2 != nil || err != nil {
			t.Fatalf("%s %s..%s by %s: %v %v %v", z, FormatTimestamp(sw), FormatTimestamp(ew), step, err1, err2, err)
		}
		var want []string
		for k := range lo {
			want = append(want, fmt.Sprintf("[%s %s) %s", FormatTimestamp(lo[k].Time.UnixMicro()), FormatTimestamp(hi[k].Time.UnixMicro()), FormatTimestamp(pw[k].Time.UnixMicro())))
		}
		var got []string
		for k := range walls {
			got = append(got, fmt.Sprintf("[%s %s) %s", FormatTimestamp(bounds[k]), FormatTimestamp(bounds[k+1]), FormatTimestamp(walls[k])))
		}
		if len(walls) == 0 && len(bounds) != 0 {
			got = append(got, "bounds without buckets")
		}
		buckets += len(lo)
		if len(lo) == 0 {
			empty++
		}
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("%s %s..%s by %s:\nTally:\n%s\nPostgreSQL:\n%s", z, FormatTimestamp(sw), FormatTimestamp(ew), step, g, w)
			return 1
		}
		return 0
	}, `
		SELECT x.lo, x.hi, x.wall, x.err
		FROM unnest($1::text[], $2::timestamp[], $3::timestamp[], $4::interval[]) WITH ORDINALITY u(z, s, e, st, n),
		     LATERAL tz_series(u.z, u.s, u.e, u.st) x ORDER BY u.n`, zs, starts, ends, psteps)
	t.Logf("%d series, %d buckets, %d empty", n, buckets, empty)
}
