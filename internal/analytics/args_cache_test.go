package analytics

import (
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
)

// TestIntervalArgCache: a text read again (from the cache) gives what
// ParseInterval gives, a bad text fails every time, and a long text is
// not kept.
func TestIntervalArgCache(t *testing.T) {
	long := "1 year 2 months 3 days 4 hours 5 minutes 6 seconds 7 milliseconds 8 microseconds"
	for _, text := range []string{"1 day", "7 days", "1 mon 2 days -03:00", "00:15:00", long} {
		want, err := pgtext.ParseInterval(text)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := intervalArg(Args{Names: []string{"interval_span"}, Values: []any{text}}, "interval_span", DefaultSpan)
			if err != nil || got != want {
				t.Fatalf("%q: %v %v, want %v", text, got, err, want)
			}
		}
	}
	intervals.mu.RLock()
	_, kept := intervals.m[long]
	intervals.mu.RUnlock()
	if kept {
		t.Errorf("a %d-byte text was kept", len(long))
	}
	for range 2 {
		if _, err := intervalArg(Args{Names: []string{"interval_span"}, Values: []any{"1 fortnight"}}, "interval_span", DefaultSpan); err == nil {
			t.Fatal(`"1 fortnight" was accepted`)
		}
	}
}
