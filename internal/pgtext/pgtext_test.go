package pgtext

import "testing"

func ts(t *testing.T, s string) int64 {
	t.Helper()
	v, err := ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddIntervalMonthEnd(t *testing.T) {
	// SPEC section 2: iterated, so Jan 31 + 1 mon = Feb 29, then Mar 29.
	tests := []struct {
		start string
		iv    Interval
		want  []string
	}{
		{"2024-01-31", Interval{Months: 1}, []string{"2024-02-29T00:00:00", "2024-03-29T00:00:00", "2024-04-29T00:00:00"}},
		{"2023-01-31", Interval{Months: 1}, []string{"2023-02-28T00:00:00", "2023-03-28T00:00:00"}},
		{"2024-02-29", Interval{Months: 12}, []string{"2025-02-28T00:00:00", "2026-02-28T00:00:00"}},
		{"2024-01-31 10:30", Interval{Months: 1, Days: 1, Micros: MicrosPerHour}, []string{"2024-03-01T11:30:00", "2024-04-02T12:30:00"}},
		{"2024-03-31", Interval{Months: -1}, []string{"2024-02-29T00:00:00", "2024-01-29T00:00:00"}},
		{"2024-01-08 10:00", Interval{Days: 1}, []string{"2024-01-09T10:00:00", "2024-01-10T10:00:00"}},
	}
	for _, tt := range tests {
		cur := ts(t, tt.start)
		for i, want := range tt.want {
			next, err := AddInterval(cur, tt.iv)
			if err != nil {
				t.Fatal(err)
			}
			if got := FormatTimestamp(next); got != want {
				t.Errorf("%s + %d × %s = %s, want %s", tt.start, i+1, tt.iv, got, want)
			}
			cur = next
		}
	}
}

func TestFormatTimestamp(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"2024-01-08", "2024-01-08T00:00:00"},
		{"2024-01-08 10:00:00.5", "2024-01-08T10:00:00.5"},
		{"2024-01-08 10:00:00.000001", "2024-01-08T10:00:00.000001"},
		{"0001-01-01", "0001-01-01T00:00:00"},
		{"1969-12-31 23:59:59.25", "1969-12-31T23:59:59.25"},
	} {
		if got := FormatTimestamp(ts(t, tt.in)); got != tt.want {
			t.Errorf("FormatTimestamp(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIntervalSign(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"1 day", 1}, {"0", 0}, {"-1 day", -1}, {"1 mon -30 days", 0}, {"1 mon -29 days", 1}, {"1 day -25 hours", -1}} {
		iv, err := ParseInterval(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := iv.Sign(); got != tt.want {
			t.Errorf("Sign(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestErrorsSayWhatIsAccepted(t *testing.T) {
	for _, tt := range []struct {
		parse func(string) error
		in    string
		want  string
	}{
		{func(s string) error { _, err := ParseInterval(s); return err }, "1 dya", `invalid input syntax for type interval: "1 dya": accepted forms are`},
		{func(s string) error { _, err := ParseTimestamp(s); return err }, "yesterday", `invalid input syntax for type timestamp: "yesterday": the date must start with a four-digit year; accepted forms are`},
		{func(s string) error { _, err := ParseTimestamp(s); return err }, "2024-02-30", `timestamp value out of range: "2024-02-30": no such date`},
		{func(s string) error { _, err := ParseUUIDArray(s); return err }, "{x}", `invalid input syntax for type uuid: "x": expected 32 hexadecimal digits`},
		{func(s string) error { _, err := ParseArray(s); return err }, "abc", `malformed array literal: "abc": Array value must start with "{" or dimension information.`},
		{func(s string) error { _, err := ParseInt4Array(s); return err }, "{99999999999}", `integer value out of range: "99999999999"`},
	} {
		err := tt.parse(tt.in)
		if err == nil || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want {
			t.Errorf("%q: error %v, want prefix %q", tt.in, err, tt.want)
		}
	}
}

// TestIntervalUnitWords pins unit words of PostgreSQL's deltatktbl that
// the random differential test reaches only rarely: DMILLISEC "msecond"
// and DMICROSEC "usecond" (datetime.h), in any case, and words longer
// than TOKMAXLEN matched on their first ten characters.
func TestIntervalUnitWords(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Interval
	}{
		{"46 Msecond", Interval{Micros: 46000}},
		{"46 msecond 2.941 y", Interval{Months: 35, Micros: 46000}},
		{"3 usecond", Interval{Micros: 3}},
		{"3 USECONDS", Interval{Micros: 3}},
		{"3 microseconds", Interval{Micros: 3}},
		{"2 millisecondsxyz", Interval{Micros: 2000}},
	} {
		got, err := ParseInterval(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseInterval(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}
