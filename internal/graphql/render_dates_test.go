package graphql

import (
	"math/rand"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
)

// TestDateCacheMatchesAppendTimestamp writes runs of timestamps (hours,
// minutes, whole and fractional seconds, days apart, before the epoch and
// far from it) through one dateCache and compares with appendTimestamp.
func TestDateCacheMatchesAppendTimestamp(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	steps := []int64{pgtext.MicrosPerHour, pgtext.MicrosPerMinute, pgtext.MicrosPerSecond, 1, 1500, pgtext.MicrosPerDay, 7 * pgtext.MicrosPerDay, 15 * pgtext.MicrosPerMinute}
	origins := []int64{0, -1, -pgtext.MicrosPerDay, 789 * pgtext.MicrosPerDay, -800_000 * pgtext.MicrosPerDay, 2_900_000 * pgtext.MicrosPerDay, -740_000 * pgtext.MicrosPerDay}
	var c dateCache
	for range 2000 {
		ts := origins[r.Intn(len(origins))] + r.Int63n(400*pgtext.MicrosPerDay) - 200*pgtext.MicrosPerDay
		if r.Intn(2) == 0 {
			ts -= ts % pgtext.MicrosPerHour
		}
		step := steps[r.Intn(len(steps))]
		for range 1 + r.Intn(60) {
			got := string(c.appendTimestamp(nil, ts))
			if want := string(appendTimestamp(nil, ts)); got != want {
				t.Fatalf("%d: %s, want %s", ts, got, want)
			}
			ts += step
		}
	}
}
