package pgtext

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets of the scalar parsers the array parsers build on: no
// panic, errors of the documented types, and round trips.

func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{"d2be0283-9b53-4d7b-b77d-2650f3a1a99c", "{D2BE0283-9B53-4D7B-B77D-2650F3A1A99C}", "d2be02839b534d7bb77d2650f3a1a99c", "d2be-0283-9b53-4d7b-b77d-2650-f3a1-a99c", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if ub, berr := ParseUUIDBytes([]byte(s)); ub != u || fmt.Sprint(berr) != fmt.Sprint(err) {
			t.Fatalf("ParseUUIDBytes(%q) = %s, %v; ParseUUID gives %s, %v", s, ub, berr, u, err)
		}
		if err != nil {
			checkErrType(t, err)
			return
		}
		back, err := ParseUUID(u.String())
		if err != nil || back != u || u.String() != strings.ToLower(u.String()) || len(u.String()) != 36 {
			t.Fatalf("ParseUUID(%q) = %s; round trip gives %s, %v", s, u, back, err)
		}
	})
}

func FuzzParseInt4(f *testing.F) {
	for _, s := range []string{"0", "-2147483648", "2147483647", "2147483648", " +7 ", "1e3", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseInt4(s)
		if err != nil {
			checkErrType(t, err)
			return
		}
		back, err := ParseInt4(strconv.Itoa(int(n)))
		if err != nil || back != n {
			t.Fatalf("ParseInt4(%q) = %d; round trip gives %d, %v", s, n, back, err)
		}
	})
}

func FuzzParseTimestampZone(f *testing.F) {
	for _, s := range append([]string{"2024-03-10 02:30", "2024-03-10T02:30:00Z", "2024-03-10 02:30+05:30", "2024-03-10T02:30:00.5-08", "2024-03-10 z"}, timestampSeeds...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, _, err := ParseTimestampZone(s)
		if err != nil {
			checkErrType(t, err)
			return
		}
		// The same instant as ParseTimestamp reads it, and written with
		// "Z" it says it has a zone; without, it does not.
		plain, err := ParseTimestamp(s)
		if err != nil || plain != ts {
			t.Fatalf("ParseTimestampZone(%q) = %d, ParseTimestamp gives %d, %v", s, ts, plain, err)
		}
		if _, z, err := ParseTimestampZone(FormatTimestamp(ts) + "Z"); err != nil || !z {
			t.Fatalf("%q: %sZ has no zone (%v)", s, FormatTimestamp(ts), err)
		}
		if _, z, err := ParseTimestampZone(FormatTimestamp(ts)); err != nil || z {
			t.Fatalf("%q: %s has a zone (%v)", s, FormatTimestamp(ts), err)
		}
	})
}
