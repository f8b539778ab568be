package pgtext_test

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/testseed"
)

// TestUTCSeriesMatchesPlan checks that in UTC the zoned series is today's
// bucket plan: analytics.IntervalQuery.Plan's Bounds, byte for byte, and the same
// failures, over random ranges and every interval form. The zoned planner
// can then serve time_zone null and "UTC" alike.
func TestUTCSeriesMatchesPlan(t *testing.T) {
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	forms := []string{"1 day", "24 hours", "1 hour", "15 minutes", "90 secs", "1 mon", "1 week", "1 year",
		"1 mon 2 days 03:00", "1 day 01:00", "3 mons", "2 days", "00:00:00.5", "1 mon -29 days", "1 mon -30 days",
		"-1 day", "0", "1 day -24 hours", "1 day -23 hours"}
	lo := mustParse(t, "0001-01-01")
	hi := mustParse(t, "9999-12-31 23:59:59.999999")
	const maxBuckets = 250
	compared, limits, steps := 0, 0, 0
	for i := 0; i < 20000; i++ {
		span, err := pgtext.ParseInterval(forms[rng.Intn(len(forms))])
		if err != nil {
			t.Fatal(err)
		}
		if rng.Intn(4) == 0 {
			span = pgtext.Interval{Months: int32(rng.Intn(40)), Days: int32(rng.Intn(60) - 10), Micros: rng.Int63n(3*pgtext.MicrosPerDay) - pgtext.MicrosPerDay}
		}
		start := lo + rng.Int63n(hi-lo)
		if rng.Intn(3) == 0 {
			start -= start % pgtext.MicrosPerDay
		}
		nominal := int64(span.Months)*30*pgtext.MicrosPerDay + int64(span.Days)*pgtext.MicrosPerDay + span.Micros
		if nominal <= 0 {
			nominal = pgtext.MicrosPerDay
		}
		end := start + rng.Int63n(300)*nominal + rng.Int63n(nominal)
		if end > hi {
			end = hi
		}
		q := analytics.IntervalQuery{StartMicros: start, EndMicros: end, Span: span}
		planErr := q.Plan(maxBuckets)
		bounds, walls, err := pgtext.UTC().AppendSeries(nil, nil, start, end, span, maxBuckets)
		where := fmt.Sprintf("%s..%s by %q", pgtext.FormatTimestamp(start), pgtext.FormatTimestamp(end), span)
		var arg *analytics.ArgError
		var seriesLimit *pgtext.SeriesLimitError
		var step *pgtext.StepError
		switch {
		case planErr == nil && err == nil:
			compared++
			if !slices.Equal(q.Bounds, bounds) || !slices.Equal(q.Bounds[:len(q.Bounds)-1], walls) {
				t.Fatalf("%s: Plan %v, UTC series %v (walls %v)", where, q.Bounds, bounds, walls)
			}
		case errors.As(planErr, &arg) && arg.Kind == analytics.KindLimit:
			limits++
			if !errors.As(err, &seriesLimit) || seriesLimit.Max != arg.Limit {
				t.Fatalf("%s: Plan %v, UTC series %v", where, planErr, err)
			}
		case errors.As(planErr, &arg) && arg.Arg == "interval_span":
			steps++
			if !errors.As(err, &step) {
				t.Fatalf("%s: Plan %v, UTC series %v", where, planErr, err)
			}
		default:
			t.Fatalf("%s: Plan %v, UTC series %v", where, planErr, err)
		}
	}
	t.Logf("%d equal plans, %d over the limit, %d with a step that does not advance", compared, limits, steps)
	if compared < 8000 || limits < 100 || steps < 100 {
		t.Errorf("the cases have drifted: %d plans, %d limits, %d steps", compared, limits, steps)
	}
}

func mustParse(t *testing.T, s string) int64 {
	t.Helper()
	v, err := pgtext.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// BenchmarkPlanUTCYearDaily is today's planner on a year of daily buckets,
// the baseline of BenchmarkZoneSeries.
func BenchmarkPlanUTCYearDaily(b *testing.B) {
	start, _ := pgtext.ParseTimestamp("2024-01-01")
	end, _ := pgtext.ParseTimestamp("2024-12-31")
	q := analytics.IntervalQuery{StartMicros: start, EndMicros: end, Span: pgtext.Interval{Days: 1}, Bounds: make([]int64, 0, 400)}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Plan(10000); err != nil {
			b.Fatal(err)
		}
	}
}
