package pgtext

import (
	"math"
	"strconv"
)

// Microsecond constants used throughout Tally.
const (
	MicrosPerSecond = int64(1_000_000)
	MicrosPerMinute = 60 * MicrosPerSecond
	MicrosPerHour   = 60 * MicrosPerMinute
	MicrosPerDay    = 24 * MicrosPerHour
)

// Bounds of the timestamps Tally accepts as input: years 1 to 9999, the
// range of the ISO form "YYYY-MM-DD". PostgreSQL accepts a wider range, but
// no session or dashboard needs it and a four-digit year keeps every
// accepted literal unambiguous.
var (
	MinTimestamp = mustCivil(1, 1, 1) * MicrosPerDay
	MaxTimestamp = (mustCivil(9999, 12, 31)+1)*MicrosPerDay - 1
)

// Arithmetic results are allowed to run further than input (a bucket's end
// may lie past 9999-12-31) but not without limit: ±200000 years keeps every
// intermediate value far from int64 overflow.
const arithLimitYears = 200000

func mustCivil(y, m, d int64) int64 { return daysFromCivil(y, m, d) }

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (astronomical year numbering, as PostgreSQL's
// date2j uses).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DaysInMonth returns the number of days of month m (1-12) of year y.
func DaysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// splitTimestamp breaks microseconds since the epoch into a civil date and
// the microseconds since that day's midnight.
func splitTimestamp(ts int64) (y, m, d, tod int64) {
	days := floorDiv(ts, MicrosPerDay)
	tod = ts - days*MicrosPerDay
	y, m, d = civilFromDays(days)
	return y, m, d, tod
}

// AddInterval returns ts + iv with PostgreSQL's timestamp_pl_interval rules:
// months first (the day clamped to the last day of the resulting month),
// then days, then microseconds. Timestamps are without time zone, so a day
// is always 24 hours. It fails with a *RangeError when the result leaves the
// arithmetic range (±200000 years).
func AddInterval(ts int64, iv Interval) (int64, error) {
	if iv.Months != 0 {
		y, m, d, tod := splitTimestamp(ts)
		total := y*12 + (m - 1) + int64(iv.Months)
		y = floorDiv(total, 12)
		m = total - y*12 + 1
		if dim := DaysInMonth(y, m); d > dim {
			d = dim
		}
		if y > arithLimitYears || y < -arithLimitYears {
			return 0, &RangeError{Type: "timestamp", Input: FormatTimestamp(ts) + " + " + iv.String(), Reason: "result is too far from the present"}
		}
		ts = daysFromCivil(y, m, d)*MicrosPerDay + tod
	}
	ts += int64(iv.Days)*MicrosPerDay + iv.Micros
	if ts > arithLimit || ts < -arithLimit {
		return 0, &RangeError{Type: "timestamp", Input: strconv.FormatInt(ts, 10) + "µs", Reason: "result is too far from the present"}
	}
	return ts, nil
}

var arithLimit = int64(arithLimitYears) * 366 * MicrosPerDay

// AppendTimestamp appends ts in the form PostgreSQL's to_json gives a
// timestamp: "2024-01-08T10:00:00", with fractional seconds only when they
// are non-zero and without trailing zeros ("...:00.5"). Years are at least
// four digits; years before 1 are written as PostgreSQL's XSD form does not
// arise for Tally's range and are not supported.
func AppendTimestamp(dst []byte, ts int64) []byte {
	y, m, d, tod := splitTimestamp(ts)
	dst = appendPadded(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, d, 2)
	dst = append(dst, 'T')
	secs := tod / MicrosPerSecond
	frac := tod % MicrosPerSecond
	dst = appendPadded(dst, secs/3600, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs/60%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs%60, 2)
	if frac != 0 {
		var buf [7]byte
		buf[0] = '.'
		f := frac
		for i := 6; i >= 1; i-- {
			buf[i] = byte('0' + f%10)
			f /= 10
		}
		n := 7
		for buf[n-1] == '0' {
			n--
		}
		dst = append(dst, buf[:n]...)
	}
	return dst
}

// FormatTimestamp is AppendTimestamp into a new string.
func FormatTimestamp(ts int64) string { return string(AppendTimestamp(nil, ts)) }

func appendPadded(dst []byte, v int64, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 || len(buf)-i < width {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[i:]...)
}

// ParseTimestamp reads a timestamp literal and returns microseconds since
// 1970-01-01 00:00:00 UTC.
//
// Accepted: "YYYY-MM-DD", optionally followed by a time "H:MM", "H:MM:SS" or
// "H:MM:SS.ffffff" after a space or "T", optionally followed by a zone "Z",
// "+HH", "+HHMM", "+HH:MM" or "+HH:MM:SS" (or "-"). Leading and trailing
// blanks are ignored. As PostgreSQL does, hour 24 is allowed for exactly
// midnight, second 60 rolls over, and more than six fractional digits are
// rounded to the microsecond (half to even).
//
// Unlike PostgreSQL's timestamp, which silently drops a zone, a zone is
// applied: "2024-01-08T10:00:00+02:00" is 08:00 UTC. This matches what
// PostgreSQL's timestamptz gives in a UTC session.
func ParseTimestamp(s string) (int64, error) {
	p := tsParser{in: s}
	return p.parse()
}

type tsParser struct {
	in  string
	pos int
}

const tsAccepted = `accepted forms are "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.ffffff]]" or "YYYY-MM-DDTHH:MM[:SS[.ffffff]]", optionally followed by "Z" or an offset such as "+02:00"`

func (p *tsParser) syntax(reason string) error {
	return &SyntaxError{Type: "timestamp", Input: p.in, Reason: reason + "; " + tsAccepted}
}

func (p *tsParser) rangeErr(reason string) error {
	return &RangeError{Type: "timestamp", Input: p.in, Reason: reason}
}

func (p *tsParser) skipSpace() {
	for p.pos < len(p.in) && isSpace(p.in[p.pos]) {
		p.pos++
	}
}

// digits reads a run of ASCII digits and returns it.
func (p *tsParser) digits() string {
	start := p.pos
	for p.pos < len(p.in) && isDigit(p.in[p.pos]) {
		p.pos++
	}
	return p.in[start:p.pos]
}

func atoiSmall(s string) int64 {
	var v int64
	for i := 0; i < len(s); i++ {
		v = v*10 + int64(s[i]-'0')
		if v > 1e12 {
			return 1e12
		}
	}
	return v
}

func (p *tsParser) parse() (int64, error) {
	p.skipSpace()
	if p.pos == len(p.in) {
		return 0, p.syntax("the value is empty")
	}
	ys := p.digits()
	if len(ys) != 4 {
		return 0, p.syntax("the date must start with a four-digit year")
	}
	if !p.eat('-') {
		return 0, p.syntax("expected \"-\" after the year")
	}
	ms := p.digits()
	if len(ms) < 1 || len(ms) > 2 {
		return 0, p.syntax("expected a one- or two-digit month")
	}
	if !p.eat('-') {
		return 0, p.syntax("expected \"-\" after the month")
	}
	ds := p.digits()
	if len(ds) < 1 || len(ds) > 2 {
		return 0, p.syntax("expected a one- or two-digit day")
	}
	y, m, d := atoiSmall(ys), atoiSmall(ms), atoiSmall(ds)
	var hour, min, sec, fsec int64
	// Time part: after "T"/"t" directly, or after blanks when a digit follows.
	save := p.pos
	haveTime := false
	if p.pos < len(p.in) && (p.in[p.pos] == 'T' || p.in[p.pos] == 't') {
		p.pos++
		haveTime = true
	} else {
		p.skipSpace()
		if p.pos < len(p.in) && isDigit(p.in[p.pos]) {
			haveTime = true
		} else {
			p.pos = save
		}
	}
	if haveTime {
		hs := p.digits()
		if len(hs) < 1 || len(hs) > 2 {
			return 0, p.syntax("expected a one- or two-digit hour")
		}
		if !p.eat(':') {
			return 0, p.syntax("expected \":\" after the hour")
		}
		mins := p.digits()
		if len(mins) != 2 {
			return 0, p.syntax("expected a two-digit minute")
		}
		hour, min = atoiSmall(hs), atoiSmall(mins)
		if p.eat(':') {
			ss := p.digits()
			if len(ss) != 2 {
				return 0, p.syntax("expected two-digit seconds")
			}
			sec = atoiSmall(ss)
			if p.pos < len(p.in) && p.in[p.pos] == '.' {
				start := p.pos
				p.pos++
				fd := p.digits()
				if len(fd) == 0 {
					return 0, p.syntax("expected digits after the decimal point")
				}
				// PostgreSQL: fsec = rint(strtod(".ddd") * 1e6).
				f, err := strconv.ParseFloat(p.in[start:p.pos], 64)
				if err != nil {
					return 0, p.syntax("bad fractional seconds")
				}
				fsec = int64(math.RoundToEven(f * 1e6))
			}
		}
	}
	// Zone.
	var offsetSecs int64
	p.skipSpace()
	if p.pos < len(p.in) {
		c := p.in[p.pos]
		switch {
		case c == 'Z' || c == 'z':
			p.pos++
		case c == '+' || c == '-':
			if !haveTime {
				return 0, p.syntax("a zone offset needs a time of day")
			}
			off, err := p.zone()
			if err != nil {
				return 0, err
			}
			offsetSecs = off
		default:
			return 0, p.syntax("unexpected text " + strconv.Quote(p.in[p.pos:]))
		}
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return 0, p.syntax("unexpected text " + strconv.Quote(p.in[p.pos:]))
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) {
		return 0, p.rangeErr("no such date")
	}
	if hour > 24 || min > 59 || sec > 60 || (hour == 24 && (min != 0 || sec != 0 || fsec != 0)) {
		return 0, p.rangeErr("no such time of day")
	}
	ts := daysFromCivil(y, m, d)*MicrosPerDay +
		((hour*60+min)*60+sec)*MicrosPerSecond + fsec - offsetSecs*MicrosPerSecond
	if ts < MinTimestamp || ts > MaxTimestamp {
		return 0, p.rangeErr("Tally accepts years 0001 to 9999")
	}
	return ts, nil
}

func (p *tsParser) eat(c byte) bool {
	if p.pos < len(p.in) && p.in[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// zone reads a numeric zone offset as PostgreSQL's DecodeTimezone does and
// returns it in seconds east of UTC.
func (p *tsParser) zone() (int64, error) {
	neg := p.in[p.pos] == '-'
	p.pos++
	hs := p.digits()
	if len(hs) == 0 {
		return 0, p.syntax("expected digits in the zone offset")
	}
	if len(hs) > 6 {
		return 0, p.rangeErr("zone offset is out of range")
	}
	hr := atoiSmall(hs)
	var min, sec int64
	if p.eat(':') {
		mins := p.digits()
		if len(mins) == 0 {
			return 0, p.syntax("expected minutes in the zone offset")
		}
		min = atoiSmall(mins)
		if p.eat(':') {
			ss := p.digits()
			if len(ss) == 0 {
				return 0, p.syntax("expected seconds in the zone offset")
			}
			sec = atoiSmall(ss)
		}
	} else if len(hs)+1 > 3 {
		// PostgreSQL reads a run-together "+HHMM" (sign included, longer
		// than three characters) as hours and minutes.
		min = hr % 100
		hr /= 100
	}
	if hr > 15 || min >= 60 || sec >= 60 {
		return 0, p.rangeErr("zone offset must be within ±15:59:59")
	}
	off := hr*3600 + min*60 + sec
	if neg {
		off = -off
	}
	return off, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
