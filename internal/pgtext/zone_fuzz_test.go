package pgtext

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

// FuzzLoadZone: any name either loads a zone that every spelling of its
// name finds again, or fails with a *ZoneError naming the input.
func FuzzLoadZone(f *testing.F) {
	for _, s := range append(diffZones, "", "utc", "GMT", "CET", "EST5EDT", "+02", "UTC+2", "<+03>-3", "PST",
		"posix/Europe/Athens", "Europe/../UTC", "america/argentina/buenos_aires", "Etc/GMT-14", "US/Eastern") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		z, err := LoadZone(name)
		if err != nil {
			var ze *ZoneError
			if !errors.As(err, &ze) || ze.Input != name || ze.Reason == "" {
				t.Fatalf("LoadZone(%q) = %v (%T), want a *ZoneError naming the input", name, err, err)
			}
			return
		}
		for _, spelling := range []string{z.Name(), strings.ToUpper(name), strings.ToLower(name)} {
			if again, err := LoadZone(spelling); err != nil || again != z {
				t.Fatalf("LoadZone(%q) = %s, but LoadZone(%q) = %v, %v", name, z, spelling, again, err)
			}
		}
		if z.IsUTC() != (z.Name() == "UTC") {
			t.Fatalf("LoadZone(%q): IsUTC %v for %s", name, z.IsUTC(), z)
		}
	})
}

// fuzzZones is every accepted zone name in a fixed order, so that a fuzz
// input picks the same zone on every run.
func fuzzZones() []string {
	names := ZoneNames()
	sort.Strings(names)
	return names
}

// FuzzZoneArithmetic: for any zone, instant and interval, the conversions
// and the addition never panic, fail only with a *RangeError, and keep
// PostgreSQL's round trips: the wall-clock time of an instant converts
// back to an instant showing that wall-clock time, and a wall-clock time
// converts to an instant that shows it, unless it fell in a gap, which
// moves it forward by less than a day to a time that round-trips.
func FuzzZoneArithmetic(f *testing.F) {
	names := fuzzZones()
	index := map[string]uint16{}
	for i, n := range names {
		index[n] = uint16(i)
	}
	for i, zone := range diffZones {
		z, _ := LoadZone(zone)
		at := int64(1_700_000_000_000_000)
		if len(z.trans) > 0 {
			at = z.trans[(len(z.trans)/2+i%7)%len(z.trans)] * MicrosPerSecond
		}
		f.Add(index[zone], at, int32(i%3), int32(i%5-2), int64(i)*MicrosPerHour)
	}
	gap, _ := ParseTimestamp("2024-03-10 02:30")
	f.Add(index["America/New_York"], gap, int32(1), int32(1), int64(0))
	f.Add(index["UTC"], int64(-1<<63), int32(-1<<31), int32(-1<<31), int64(-1<<63))
	f.Fuzz(func(t *testing.T, zi uint16, at int64, months, days int32, micros int64) {
		z, err := LoadZone(names[int(zi)%len(names)])
		if err != nil {
			t.Fatal(err)
		}
		mustRange := func(op string, err error) {
			t.Helper()
			var re *RangeError
			if !errors.As(err, &re) {
				t.Fatalf("%s %s: error %v (%T), want a *RangeError", z, op, err, err)
			}
		}
		// Instant → wall → instant.
		if w, err := z.Wall(at); err != nil {
			mustRange("Wall", err)
		} else if back, err := z.Instant(w); err != nil {
			mustRange("Instant", err)
		} else if w2, err := z.Wall(back); err != nil || w2 != w {
			t.Fatalf("%s: instant %d shows %s, which reads as %d showing %s (%v)", z, at, FormatTimestamp(w), back, FormatTimestamp(w2), err)
		}
		// Wall → instant → wall, with at read as a wall-clock time.
		if in, err := z.Instant(at); err != nil {
			mustRange("Instant", err)
		} else if w, err := z.Wall(in); err != nil {
			mustRange("Wall", err)
		} else if w != at {
			again, _ := z.Instant(w)
			if w < at || w-at > MicrosPerDay || again != in {
				t.Fatalf("%s: %s reads as %d, which shows %s: not a gap's move forward", z, FormatTimestamp(at), in, FormatTimestamp(w))
			}
		}
		// Addition.
		iv := Interval{Months: months, Days: days, Micros: micros}
		sum, err := z.AddInterval(at, iv)
		if err != nil {
			mustRange("AddInterval", err)
		} else if iv == (Interval{}) && sum != at {
			t.Fatalf("%s: %d + 0 = %d", z, at, sum)
		}
		if z.IsUTC() && at >= MinTimestamp && at <= MaxTimestamp && abs64(int64(months)) < 1e6 && abs64(int64(days)) < 1e7 && abs64(micros) < 1e15 {
			want, err2 := AddInterval(at, iv)
			if (err == nil) != (err2 == nil) || err == nil && sum != want {
				t.Fatalf("UTC: %s + %s = %d (%v), timestamp arithmetic %d (%v)", FormatTimestamp(at), iv, sum, err, want, err2)
			}
		}
		// A short series from at with the interval as step.
		end := at + abs64(micros%(40*MicrosPerDay))
		if end < at {
			return
		}
		bounds, walls, err := z.AppendSeries(nil, nil, at, end, iv, 50)
		if err != nil {
			var se *StepError
			var le *SeriesLimitError
			if !errors.As(err, &se) && !errors.As(err, &le) {
				mustRange("AppendSeries", err)
			}
			return
		}
		if len(bounds) != len(walls)+1 || bounds[len(bounds)-2] > end || bounds[len(bounds)-1] <= end {
			t.Fatalf("%s: series %d..%d by %s: bounds %v walls %v", z, at, end, iv, bounds, walls)
		}
		for k, w := range walls {
			if bounds[k+1] <= bounds[k] {
				t.Fatalf("%s: series by %s does not increase at %d: %v", z, iv, k, bounds)
			}
			if want, _ := z.Wall(bounds[k]); w != want {
				t.Fatalf("%s: bucket %d starts at %d, shown as %d, Wall gives %d", z, k, bounds[k], w, want)
			}
		}
	})
}
