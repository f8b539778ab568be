package pgtext

import "testing"

func BenchmarkParseInterval(b *testing.B) {
	for _, s := range []string{"1 day", "1 year 2 months", "P1Y2M3DT4H5M6S", "1 day 02:00:00"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseInterval(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseTimestamp(b *testing.B) {
	for _, s := range []string{"2024-01-08", "2024-01-08T10:00:00.123456+02:00"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseTimestamp(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseUUIDArray(b *testing.B) {
	s := "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c, 51ff88a7-9b53-4d7b-b77d-2650f3a1a99c}"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseUUIDArray(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddInterval(b *testing.B) {
	ts, _ := ParseTimestamp("2024-01-31")
	iv := Interval{Months: 1, Days: 1}
	b.ReportAllocs()
	for b.Loop() {
		ts2, err := AddInterval(ts, iv)
		if err != nil {
			b.Fatal(err)
		}
		if ts2 > ts+400*MicrosPerDay {
			ts2 = ts
		}
	}
}
