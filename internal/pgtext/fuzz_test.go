package pgtext

import (
	"testing"
)

// The fuzz targets check properties that hold for every input: no panic,
// errors of the documented types, and round trips through the output
// forms. Agreement with PostgreSQL is checked by the differential tests;
// the committed corpus in testdata/fuzz replays there on every go test.

func FuzzParseInterval(f *testing.F) {
	for _, s := range intervalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := ParseInterval(s)
		if err != nil {
			checkErrType(t, err)
			return
		}
		back, err := ParseInterval(iv.String())
		if err != nil {
			t.Fatalf("ParseInterval(%q) = %v, whose text %q does not parse: %v", s, iv, iv.String(), err)
		}
		if back != iv {
			t.Fatalf("ParseInterval(%q) = %+v, round trip through %q gives %+v", s, iv, iv.String(), back)
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range timestampSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			checkErrType(t, err)
			return
		}
		if ts < MinTimestamp || ts > MaxTimestamp {
			t.Fatalf("ParseTimestamp(%q) = %d outside the documented range", s, ts)
		}
		back, err := ParseTimestamp(FormatTimestamp(ts))
		if err != nil || back != ts {
			t.Fatalf("ParseTimestamp(%q) = %s; round trip gives %d, %v", s, FormatTimestamp(ts), back, err)
		}
	})
}

func FuzzParseArray(f *testing.F) {
	for _, s := range []string{"{a,b}", "{}", `{"a","b"}`, `{a\,b,"c\"d",NULL}`, "{{1,2},{3,4}}", "[1:2]={a,b}", " { a , b } ", "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		elems, err := ParseArray(s)
		if err != nil {
			checkErrType(t, err)
			return
		}
		// Quoting every element and parsing again must give the same list.
		lit := []byte{'{'}
		for i, e := range elems {
			if i > 0 {
				lit = append(lit, ',')
			}
			if e == nil {
				lit = append(lit, "NULL"...)
				continue
			}
			lit = append(lit, '"')
			for _, c := range []byte(*e) {
				if c == '"' || c == '\\' {
					lit = append(lit, '\\')
				}
				lit = append(lit, c)
			}
			lit = append(lit, '"')
		}
		lit = append(lit, '}')
		again, err := ParseArray(string(lit))
		if err != nil || showElems(again) != showElems(elems) {
			t.Fatalf("ParseArray(%q) = %s; re-quoted %q gives %s, %v", s, showElems(elems), lit, showElems(again), err)
		}
		ParseUUIDArray(s)
		ParseInt4Array(s)
	})
}

func checkErrType(t *testing.T, err error) {
	t.Helper()
	switch err.(type) {
	case *SyntaxError, *RangeError:
	default:
		t.Fatalf("error %T (%v) is neither *SyntaxError nor *RangeError", err, err)
	}
}
