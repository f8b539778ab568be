package pgtext

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Interval is PostgreSQL's interval: months, days and microseconds kept
// apart, because a month has no fixed number of days and (for timestamp
// with time zone) a day no fixed number of hours.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// Fixed reports whether the interval has no month part, so that every step
// has the same length in microseconds.
func (iv Interval) Fixed() bool { return iv.Months == 0 }

// FixedMicros is the length of a month-free interval in microseconds.
func (iv Interval) FixedMicros() int64 { return int64(iv.Days)*MicrosPerDay + iv.Micros }

// Sign compares the interval with zero as PostgreSQL's interval_cmp does:
// a month counts as 30 days and a day as 24 hours. It returns -1, 0 or 1.
func (iv Interval) Sign() int {
	switch {
	case iv.Months >= 0 && iv.Days >= 0 && iv.Micros >= 0: // no parts of opposite signs
		if iv.Months > 0 || iv.Days > 0 || iv.Micros > 0 {
			return 1
		}
		return 0
	case iv.Months <= 0 && iv.Days <= 0 && iv.Micros <= 0:
		return -1
	}
	v := new(big.Int).SetInt64(int64(iv.Months))
	v.Mul(v, big.NewInt(30))
	v.Add(v, big.NewInt(int64(iv.Days)))
	v.Mul(v, big.NewInt(MicrosPerDay))
	v.Add(v, big.NewInt(iv.Micros))
	return v.Sign()
}

// String renders the interval like PostgreSQL with IntervalStyle
// "postgres": "1 year 2 mons 3 days 04:05:06.5".
func (iv Interval) String() string {
	var b strings.Builder
	years, mons := iv.Months/12, iv.Months%12
	part := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(n, 10))
		b.WriteByte(' ')
		b.WriteString(unit)
		if n != 1 {
			b.WriteByte('s')
		}
	}
	part(int64(years), "year")
	part(int64(mons), "mon")
	part(int64(iv.Days), "day")
	if iv.Micros != 0 || b.Len() == 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		t := iv.Micros
		if t < 0 {
			b.WriteByte('-')
			t = -t
		}
		secs := t / MicrosPerSecond
		b.WriteString(string(appendPadded(nil, secs/3600, 2)))
		b.WriteByte(':')
		b.WriteString(string(appendPadded(nil, secs/60%60, 2)))
		b.WriteByte(':')
		b.WriteString(string(appendPadded(nil, secs%60, 2)))
		if f := t % MicrosPerSecond; f != 0 {
			s := strconv.FormatInt(f+MicrosPerSecond, 10)[1:]
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(s, "0"))
		}
	}
	return b.String()
}

const intervalAccepted = `accepted forms are quantities with units such as "1 day", "2 weeks", "3 hours", "15 minutes", "1 mon", "1 year 2 months", "1.5 hours" (optionally "@ ... ago"), a time such as "02:30:00", "1 day 02:00:00", or ISO 8601 such as "P1D", "PT15M", "P1Y2M3DT4H5M6S"`

// ParseInterval reads an interval literal exactly as PostgreSQL 15's
// interval_in does with no type modifier and IntervalStyle "postgres":
// first the PostgreSQL verbose and SQL forms (DecodeInterval), and when
// those find a bad format, ISO 8601 (DecodeISO8601Interval).
func ParseInterval(s string) (Interval, error) {
	itm, err := decodeInterval(s)
	if err == errBadFormat {
		itm, err = decodeISO8601Interval(s)
	}
	switch err {
	case nil:
	case errOverflow:
		return Interval{}, &RangeError{Type: "interval", Input: s, Reason: "a field is too large; months and days must fit in 32 bits"}
	default:
		return Interval{}, &SyntaxError{Type: "interval", Input: s, Reason: intervalAccepted}
	}
	if itm.mon > math.MaxInt32 || itm.mon < math.MinInt32 {
		return Interval{}, &RangeError{Type: "interval", Input: s, Reason: "too many months"}
	}
	return Interval{Months: int32(itm.mon), Days: itm.day, Micros: itm.usec}, nil
}

type intervalError int

func (intervalError) Error() string { return "interval" }

const (
	errBadFormat intervalError = iota + 1
	errOverflow
)

// itmIn mirrors PostgreSQL's struct pg_itm_in.
type itmIn struct {
	usec int64
	day  int32
	mon  int64 // years are folded into months as they are added
}

// Units (the DTK_* unit codes that matter for intervals).
const (
	uNone = iota
	uAgo  // "ago": the type it leaves behind is not a unit
	uMicrosecond
	uMillisecond
	uSecond
	uMinute
	uHour
	uDay
	uWeek
	uMonth
	uYear
	uDecade
	uCentury
	uMillennium
	uOther // a unit DecodeInterval does not handle (quarter, timezone...)
)

const (
	mMicro  = 1 << uMicrosecond
	mMilli  = 1 << uMillisecond
	mSecond = 1 << uSecond
	mMinute = 1 << uMinute
	mHour   = 1 << uHour
	mAllSec = mSecond | mMilli | mMicro
	mTime   = mHour | mMinute | mAllSec
)

// deltaUnits is PostgreSQL's deltatktbl: interval unit words, matched on
// their first ten (TOKMAXLEN) characters.
var deltaUnits = map[string]int{
	"ago": uAgo,
	"c":   uCentury, "cent": uCentury, "centuries": uCentury, "century": uCentury,
	"d": uDay, "day": uDay, "days": uDay,
	"dec": uDecade, "decade": uDecade, "decades": uDecade, "decs": uDecade,
	"h": uHour, "hour": uHour, "hours": uHour, "hr": uHour, "hrs": uHour,
	"m": uMinute, "min": uMinute, "mins": uMinute, "minute": uMinute, "minutes": uMinute,
	"microsecon": uMicrosecond,
	"mil":        uMillennium, "millennia": uMillennium, "millennium": uMillennium, "mils": uMillennium,
	"millisecon": uMillisecond,
	"mon":        uMonth, "mons": uMonth, "month": uMonth, "months": uMonth,
	"ms": uMillisecond, "msec": uMillisecond, "msecond": uMillisecond, "mseconds": uMillisecond, "msecs": uMillisecond,
	"qtr": uOther, "quarter": uOther,
	"s": uSecond, "sec": uSecond, "second": uSecond, "seconds": uSecond, "secs": uSecond,
	"timezone": uOther, "timezone_h": uOther, "timezone_m": uOther,
	"us": uMicrosecond, "usec": uMicrosecond, "usecond": uMicrosecond, "useconds": uMicrosecond, "usecs": uMicrosecond,
	"w": uWeek, "week": uWeek, "weeks": uWeek,
	"y": uYear, "year": uYear, "years": uYear, "yr": uYear, "yrs": uYear,
}

// lookupUnit finds a unit word as PostgreSQL's datebsearch does: on its
// first TOKMAXLEN characters (every table entry is at most that long, so
// "microseconds" is "microsecon").
func lookupUnit(s string) (int, bool) {
	u, ok := deltaUnits[truncTok(s)]
	return u, ok
}

func mulAdd(val, scale int64, sum *int64) bool {
	hi, lo := mul64(val, scale)
	if !hi {
		return false
	}
	r := *sum + lo
	if (lo > 0 && r < *sum) || (lo < 0 && r > *sum) {
		return false
	}
	*sum = r
	return true
}

// mul64 multiplies with overflow detection; ok is false on overflow.
func mul64(a, b int64) (ok bool, r int64) {
	if a == 0 || b == 0 {
		return true, 0
	}
	r = a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return false, 0
	}
	return true, r
}

func add32(a int32, b int64) (int32, bool) {
	r := int64(a) + b
	if r > math.MaxInt32 || r < math.MinInt32 {
		return 0, false
	}
	return int32(r), true
}

func (t *itmIn) adjustFractMicros(frac float64, scale int64) bool {
	if frac == 0 {
		return true
	}
	frac *= float64(scale)
	usec := int64(frac)
	frac -= float64(usec)
	usec += int64(math.RoundToEven(frac))
	r := t.usec + usec
	if (usec > 0 && r < t.usec) || (usec < 0 && r > t.usec) {
		return false
	}
	t.usec = r
	return true
}

func (t *itmIn) adjustFractDays(frac float64, scale int) bool {
	if frac == 0 {
		return true
	}
	frac *= float64(scale)
	extra := int32(frac)
	var ok bool
	if t.day, ok = add32(t.day, int64(extra)); !ok {
		return false
	}
	frac -= float64(extra)
	return t.adjustFractMicros(frac, MicrosPerDay)
}

func (t *itmIn) adjustFractYears(frac float64, scale int) bool {
	extra := int64(math.RoundToEven(frac * float64(scale) * 12))
	t.mon += extra
	return t.mon <= math.MaxInt32 && t.mon >= math.MinInt32
}

func (t *itmIn) adjustMicros(val int64, fval float64, scale int64) bool {
	if !mulAdd(val, scale, &t.usec) {
		return false
	}
	return t.adjustFractMicros(fval, scale)
}

func (t *itmIn) adjustDays(val int64, mult int64) bool {
	if val < math.MinInt32 || val > math.MaxInt32 {
		return false
	}
	d := val * mult
	if d < math.MinInt32 || d > math.MaxInt32 {
		return false
	}
	var ok bool
	t.day, ok = add32(t.day, d)
	return ok
}

func (t *itmIn) adjustMonths(val int64) bool {
	if val < math.MinInt32 || val > math.MaxInt32 {
		return false
	}
	t.mon += val
	return t.mon <= math.MaxInt32 && t.mon >= math.MinInt32
}

func (t *itmIn) adjustYears(val int64, scale int64) bool {
	if val < math.MinInt32 || val > math.MaxInt32 {
		return false
	}
	y := val * scale
	if y < math.MinInt32 || y > math.MaxInt32 {
		return false
	}
	y *= 12
	if y < math.MinInt32 || y > math.MaxInt32 {
		return false
	}
	t.mon += y
	return t.mon <= math.MaxInt32 && t.mon >= math.MinInt32
}

// decodeTime mirrors DecodeTimeCommon + DecodeTimeForInterval: "h:m",
// "h:m:s[.f]" or "m:s.f".
func decodeTime(s string) (int64, error) {
	hour, rest, of := strtoi64(s)
	if of {
		return 0, errOverflow
	}
	if rest == "" || rest[0] != ':' {
		return 0, errBadFormat
	}
	min64, rest, of := strtoi64(rest[1:])
	if of || min64 > math.MaxInt32 || min64 < math.MinInt32 {
		return 0, errOverflow
	}
	var sec int64
	var fsec int64
	switch {
	case rest == "":
	case rest[0] == '.':
		f, err := parseFraction(rest)
		if err != nil {
			return 0, err
		}
		fsec = int64(math.RoundToEven(f * 1e6))
		if hour > math.MaxInt32 || hour < math.MinInt32 {
			return 0, errOverflow
		}
		sec = min64
		min64 = hour
		hour = 0
	case rest[0] == ':':
		var of bool
		sec, rest, of = strtoi64(rest[1:])
		if of || sec > math.MaxInt32 || sec < math.MinInt32 {
			return 0, errOverflow
		}
		if rest != "" {
			if rest[0] != '.' {
				return 0, errBadFormat
			}
			f, err := parseFraction(rest)
			if err != nil {
				return 0, err
			}
			fsec = int64(math.RoundToEven(f * 1e6))
		}
	default:
		return 0, errBadFormat
	}
	if hour < 0 || min64 < 0 || min64 > 59 || sec < 0 || sec > 60 || fsec < 0 || fsec > MicrosPerSecond {
		return 0, errOverflow
	}
	usec := fsec
	if !mulAdd(hour, MicrosPerHour, &usec) || !mulAdd(min64, MicrosPerMinute, &usec) || !mulAdd(sec, MicrosPerSecond, &usec) {
		return 0, errOverflow
	}
	return usec, nil
}

// decodeInterval mirrors PostgreSQL 15's DecodeInterval for
// IntervalStyle "postgres" and no typmod. Fields are read right to left
// so that a bare number takes its unit from the field to its right.
func decodeInterval(s string) (itmIn, error) {
	var t itmIn
	fields, err := parseDateTime(s)
	if err != nil {
		return t, err
	}
	isBefore := false
	fmask := 0
	typ := uNone // IGNORE_DTF: a rightmost bare number means seconds
	for i := len(fields) - 1; i >= 0; i-- {
		f := fields[i]
		tmask := 0
		switch f.typ {
		case ftTime:
			usec, err := decodeTime(f.text)
			if err != nil {
				return t, err
			}
			t.usec = usec
			tmask = mTime
			typ = uDay
		case ftTZ, ftDate, ftNumber:
			if f.typ == ftTZ && strings.IndexByte(f.text[1:], ':') >= 0 {
				if usec, err := decodeTime(f.text[1:]); err == nil {
					if f.text[0] == '-' {
						usec = -usec
					}
					t.usec = usec
					tmask = mTime
					typ = uDay
					break
				}
			}
			if typ == uNone {
				typ = uSecond
			}
			val, rest, of := strtoi64(f.text)
			if of {
				return t, errOverflow
			}
			var fval float64
			switch {
			case rest != "" && rest[0] == '-':
				val2, rest2, of := strtoi64(rest[1:])
				if of || val2 < 0 || val2 >= 12 {
					return t, errOverflow
				}
				if rest2 != "" {
					return t, errBadFormat
				}
				typ = uMonth
				if f.text[0] == '-' {
					val2 = -val2
				}
				ok, v := mul64(val, 12)
				if !ok {
					return t, errOverflow
				}
				val = v + val2
			case rest != "" && rest[0] == '.':
				fv, err := parseFraction(rest)
				if err != nil {
					return t, err
				}
				fval = fv
				if f.text[0] == '-' {
					fval = -fval
				}
			case rest == "":
			default:
				return t, errBadFormat
			}
			ok := true
			switch typ {
			case uMicrosecond:
				ok = t.adjustMicros(val, fval, 1)
				tmask = mMicro
			case uMillisecond:
				ok = t.adjustMicros(val, fval, 1000)
				tmask = mMilli
			case uSecond:
				ok = t.adjustMicros(val, fval, MicrosPerSecond)
				if fval == 0 {
					tmask = mSecond
				} else {
					tmask = mAllSec
				}
			case uMinute:
				ok = t.adjustMicros(val, fval, MicrosPerMinute)
				tmask = mMinute
			case uHour:
				ok = t.adjustMicros(val, fval, MicrosPerHour)
				tmask = mHour
				typ = uDay
			case uDay:
				ok = t.adjustDays(val, 1) && t.adjustFractMicros(fval, MicrosPerDay)
				tmask = 1 << uDay
			case uWeek:
				ok = t.adjustDays(val, 7) && t.adjustFractDays(fval, 7)
				tmask = 1 << uWeek
			case uMonth:
				ok = t.adjustMonths(val) && t.adjustFractDays(fval, 30)
				tmask = 1 << uMonth
			case uYear:
				ok = t.adjustYears(val, 1) && t.adjustFractYears(fval, 1)
				tmask = 1 << uYear
			case uDecade:
				ok = t.adjustYears(val, 10) && t.adjustFractYears(fval, 10)
				tmask = 1 << uDecade
			case uCentury:
				ok = t.adjustYears(val, 100) && t.adjustFractYears(fval, 100)
				tmask = 1 << uCentury
			case uMillennium:
				ok = t.adjustYears(val, 1000) && t.adjustFractYears(fval, 1000)
				tmask = 1 << uMillennium
			default:
				return t, errBadFormat
			}
			if !ok {
				return t, errOverflow
			}
		case ftString, ftSpecial:
			u, known := lookupUnit(f.text)
			if !known {
				return t, errBadFormat
			}
			switch u {
			case uAgo:
				isBefore = true
				typ = uAgo
			case uOther:
				typ = uOther
			default:
				typ = u
			}
		default:
			return t, errBadFormat
		}
		if tmask&fmask != 0 {
			return t, errBadFormat
		}
		fmask |= tmask
	}
	if fmask == 0 {
		return t, errBadFormat
	}
	if isBefore {
		if t.usec == math.MinInt64 || t.day == math.MinInt32 || t.mon == math.MinInt32 {
			return t, errOverflow
		}
		t.usec, t.day, t.mon = -t.usec, -t.day, -t.mon
	}
	return t, nil
}

// parseISO8601Number mirrors ParseISO8601Number.
func parseISO8601Number(s string) (int64, float64, string, error) {
	if s == "" || !(isDigit(s[0]) || s[0] == '-' || s[0] == '.') {
		return 0, 0, s, errBadFormat
	}
	v, rest, ok := strtodPrefix(s)
	if rest == s {
		return 0, 0, s, errBadFormat
	}
	if !ok || math.IsNaN(v) || v < -1e15 || v > 1e15 {
		return 0, 0, s, errOverflow
	}
	var ip int64
	if v >= 0 {
		ip = int64(math.Floor(v))
	} else {
		ip = -int64(math.Floor(-v))
	}
	return ip, v - float64(ip), rest, nil
}

func iso8601IntegerWidth(s string) int {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// decodeISO8601Interval mirrors DecodeISO8601Interval: "P1Y2M3DT4H5M6S",
// "P1W", and the alternative forms "P0001-02-03T04:05:06" and
// "P00010203T040506".
func decodeISO8601Interval(s string) (itmIn, error) {
	var t itmIn
	if len(s) < 2 || s[0] != 'P' {
		return t, errBadFormat
	}
	s = s[1:]
	datePart := true
	haveField := false
	for s != "" {
		if s[0] == 'T' {
			datePart = false
			haveField = false
			s = s[1:]
			continue
		}
		fieldStart := s
		val, fval, rest, err := parseISO8601Number(s)
		if err != nil {
			return t, err
		}
		var unit byte
		if rest != "" {
			unit = rest[0]
			s = rest[1:]
		} else {
			s = ""
		}
		if datePart {
			switch unit {
			case 'Y':
				if !t.adjustYears(val, 1) || !t.adjustFractYears(fval, 1) {
					return t, errOverflow
				}
			case 'M':
				if !t.adjustMonths(val) || !t.adjustFractDays(fval, 30) {
					return t, errOverflow
				}
			case 'W':
				if !t.adjustDays(val, 7) || !t.adjustFractDays(fval, 7) {
					return t, errOverflow
				}
			case 'D':
				if !t.adjustDays(val, 1) || !t.adjustFractMicros(fval, MicrosPerDay) {
					return t, errOverflow
				}
			case 'T', 0, '-':
				if unit != '-' && iso8601IntegerWidth(fieldStart) == 8 && !haveField {
					if !t.adjustYears(val/10000, 1) || !t.adjustMonths((val/100)%100) || !t.adjustDays(val%100, 1) || !t.adjustFractMicros(fval, MicrosPerDay) {
						return t, errOverflow
					}
					if unit == 0 {
						return t, nil
					}
					datePart = false
					haveField = false
					continue
				}
				if haveField {
					return t, errBadFormat
				}
				if !t.adjustYears(val, 1) || !t.adjustFractYears(fval, 1) {
					return t, errOverflow
				}
				if unit == 0 {
					return t, nil
				}
				if unit == 'T' {
					datePart = false
					haveField = false
					continue
				}
				val, fval, s, err = parseISO8601Number(s)
				if err != nil {
					return t, err
				}
				if !t.adjustMonths(val) || !t.adjustFractDays(fval, 30) {
					return t, errOverflow
				}
				if s == "" {
					return t, nil
				}
				if s[0] == 'T' {
					datePart = false
					haveField = false
					s = s[1:]
					continue
				}
				if s[0] != '-' {
					return t, errBadFormat
				}
				val, fval, s, err = parseISO8601Number(s[1:])
				if err != nil {
					return t, err
				}
				if !t.adjustDays(val, 1) || !t.adjustFractMicros(fval, MicrosPerDay) {
					return t, errOverflow
				}
				if s == "" {
					return t, nil
				}
				if s[0] == 'T' {
					datePart = false
					haveField = false
					s = s[1:]
					continue
				}
				return t, errBadFormat
			default:
				return t, errBadFormat
			}
		} else {
			switch unit {
			case 'H':
				if !t.adjustMicros(val, fval, MicrosPerHour) {
					return t, errOverflow
				}
			case 'M':
				if !t.adjustMicros(val, fval, MicrosPerMinute) {
					return t, errOverflow
				}
			case 'S':
				if !t.adjustMicros(val, fval, MicrosPerSecond) {
					return t, errOverflow
				}
			case 0, ':':
				if unit == 0 && iso8601IntegerWidth(fieldStart) == 6 && !haveField {
					if !t.adjustMicros(val/10000, 0, MicrosPerHour) || !t.adjustMicros((val/100)%100, 0, MicrosPerMinute) || !t.adjustMicros(val%100, 0, MicrosPerSecond) || !t.adjustFractMicros(fval, 1) {
						return t, errOverflow
					}
					return t, nil
				}
				if haveField {
					return t, errBadFormat
				}
				if !t.adjustMicros(val, fval, MicrosPerHour) {
					return t, errOverflow
				}
				if unit == 0 {
					return t, nil
				}
				val, fval, s, err = parseISO8601Number(s)
				if err != nil {
					return t, err
				}
				if !t.adjustMicros(val, fval, MicrosPerMinute) {
					return t, errOverflow
				}
				if s == "" {
					return t, nil
				}
				if s[0] != ':' {
					return t, errBadFormat
				}
				val, fval, s, err = parseISO8601Number(s[1:])
				if err != nil {
					return t, err
				}
				if !t.adjustMicros(val, fval, MicrosPerSecond) {
					return t, errOverflow
				}
				if s == "" {
					return t, nil
				}
				return t, errBadFormat
			default:
				return t, errBadFormat
			}
		}
		haveField = true
	}
	return t, nil
}
