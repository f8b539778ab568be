package pgtext

import "testing"

func benchTS(b *testing.B, s string) int64 {
	b.Helper()
	v, err := ParseTimestamp(s)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkLoadZone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadZone("America/New_York"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZoneConversions measures the per-bucket conversions in New
// York now (the transition table) and in 2150 (the footer rule).
func BenchmarkZoneConversions(b *testing.B) {
	z, err := LoadZone("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	for _, era := range []string{"2024-03-10 06:30", "2150-03-10 06:30"} {
		at := benchTS(b, era)
		b.Run("Wall/"+era[:4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := z.Wall(at); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Instant/"+era[:4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := z.Instant(at); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, iv := range []Interval{{Days: 1}, {Months: 1}, {Micros: MicrosPerHour}} {
			b.Run("AddInterval/"+era[:4]+"/"+iv.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := z.AddInterval(at, iv); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkZoneSeries plans a year of daily buckets (366 in 2024) and a
// year of hourly ones, in New York and in UTC, into reused slices.
func BenchmarkZoneSeries(b *testing.B) {
	for _, name := range []string{"America/New_York", "Australia/Lord_Howe", "UTC"} {
		z, err := LoadZone(name)
		if err != nil {
			b.Fatal(err)
		}
		start, _ := z.Instant(benchTS(b, "2024-01-01"))
		end, _ := z.Instant(benchTS(b, "2024-12-31"))
		for _, step := range []Interval{{Days: 1}, {Micros: MicrosPerHour}, {Months: 1}} {
			bounds := make([]int64, 0, 10000)
			walls := make([]int64, 0, 10000)
			b.Run(name+"/"+step.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var err error
					bounds, walls, err = z.AppendSeries(bounds[:0], walls[:0], start, end, step, 10000)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(walls)), "buckets")
			})
		}
	}
}
