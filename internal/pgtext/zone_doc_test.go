package pgtext

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// docSeries are the worked examples of docs/semantics.md: the buckets of
// a query with these arguments.
var docSeries = []struct{ zone, start, end, span string }{
	{"America/New_York", "2024-03-08", "2024-03-12", "1 day"},
	{"America/New_York", "2024-03-08", "2024-03-12", "24 hours"},
	{"America/New_York", "2024-03-10 00:00", "2024-03-10 04:00", "1 hour"},
	{"America/New_York", "2024-11-01", "2024-11-05", "1 day"},
	{"America/New_York", "2024-11-03 00:00", "2024-11-03 03:00", "1 hour"},
	{"America/New_York", "2024-03-09 02:30", "2024-03-12", "1 day"},
	{"America/New_York", "2024-01-31", "2024-05-31", "1 mon"},
	{"Australia/Lord_Howe", "2024-10-05", "2024-10-07", "1 day"},
	{"Australia/Lord_Howe", "2024-10-06 01:00", "2024-10-06 03:00", "30 minutes"},
	{"Australia/Lord_Howe", "2024-04-06", "2024-04-08", "1 day"},
}

// renderDocSeries writes one example as the markdown table the doc shows.
func renderDocSeries(zone, start, end, span string, lo, hi, wall []int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`time_zone: %q, start_time: %q, end_time: %q, interval_span: %q`\n\n", zone, start, end, span)
	b.WriteString("| per_interval | bucket starts (UTC) | bucket ends (UTC) | length |\n|---|---|---|---|\n")
	for k := range wall {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", FormatTimestamp(wall[k]),
			strings.Replace(FormatTimestamp(lo[k]), "T", " ", 1), strings.Replace(FormatTimestamp(hi[k]), "T", " ", 1),
			docLength(hi[k]-lo[k]))
	}
	return b.String()
}

// docLength writes a bucket's length in hours and minutes: "23 h 30 min".
func docLength(micros int64) string {
	h, m := micros/MicrosPerHour, micros%MicrosPerHour/MicrosPerMinute
	switch {
	case m == 0:
		return fmt.Sprintf("%d h", h)
	case h == 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// TestTimeZoneDocExamples checks that every worked example of
// docs/semantics.md is what both Tally and PostgreSQL compute. On a
// mismatch it prints the table Tally computes.
func TestTimeZoneDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/semantics.md")
	if err != nil {
		t.Fatal(err)
	}
	tally := make([]string, len(docSeries))
	for i, ex := range docSeries {
		z := mustZone(t, ex.zone)
		span, err := ParseInterval(ex.span)
		if err != nil {
			t.Fatal(err)
		}
		start, err1 := z.ParseTimestamp(ex.start)
		end, err2 := z.ParseTimestamp(ex.end)
		bounds, walls, err := z.AppendSeries(nil, nil, start, end, span, 100)
		if err1 != nil || err2 != nil || err != nil {
			t.Fatal(err1, err2, err)
		}
		tally[i] = renderDocSeries(ex.zone, ex.start, ex.end, ex.span, bounds[:len(walls)], bounds[1:], walls)
		if !strings.Contains(string(doc), tally[i]) {
			t.Errorf("docs/semantics.md lacks this example as Tally computes it:\n%s", tally[i])
		}
	}
	conn := connectZones(t)
	for i, ex := range docSeries {
		var lo, hi []pgtype.Timestamptz
		var pw []pgtype.Timestamp
		var perr *string
		if err := conn.QueryRow(context.Background(), `SELECT lo, hi, wall, err FROM tz_series($1, $2::timestamp, $3::timestamp, $4::interval)`,
			ex.zone, ex.start, ex.end, ex.span).Scan(&lo, &hi, &pw, &perr); err != nil || perr != nil {
			t.Fatal(err, perr)
		}
		var plo, phi, pwall []int64
		for k := range lo {
			plo, phi, pwall = append(plo, lo[k].Time.UnixMicro()), append(phi, hi[k].Time.UnixMicro()), append(pwall, pw[k].Time.UnixMicro())
		}
		if pg := renderDocSeries(ex.zone, ex.start, ex.end, ex.span, plo, phi, pwall); pg != tally[i] {
			t.Errorf("Tally:\n%s\nPostgreSQL:\n%s", tally[i], pg)
		}
	}
}
