package pgtext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tally-server/tally/internal/testseed"
)

// The zone tests need the embedded zone database, which go generate makes
// (the project's build convention: go generate ./..., then go build or go
// test). Without it, say so once instead of failing every zone test.
func init() {
	if _, err := zoneinfoFS.ReadFile("tzdata/zoneinfo.zip"); err != nil {
		fmt.Fprintln(os.Stderr, "internal/pgtext: no embedded zone database; run go generate ./... (or go generate ./internal/pgtext) before go test")
		os.Exit(1)
	}
}

func mustZone(t testing.TB, name string) *Zone {
	t.Helper()
	z, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// zoneFileBytes returns the raw TZif file of a name in the embedded
// database.
func zoneFileBytes(t testing.TB, name string) []byte {
	t.Helper()
	if err := openZoneDB(); err != nil {
		t.Fatal(err)
	}
	f := zoneDB.files[name]
	if f == nil {
		t.Fatalf("%s not in the database", name)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestZoneOffsetsMatchGoTime checks the TZif decoding and the footer rule
// of every zone against Go's own reader of the same bytes
// (time.LoadLocationFromTZData), at every transition and around it, and
// at random instants from 1800 to 2500.
func TestZoneOffsetsMatchGoTime(t *testing.T) {
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	lo, hi := mustCivil(1800, 1, 1)*86400, mustCivil(2500, 1, 1)*86400
	for _, name := range ZoneNames() {
		z := mustZone(t, name)
		loc, err := time.LoadLocationFromTZData(name, zoneFileBytes(t, name))
		if err != nil {
			t.Fatal(err)
		}
		probes := make([]int64, 0, 3*len(z.trans)+400)
		for _, tr := range z.trans {
			if tr > lo {
				probes = append(probes, tr-1, tr, tr+1)
			}
		}
		for i := 0; i < 400; i++ {
			probes = append(probes, lo+rng.Int63n(hi-lo))
		}
		bad := 0
		for _, sec := range probes {
			_, want := time.Unix(sec, 0).In(loc).Zone()
			if got := z.Offset(sec * MicrosPerSecond); got != want {
				bad++
				if bad <= 3 {
					t.Errorf("%s at %s: offset %d, Go's time package %d", name, time.Unix(sec, 0).UTC(), got, want)
				}
			}
		}
	}
}

// TestZoneFilesFirstType checks an assumption of newZone: before its first
// transition every zone is in type 0, a standard-time type, so PostgreSQL's
// two rules for that time (the default type in localsub, the lowest
// standard type in pg_next_dst_boundary) agree.
func TestZoneFilesFirstType(t *testing.T) {
	for _, name := range ZoneNames() {
		f, err := parseTZif(zoneFileBytes(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if f.isDST[0] {
			t.Errorf("%s: type 0 is daylight time", name)
		}
		if z := mustZone(t, name); z.first != f.offs[0] {
			t.Errorf("%s: offset before the first transition %d, type 0 has %d", name, z.first, f.offs[0])
		}
	}
}

func TestLoadZoneNames(t *testing.T) {
	for _, tt := range []struct{ in, canon string }{
		{"UTC", "UTC"},
		{"utc", "UTC"},
		{"Europe/Athens", "Europe/Athens"},
		{"europe/athens", "Europe/Athens"},
		{"AMERICA/NEW_YORK", "America/New_York"},
		{"America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
		{"Asia/Calcutta", "Asia/Calcutta"}, // a backward link with a slash
		{"US/Eastern", "US/Eastern"},
		{"Etc/GMT-2", "Etc/GMT-2"},
		{"Etc/UTC", "Etc/UTC"},
	} {
		z, err := LoadZone(tt.in)
		if err != nil {
			t.Errorf("LoadZone(%q): %v", tt.in, err)
			continue
		}
		if z.Name() != tt.canon {
			t.Errorf("LoadZone(%q).Name() = %q, want %q", tt.in, z.Name(), tt.canon)
		}
		if again := mustZone(t, tt.canon); again != z {
			t.Errorf("LoadZone(%q) and LoadZone(%q) are different zones", tt.in, tt.canon)
		}
	}
	if !mustZone(t, "utc").IsUTC() || mustZone(t, "Etc/UTC").IsUTC() {
		t.Error("IsUTC must hold for UTC only")
	}
	for _, tt := range []struct{ in, reason string }{
		{"", "the name is empty"},
		{"Europe/Atlantis", "not in the IANA time zone database (release " + ZoneDataVersion() + ")"},
		{" Europe/Athens", "not in the IANA time zone database"},
		{"GMT", `use "UTC" for Coordinated Universal Time`},
		{"Z", `use "UTC"`},
		{"CET", `"CET" is a backward-compatibility alias`},
		{"est5edt", `"EST5EDT" is a backward-compatibility alias`},
		{"Japan", `"Japan" is a backward-compatibility alias`},
		{"+02", "numeric offsets and POSIX TZ strings are not accepted"},
		{"UTC+2", "numeric offsets"},
		{"EST5EDT,M3.2.0,M11.1.0", "numeric offsets"},
		{"<+03>-3", "numeric offsets"},
		{"PST", "time zone abbreviations are not accepted"},
		{"CEST", "time zone abbreviations are not accepted"},
		{"posix/Europe/Athens", "not in the IANA time zone database"},
		{"right/UTC", "not in the IANA time zone database"},
		{"Europe/../etc/passwd", "not in the IANA time zone database"},
		{strings.Repeat("Europe/", 20), "the name is too long"},
	} {
		_, err := LoadZone(tt.in)
		var ze *ZoneError
		if !errors.As(err, &ze) {
			t.Errorf("LoadZone(%q) = %v, want a *ZoneError", tt.in, err)
			continue
		}
		if ze.Input != tt.in || !strings.Contains(ze.Reason, tt.reason) {
			t.Errorf("LoadZone(%q): %+v, want reason containing %q", tt.in, ze, tt.reason)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, `time zone "`) || !strings.Contains(msg, `"Europe/Athens"`) && !strings.Contains(msg, `"UTC"`) {
			t.Errorf("LoadZone(%q) message %q lacks PostgreSQL's wording or an example", tt.in, msg)
		}
	}
}

// TestZoneNamesFoldUniquely checks that case-insensitive matching is
// well-defined: no two names of the database differ only in case.
func TestZoneNamesFoldUniquely(t *testing.T) {
	seen := map[string]string{}
	for _, n := range ZoneNames() {
		l := strings.ToLower(n)
		if prev, ok := seen[l]; ok {
			t.Errorf("%q and %q differ only in case", prev, n)
		}
		seen[l] = n
	}
	if len(seen) < 400 {
		t.Errorf("only %d zone names: the embedded database looks truncated", len(seen))
	}
}

// TestZoneTransitions pins PostgreSQL's readings of wall-clock times at
// daylight-saving changes (the values are PostgreSQL 15's; the
// differential tests compare thousands more).
func TestZoneTransitions(t *testing.T) {
	for _, tt := range []struct {
		zone, wall, instant string // instant in UTC
	}{
		// New York, 2024-03-10: 02:00 EST → 03:00 EDT. 02:30 does not
		// exist and is read with the offset before (EST): 07:30Z = 03:30 EDT.
		{"America/New_York", "2024-03-10 01:59:59", "2024-03-10 06:59:59"},
		{"America/New_York", "2024-03-10 02:30", "2024-03-10 07:30"},
		{"America/New_York", "2024-03-10 03:00", "2024-03-10 07:00"},
		// 2024-11-03: 02:00 EDT → 01:00 EST. 01:30 occurs twice; PostgreSQL
		// takes the later one (EST).
		{"America/New_York", "2024-11-03 00:59", "2024-11-03 04:59"},
		{"America/New_York", "2024-11-03 01:30", "2024-11-03 06:30"},
		{"America/New_York", "2024-11-03 02:00", "2024-11-03 07:00"},
		// Lord Howe moves by 30 minutes: 02:00 +10:30 → 02:30 +11 in October.
		{"Australia/Lord_Howe", "2024-10-06 02:15", "2024-10-05 15:45"},
		{"Australia/Lord_Howe", "2024-04-07 01:45", "2024-04-06 15:15"},
		// Chatham +12:45/+13:45; Kathmandu +05:45; Kolkata +05:30.
		{"Pacific/Chatham", "2024-09-29 02:45", "2024-09-28 14:00"},
		{"Pacific/Chatham", "2024-09-29 03:00", "2024-09-28 14:15"},
		{"Asia/Kathmandu", "2024-01-01 00:00", "2023-12-31 18:15"},
		{"Asia/Kolkata", "2024-01-01 00:00", "2023-12-31 18:30"},
		// Samoa skipped 2011-12-30 entirely (-10 → +14).
		{"Pacific/Apia", "2011-12-30 12:00", "2011-12-30 22:00"},
		// Havana springs forward at midnight: 00:30 does not exist.
		{"America/Havana", "2024-03-10 00:30", "2024-03-10 05:30"},
		// Far future: the footer rule of the file decides.
		{"America/New_York", "2150-07-01 12:00", "2150-07-01 16:00"},
		{"America/New_York", "2150-03-08 02:30", "2150-03-08 07:30"},
		{"UTC", "2024-03-10 02:30", "2024-03-10 02:30"},
	} {
		z := mustZone(t, tt.zone)
		got, err := z.Instant(ts(t, tt.wall))
		if err != nil {
			t.Errorf("%s %s: %v", tt.zone, tt.wall, err)
			continue
		}
		if want := ts(t, tt.instant); got != want {
			t.Errorf("%s AT TIME ZONE %s = %sZ, want %sZ", tt.wall, tt.zone, FormatTimestamp(got), FormatTimestamp(want))
		}
	}
}

func TestZoneAddIntervalAcrossDST(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	lh := mustZone(t, "Australia/Lord_Howe")
	for _, tt := range []struct {
		z          *Zone
		wall, iv   string
		want       string // wall-clock time of the result
		wantMicros int64  // elapsed time
	}{
		{ny, "2024-03-09 12:00", "1 day", "2024-03-10T12:00:00", 23 * MicrosPerHour},
		{ny, "2024-03-09 12:00", "24 hours", "2024-03-10T13:00:00", 24 * MicrosPerHour},
		{ny, "2024-11-02 12:00", "1 day", "2024-11-03T12:00:00", 25 * MicrosPerHour},
		{ny, "2024-03-09 02:30", "1 day", "2024-03-10T03:30:00", 24 * MicrosPerHour},
		{ny, "2024-02-10 02:30", "1 mon", "2024-03-10T03:30:00", 29 * MicrosPerDay},
		{ny, "2024-01-31 00:00", "1 mon", "2024-02-29T00:00:00", 29 * MicrosPerDay},
		{lh, "2024-10-05 12:00", "1 day", "2024-10-06T12:00:00", 23*MicrosPerHour + 30*MicrosPerMinute},
		{lh, "2024-04-06 12:00", "1 day", "2024-04-07T12:00:00", 24*MicrosPerHour + 30*MicrosPerMinute},
	} {
		iv, err := ParseInterval(tt.iv)
		if err != nil {
			t.Fatal(err)
		}
		start, err := tt.z.Instant(ts(t, tt.wall))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tt.z.AddInterval(start, iv)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := tt.z.Wall(got)
		if FormatTimestamp(w) != tt.want || got-start != tt.wantMicros {
			t.Errorf("%s %s + %s = %s after %v, want %s after %v", tt.wall, tt.z, tt.iv, FormatTimestamp(w),
				time.Duration(got-start)*time.Microsecond, tt.want, time.Duration(tt.wantMicros)*time.Microsecond)
		}
	}
}

// TestZoneUTCIsTimestampArithmetic checks that in UTC the zoned arithmetic
// is the arithmetic of timestamps without time zone (AddInterval), within
// the range where both are defined.
func TestZoneUTCIsTimestampArithmetic(t *testing.T) {
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	utc := UTC()
	for i := 0; i < 20000; i++ {
		at := MinTimestamp + rng.Int63n(MaxTimestamp-MinTimestamp)
		iv := Interval{Months: int32(rng.Intn(2000) - 1000), Days: int32(rng.Intn(20000) - 10000), Micros: rng.Int63n(1000*MicrosPerDay) - 500*MicrosPerDay}
		want, err1 := AddInterval(at, iv)
		got, err2 := utc.AddInterval(at, iv)
		if err1 != nil || err2 != nil || got != want {
			t.Fatalf("%s + %s: timestamp %s (%v), UTC %s (%v)", FormatTimestamp(at), iv, FormatTimestamp(want), err1, FormatTimestamp(got), err2)
		}
		if w, err := utc.Wall(at); err != nil || w != at {
			t.Fatalf("UTC Wall(%d) = %d, %v", at, w, err)
		}
		if in, err := utc.Instant(at); err != nil || in != at {
			t.Fatalf("UTC Instant(%d) = %d, %v", at, in, err)
		}
	}
}

func TestZoneRangeErrors(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, tt := range []struct {
		ts string
		iv Interval
	}{
		{"9999-12-31", Interval{Months: 2147483647}},
		{"9999-12-31", Interval{Days: 2147483647}},
		{"9999-12-31", Interval{Micros: math.MaxInt64}},
		{"0001-01-01", Interval{Months: -2147483648}},
		{"0001-01-01", Interval{Days: -2147483648}},
		{"0001-01-01", Interval{Micros: math.MinInt64}},
	} {
		for _, z := range []*Zone{UTC(), ny} {
			_, err := z.AddInterval(ts(t, tt.ts), tt.iv)
			var re *RangeError
			if !errors.As(err, &re) {
				t.Errorf("%s %s + %s: %v, want a *RangeError", tt.ts, z, tt.iv, err)
			}
		}
	}
	// The bounds themselves: PostgreSQL's first instant is 4714-11-24 BC.
	if _, err := UTC().AddInterval(minInstant, Interval{Micros: -1}); err == nil {
		t.Error("minInstant - 1µs must be out of range")
	}
	if _, err := UTC().AddInterval(minInstant+1, Interval{Micros: -1}); err != nil {
		t.Errorf("minInstant must be in range: %v", err)
	}
}

func TestParseTimestampZone(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, tt := range []struct {
		in      string
		hasZone bool
		instant string // in UTC, read in New York
	}{
		{"2024-03-10", false, "2024-03-10 05:00"},
		{"2024-03-10 02:30", false, "2024-03-10 07:30"},
		{"2024-03-10T02:30:00", false, "2024-03-10 07:30"},
		{"  2024-3-1 1:00  ", false, "2024-03-01 06:00"},
		{"2024-03-10T02:30:00Z", true, "2024-03-10 02:30"},
		{"2024-03-10 02:30z", true, "2024-03-10 02:30"},
		{"2024-03-10 02:30+02", true, "2024-03-10 00:30"},
		{"2024-03-10 02:30 -05:00", true, "2024-03-10 07:30"},
		{"2024-03-10t02:30-0130", true, "2024-03-10 04:00"},
	} {
		v, has, err := ParseTimestampZone(tt.in)
		if err != nil || has != tt.hasZone {
			t.Errorf("ParseTimestampZone(%q) = %d, %v, %v; want hasZone %v", tt.in, v, has, err, tt.hasZone)
			continue
		}
		plain, _ := ParseTimestamp(tt.in)
		if v != plain {
			t.Errorf("ParseTimestampZone(%q) = %d, ParseTimestamp %d", tt.in, v, plain)
		}
		got, err := ny.ParseTimestamp(tt.in)
		if want := ts(t, tt.instant); err != nil || got != want {
			t.Errorf("New York ParseTimestamp(%q) = %s, %v; want %s", tt.in, FormatTimestamp(got), err, FormatTimestamp(want))
		}
		if u, err := UTC().ParseTimestamp(tt.in); err != nil || u != plain {
			t.Errorf("UTC ParseTimestamp(%q) = %d, %v; want %d", tt.in, u, err, plain)
		}
	}
	if _, _, err := ParseTimestampZone("2024-02-30"); err == nil {
		t.Error("2024-02-30 must fail")
	}
}

func TestAppendSeries(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	day := Interval{Days: 1}
	start, _ := ny.Instant(ts(t, "2024-03-08"))
	end, _ := ny.Instant(ts(t, "2024-03-12"))
	bounds, walls, err := ny.AppendSeries([]int64{42}, []int64{7}, start, end, day, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, w := range walls[1:] {
		got = append(got, FormatTimestamp(w)+"/"+time.Duration((bounds[i+2]-bounds[i+1])*1000).String())
	}
	want := "2024-03-08T00:00:00/24h0m0s 2024-03-09T00:00:00/24h0m0s 2024-03-10T00:00:00/23h0m0s 2024-03-11T00:00:00/24h0m0s 2024-03-12T00:00:00/24h0m0s"
	if strings.Join(got, " ") != want || bounds[0] != 42 || walls[0] != 7 || len(bounds) != 7 {
		t.Errorf("series = %v, want %s after the existing elements", got, want)
	}

	// Errors keep the slices as they were.
	for _, tt := range []struct {
		zone     *Zone
		from, to string
		step     Interval
		max      int
		want     any
	}{
		{ny, "2024-03-08", "2024-03-12", day, 4, &SeriesLimitError{}},
		{ny, "2024-03-08", "2024-03-12", Interval{}, 100, &StepError{}},
		{ny, "2024-03-08", "2024-03-12", Interval{Days: -1}, 100, &StepError{}},
		{ny, "2024-03-09 12:00", "2024-03-12", Interval{Days: 1, Micros: -23 * MicrosPerHour}, 100, &StepError{}},
		{UTC(), "2023-01-31", "2023-12-31", Interval{Months: 1, Days: -29}, 100, &StepError{}},
		{UTC(), "9999-12-01", "9999-12-31", Interval{Days: 2147483647}, 100, &RangeError{}},
		{UTC(), "0001-01-01", "9999-12-31", Interval{Micros: 1}, 10000, &SeriesLimitError{}},
	} {
		s, _ := tt.zone.Instant(ts(t, tt.from))
		e, _ := tt.zone.Instant(ts(t, tt.to))
		b, w, err := tt.zone.AppendSeries([]int64{1}, nil, s, e, tt.step, tt.max)
		if err == nil || len(b) != 1 || len(w) != 0 {
			t.Errorf("%s %s..%s by %s: %v, %d bounds, %d walls; want an error and no change", tt.zone, tt.from, tt.to, tt.step, err, len(b), len(w))
			continue
		}
		if fmt.Sprintf("%T", err) != fmt.Sprintf("%T", tt.want) {
			t.Errorf("%s %s..%s by %s: error %T (%v), want %T", tt.zone, tt.from, tt.to, tt.step, err, err, tt.want)
		}
	}
	// end < start: the empty series.
	b, w, err := ny.AppendSeries(nil, nil, end, start, day, 100)
	if err != nil || len(b) != 0 || len(w) != 0 {
		t.Errorf("reversed range: %v %v %v, want nothing", b, w, err)
	}
}

func TestZoneAllocs(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	instant := ts(t, "2024-03-10 06:30")
	month := Interval{Months: 1, Days: 1, Micros: MicrosPerHour}
	bounds := make([]int64, 0, 400)
	walls := make([]int64, 0, 400)
	start, _ := ny.Instant(ts(t, "2024-01-01"))
	end, _ := ny.Instant(ts(t, "2024-12-31"))
	for name, f := range map[string]func(){
		"LoadZone":     func() { LoadZone("America/New_York") },
		"Wall":         func() { ny.Wall(instant) },
		"Instant":      func() { ny.Instant(instant) },
		"Offset":       func() { ny.Offset(instant) },
		"AddInterval":  func() { ny.AddInterval(instant, month) },
		"AppendSeries": func() { ny.AppendSeries(bounds[:0], walls[:0], start, end, Interval{Days: 1}, 1000) },
		"far future":   func() { ny.AddInterval(ts(t, "2500-03-01"), month) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %.1f times per call, want 0", name, n)
		}
	}
}

// TestZoneCacheBound loads every zone and measures what the cache holds,
// the figure the zoneDB comment quotes.
func TestZoneCacheBound(t *testing.T) {
	total := 0
	for _, name := range ZoneNames() {
		z := mustZone(t, name)
		total += int(unsafe.Sizeof(*z)) + len(name) + cap(z.trans)*8 + cap(z.offs)*4
		if z.rule != nil {
			total += int(unsafe.Sizeof(*z.rule))
		}
	}
	zoneDB.mu.RLock()
	n := len(zoneDB.zones)
	zoneDB.mu.RUnlock()
	t.Logf("%d zones cached, %d KB of tables", n, total/1024)
	if n > len(ZoneNames()) {
		t.Errorf("%d zones cached for %d names", n, len(ZoneNames()))
	}
	if total > 4<<20 {
		t.Errorf("the whole database takes %d bytes when loaded; the zoneDB comment says about 1 MB", total)
	}
}

// TestZoneDataMatchesToolchain checks that the embedded zone database is
// the current copy of the toolchain's (go generate ./internal/pgtext makes
// it), so that a Go upgrade cannot leave a stale copy behind unnoticed.
func TestZoneDataMatchesToolchain(t *testing.T) {
	ours, err := zoneinfoFS.ReadFile("tzdata/zoneinfo.zip")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(runtime.GOROOT(), "lib", "time")
	theirs, err := os.ReadFile(filepath.Join(dir, "zoneinfo.zip"))
	if err != nil {
		t.Skipf("the toolchain has no zoneinfo.zip: %v", err)
	}
	script, _ := os.ReadFile(filepath.Join(dir, "update.bash"))
	release := ""
	if m := regexp.MustCompile(`(?m)^DATA=(\S+)`).FindSubmatch(script); m != nil {
		release = string(m[1])
	}
	if !bytes.Equal(theirs, ours) || release != ZoneDataVersion() {
		t.Errorf("the embedded zone database (release %q) is not the toolchain's (release %q): run go generate ./internal/pgtext", ZoneDataVersion(), release)
	}
}

func TestIntervalSignMatchesSign(t *testing.T) {
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	edge := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, MicrosPerDay, -MicrosPerDay, 106751991 * MicrosPerDay, -106751991 * MicrosPerDay}
	for i := 0; i < 100000; i++ {
		iv := Interval{Months: int32(rng.Intn(7) - 3), Days: int32(rng.Intn(7) - 3), Micros: edge[rng.Intn(len(edge))] + rng.Int63n(3) - 1}
		switch rng.Intn(3) {
		case 0:
			iv.Months = int32(rng.Uint32())
		case 1:
			iv.Days = int32(rng.Uint32())
		}
		if iv.Micros == math.MinInt64+2 || rng.Intn(2) == 0 {
			iv.Micros = rng.Int63() - rng.Int63()
		}
		if got, want := intervalSign(iv), iv.Sign(); got != want {
			t.Fatalf("intervalSign(%+v) = %d, Sign %d", iv, got, want)
		}
	}
}

// TestZoneErrorMessages pins the messages, which are API: GraphQL passes
// them on after "argument time_zone: " or the argument's name.
func TestZoneErrorMessages(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	loadErr := func(name string) error { _, err := LoadZone(name); return err }
	seriesErr := func(step Interval, max int) error {
		start, _ := ny.ParseTimestamp("2024-01-31")
		end, _ := ny.ParseTimestamp("2024-12-31")
		_, _, err := ny.AppendSeries(nil, nil, start, end, step, max)
		return err
	}
	_, addErr := ny.AddInterval(ts(t, "9999-12-31"), Interval{Days: 2147483647})
	for _, tt := range []struct {
		err  error
		want string
	}{
		{loadErr("CEST"), `time zone "CEST" not recognized: time zone abbreviations are not accepted (several are ambiguous and none follows daylight-saving time); use an IANA time zone name such as "Europe/Athens"`},
		{loadErr("Europe/Atlantis"), `time zone "Europe/Atlantis" not recognized: not in the IANA time zone database (release ` + ZoneDataVersion() + `) that Tally ships; use "UTC" or an IANA time zone name such as "Europe/Athens"`},
		{loadErr("GMT"), `time zone "GMT" not recognized: use "UTC" for Coordinated Universal Time, or an IANA time zone name such as "Europe/Athens"`},
		{loadErr("CET"), `time zone "CET" not recognized: "CET" is a backward-compatibility alias of the IANA database, and Tally accepts only "UTC" and Area/Location names; use a name such as "Europe/Athens"`},
		{loadErr("+02"), `time zone "+02" not recognized: numeric offsets and POSIX TZ strings are not accepted (their signs are ambiguous); use the IANA name of a place, such as "Europe/Athens", or "Etc/GMT-2" for a fixed UTC+02`},
		{loadErr(""), `time zone "" not recognized: the name is empty; use "UTC" or an IANA time zone name such as "Europe/Athens"`},
		{addErr, `timestamp with time zone value out of range: "9999-12-30T19:00:00 America/New_York + 2147483647 days": the result is outside the range of timestamp with time zone`},
		{seriesErr(Interval{Months: 1, Days: -30}, 10), `interval "1 mon -30 days" is not a positive step`},
		{seriesErr(Interval{Months: 1, Days: -29}, 10), `interval "1 mon -29 days" does not move forward from 2024-01-31T00:00:00`},
		{seriesErr(Interval{Days: 1}, 10), `the series has more than 10 elements`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("error\n%v\nwant\n%s", tt.err, tt.want)
		}
	}
}
