package postgres

import (
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// TestCountSQLWithoutFlowColumnsIsUnchanged: a query that uses neither
// flow column sends the statement Tally sent before they existed, in any
// time zone (the zone changes only the bounds and the bucket function);
// one that uses them adds the ends and, for the first chunk only, the
// backlog.
func TestCountSQLWithoutFlowColumnsIsUnchanged(t *testing.T) {
	ts := func(s string) int64 {
		v, err := pgtext.ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ny, err := pgtext.LoadZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	desk := analytics.UUIDSet{Active: true, Values: []pgtext.UUID{{1}}}
	cases := []struct {
		name string
		q    analytics.IntervalQuery
		want string
	}{
		{"daily", analytics.IntervalQuery{StartMicros: ts("2024-01-01"), EndMicros: ts("2024-01-10"), Span: pgtext.Interval{Days: 1}},
			"SELECT date_bin($4::interval, start_time, $5::timestamp) AS b, count(end_time), count(*) FROM tally.sessions WHERE account_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY 1"},
		{"monthly with a desk", analytics.IntervalQuery{StartMicros: ts("2024-01-01"), EndMicros: ts("2024-05-10"), Span: pgtext.Interval{Months: 1}, DeskIDs: desk},
			"SELECT width_bucket(start_time, $5::timestamp[]) AS b, count(end_time), count(*) FROM tally.sessions WHERE account_id = $1 AND start_time >= $2 AND start_time < $3 AND desk_id = ANY($4::uuid[]) GROUP BY 1"},
		{"daily in New York", analytics.IntervalQuery{StartMicros: ts("2024-03-01T05:00"), EndMicros: ts("2024-03-20T04:00"), Span: pgtext.Interval{Days: 1}, Zone: ny},
			"SELECT width_bucket(start_time, $4::timestamp[]) AS b, count(end_time), count(*) FROM tally.sessions WHERE account_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY 1"},
		{"hourly in New York", analytics.IntervalQuery{StartMicros: ts("2024-03-10T05:00"), EndMicros: ts("2024-03-10T09:00"), Span: pgtext.Interval{Micros: pgtext.MicrosPerHour}, Zone: ny},
			"SELECT date_bin($4::interval, start_time, $5::timestamp) AS b, count(end_time), count(*) FROM tally.sessions WHERE account_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY 1"},
	}
	for _, c := range cases {
		q := c.q
		if err := q.Plan(1000); err != nil {
			t.Fatal(err)
		}
		n := len(q.Bounds) - 1
		if got, _ := countSQL(pgtext.UUID{1}, &q, 0, n); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		q.Columns = analytics.ColumnSet(0).With(analytics.ColOpenAtEnd)
		first, _ := countSQL(pgtext.UUID{1}, &q, 0, n/2)
		second, _ := countSQL(pgtext.UUID{1}, &q, n/2, n)
		if !strings.Contains(first, "end_time >= $2 AND end_time < $3") || strings.Count(first, "UNION ALL") != 3 || strings.Count(second, "UNION ALL") != 1 {
			t.Errorf("%s with the flow columns: first chunk\n%s\nsecond\n%s", c.name, first, second)
		}
	}
}
