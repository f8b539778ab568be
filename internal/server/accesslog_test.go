package server

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on machines without a zone database
)

// slogAccessLine is what slog's TextHandler writes for the access log
// record: the line accessLine must equal.
func slogAccessLine(now time.Time, method, path string, status int, n int64, d time.Duration, id string) string {
	var buf bytes.Buffer
	r := slog.NewRecord(now, slog.LevelInfo, "http request", 0)
	r.AddAttrs(slog.String("method", method), slog.String("path", path), slog.Int("status", status), slog.Int64("bytes", n), slog.Duration("duration", d))
	if id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	slog.NewTextHandler(&buf, nil).Handle(context.Background(), r)
	return buf.String()
}

func directAccessLine(now time.Time, method, path string, status int, n int64, d time.Duration, id string) (string, bool) {
	var buf bytes.Buffer
	ok := NewTextHandler(&buf, nil).accessLine(now, method, path, status, n, d, id)
	return buf.String(), ok
}

// TestAccessLineIsTextHandlers: the access log's direct path writes what
// slog's TextHandler writes, in any time zone, and leaves to slog the
// values slog would quote.
func TestAccessLineIsTextHandlers(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -7*3600)}
	for _, c := range []struct {
		method, path, id string
		direct           bool
	}{
		{"POST", "/v1/graphql", "0b1c6f0e-5a3c-4a9e-9a7e-1f2d3c4b5a69", true},
		{"GET", "/console/assets/index-3f2a.js", "", true},
		{"OPTIONS", "/", "client-chosen_id.7~", true},
		{"GET", "/v1/sessions", `a\b`, true},
		{"GET", "/a b", "x", false},
		{"GET", "/x=y", "x", false},
		{"GET", `/x"y`, "x", false},
		{"GET", "/caf\u00e9", "x", false},
		{"GET", "", "x", false},
		{"GET", "/", "has space", false},
		{"GET", "/", "tab\there", false},
	} {
		for zi, z := range zones {
			for _, d := range []time.Duration{0, 999, 1_500_000, 2*time.Hour + 3*time.Millisecond} {
				now := time.Date(2026, 11, 28, 14, 5, 6, 999_999_999, z)
				got, ok := directAccessLine(now, c.method, c.path, 200, 739, d, c.id)
				if ok != c.direct {
					t.Fatalf("%q %q %q: direct path taken %v, want %v", c.method, c.path, c.id, ok, c.direct)
				}
				if want := slogAccessLine(now, c.method, c.path, 200, 739, d, c.id); ok && got != want {
					t.Fatalf("zone %d, duration %v:\n got %q\nwant %q", zi, d, got, want)
				}
			}
		}
	}
}

// TestAccessLineTimes: lines of the same second and of the next ones,
// in turn in two zones, carry slog's times (appendMillis keeps the text
// of the last second).
func TestAccessLineTimes(t *testing.T) {
	start := time.Date(2026, 3, 29, 0, 59, 58, 0, time.UTC)
	cet, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for step := range 40 {
		now := start.Add(time.Duration(step) * 137 * time.Millisecond)
		for _, z := range []*time.Location{time.UTC, cet, cet, time.UTC} {
			now := now.In(z)
			got, _ := directAccessLine(now, "POST", "/v1/graphql", 200, 739, time.Millisecond, "")
			if want := slogAccessLine(now, "POST", "/v1/graphql", 200, 739, time.Millisecond, ""); got != want {
				t.Fatalf("step %d:\n got %q\nwant %q", step, got, want)
			}
		}
	}
}

// FuzzAccessLine: whenever the direct path writes a line, it is slog's.
func FuzzAccessLine(f *testing.F) {
	f.Add("POST", "/v1/graphql", "id-1", 200, int64(739), int64(1_500_000), int64(1_764_338_706_123_456_789))
	f.Fuzz(func(t *testing.T, method, path, id string, status int, n, d, unixNano int64) {
		now := time.Unix(0, unixNano).In(time.FixedZone("", int(unixNano%50_000)))
		got, ok := directAccessLine(now, method, path, status, n, time.Duration(d), id)
		if !ok {
			return
		}
		if want := slogAccessLine(now, method, path, status, n, time.Duration(d), id); got != want {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
	})
}
