package pgtext

import (
	"fmt"
	"math/bits"
)

// The range of PostgreSQL's timestamp and timestamp with time zone
// (IS_VALID_TIMESTAMP), as microseconds since 1970-01-01 UTC: from
// 4714-11-24 BC 00:00 on. PostgreSQL's end, 294277-01-01 00:00, is past
// what int64 microseconds since 1970 can hold, so Tally's zoned arithmetic
// stops at the end of year 294246 instead.
var (
	minInstant = daysFromCivil(-4713, 11, 24) * MicrosPerDay
	maxInstant = daysFromCivil(294247, 1, 1)*MicrosPerDay - 1
	minDays    = daysFromCivil(-4713, 11, 24)
	maxDays    = daysFromCivil(294247, 1, 1) - 1
)

// validJulian mirrors PostgreSQL's IS_VALID_JULIAN: the dates its Julian
// day routines handle, from 4714-11 BC to 5874898-05 AD (the day is not
// checked).
func validJulian(y, m int64) bool {
	return (y > -4713 || (y == -4713 && m >= 11)) && (y < 5874898 || (y == 5874898 && m < 6))
}

func inRange(ts int64) bool { return ts >= minInstant && ts <= maxInstant }

// Offset returns z's offset from UTC at the instant (microseconds since
// 1970-01-01 UTC), in seconds east of UTC: what PostgreSQL's pg_localtime
// reports as tm_gmtoff. New York in January gives -18000.
func (z *Zone) Offset(instant int64) int {
	return int(z.offsetAt(floorDiv(instant, MicrosPerSecond)))
}

// Wall returns the wall-clock time in z at the instant: PostgreSQL's
// `timestamptz AT TIME ZONE z` (timestamptz_zone). Both are microseconds
// since 1970-01-01 00:00, the instant in UTC and the result on z's clocks.
// Every wall-clock time comes from at most two instants (in a fall-back
// overlap); Instant gives back the later one. It fails with a *RangeError
// when the instant or the result is outside PostgreSQL's timestamp range.
// It allocates only on error.
func (z *Zone) Wall(instant int64) (int64, error) {
	if !inRange(instant) {
		return 0, instantRangeError(instant, "", "the instant is outside the range of timestamp with time zone")
	}
	w := instant + int64(z.offsetAt(floorDiv(instant, MicrosPerSecond)))*MicrosPerSecond
	if !inRange(w) {
		return 0, instantRangeError(instant, " AT TIME ZONE "+z.name, "its wall-clock time is outside the range of timestamp")
	}
	return w, nil
}

// Instant returns the instant at which z's clocks show wall: PostgreSQL's
// `timestamp AT TIME ZONE z` (timestamp_zone, with the offset from
// DetermineTimeZoneOffset). A wall-clock time that does not exist because
// the clocks sprang forward over it is read with the offset before the
// change, so it lands past the gap by the size of the jump (02:30 on a New
// York spring-forward day is 07:30 UTC, 03:30 EDT). One that occurs twice
// because the clocks fell back is read with the offset after the change,
// the later instant (01:30 on a New York fall-back day is 06:30 UTC, 01:30
// EST). It fails with a *RangeError when wall or the result is outside
// PostgreSQL's timestamp range. It allocates only on error.
func (z *Zone) Instant(wall int64) (int64, error) {
	if !inRange(wall) {
		return 0, &RangeError{Type: "timestamp", Input: FormatTimestamp(wall), Reason: "the wall-clock time is outside the range of timestamp"}
	}
	days := floorDiv(wall, MicrosPerDay)
	ts, ok := z.instantOfDays(days, wall-days*MicrosPerDay)
	if !ok {
		return 0, &RangeError{Type: "timestamp", Input: FormatTimestamp(wall) + " AT TIME ZONE " + z.name, Reason: "the instant is outside the range of timestamp with time zone"}
	}
	return ts, nil
}

// instantOf mirrors DetermineTimeZoneOffset followed by tm2timestamp: the
// instant of the wall-clock date y-m-d at tod microseconds past midnight.
// ok is false where PostgreSQL reports "timestamp out of range".
func (z *Zone) instantOf(y, m, d, tod int64) (int64, bool) {
	if !validJulian(y, m) {
		return 0, false
	}
	return z.instantOfDays(daysFromCivil(y, m, d), tod)
}

func (z *Zone) instantOfDays(days, tod int64) (int64, bool) {
	if days < minDays-1 || days > maxDays+1 {
		return 0, false
	}
	var off int32
	if z.fixed {
		off = z.first
	} else {
		// The offset is chosen from the whole seconds of the wall-clock
		// time, as PostgreSQL builds mytime from tm_hour, tm_min, tm_sec.
		off = z.wallOffset(days*86400 + tod/MicrosPerSecond)
	}
	ts := days*MicrosPerDay + tod - int64(off)*MicrosPerSecond
	return ts, inRange(ts)
}

// AddInterval returns instant + iv with TimeZone set to z: PostgreSQL's
// timestamptz_pl_interval. The months are added to the wall-clock date in
// z (the day clamped to the last day of the resulting month) and the result
// read back as an instant; then the days likewise; then the time part as
// absolute microseconds. So across a daylight-saving change "1 day" is 23
// or 25 hours and keeps the time of day, while "24 hours" is 24 hours; a
// wall-clock time that falls in a gap or an overlap resolves as Instant
// resolves it. It fails with a *RangeError where PostgreSQL reports
// "timestamp out of range". It allocates only on error.
func (z *Zone) AddInterval(instant int64, iv Interval) (int64, error) {
	if !inRange(instant) {
		return 0, instantRangeError(instant, "", "the instant is outside the range of timestamp with time zone")
	}
	ts := instant
	if iv.Months != 0 {
		w := ts + int64(z.offsetAt(floorDiv(ts, MicrosPerSecond)))*MicrosPerSecond
		y, m, d, tod := splitTimestamp(w)
		total := y*12 + (m - 1) + int64(iv.Months)
		y = floorDiv(total, 12)
		m = total - y*12 + 1
		if dim := DaysInMonth(y, m); d > dim {
			d = dim
		}
		var ok bool
		if ts, ok = z.instantOf(y, m, d, tod); !ok {
			return 0, z.sumRangeError(instant, iv)
		}
	}
	if iv.Days != 0 {
		w := ts + int64(z.offsetAt(floorDiv(ts, MicrosPerSecond)))*MicrosPerSecond
		days := floorDiv(w, MicrosPerDay)
		tod := w - days*MicrosPerDay
		y, m, d := civilFromDays(days + int64(iv.Days))
		var ok bool
		if ts, ok = z.instantOf(y, m, d, tod); !ok {
			return 0, z.sumRangeError(instant, iv)
		}
	}
	if iv.Micros > 0 && ts > maxInstant-iv.Micros || iv.Micros < 0 && ts < minInstant-iv.Micros {
		return 0, z.sumRangeError(instant, iv)
	}
	return ts + iv.Micros, nil
}

// instantRangeError describes an instant (written in UTC, with "Z") that
// is or gives a value out of range; what follows the instant in the input.
func instantRangeError(instant int64, what, reason string) error {
	return &RangeError{Type: "timestamp with time zone", Input: FormatTimestamp(instant) + "Z" + what, Reason: reason}
}

// sumRangeError describes instant + iv out of range, with the instant
// written as wall-clock time in z: "2024-01-31T00:00:00 Europe/Athens + 1 mon".
func (z *Zone) sumRangeError(instant int64, iv Interval) error {
	wall := instant + int64(z.offsetAt(floorDiv(instant, MicrosPerSecond)))*MicrosPerSecond
	return &RangeError{Type: "timestamp with time zone", Input: FormatTimestamp(wall) + " " + z.name + " + " + iv.String(),
		Reason: "the result is outside the range of timestamp with time zone"}
}

// StepError reports a series step that does not move the series forward:
// Step is not a positive interval, or adding it at At (an instant; Wall is
// the same time on the series' clocks) gives a time that is not later.
// PostgreSQL's generate_series would never end there.
type StepError struct {
	Step     Interval
	At, Wall int64
	Positive bool // whether Step itself is positive
}

func (e *StepError) Error() string {
	if !e.Positive {
		return fmt.Sprintf("interval %q is not a positive step", e.Step.String())
	}
	return fmt.Sprintf("interval %q does not move forward from %s", e.Step.String(), FormatTimestamp(e.Wall))
}

// SeriesLimitError reports a series that would have more than Max elements.
type SeriesLimitError struct {
	Max int
}

func (e *SeriesLimitError) Error() string {
	return fmt.Sprintf("the series has more than %d elements", e.Max)
}

// AppendSeries computes the buckets of
//
//	SET TimeZone = z;
//	SELECT g, g + step, g AT TIME ZONE z
//	FROM generate_series(startWall AT TIME ZONE z, endWall AT TIME ZONE z, step) g
//
// from the instants start and end (microseconds since 1970 UTC; Instant
// and ParseTimestamp give them from wall-clock times). It appends to bounds
// the bucket boundaries b0 = start, b(k+1) = AddInterval(b(k), step), for
// every b(k) <= end, and then the end of the last bucket, so bucket k
// covers the instants [bounds[k], bounds[k+1]); and it appends to walls the
// start of each bucket on z's clocks (Wall(b(k)), the bucket's
// per_interval). For n buckets it appends n+1 bounds and n walls.
//
// When end < start the series is empty and nothing is appended. It fails
// with a *StepError when step is not positive or does not advance (such as
// "1 mon -29 days" from January 31st, or "1 day -23 hours" on a day of 23
// hours), with a *SeriesLimitError when there would be more than
// maxBuckets buckets, and with a *RangeError when a boundary, including
// the end of the last bucket, is outside the range of timestamp with time
// zone (PostgreSQL computes it too). On error, bounds and walls are
// returned with their original lengths. Apart from growing the slices it
// allocates only on error.
func (z *Zone) AppendSeries(bounds, walls []int64, start, end int64, step Interval, maxBuckets int) ([]int64, []int64, error) {
	nb, nw := len(bounds), len(walls)
	if intervalSign(step) <= 0 {
		w, _ := z.Wall(start)
		return bounds[:nb], walls[:nw], &StepError{Step: step, At: start, Wall: w, Positive: false}
	}
	if !inRange(start) || !inRange(end) {
		return bounds[:nb], walls[:nw], &RangeError{Type: "timestamp with time zone", Input: FormatTimestamp(start) + "Z to " + FormatTimestamp(end) + "Z",
			Reason: "a bound of the series is outside the range of timestamp with time zone"}
	}
	if end < start {
		return bounds, walls, nil
	}
	if width, ok := z.fixedWidth(step); ok {
		// Every step adds the same number of microseconds: an arithmetic
		// progression, as in analytics.IntervalQuery.Plan.
		n := (uint64(end)-uint64(start))/uint64(width) + 1
		if n > uint64(maxBuckets) {
			return bounds[:nb], walls[:nw], &SeriesLimitError{Max: maxBuckets}
		}
		if uint64(width) > (uint64(maxInstant)-uint64(start))/n { // start + n*width > maxInstant
			return bounds[:nb], walls[:nw], z.sumRangeError(start+int64(n-1)*width, step)
		}
		if z.fixed {
			// One offset: the wall-clock times are the bounds shifted, and
			// in range if the first and the last are.
			off := int64(z.first) * MicrosPerSecond
			for _, b := range [2]int64{start, start + int64(n-1)*width} {
				if _, err := z.Wall(b); err != nil {
					return bounds[:nb], walls[:nw], err
				}
			}
			for k := int64(0); k < int64(n); k++ {
				b := start + k*width
				bounds = append(bounds, b)
				walls = append(walls, b+off)
			}
		} else {
			for k := int64(0); k < int64(n); k++ {
				b := start + k*width
				w, err := z.Wall(b)
				if err != nil {
					return bounds[:nb], walls[:nw], err
				}
				bounds = append(bounds, b)
				walls = append(walls, w)
			}
		}
		return append(bounds, start+int64(n)*width), walls, nil
	}
	cur := start
	bounds = append(bounds, cur)
	for {
		next, err := z.AddInterval(cur, step)
		if err != nil {
			return bounds[:nb], walls[:nw], err
		}
		w, err := z.Wall(cur)
		if err != nil {
			return bounds[:nb], walls[:nw], err
		}
		if next <= cur {
			return bounds[:nb], walls[:nw], &StepError{Step: step, At: cur, Wall: w, Positive: true}
		}
		walls = append(walls, w)
		bounds = append(bounds, next)
		if next > end {
			return bounds, walls, nil
		}
		if len(walls)-nw >= maxBuckets {
			return bounds[:nb], walls[:nw], &SeriesLimitError{Max: maxBuckets}
		}
		cur = next
	}
}

// fixedWidth reports whether every addition of step in z adds the same
// number of microseconds, and how many: true when step has no months and
// either no days or z never changes its offset. ok is false too when the
// width does not fit in an int64, which the general path reports as a
// range error.
func (z *Zone) fixedWidth(step Interval) (width int64, ok bool) {
	if step.Months != 0 || (step.Days != 0 && !z.fixed) {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(abs64(int64(step.Days))), uint64(MicrosPerDay))
	if hi != 0 || lo > 1<<62 {
		return 0, false
	}
	d := int64(lo)
	if step.Days < 0 {
		d = -d
	}
	w := d + step.Micros
	if (step.Micros > 0 && w < d) || (step.Micros < 0 && w > d) || w <= 0 {
		return 0, false
	}
	return w, true
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// intervalSign is Interval.Sign without allocating: the sign of
// months*30 days + days + micros, with PostgreSQL's interval_cmp units.
func intervalSign(iv Interval) int {
	d := int64(iv.Months)*30 + int64(iv.Days) // |d| < 7e10
	m := iv.Micros
	switch {
	case d == 0:
		return sign64(m)
	case d >= 106751992 || d <= -106751992: // |d| days exceed any int64 of microseconds
		return sign64(d)
	}
	dm := d * MicrosPerDay
	if (dm > 0) == (m > 0) || m == 0 {
		return sign64(dm) // same signs (or m zero): the sum has dm's sign
	}
	return sign64(dm + m) // opposite signs: no overflow
}

func sign64(v int64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
